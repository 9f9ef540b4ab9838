// Scratch files, field splitting and the abort-on-failure check; see fuzz_support.h.
#include "fuzz/fuzz_support.h"

#include <fcntl.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <map>

namespace credd::fuzz {
namespace {

// Paths of the scratch files made so far; removed when the process exits normally.
std::map<std::string, std::string, std::less<>>& ScratchFiles() {
  static auto* files = new std::map<std::string, std::string, std::less<>>();
  return *files;
}

void RemoveScratchFiles() {
  for (const auto& [name, path] : ScratchFiles()) ::unlink(path.c_str());
}

}  // namespace

const std::string& WriteScratchFile(std::string_view name, const std::uint8_t* data,
                                    std::size_t size) {
  auto found = ScratchFiles().find(name);
  if (found == ScratchFiles().end()) {
    if (ScratchFiles().empty()) std::atexit(RemoveScratchFiles);
    const char* tmp = std::getenv("TMPDIR");
    std::string path = std::string(tmp != nullptr && *tmp != '\0' ? tmp : "/tmp") + "/credd-fuzz-" +
                       std::to_string(::getpid()) + "-" + std::string(name);
    found = ScratchFiles().emplace(std::string(name), std::move(path)).first;
  }
  const std::string& path = found->second;
  const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  Check(fd >= 0, "cannot create the scratch file");
  std::size_t written = 0;
  while (written < size) {
    const ssize_t n = ::write(fd, data + written, size - written);
    Check(n > 0, "cannot write the scratch file");
    written += static_cast<std::size_t>(n);
  }
  ::close(fd);
  return path;
}

std::vector<std::string> SplitFields(const std::uint8_t* data, std::size_t size,
                                     std::size_t parts) {
  static constexpr std::string_view kSeparator = "\n--\n";
  std::string_view rest(reinterpret_cast<const char*>(data), size);
  std::vector<std::string> fields;
  while (fields.size() + 1 < parts) {
    const std::size_t at = rest.find(kSeparator);
    if (at == std::string_view::npos) break;
    fields.emplace_back(rest.substr(0, at));
    rest.remove_prefix(at + kSeparator.size());
  }
  fields.emplace_back(rest);
  fields.resize(parts);
  return fields;
}

void Check(bool condition, std::string_view message) {
  if (condition) return;
  std::fprintf(stderr, "fuzz check failed: %.*s\n", static_cast<int>(message.size()),
               message.data());
  std::abort();
}

}  // namespace credd::fuzz
