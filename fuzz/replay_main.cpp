// Replays saved inputs through a fuzz target's LLVMFuzzerTestOneInput without libFuzzer,
// so the ordinary build's ctest runs every kept crasher and a few seeds. Arguments are
// files or folders (walked recursively; names starting with '.' and README.md skipped).
// An input that crashes kills the process, so ctest reports the test as failed; with
// CREDD_SANITIZE=ON a sanitizer report does the same.
#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size);
extern "C" __attribute__((weak)) int LLVMFuzzerInitialize(int* argc, char*** argv);

namespace {

namespace fs = std::filesystem;

bool Skipped(const fs::path& path) {
  const std::string name = path.filename().string();
  return name.empty() || name[0] == '.' || name == "README.md";
}

int Replay(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    std::fprintf(stderr, "replay: cannot read %s\n", path.c_str());
    return 1;
  }
  const std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  std::fprintf(stderr, "replay: %s (%zu bytes)\n", path.c_str(), bytes.size());
  LLVMFuzzerTestOneInput(reinterpret_cast<const std::uint8_t*>(bytes.data()), bytes.size());
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  if (LLVMFuzzerInitialize != nullptr) LLVMFuzzerInitialize(&argc, &argv);
  int failures = 0;
  int replayed = 0;
  for (int i = 1; i < argc; ++i) {
    const fs::path root(argv[i]);
    std::error_code error;
    if (fs::is_directory(root, error)) {
      std::vector<fs::path> files;
      for (const auto& entry : fs::recursive_directory_iterator(root)) {
        if (entry.is_regular_file() && !Skipped(entry.path())) files.push_back(entry.path());
      }
      std::sort(files.begin(), files.end());
      for (const fs::path& file : files) {
        failures += Replay(file);
        ++replayed;
      }
    } else if (fs::is_regular_file(root, error)) {
      failures += Replay(root);
      ++replayed;
    } else {
      std::fprintf(stderr, "replay: no such file or folder: %s\n", argv[i]);
      ++failures;
    }
  }
  std::printf("replay: %d inputs, %d unreadable\n", replayed, failures);
  return failures == 0 ? 0 : 1;
}
