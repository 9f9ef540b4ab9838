// credctl audit: checks the audit chain (and its last anchor), and records anchors.
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "common/exit_codes.h"
#include "credctl/commands.h"
#include "credctl/session.h"
#include "daemon/store/audit_chain.h"

namespace credd::ctl {

namespace {

// The last anchor of the file; an error when the file cannot be read or holds none.
Result<AuditAnchor> ReadAnchor(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return MakeError(ErrorCode::kNoInput, "cannot read the anchors file", path);
  std::ostringstream text;
  text << in.rdbuf();
  std::optional<AuditAnchor> anchor = LastAnchor(text.str());
  if (!anchor) return MakeError(ErrorCode::kData, "holds no anchor line", path);
  return *anchor;
}

nlohmann::json BreakJson(const AuditBreak& b) {
  return {{"seq", b.seq},
          {"occurred_at", b.occurred_at},
          {"institution", b.institution_id},
          {"event", b.event},
          {"reason", b.reason}};
}

}  // namespace

int AuditVerifyCommand(const GlobalOptions& global, const AuditOptions& options, Logger& log,
                       std::ostream& out, std::ostream& err) {
  std::optional<AuditAnchor> anchor;
  if (!options.anchors.empty()) {
    Result<AuditAnchor> read = ReadAnchor(options.anchors);
    if (!read) return Fail(read.error(), err);
    anchor = *read;
  }
  auto c = OpenSession(global, log, err);
  if (!c) return Fail(c.error(), err);
  if (!options.institution.empty() && !c->config.FindInstitution(options.institution)) {
    return Fail(
        MakeError(ErrorCode::kUsage, "no such institution in the config", options.institution),
        err);
  }
  Result<AuditChainReport> report = VerifyAuditChain(*c->conn, anchor, options.institution);
  if (!report) return Fail(report.error(), err);
  const bool whole = report->breaks.empty();
  if (global.json) {
    nlohmann::json breaks = nlohmann::json::array();
    for (const AuditBreak& b : report->breaks) breaks.push_back(BreakJson(b));
    nlohmann::json doc = {{"whole", whole},
                          {"events", report->events},
                          {"head", {{"seq", report->head.seq}, {"hash", report->head.hash}}},
                          {"institution", options.institution},
                          {"breaks", breaks}};
    doc["anchor"] =
        anchor ? nlohmann::json{{"at", anchor->at}, {"seq", anchor->seq}, {"hash", anchor->hash}}
               : nlohmann::json(nullptr);
    out << doc.dump(2) << "\n";
  } else {
    out << "audit chain: " << report->events << " events, head " << report->head.seq << " "
        << report->head.hash << "\n";
    out << (anchor ? "anchor: event " + std::to_string(anchor->seq) + " taken " + anchor->at
                   : std::string("anchor: none checked (--anchors FILE checks one)"))
        << "\n";
    for (const AuditBreak& b : report->breaks) {
      out << "broken: event " << b.seq
          << (b.event.empty()
                  ? ""
                  : " (" + b.event + (b.institution_id.empty() ? "" : ", " + b.institution_id) +
                        (b.occurred_at.empty() ? "" : ", " + b.occurred_at) + ")")
          << ": " << b.reason << "\n";
    }
    out << (whole ? "whole" : "BROKEN: " + std::to_string(report->breaks.size()) + " break(s)")
        << "\n";
  }
  if (!whole) {
    const AuditBreak& first = report->breaks.front();
    err << "credctl: audit chain broken at event " << first.seq << ": " << first.reason << "\n";
    return kExitDataError;
  }
  return kExitOk;
}

int AuditShowCommand(const GlobalOptions& global, const AuditOptions& options, Logger& log,
                     std::ostream& out, std::ostream& err) {
  auto c = OpenSession(global, log, err);
  if (!c) return Fail(c.error(), err);
  Result<std::vector<AuditEntry>> history =
      StudentAuditHistory(*c->conn, options.institution, options.student_id);
  if (!history) return Fail(history.error(), err);
  if (global.json) {
    nlohmann::json events = nlohmann::json::array();
    for (const AuditEntry& e : *history) {
      events.push_back({{"seq", e.seq},
                        {"occurred_at", e.occurred_at},
                        {"actor", e.actor},
                        {"event", e.event},
                        {"subject", e.subject},
                        {"details", nlohmann::json::parse(e.details_json)}});
    }
    out << nlohmann::json{{"institution", options.institution},
                          {"student_id", options.student_id},
                          {"events", events}}
               .dump(2)
        << "\n";
    return kExitOk;
  }
  for (const AuditEntry& e : *history) {
    out << e.occurred_at << "  " << e.event << "  " << e.subject << "  " << e.actor << "  "
        << e.details_json << "\n";
  }
  return kExitOk;
}

int AuditAnchorCommand(const GlobalOptions& global, const AuditOptions& options, Logger& log,
                       std::ostream& out, std::ostream& err) {
  auto c = OpenSession(global, log, err);
  if (!c) return Fail(c.error(), err);
  Result<AuditAnchor> head = AuditHead(*c->conn);
  if (!head) return Fail(head.error(), err);
  const std::string line = AnchorLine(*head);
  if (!options.anchors.empty()) {
    std::ofstream file(options.anchors, std::ios::app | std::ios::binary);
    file << line << "\n";
    file.flush();
    if (!file) {
      return Fail(MakeError(ErrorCode::kIo, "cannot append to the anchors file", options.anchors),
                  err);
    }
  }
  log.Info("audit.anchor", {{"seq", std::to_string(head->seq)}, {"hash", head->hash}});
  out << line << "\n";
  return kExitOk;
}

}  // namespace credd::ctl
