// Keeps the institutions table in step with the configuration (at start and on SIGHUP).
// Institutions are never deleted: documents refer to them after they leave the config.
#pragma once

#include <vector>

#include "common/result.h"
#include "daemon/config/config.h"
#include "daemon/store/store.h"

namespace credd {

// Inserts missing institutions and updates names of known ones, in one transaction.
Status SyncInstitutions(Store& store, const std::vector<InstitutionConfig>& institutions);

}  // namespace credd
