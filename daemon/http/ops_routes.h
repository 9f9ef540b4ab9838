// Operators' routes: GET /healthz (200 while the process serves), GET /readyz (200, or 503
// with the reasons as JSON) and GET /metrics (Prometheus text). None counts against the
// per-client request limit, so a monitoring system polling often is never turned away.
// Thread contract: the handlers run on the server's handler threads.
#pragma once

#include <functional>
#include <string>
#include <vector>

#include "common/metrics.h"
#include "daemon/http/router.h"

namespace credd::http {

struct OpsRoutes {
  MetricsRegistry* metrics = nullptr;
  std::function<std::vector<std::string>()> readiness;  // Reasons; empty = ready.
};

void AddOpsRoutes(Router& router, const OpsRoutes& routes);

}  // namespace credd::http
