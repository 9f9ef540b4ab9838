#include "daemon/pipeline/report.h"

#include <fcntl.h>
#include <openssl/rand.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <ctime>

#include "common/file_name.h"
#include "common/folder.h"
#include "common/hex.h"
#include "common/log.h"
#include "common/sha256.h"
#include "common/time_format.h"
#include "common/unique_fd.h"

namespace credd {
namespace {

nlohmann::json ErrorJson(const RecordError& e) {
  nlohmann::json j = {{"line", e.line}, {"field", e.field}, {"message", e.message}};
  if (e.column > 0) j["column"] = e.column;
  return j;
}

// Every name in a report is text already (NameAsText); a message quoting bytes that are
// not UTF-8 is the one thing left, and it must not cost the report: those bytes become
// U+FFFD rather than an exception.
std::string DumpJson(const nlohmann::json& j) {
  return j.dump(2, ' ', false, nlohmann::json::error_handler_t::replace);
}

constexpr size_t kNameMax = 255;
constexpr std::string_view kTempPrefix = ".credd-";
constexpr std::string_view kTempSuffix = ".tmp";
constexpr size_t kTempRandomBytes = 8;

std::string TempName() {
  unsigned char random[kTempRandomBytes];
  if (RAND_bytes(random, sizeof random) != 1) return "";
  return std::string(kTempPrefix) + HexLower(random, sizeof random) + std::string(kTempSuffix);
}

bool IsTempName(std::string_view name) {
  if (name.size() != kTempPrefix.size() + 2 * kTempRandomBytes + kTempSuffix.size()) return false;
  if (!name.starts_with(kTempPrefix) || !name.ends_with(kTempSuffix)) return false;
  for (char c : name.substr(kTempPrefix.size(), 2 * kTempRandomBytes)) {
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return false;
  }
  return true;
}
constexpr std::string_view kLongestSuffix = ".report.json";

// Writes `content` to <dir>/<name> through a fresh temporary file and a rename; with
// `exclusive`, through a hard link instead, which fails (false) when the name is taken, so
// that two processes never write reports for one name. Where the filesystem has no hard
// links, a rename does it, after a check.
Result<bool> WriteAtomically(int dir_fd, const std::string& dir, const std::string& name,
                             const std::string& content, bool exclusive) {
  const std::string shown = NameAsText(dir + "/" + name);
  const std::string temp = TempName();
  if (temp.empty()) {
    return MakeError(ErrorCode::kInternal, "no random bytes for a temporary name", shown);
  }
  UniqueFd fd(
      ::openat(dir_fd, temp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0640));
  if (!fd.valid()) return PosixError(ErrorCode::kIo, "cannot write", errno, shown);
  auto fail = [&](const char* what, int error) -> Result<bool> {
    ::unlinkat(dir_fd, temp.c_str(), 0);
    return PosixError(ErrorCode::kIo, what, error, shown);
  };
  size_t done = 0;
  while (done < content.size()) {
    ssize_t n = ::write(fd.get(), content.data() + done, content.size() - done);
    if (n < 0) {
      if (errno == EINTR) continue;
      return fail("cannot write", errno);
    }
    done += static_cast<size_t>(n);
  }
  if (::fsync(fd.get()) != 0) return fail("cannot flush", errno);
  fd.Reset();
  if (exclusive) {
    if (::linkat(dir_fd, temp.c_str(), dir_fd, name.c_str(), 0) == 0) {
      ::unlinkat(dir_fd, temp.c_str(), 0);
      return true;
    }
    if (errno == EEXIST) {
      ::unlinkat(dir_fd, temp.c_str(), 0);
      return false;
    }
    struct stat st {};
    if (::fstatat(dir_fd, name.c_str(), &st, AT_SYMLINK_NOFOLLOW) == 0) {
      ::unlinkat(dir_fd, temp.c_str(), 0);
      return false;
    }
  }
  // renameat replaces a link planted under the final name, never what it points at.
  if (::renameat(dir_fd, temp.c_str(), dir_fd, name.c_str()) != 0) {
    return fail("cannot rename", errno);
  }
  return true;
}

}  // namespace

nlohmann::json ReportJson(const BatchReport& r) {
  nlohmann::json j = {
      {"file", r.file},
      {"institution", r.institution_id},
      {"sha256", r.sha256},
      {"format", r.format},
      {"status", kBatchStatuses.Name(r.status)},
      {"dry_run", r.dry_run},
      {"received_at", r.received_at},
      {"finished_at", r.finished_at},
      {"records",
       {{"total", r.counts.total},
        {"accepted", r.counts.accepted},
        {"rejected", r.counts.rejected},
        {"duplicates", r.counts.duplicates}}},
      {"errors", nlohmann::json::array()},
      {"warnings", nlohmann::json::array()},
  };
  if (!r.stored_as.empty()) j["stored_as"] = r.stored_as;
  if (!r.report_for.empty()) j["report_for"] = r.report_for;
  if (r.ready_check != "lease") j["ready_check"] = r.ready_check;
  if (!r.reason.empty()) j["reason"] = r.reason;
  if (r.batch_id != 0) j["batch"] = r.batch_id;
  if (r.duplicate_of != 0) j["duplicate_of"] = r.duplicate_of;
  for (const RecordError& e : r.errors) j["errors"].push_back(ErrorJson(e));
  for (const RecordError& w : r.warnings) j["warnings"].push_back(ErrorJson(w));
  return j;
}

std::string ReportText(const BatchReport& r) {
  std::string name = r.file;
  std::string out;
  out +=
      "credd import report" + std::string(r.dry_run ? " (dry run: nothing stored)" : "") + "\n\n";
  out += "File:        " + name + "\n";
  if (!r.stored_as.empty()) out += "Stored as:   " + r.stored_as + "\n";
  if (!r.report_for.empty()) {
    out += "Report for:  " + r.report_for + " (the name is too long to add .report.txt to it)\n";
  }
  out += "Institution: " + r.institution_id + "\n";
  if (!r.sha256.empty()) out += "SHA-256:     " + r.sha256 + "\n";
  if (!r.format.empty()) out += "Format:      " + r.format + "\n";
  out += "Status:      " + std::string(kBatchStatuses.Name(r.status)) + "\n";
  if (r.batch_id != 0) out += "Batch:       " + std::to_string(r.batch_id) + "\n";
  if (!r.received_at.empty()) out += "Received:    " + r.received_at + "\n";
  if (!r.finished_at.empty()) out += "Finished:    " + r.finished_at + "\n";
  if (r.ready_check == "settle_time") {
    out +=
        "Ready check: settle time (no lease could be taken on this file, so credd waited "
        "until it had not changed for the settle time)\n";
  }
  if (!r.reason.empty()) out += "\n" + r.reason + "\n";
  out += "\nRecords: " + std::to_string(r.counts.total) + " read, " +
         std::to_string(r.counts.accepted) + " accepted, " + std::to_string(r.counts.rejected) +
         " rejected, " + std::to_string(r.counts.duplicates) + " unchanged (already stored)\n";
  if (!r.errors.empty()) {
    out += "\nRejected (" + std::to_string(r.errors.size()) + "):\n";
    for (const RecordError& e : r.errors) out += "  " + e.ToString(name) + "\n";
  }
  if (!r.warnings.empty()) {
    out += "\nWarnings (" + std::to_string(r.warnings.size()) + "), records still accepted:\n";
    for (const RecordError& w : r.warnings) out += "  " + w.ToString(name) + "\n";
  }
  return out;
}

std::string ReportBaseName(const std::string& name) {
  if (name.size() + kLongestSuffix.size() <= kNameMax) return name;
  const std::string tag = "~" + Sha256Hex(name).substr(0, 8);
  size_t keep = kNameMax - kLongestSuffix.size() - tag.size();
  // Cut before a UTF-8 continuation byte never, so a readable name stays readable.
  while (keep > 0 && (static_cast<unsigned char>(name[keep]) & 0xc0) == 0x80) --keep;
  return name.substr(0, keep) + tag;
}

Result<ReportSlot> ReportsAreFor(const std::string& dir, const std::string& name,
                                 const BatchReport& report) {
  const std::string base = dir + "/" + ReportBaseName(name);
  // Small and regular, or not a report of ours: a planted link or FIFO is never read.
  auto read = [](const std::string& path, std::string* text) -> Result<bool> {
    UniqueFd fd(::open(path.c_str(), O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC));
    if (!fd.valid()) {
      if (errno == ENOENT) return false;
      if (errno == ELOOP) return true;  // There, but not ours.
      return PosixError(ErrorCode::kIo, "cannot read", errno, NameAsText(path));
    }
    struct stat st {};
    if (::fstat(fd.get(), &st) != 0 || !S_ISREG(st.st_mode) || st.st_size > (1 << 26)) return true;
    text->assign(static_cast<size_t>(st.st_size), '\0');
    if (::read(fd.get(), text->data(), text->size()) != static_cast<ssize_t>(text->size())) {
      text->clear();
    }
    return true;
  };
  std::string json_text;
  std::string txt_text;
  auto json_there = read(base + ".report.json", &json_text);
  if (!json_there) return json_there.error();
  auto txt_there = read(base + ".report.txt", &txt_text);
  if (!txt_there) return txt_there.error();
  if (!*json_there && !*txt_there) return ReportSlot::kFree;
  if (*json_there) {
    nlohmann::json earlier = nlohmann::json::parse(json_text, nullptr, false);
    bool same = earlier.is_object() && earlier.value("file", "") == report.file &&
                earlier.value("sha256", "") == report.sha256 &&
                earlier.value("institution", "") == report.institution_id;
    return same ? ReportSlot::kOurs : ReportSlot::kTaken;
  }
  // Only the text report: the run stopped between the two.
  bool same =
      txt_text.find("\nFile:        " + report.file + "\n") != std::string::npos &&
      txt_text.find("\nInstitution: " + report.institution_id + "\n") != std::string::npos &&
      (report.sha256.empty() ||
       txt_text.find("\nSHA-256:     " + report.sha256 + "\n") != std::string::npos);
  return same ? ReportSlot::kOurs : ReportSlot::kTaken;
}

Result<bool> WriteReports(const BatchReport& report, const std::string& dir,
                          const std::string& name, bool exclusive) {
  UniqueFd dir_fd(::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (!dir_fd.valid()) return PosixError(ErrorCode::kIo, "cannot open", errno, NameAsText(dir));
  const std::string base = ReportBaseName(name);
  BatchReport shown = report;
  if (base != name) shown.report_for = NameAsText(name);
  // The text first and the JSON last: scripts wait for the .json, and when it is there the
  // .txt is too. The text report is also the reservation of the name.
  auto text =
      WriteAtomically(dir_fd.get(), dir, base + ".report.txt", ReportText(shown), exclusive);
  if (!text || !*text) return text;
  return WriteAtomically(dir_fd.get(), dir, base + ".report.json",
                         DumpJson(ReportJson(shown)) + "\n", false);
}

Status WriteReports(const BatchReport& report, const std::string& dir, const std::string& name) {
  auto written = WriteReports(report, dir, name, false);
  if (!written) return written.error();
  return Status::Ok();
}

Result<std::vector<std::string>> RemoveStaleReportTemps(const std::string& dir,
                                                        std::chrono::seconds min_age) {
  auto names = ListFolder(dir);
  if (!names) return names.error();
  const std::time_t before = std::time(nullptr) - static_cast<std::time_t>(min_age.count());
  std::vector<std::string> removed;
  for (const std::string& name : *names) {
    if (!IsTempName(name)) continue;
    const std::string path = dir + "/" + name;
    struct stat st {};
    if (::lstat(path.c_str(), &st) != 0) continue;
    if (!S_ISREG(st.st_mode) || st.st_mtime > before) continue;
    if (::unlink(path.c_str()) == 0) removed.push_back(name);
  }
  return removed;
}

}  // namespace credd
