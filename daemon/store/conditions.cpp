#include "daemon/store/conditions.h"

#include <array>
#include <utility>

#include "daemon/store/database.h"
#include "daemon/store/internal/pq.h"

namespace credd {
namespace {

constexpr std::array<std::pair<ConditionKind, std::string_view>, 2> kConditionNames = {{
    {ConditionKind::kDropFolder, "drop_folder"},
    {ConditionKind::kMailPaused, "mail_paused"},
}};

constexpr const char* kUpsert =
    "INSERT INTO conditions (institution_id, kind, detail) VALUES ($1, $2, $3) "
    "ON CONFLICT (institution_id, kind) DO UPDATE SET detail = EXCLUDED.detail, "
    "updated_at = now()";
constexpr const char* kDelete =
    "DELETE FROM conditions WHERE institution_id = $1 AND kind = $2 RETURNING 1";
constexpr const char* kExists =
    "SELECT count(*) FROM conditions WHERE institution_id = $1 AND kind = $2";
constexpr const char* kList =
    "SELECT institution_id, kind, detail, "
    "to_char(since AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"') "
    "FROM conditions ORDER BY institution_id, kind";

}  // namespace

std::string_view ConditionName(ConditionKind kind) {
  for (const auto& [k, name] : kConditionNames) {
    if (k == kind) return name;
  }
  return "unknown";
}

std::optional<ConditionKind> ParseConditionKind(std::string_view name) {
  for (const auto& [k, n] : kConditionNames) {
    if (n == name) return k;
  }
  return std::nullopt;
}

Status SetCondition(Store& store, const std::string& institution_id, ConditionKind kind,
                    const std::string& detail) {
  pqxx::connection& conn = Pq(store);
  try {
    pqxx::work txn(conn);
    txn.exec_params(kUpsert, institution_id, std::string(ConditionName(kind)), detail);
    txn.commit();
    return Status::Ok();
  } catch (const std::exception& e) {
    return PqError("recording " + std::string(ConditionName(kind)) + " for " + institution_id, e);
  }
}

Result<bool> ClearCondition(Store& store, const std::string& institution_id, ConditionKind kind) {
  pqxx::connection& conn = Pq(store);
  try {
    pqxx::work txn(conn);
    pqxx::result r = txn.exec_params(kDelete, institution_id, std::string(ConditionName(kind)));
    txn.commit();
    return !r.empty();
  } catch (const std::exception& e) {
    return PqError("clearing " + std::string(ConditionName(kind)) + " for " + institution_id, e);
  }
}

Result<bool> HasCondition(Store& store, const std::string& institution_id, ConditionKind kind) {
  pqxx::connection& conn = Pq(store);
  try {
    pqxx::read_transaction txn(conn);
    return txn.exec_params1(kExists, institution_id, std::string(ConditionName(kind)))[0]
               .as<int64_t>() > 0;
  } catch (const std::exception& e) {
    return PqError("reading " + std::string(ConditionName(kind)) + " for " + institution_id, e);
  }
}

Result<std::vector<ConditionRow>> ListConditions(Store& store) {
  pqxx::connection& conn = Pq(store);
  try {
    pqxx::read_transaction txn(conn);
    std::vector<ConditionRow> rows;
    for (const pqxx::row& row : txn.exec(kList)) {
      ConditionRow c;
      c.institution_id = row[0].as<std::string>();
      c.kind = ParseConditionKind(row[1].as<std::string>()).value_or(ConditionKind::kDropFolder);
      c.detail = row[2].as<std::string>();
      c.since = row[3].as<std::string>();
      rows.push_back(std::move(c));
    }
    return rows;
  } catch (const std::exception& e) {
    return PqError("listing conditions", e);
  }
}

}  // namespace credd
