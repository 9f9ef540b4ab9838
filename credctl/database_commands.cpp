#include <nlohmann/json.hpp>

#include "common/exit_codes.h"
#include "credctl/commands.h"
#include "credctl/session.h"
#include "daemon/admin/admin_views.h"
#include "daemon/config/config.h"
#include "daemon/store/batch_store.h"
#include "daemon/store/conditions.h"
#include "daemon/store/database.h"
#include "daemon/store/migrations.h"
#include "daemon/store/status_query.h"

namespace credd::ctl {
namespace {

// Loads the config for a command that needs only its database section; a config problem
// is reported the same way check-config reports it.
Result<Config> LoadForCommand(const GlobalOptions& global, std::ostream& err) {
  std::vector<ConfigProblem> problems;
  Result<Config> config = LoadConfigFile(global.config_path, &problems);
  if (config.ok() && problems.empty()) return config;
  for (const ConfigProblem& p : problems) {
    err << global.config_path << ": " << p.ToString() << "\n";
  }
  return MakeError(ErrorCode::kConfig, "invalid configuration", global.config_path);
}

}  // namespace

int MigrateCommand(const GlobalOptions& global, Logger& log, std::ostream& out, std::ostream& err) {
  auto config = LoadForCommand(global, err);
  if (!config) return kExitConfig;
  auto database = Database::Open(config->database, log);
  if (!database) return Fail(database.error(), err);
  auto conn = (*database)->Connect();
  if (!conn) return Fail(conn.error(), err);
  auto outcome = Migrate(**conn);
  if (!outcome) return Fail(outcome.error(), err);

  if (global.json) {
    nlohmann::json doc = {{"from_version", outcome->from_version},
                          {"to_version", outcome->to_version},
                          {"applied", outcome->applied}};
    out << doc.dump(2) << "\n";
  } else if (outcome->applied.empty()) {
    out << "schema is up to date at version " << outcome->to_version << "\n";
  } else {
    out << "schema migrated from version " << outcome->from_version << " to " << outcome->to_version
        << " (" << outcome->applied.size() << " migration"
        << (outcome->applied.size() == 1 ? "" : "s") << " applied)\n";
  }
  return kExitOk;
}

int StatusCommand(const GlobalOptions& global, Logger& log, std::ostream& out, std::ostream& err) {
  auto config = LoadForCommand(global, err);
  if (!config) return kExitConfig;
  auto database = Database::Open(config->database, log);
  if (!database) return Fail(database.error(), err);
  auto conn = (*database)->Connect();
  if (!conn) return Fail(conn.error(), err);
  if (Status schema = CheckSchemaVersion(**conn); !schema) return Fail(schema.error(), err);
  auto counts = ReadStatusCounts(**conn);
  if (!counts) return Fail(counts.error(), err);
  auto conditions = ListConditions(**conn);
  if (!conditions) return Fail(conditions.error(), err);

  if (global.json) {
    out << StatusJson(*counts, *conditions)
               .dump(2, ' ', false, nlohmann::json::error_handler_t::replace)
        << "\n";
    return kExitOk;
  }
  auto print_group = [&out](const char* title, const std::map<std::string, int64_t>& group) {
    out << title << ":";
    for (const auto& [state, count] : group) out << " " << state << "=" << count;
    out << "\n";
  };
  out << "schema version " << counts->schema_version << "\n";
  print_group("batches", counts->batches);
  print_group("documents", counts->documents);
  print_group("invitations", counts->invitations);
  print_group("outbox", counts->outbox);
  for (const ConditionRow& c : *conditions) {
    out << "needs attention: " << c.institution_id << " " << ConditionName(c.kind) << " since "
        << c.since << ": " << c.detail << "\n";
  }
  return kExitOk;
}

int MailResumeCommand(const GlobalOptions& global, const std::string& institution, Logger& log,
                      std::ostream& out, std::ostream& err) {
  auto session = OpenSession(global, log, err);
  if (!session) return Fail(session.error(), err);
  if (session->config.FindInstitution(institution) == nullptr) {
    return Fail(MakeError(ErrorCode::kUsage, "no such institution in the config", institution),
                err);
  }
  auto cleared = ClearCondition(*session->conn, institution, ConditionKind::kMailPaused);
  if (!cleared) return Fail(cleared.error(), err);
  out << (*cleared ? "sending resumed for " : "sending was not paused for ") << institution << "\n";
  return kExitOk;
}

int BatchesListCommand(const GlobalOptions& global, const std::string& institution, int limit,
                       Logger& log, std::ostream& out, std::ostream& err) {
  auto session = OpenSession(global, log, err);
  if (!session) return Fail(session.error(), err);
  auto rows = ListBatches(*session->conn, institution, limit);
  if (!rows) return Fail(rows.error(), err);
  if (global.json) {
    nlohmann::json list = nlohmann::json::array();
    for (const BatchRow& b : *rows) list.push_back(BatchSummaryJson(b));
    out << nlohmann::json{{"batches", list}}.dump(2, ' ', false,
                                                  nlohmann::json::error_handler_t::replace)
        << "\n";
    return kExitOk;
  }
  for (const BatchRow& b : *rows) {
    out << b.id << " " << b.institution_id << " " << kBatchStatuses.Name(b.status) << " "
        << b.received_at << " " << b.file_name << " (" << b.counts.accepted << " accepted, "
        << b.counts.rejected << " rejected, " << b.counts.duplicates << " duplicates)\n";
  }
  return kExitOk;
}

int BatchesShowCommand(const GlobalOptions& global, int64_t batch_id, Logger& log,
                       std::ostream& out, std::ostream& err) {
  auto session = OpenSession(global, log, err);
  if (!session) return Fail(session.error(), err);
  auto row = LoadBatch(*session->conn, batch_id);
  if (!row) return Fail(row.error(), err);
  auto errors = LoadBatchErrors(*session->conn, batch_id);
  if (!errors) return Fail(errors.error(), err);
  out << BatchReportJson(*row, *errors)
             .dump(2, ' ', false, nlohmann::json::error_handler_t::replace)
      << "\n";
  return kExitOk;
}

}  // namespace credd::ctl
