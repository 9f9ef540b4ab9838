#include "daemon/http/ops_routes.h"

#include <nlohmann/json.hpp>

namespace credd::http {

void AddOpsRoutes(Router& router, const OpsRoutes& routes) {
  router.Add({"GET", "/healthz", [](const Request&) { return Response::Text(200, "ok\n"); },
              kSmallBody, false});
  router.Add({"GET", "/readyz",
              [readiness = routes.readiness](const Request&) {
                const std::vector<std::string> reasons = readiness();
                nlohmann::json answer = {{"ready", reasons.empty()}, {"reasons", reasons}};
                return Response::Json(reasons.empty() ? 200 : 503, answer.dump());
              },
              kSmallBody, false});
  router.Add({"GET", "/metrics",
              [metrics = routes.metrics](const Request&) {
                return Response{
                    200, "text/plain; version=0.0.4; charset=utf-8", metrics->Exposition(), {}};
              },
              kSmallBody, false});
}

}  // namespace credd::http
