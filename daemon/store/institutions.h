// Keeps the institutions table in step with the configuration (at start and on SIGHUP).
// Institutions are never deleted: documents refer to them after they leave the config.
#pragma once

#include <pqxx/pqxx>
#include <vector>

#include "common/result.h"
#include "daemon/config/config.h"

namespace credd {

// Inserts missing institutions and updates names of known ones, in one transaction.
Status SyncInstitutions(pqxx::connection& conn, const std::vector<InstitutionConfig>& institutions);

}  // namespace credd
