// credctl audit: checks the audit chain (and its last anchor), and records anchors.
#include <nlohmann/json.hpp>
#include <sstream>

#include "common/exit_codes.h"
#include "credctl/commands.h"
#include "credctl/session.h"
#include "daemon/store/audit_chain.h"

namespace credd::ctl {

namespace {

// The anchor to check: the last of --anchors FILE (which must hold one), else of the
// config's audit.anchors_file when it exists (before credd took its first anchor, none).
Result<std::optional<AuditAnchor>> AnchorToCheck(const AuditOptions& options, const Config& config,
                                                 std::string* path) {
  *path = options.anchors.empty() ? config.audit.anchors_file : options.anchors;
  if (path->empty()) return std::optional<AuditAnchor>();
  Result<std::optional<AuditAnchor>> read = ReadAnchorsFile(*path);
  if (read && !read->has_value() && !options.anchors.empty()) {
    return MakeError(ErrorCode::kNoInput, "cannot read the anchors file: no such file", *path);
  }
  return read;
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
  auto c = OpenSession(global, log, err);
  if (!c) return Fail(c.error(), err);
  std::string anchors_path;
  Result<std::optional<AuditAnchor>> to_check = AnchorToCheck(options, c->config, &anchors_path);
  if (!to_check) return Fail(to_check.error(), err);
  const std::optional<AuditAnchor> anchor = to_check.value();
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
    doc["anchor"] = anchor ? nlohmann::json{{"at", anchor->at},
                                            {"seq", anchor->seq},
                                            {"hash", anchor->hash},
                                            {"file", anchors_path}}
                           : nlohmann::json(nullptr);
    out << doc.dump(2) << "\n";
  } else {
    out << "audit chain: " << report->events << " events, head " << report->head.seq << " "
        << report->head.hash << "\n";
    if (anchor) {
      out << "anchor: event " << anchor->seq << " taken " << anchor->at << " (" << anchors_path
          << ")\n";
    } else if (!anchors_path.empty()) {
      out << "anchor: none taken yet in " << anchors_path << "\n";
    } else {
      out << "anchor: none checked (no audit.anchors_file; --anchors FILE checks one)\n";
    }
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
  const std::string path = options.anchors.empty() ? c->config.audit.anchors_file : options.anchors;
  if (!path.empty()) {
    if (Status s = AppendAnchor(path, *head); !s) return Fail(s.error(), err);
  }
  log.Info("audit.anchor",
           {{"seq", std::to_string(head->seq)}, {"hash", head->hash}, {"file", path}});
  out << AnchorLine(*head) << "\n";
  return kExitOk;
}

}  // namespace credd::ctl
