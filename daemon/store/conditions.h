// Conditions that need a person (a drop folder credd cannot use, paused mail), stored so
// that every credd process and `credctl status` see the same thing. Set by the stage that
// meets the problem, cleared when it goes away. Thread contract: uses the caller's
// connection.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/result.h"
#include "daemon/store/store.h"

namespace credd {

enum class ConditionKind {
  kDropFolder,  // The drop folders cannot be used: files wait in incoming/.
  kMailPaused,  // Sending stopped after repeated policy refusals by the relay.
};

// The kind's name in the database and in `credctl status`; Parse is its inverse.
std::string_view ConditionName(ConditionKind kind);
std::optional<ConditionKind> ParseConditionKind(std::string_view name);

struct ConditionRow {
  std::string institution_id;
  ConditionKind kind = ConditionKind::kDropFolder;
  std::string detail;
  std::string since;  // ISO 8601 UTC.
};

// Records (or refreshes the detail of) a condition; `since` stays that of its first report.
Status SetCondition(Store& store, const std::string& institution_id, ConditionKind kind,
                    const std::string& detail);
// Clears it; true when there was one.
Result<bool> ClearCondition(Store& store, const std::string& institution_id, ConditionKind kind);
// Whether the condition holds now.
Result<bool> HasCondition(Store& store, const std::string& institution_id, ConditionKind kind);
Result<std::vector<ConditionRow>> ListConditions(Store& store);

}  // namespace credd
