// The audit chain's check; see audit_chain.h.
#include "daemon/store/audit_chain.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <system_error>

#include "common/posix_error.h"
#include "common/time_format.h"
#include "common/unique_fd.h"
#include "daemon/store/internal/pq.h"

namespace credd {
namespace {

constexpr int kPage = 5000;  // Events read per round trip: the walk's memory stays flat.

}  // namespace

Result<AuditChainReport> VerifyAuditChain(Store& store, const std::optional<AuditAnchor>& anchor,
                                          const std::string& institution_id) {
  try {
    // One snapshot for the whole walk: events appended meanwhile are not half-seen.
    pqxx::work txn(Pq(store));
    txn.exec0("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ READ ONLY");
    AuditChainReport report;
    std::optional<std::string> previous_hash;  // Of the event before; none before the first.
    bool anchor_seen = false;
    int64_t after = 0;
    auto keep = [&](const AuditBreak& b, bool whole_chain) {
      if (whole_chain || institution_id.empty() || b.institution_id == institution_id) {
        report.breaks.push_back(b);
      }
    };
    while (true) {
      const pqxx::result rows = txn.exec_params(
          "SELECT seq, to_char(occurred_at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"'), "
          "coalesce(institution_id, ''), event, encode(hash, 'hex'), "
          "coalesce(encode(prev_hash, 'hex'), ''), prev_hash IS NULL, "
          "hash = audit_event_hash(prev_hash, seq, occurred_at, actor, institution_id, event, "
          "subject, details) FROM audit_events WHERE seq > $1 ORDER BY seq LIMIT $2",
          after, kPage);
      for (const pqxx::row& r : rows) {
        AuditBreak here{r[0].as<int64_t>(), r[1].as<std::string>(), r[2].as<std::string>(),
                        r[3].as<std::string>(), ""};
        const std::string hash = r[4].as<std::string>();
        const bool no_prev = r[6].as<bool>();
        if (!r[7].as<bool>()) {
          here.reason = "its hash does not match its content: the row was altered";
          keep(here, false);
        }
        if (!previous_hash && !no_prev) {
          here.reason =
              "it is the first event but links to an earlier one: the chain's start "
              "was removed";
          keep(here, false);
        } else if (previous_hash && (no_prev || r[5].as<std::string>() != *previous_hash)) {
          here.reason = "it does not link to the event before it (" +
                        std::to_string(report.head.seq) +
                        "): an event between them was removed or replaced";
          keep(here, false);
        }
        if (anchor && here.seq == anchor->seq) {
          anchor_seen = true;
          if (hash != anchor->hash) {
            here.reason = "its hash differs from the anchor taken " + anchor->at +
                          ": the chain was recomputed from here or before";
            keep(here, true);
          }
        }
        previous_hash = hash;
        report.head = {"", here.seq, hash, ++report.events};
        after = here.seq;
      }
      if (rows.size() < static_cast<std::size_t>(kPage)) break;
    }
    if (anchor) {
      report.anchor_checked = true;
      if (!anchor_seen) {
        AuditBreak cut{anchor->seq, "", "", "", ""};
        cut.reason = report.head.seq < anchor->seq
                         ? "the anchor taken " + anchor->at + " records event " +
                               std::to_string(anchor->seq) + " but the chain ends at event " +
                               std::to_string(report.head.seq) + ": its tail was cut"
                         : "the anchor taken " + anchor->at + " records event " +
                               std::to_string(anchor->seq) + ", which the chain no longer holds";
        keep(cut, true);
      }
    }
    report.head.at = Iso8601Utc(std::chrono::system_clock::now());
    txn.commit();
    return report;
  } catch (const std::exception& e) {
    return PqError("checking the audit chain", e);
  }
}

Result<AuditAnchor> AuditHead(Store& store) {
  try {
    pqxx::read_transaction txn(Pq(store));
    const pqxx::row r = txn.exec1(
        "SELECT coalesce(max(seq), 0), (SELECT coalesce(encode(hash, 'hex'), '') FROM "
        "audit_events ORDER BY seq DESC LIMIT 1), count(*) FROM audit_events");
    AuditAnchor head;
    head.at = Iso8601Utc(std::chrono::system_clock::now());
    head.seq = r[0].as<int64_t>();
    head.hash = r[1].is_null() ? "" : r[1].as<std::string>();
    head.events = r[2].as<int64_t>();
    return head;
  } catch (const std::exception& e) {
    return PqError("reading the audit chain's head", e);
  }
}

Result<std::vector<AuditEntry>> StudentAuditHistory(Store& store, const std::string& institution_id,
                                                    const std::string& student_id) {
  try {
    pqxx::read_transaction txn(Pq(store));
    const pqxx::result student =
        txn.exec_params("SELECT id FROM students WHERE institution_id = $1 AND student_id = $2",
                        institution_id, student_id);
    if (student.empty()) {
      return MakeError(ErrorCode::kNoInput, "no such student in " + institution_id, student_id);
    }
    const int64_t id = student[0][0].as<int64_t>();
    // Every subject that is the student's, then their events in the institution.
    const pqxx::result rows = txn.exec_params(
        "WITH subjects(subject) AS ("
        "  SELECT 'student:' || $3::text "
        "  UNION SELECT 'credential:' || c.id FROM credentials c WHERE c.student = $1 "
        "  UNION SELECT 'document:' || d.id FROM documents d "
        "    JOIN credentials c ON c.id = d.credential WHERE c.student = $1 "
        "  UNION SELECT 'invitation:' || i.id FROM invitations i WHERE i.student = $1 "
        "  UNION SELECT 'share:' || sh.public_id FROM shares sh "
        "    JOIN share_documents sd ON sd.share = sh.id JOIN documents d ON d.id = sd.document "
        "    JOIN credentials c ON c.id = d.credential WHERE c.student = $1) "
        "SELECT a.seq, to_char(a.occurred_at AT TIME ZONE 'UTC', "
        "'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"'), a.actor, a.event, a.subject, a.details::text "
        "FROM audit_events a JOIN subjects s ON s.subject = a.subject "
        "WHERE a.institution_id = $2 ORDER BY a.seq",
        id, institution_id, student_id);
    std::vector<AuditEntry> history;
    history.reserve(rows.size());
    for (const pqxx::row& r : rows) {
      history.push_back({r[0].as<int64_t>(), r[1].as<std::string>(), r[2].as<std::string>(),
                         r[3].as<std::string>(), r[4].as<std::string>(), r[5].as<std::string>()});
    }
    return history;
  } catch (const std::exception& e) {
    return PqError("reading a student's history", e);
  }
}

std::string AnchorLine(const AuditAnchor& anchor) {
  return "credd-audit-anchor at=" + anchor.at + " seq=" + std::to_string(anchor.seq) +
         " hash=" + anchor.hash + " events=" + std::to_string(anchor.events);
}

std::optional<AuditAnchor> LastAnchor(const std::string& text) {
  std::optional<AuditAnchor> last;
  std::istringstream lines(text);
  for (std::string line; std::getline(lines, line);) {
    std::istringstream words(line);
    std::string word;
    if (!(words >> word) || word != "credd-audit-anchor") continue;
    AuditAnchor anchor;
    bool seq = false;
    while (words >> word) {
      const std::size_t eq = word.find('=');
      if (eq == std::string::npos) continue;
      const std::string key = word.substr(0, eq), value = word.substr(eq + 1);
      try {
        if (key == "at") anchor.at = value;
        if (key == "hash") anchor.hash = value;
        if (key == "seq") anchor.seq = std::stoll(value), seq = true;
        if (key == "events") anchor.events = std::stoll(value);
      } catch (const std::exception&) {
        seq = false;
        break;
      }
    }
    if (seq && anchor.hash.size() == 64) last = anchor;
  }
  return last;
}

Result<std::optional<AuditAnchor>> ReadAnchorsFile(const std::string& path) {
  std::error_code error;
  const auto status = std::filesystem::status(path, error);
  if (status.type() == std::filesystem::file_type::not_found) return std::optional<AuditAnchor>();
  if (error)
    return MakeError(ErrorCode::kNoInput, "cannot read the anchors file: " + error.message(), path);
  if (!std::filesystem::is_regular_file(status)) {
    return MakeError(ErrorCode::kNoInput, "the anchors file is not a regular file", path);
  }
  std::ifstream in(path, std::ios::binary);
  if (!in) return MakeError(ErrorCode::kNoInput, "cannot read the anchors file", path);
  std::ostringstream text;
  text << in.rdbuf();
  std::optional<AuditAnchor> anchor = LastAnchor(text.str());
  if (!anchor) return MakeError(ErrorCode::kData, "holds no anchor line", path);
  return anchor;
}

Status AppendAnchor(const std::string& path, const AuditAnchor& anchor) {
  UniqueFd fd(::open(path.c_str(), O_RDWR | O_APPEND | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0640));
  if (!fd.valid()) {
    return PosixError(ErrorCode::kIo, "cannot append to the anchors file", errno, path);
  }
  // A line torn by an earlier failed write is ended first, so this one stands alone.
  std::string line = AnchorLine(anchor) + "\n";
  struct stat st {};
  char last = '\n';
  if (::fstat(fd.get(), &st) == 0 && st.st_size > 0 &&
      ::pread(fd.get(), &last, 1, st.st_size - 1) == 1 && last != '\n') {
    line.insert(line.begin(), '\n');
  }
  // One write of one line: appends from several processes on a local filesystem never
  // interleave within it.
  const ssize_t written = ::write(fd.get(), line.data(), line.size());
  if (written != static_cast<ssize_t>(line.size())) {
    return PosixError(ErrorCode::kIo, "cannot append to the anchors file",
                      written < 0 ? errno : EIO, path);
  }
  if (::fsync(fd.get()) != 0) {
    return PosixError(ErrorCode::kIo, "cannot sync the anchors file", errno, path);
  }
  return Status::Ok();
}

}  // namespace credd
