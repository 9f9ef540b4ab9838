// Public verification, for employers and other schools: the EN/FR page at the URL printed on
// every document (GET /verify/{document_id}: its status, and a form to upload the PDF one
// was given), the form's POST /verify, the JSON API (POST /api/v1/verify with the PDF as the
// body; GET /api/v1/documents/{id}/status, status only), and the pages' stylesheets.
// Thread contract: the handlers run on the server's handler threads, each borrowing its
// own database connection.
#pragma once

#include <functional>
#include <memory>
#include <nlohmann/json.hpp>

#include "common/log.h"
#include "daemon/config/config.h"
#include "daemon/http/pages.h"
#include "daemon/http/router.h"
#include "daemon/store/store_pool.h"
#include "daemon/verify/document_verifier.h"

namespace credd::http {

// The largest body a verification takes: above the largest PDF credd itself accepts (50 MB).
inline constexpr std::size_t kVerifyBodyLimit = 64u * 1024 * 1024;

struct VerifyRoutes {
  StorePool* pool = nullptr;
  DocumentVerifier* verifier = nullptr;
  const Pages* pages = nullptr;
  std::function<std::shared_ptr<const Config>()> config;
  Logger* log = nullptr;
};

void AddVerifyRoutes(Router& router, const VerifyRoutes& routes);

// The API's answer for one verification (also what the page shows). `genuine`, `status`
// (active, superseded, revoked; "not_genuine" otherwise), `document_id` and `reasons` always;
// the rest when known.
nlohmann::json VerificationJson(const Verification& v, const Config& config);

// The stored PDF part of a multipart/form-data body (field "pdf"), and the other fields'
// values. False with *problem set when the body is not such a form.
bool ParseVerifyForm(const std::string& content_type, const std::string& body, std::string* pdf,
                     std::map<std::string, std::string>* fields, std::string* problem);

}  // namespace credd::http
