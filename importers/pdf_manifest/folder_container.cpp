// Folder input: regular files directly in the folder, opened relative to the folder's
// descriptor with O_NOFOLLOW, so neither a symlink nor a rename of the folder can redirect
// a read. OS errors become Errors in PosixError.
#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>

#include "importers/pdf_manifest/entry_name.h"
#include "importers/pdf_manifest/pdf_container.h"

namespace credd::pdf_manifest {
namespace {

// Owns a file descriptor.
class Fd {
 public:
  explicit Fd(int fd) : fd_(fd) {}
  ~Fd() {
    if (fd_ >= 0) close(fd_);
  }
  Fd(const Fd&) = delete;
  Fd& operator=(const Fd&) = delete;
  int get() const { return fd_; }

 private:
  int fd_;
};

class FolderContainer : public PdfContainer {
 public:
  FolderContainer(int fd, std::string display_name, const PdfManifestLimits& limits)
      : dir_(fd), display_name_(std::move(display_name)), limits_(limits) {}

  Result<std::string> ReadManifest() override {
    Result<std::string> text = ReadFile("manifest.csv", limits_.max_manifest_bytes);
    if (text.ok()) return text;
    Error error = text.error();
    if (error.code == ErrorCode::kNoInput) {
      error = MakeError(ErrorCode::kData, "manifest.csv is missing");
    }
    error.where = display_name_;
    return error;
  }

  std::vector<std::string> PdfNames() override {
    std::vector<std::string> names;
    // fdopendir takes over the descriptor it is given, so it gets a duplicate.
    int fd = dup(dir_.get());
    if (fd < 0) return names;
    DIR* dir = fdopendir(fd);
    if (dir == nullptr) {
      close(fd);
      return names;
    }
    rewinddir(dir);
    while (const dirent* entry = readdir(dir)) {
      if (HasPdfExtension(entry->d_name)) names.emplace_back(entry->d_name);
    }
    closedir(dir);
    return names;
  }

  std::string NameProblem(std::string_view name) const override {
    return name.find('/') == std::string_view::npos
               ? ""
               : QuoteName(name) + " is not directly in the folder";
  }

  Result<std::string> ReadPdf(const std::string& name) override {
    Result<std::string> bytes = ReadFile(name, limits_.max_pdf_bytes);
    if (!bytes.ok() && bytes.error().code == ErrorCode::kNoInput) {
      return MakeError(ErrorCode::kData, QuoteName(name) + " is not in the folder");
    }
    return bytes;
  }

  std::string_view Kind() const override { return "folder"; }

 private:
  // The whole of one regular file directly in the folder. kNoInput when it does not exist.
  Result<std::string> ReadFile(const std::string& name, std::uint64_t max_bytes) {
    std::string quoted = QuoteName(name);
    // O_NONBLOCK keeps a FIFO from blocking the open; fstat then refuses it.
    Fd file(openat(dir_.get(), name.c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK));
    if (file.get() < 0) {
      int error_number = errno;
      if (error_number == ENOENT) return MakeError(ErrorCode::kNoInput, quoted + " is missing");
      if (error_number == ELOOP) {
        return MakeError(ErrorCode::kData, quoted + " is a symbolic link");
      }
      return PosixError(ErrorCode::kIo, "cannot open " + quoted, error_number);
    }
    struct stat st {};
    if (fstat(file.get(), &st) != 0) {
      return PosixError(ErrorCode::kIo, "cannot stat " + quoted, errno);
    }
    if (!S_ISREG(st.st_mode)) {
      return MakeError(ErrorCode::kData, quoted + " is not a regular file");
    }
    auto size = static_cast<std::uint64_t>(st.st_size);
    if (size > max_bytes) {
      return MakeError(ErrorCode::kData, quoted + " is " + SizeOverLimit(size, max_bytes));
    }
    std::string bytes;
    bytes.reserve(size);
    char buffer[65536];
    for (;;) {
      ssize_t n = read(file.get(), buffer, sizeof buffer);
      if (n < 0 && errno == EINTR) continue;
      if (n < 0) return PosixError(ErrorCode::kIo, "cannot read " + quoted, errno);
      if (n == 0) break;
      bytes.append(buffer, static_cast<size_t>(n));
      // The file may grow after fstat; the limit holds for what is actually read.
      if (bytes.size() > max_bytes) {
        return MakeError(ErrorCode::kData,
                         quoted + " is " + SizeOverLimit(bytes.size(), max_bytes));
      }
    }
    return bytes;
  }

  Fd dir_;
  std::string display_name_;
  PdfManifestLimits limits_;
};

}  // namespace

Result<std::unique_ptr<PdfContainer>> OpenFolder(int fd, const std::string& display_name,
                                                 const PdfManifestLimits& limits) {
  return std::unique_ptr<PdfContainer>(std::make_unique<FolderContainer>(fd, display_name, limits));
}

}  // namespace credd::pdf_manifest
