// Counts for `credctl status`: batches, documents and invitations by state, read in one
// snapshot. Thread contract: uses the caller's connection.
#pragma once

#include <cstdint>
#include <map>
#include <string>

#include "common/result.h"
#include "daemon/store/store.h"

namespace credd {

struct StatusCounts {
  // Every contract state is present (zero when no row has it).
  std::map<std::string, int64_t> batches;      // done, rejected, duplicate (+ processing).
  std::map<std::string, int64_t> documents;    // active, superseded, revoked.
  std::map<std::string, int64_t> invitations;  // pending, sent, reminded, activated, ...
  std::map<std::string, int64_t> outbox;       // queued, sending, sent, deferred, failed.
  int schema_version = 0;
};

Result<StatusCounts> ReadStatusCounts(Store& store);

}  // namespace credd
