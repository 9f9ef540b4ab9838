// The metrics credd exports at GET /metrics: one registry, built by the composition root
// and handed (as a pointer, null in tests that do not look) to the stages that count. Names
// follow Prometheus's conventions: credd_ prefix, base units, _total on counters.
// Thread contract: the families are thread-safe (common/metrics.h).
#pragma once

#include <string>

#include "common/metrics.h"

namespace credd {

struct CreddMetrics {
  CreddMetrics(MetricsRegistry& registry, const std::string& version);

  MetricsRegistry& registry;
  // Ingestion.
  CounterFamily& files;             // {institution, outcome}: done, rejected, duplicate, retry.
  CounterFamily& records;           // {institution, outcome}: accepted, rejected, duplicate.
  HistogramFamily& batch_duration;  // {institution}: claim to report, seconds.
  GaugeFamily& processing_files;    // {institution}: files in processing/ (read at scrape).
  // Documents.
  CounterFamily& documents_issued;  // {institution}
  CounterFamily& documents_failed;  // {institution}: could not be rendered or signed.
  HistogramFamily& render_sign;     // Render and sign one document, seconds.
  // Mail.
  CounterFamily& emails;       // {outcome}: sent, deferred, bounced, failed.
  HistogramFamily& smtp_send;  // One message through the transport, seconds.
  GaugeFamily& outbox;         // {state}: emails in the outbox (read at scrape).
  GaugeFamily& oldest_queued;  // Age of the oldest email waiting to go, seconds.
  // HTTP.
  CounterFamily& http_requests;   // {route, code}
  HistogramFamily& http_latency;  // {route}
  CounterFamily& http_refused;    // {reason}: limits that turned a client away.
  GaugeFamily& build_info;        // {version} 1.
};

}  // namespace credd
