#include "daemon/metrics/credd_metrics.h"

namespace credd {

CreddMetrics::CreddMetrics(MetricsRegistry& r, const std::string& version)
    : registry(r),
      files(r.AddCounter("credd_files_total", "Files taken from the drop folders, by outcome.",
                         {"institution", "outcome"})),
      records(r.AddCounter("credd_records_total", "Records read from dropped files, by outcome.",
                           {"institution", "outcome"})),
      batch_duration(r.AddHistogram(
          "credd_batch_duration_seconds", "Time from claiming a file to writing its report.",
          {"institution"}, {0.01, 0.05, 0.1, 0.5, 1, 5, 10, 30, 60, 300, 900, 3600})),
      processing_files(r.AddGauge("credd_processing_files",
                                  "Files in processing/ (claimed, not yet reported).",
                                  {"institution"})),
      documents_issued(r.AddCounter("credd_documents_issued_total", "Signed documents stored.",
                                    {"institution"})),
      documents_failed(r.AddCounter("credd_documents_failed_total",
                                    "Documents that could not be rendered or signed.",
                                    {"institution"})),
      render_sign(r.AddHistogram("credd_document_render_sign_seconds",
                                 "Time to render and sign one document.")),
      emails(r.AddCounter("credd_emails_total", "Emails handed to the relay, by outcome.",
                          {"outcome"})),
      smtp_send(
          r.AddHistogram("credd_smtp_send_seconds", "Time to hand one message to the relay.")),
      outbox(r.AddGauge("credd_outbox_emails", "Emails in the outbox, by state.", {"state"})),
      oldest_queued(r.AddGauge("credd_outbox_oldest_queued_age_seconds",
                               "Age of the oldest email waiting to be sent (0 when none).")),
      http_requests(r.AddCounter("credd_http_requests_total", "HTTP requests, by route and code.",
                                 {"route", "code"})),
      http_latency(r.AddHistogram("credd_http_request_duration_seconds",
                                  "Time from a request's header to its answer, by route.",
                                  {"route"})),
      http_refused(r.AddCounter("credd_http_refused_total",
                                "Clients turned away by a limit, by limit.", {"reason"})),
      build_info(r.AddGauge("credd_build_info", "credd's version; always 1.", {"version"})) {
  build_info.With({version}).Set(1);
}

}  // namespace credd
