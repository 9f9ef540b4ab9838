// What the admin tools show, as JSON: one builder per view, shared by `credctl --json` and
// the admin HTTP API, so both answer with the same document.
// Thread contract: pure functions over rows the caller read.
#pragma once

#include <nlohmann/json.hpp>
#include <vector>

#include "daemon/store/batch_store.h"
#include "daemon/store/conditions.h"
#include "daemon/store/status_query.h"
#include "daemon/store/student_store.h"

namespace credd {

// credctl status --json.
nlohmann::json StatusJson(const StatusCounts& counts, const std::vector<ConditionRow>& conditions);
// One student of credctl student find --json, with emails, documents and invitations.
nlohmann::json StudentJson(const StudentRow& student);
// credctl student find --json: one student as itself, several as {"students": [...]}.
nlohmann::json StudentsJson(const std::vector<StudentRow>& students);
// One line of credctl batches list --json.
nlohmann::json BatchSummaryJson(const BatchRow& batch);
// credctl batches show ID --json: the batch's report as the database has it (the same
// fields as the report file written beside it).
nlohmann::json BatchReportJson(const BatchRow& batch, const std::vector<StoredRecordError>& errors);

}  // namespace credd
