// Zip input through libzip: every entry is vetted before anything is read, and entries are
// read into memory one at a time. Every libzip error becomes an Error in ZipError.
#include <sys/stat.h>
#include <unistd.h>
#include <zip.h>

#include <map>

#include "importers/pdf_manifest/entry_name.h"
#include "importers/pdf_manifest/pdf_container.h"

namespace credd::pdf_manifest {
namespace {

constexpr char kManifestName[] = "manifest.csv";

// The one place libzip errors become credd errors: "<context>: <libzip's reason>".
Error ZipError(ErrorCode code, const std::string& context, zip_error_t* error) {
  return MakeError(code, context + ": " + zip_error_strerror(error));
}

Error ZipError(ErrorCode code, const std::string& context, int libzip_code) {
  zip_error_t error;
  zip_error_init_with_code(&error, libzip_code);
  Error result = ZipError(code, context, &error);
  zip_error_fini(&error);
  return result;
}

struct ArchiveCloser {
  void operator()(zip_t* archive) const { zip_discard(archive); }
};
struct EntryCloser {
  void operator()(zip_file_t* entry) const { zip_fclose(entry); }
};
using ArchivePtr = std::unique_ptr<zip_t, ArchiveCloser>;
using EntryPtr = std::unique_ptr<zip_file_t, EntryCloser>;

struct Entry {
  zip_uint64_t index = 0;
  std::uint64_t size = 0;  // Uncompressed, as declared by the central directory.
};

class ZipContainer : public PdfContainer {
 public:
  ZipContainer(ArchivePtr archive, std::string display_name, const PdfManifestLimits& limits)
      : archive_(std::move(archive)), display_name_(std::move(display_name)), limits_(limits) {}

  // Rejects the whole archive for the first unsafe entry, before any entry is read.
  Status Vet() {
    zip_int64_t count = zip_get_num_entries(archive_.get(), 0);
    if (count < 0) return Status(Where(MakeError(ErrorCode::kData, "cannot count zip entries")));
    if (static_cast<std::uint64_t>(count) > limits_.max_entries) {
      return Where(MakeError(ErrorCode::kData, "the zip has " + std::to_string(count) +
                                                   " entries; the limit is " +
                                                   std::to_string(limits_.max_entries)));
    }
    std::uint64_t total = 0;
    for (zip_uint64_t i = 0; i < static_cast<zip_uint64_t>(count); ++i) {
      zip_stat_t st;
      if (zip_stat_index(archive_.get(), i, 0, &st) != 0) {
        return Where(ZipError(ErrorCode::kData, "cannot read zip entry " + std::to_string(i),
                              zip_get_error(archive_.get())));
      }
      std::string name = (st.valid & ZIP_STAT_NAME) != 0 ? st.name : "";
      if (Status status = VetEntry(i, name, st); !status.ok()) return status;
      // Sizes are added with an overflow-proof comparison: a crafted size can be 2^64-1.
      if (st.size > limits_.max_total_bytes - total) {
        return Where(MakeError(ErrorCode::kData, "the zip's entries expand to more than " +
                                                     std::to_string(limits_.max_total_bytes) +
                                                     " bytes"));
      }
      total += st.size;
      if (!entries_.emplace(name, Entry{i, st.size}).second) {
        return Where(
            MakeError(ErrorCode::kData, "zip entry " + QuoteName(name) + " appears twice"));
      }
    }
    return Status::Ok();
  }

  Result<std::string> ReadManifest() override {
    auto found = entries_.find(kManifestName);
    if (found == entries_.end()) {
      std::string message = "manifest.csv is missing";
      // Zipping a folder (rather than its contents) nests everything one level down.
      for (const auto& [name, entry] : entries_) {
        if (name.size() > sizeof kManifestName &&
            name.ends_with(std::string("/") + kManifestName)) {
          message += " (found " + QuoteName(name) + ": it must be at the top level of the zip)";
          break;
        }
      }
      return Where(MakeError(ErrorCode::kData, message));
    }
    if (found->second.size > limits_.max_manifest_bytes) {
      return Where(MakeError(
          ErrorCode::kData,
          "manifest.csv is " + SizeOverLimit(found->second.size, limits_.max_manifest_bytes)));
    }
    Result<std::string> text = ReadEntry(kManifestName, found->second);
    if (!text.ok()) return Where(text.error());
    return text;
  }

  std::vector<std::string> PdfNames() override {
    std::vector<std::string> names;
    for (const auto& [name, entry] : entries_) {
      if (HasPdfExtension(name)) names.push_back(name);
    }
    return names;
  }

  std::string NameProblem(std::string_view name) const override {
    return name.ends_with('/') ? QuoteName(name) + " is a folder" : "";
  }

  Result<std::string> ReadPdf(const std::string& name) override {
    auto found = entries_.find(name);
    if (found == entries_.end()) {
      return MakeError(ErrorCode::kData, QuoteName(name) + " is not in the archive");
    }
    if (found->second.size > limits_.max_pdf_bytes) {
      return MakeError(
          ErrorCode::kData,
          QuoteName(name) + " is " + SizeOverLimit(found->second.size, limits_.max_pdf_bytes));
    }
    return ReadEntry(name, found->second);
  }

  std::string_view Kind() const override { return "archive"; }

 private:
  Status VetEntry(zip_uint64_t index, const std::string& name, const zip_stat_t& st) {
    std::string quoted = "zip entry " + QuoteName(name);
    switch (CheckEntryName(name)) {
      case NameFault::kNone:
        break;
      case NameFault::kEmpty:
        return Where(MakeError(ErrorCode::kData, "a zip entry has an empty name"));
      case NameFault::kAbsolute:
      case NameFault::kParent:
        return Where(MakeError(ErrorCode::kData, quoted + " escapes the archive"));
      case NameFault::kBackslash:
        return Where(MakeError(ErrorCode::kData, quoted + " contains a backslash"));
      case NameFault::kControl:
        return Where(MakeError(ErrorCode::kData, quoted + " contains a control character"));
    }
    zip_uint8_t system = 0;
    zip_uint32_t attributes = 0;
    if (zip_file_get_external_attributes(archive_.get(), index, 0, &system, &attributes) == 0 &&
        system == ZIP_OPSYS_UNIX && ((attributes >> 16) & S_IFMT) == S_IFLNK) {
      return Where(MakeError(ErrorCode::kData, quoted + " is a symbolic link"));
    }
    if ((st.valid & ZIP_STAT_ENCRYPTION_METHOD) != 0 && st.encryption_method != ZIP_EM_NONE) {
      return Where(MakeError(ErrorCode::kData, quoted + " is encrypted"));
    }
    if ((st.valid & ZIP_STAT_SIZE) == 0 || (st.valid & ZIP_STAT_COMP_SIZE) == 0) {
      return Where(MakeError(ErrorCode::kData, quoted + " does not declare its size"));
    }
    if (st.size > limits_.bomb_min_bytes &&
        (st.comp_size == 0 || st.size / st.comp_size > limits_.bomb_ratio)) {
      return Where(MakeError(ErrorCode::kData, quoted + " expands to " + std::to_string(st.size) +
                                                   " bytes, more than " +
                                                   std::to_string(limits_.bomb_ratio) +
                                                   " times its compressed size (a zip bomb?)"));
    }
    return Status::Ok();
  }

  // Reads exactly the declared size; an entry that yields more or less is refused, so a
  // lying central directory cannot make us allocate without bound.
  Result<std::string> ReadEntry(const std::string& name, const Entry& entry) {
    std::string context = "cannot read " + QuoteName(name) + " from the zip";
    EntryPtr file(zip_fopen_index(archive_.get(), entry.index, 0));
    if (!file) return ZipError(ErrorCode::kData, context, zip_get_error(archive_.get()));
    std::string bytes(entry.size, '\0');
    std::uint64_t done = 0;
    while (done < entry.size) {
      zip_int64_t n = zip_fread(file.get(), bytes.data() + done, entry.size - done);
      if (n < 0) return ZipError(ErrorCode::kData, context, zip_file_get_error(file.get()));
      if (n == 0) return MakeError(ErrorCode::kData, context + ": shorter than declared");
      done += static_cast<std::uint64_t>(n);
    }
    // Reading to the end makes libzip verify the CRC.
    char extra = 0;
    zip_int64_t n = zip_fread(file.get(), &extra, 1);
    if (n < 0) return ZipError(ErrorCode::kData, context, zip_file_get_error(file.get()));
    if (n > 0) return MakeError(ErrorCode::kData, context + ": longer than declared");
    return bytes;
  }

  Error Where(Error error) const {
    error.where = display_name_;
    return error;
  }

  ArchivePtr archive_;
  std::string display_name_;
  PdfManifestLimits limits_;
  std::map<std::string, Entry> entries_;  // By name, from the central directory.
};

}  // namespace

Result<std::unique_ptr<PdfContainer>> OpenZip(int fd, const std::string& display_name,
                                              const PdfManifestLimits& limits) {
  int libzip_code = 0;
  // ZIP_CHECKCONS makes libzip compare the central directory with the local headers.
  ArchivePtr archive(zip_fdopen(fd, ZIP_CHECKCONS | ZIP_RDONLY, &libzip_code));
  if (!archive) {
    close(fd);  // zip_fdopen takes the descriptor only when it succeeds.
    Error error = ZipError(ErrorCode::kData, "not a zip archive", libzip_code);
    error.where = display_name;
    return error;
  }
  auto container = std::make_unique<ZipContainer>(std::move(archive), display_name, limits);
  if (Status status = container->Vet(); !status.ok()) return status.error();
  return std::unique_ptr<PdfContainer>(std::move(container));
}

}  // namespace credd::pdf_manifest
