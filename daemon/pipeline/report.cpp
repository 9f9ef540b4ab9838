#include "daemon/pipeline/report.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <ctime>

#include "common/log.h"

namespace credd {
namespace {

nlohmann::json ErrorJson(const RecordError& e) {
  nlohmann::json j = {{"line", e.line}, {"field", e.field}, {"message", e.message}};
  if (e.column > 0) j["column"] = e.column;
  return j;
}

// Names in the text report are shown escaped when they hold control characters, so a
// crafted name cannot forge report lines.
std::string Printable(const std::string& name) {
  for (unsigned char c : name) {
    if (c < 0x20 || c == 0x7f) return QuoteLogValue(name);
  }
  return name;
}

Status WriteAtomically(const std::string& dir, const std::string& name,
                       const std::string& content) {
  std::string final_path = dir + "/" + name;
  std::string temp_path = dir + "/." + name + ".tmp";
  int fd = ::open(temp_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0640);
  if (fd < 0) {
    return MakeError(ErrorCode::kIo, std::string("cannot write: ") + std::strerror(errno),
                     temp_path);
  }
  size_t done = 0;
  while (done < content.size()) {
    ssize_t n = ::write(fd, content.data() + done, content.size() - done);
    if (n < 0) {
      if (errno == EINTR) continue;
      int saved = errno;
      ::close(fd);
      ::unlink(temp_path.c_str());
      return MakeError(ErrorCode::kIo, std::string("cannot write: ") + std::strerror(saved),
                       temp_path);
    }
    done += static_cast<size_t>(n);
  }
  if (::fsync(fd) != 0 || ::close(fd) != 0) {
    ::unlink(temp_path.c_str());
    return MakeError(ErrorCode::kIo, std::string("cannot flush: ") + std::strerror(errno),
                     temp_path);
  }
  if (::rename(temp_path.c_str(), final_path.c_str()) != 0) {
    int saved = errno;
    ::unlink(temp_path.c_str());
    return MakeError(ErrorCode::kIo, std::string("cannot rename: ") + std::strerror(saved),
                     final_path);
  }
  return Status::Ok();
}

}  // namespace

std::string NowIso8601() {
  std::time_t now = std::time(nullptr);
  std::tm utc{};
  gmtime_r(&now, &utc);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &utc);
  return buf;
}

nlohmann::json ReportJson(const BatchReport& r) {
  nlohmann::json j = {
      {"file", r.file},
      {"institution", r.institution_id},
      {"sha256", r.sha256},
      {"format", r.format},
      {"status", r.status},
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
  if (!r.reason.empty()) j["reason"] = r.reason;
  if (r.batch_id != 0) j["batch"] = r.batch_id;
  if (r.duplicate_of != 0) j["duplicate_of"] = r.duplicate_of;
  for (const RecordError& e : r.errors) j["errors"].push_back(ErrorJson(e));
  for (const RecordError& w : r.warnings) j["warnings"].push_back(ErrorJson(w));
  return j;
}

std::string ReportText(const BatchReport& r) {
  std::string name = Printable(r.file);
  std::string out;
  out +=
      "credd import report" + std::string(r.dry_run ? " (dry run: nothing stored)" : "") + "\n\n";
  out += "File:        " + name + "\n";
  if (!r.stored_as.empty()) out += "Stored as:   " + Printable(r.stored_as) + "\n";
  out += "Institution: " + r.institution_id + "\n";
  if (!r.sha256.empty()) out += "SHA-256:     " + r.sha256 + "\n";
  if (!r.format.empty()) out += "Format:      " + r.format + "\n";
  out += "Status:      " + r.status + "\n";
  if (r.batch_id != 0) out += "Batch:       " + std::to_string(r.batch_id) + "\n";
  if (!r.received_at.empty()) out += "Received:    " + r.received_at + "\n";
  if (!r.finished_at.empty()) out += "Finished:    " + r.finished_at + "\n";
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

Status WriteReports(const BatchReport& report, const std::string& dir, const std::string& name) {
  // The text first and the JSON last: scripts wait for the .json, and when it is there the
  // .txt is too.
  if (Status s = WriteAtomically(dir, name + ".report.txt", ReportText(report)); !s) return s;
  return WriteAtomically(dir, name + ".report.json", ReportJson(report).dump(2) + "\n");
}

}  // namespace credd
