#include "daemon/http/admin_routes.h"

#include <openssl/crypto.h>

#include <nlohmann/json.hpp>
#include <set>

#include "common/sha256.h"
#include "daemon/admin/admin_views.h"
#include "daemon/mail/mailer.h"
#include "daemon/store/batch_store.h"
#include "daemon/store/conditions.h"
#include "daemon/store/document_store.h"
#include "daemon/store/invitation_store.h"
#include "daemon/store/status_query.h"
#include "daemon/store/student_store.h"

namespace credd::http {
namespace {

Response JsonAnswer(int status, const nlohmann::json& body) {
  return Response::Json(status,
                        body.dump(2, ' ', false, nlohmann::json::error_handler_t::replace) + "\n");
}

// A store or input error as the API answers it.
Response Failure(const Error& error, Logger& log) {
  int status = 500;
  switch (error.code) {
    case ErrorCode::kNoInput:
      status = 404;
      break;
    case ErrorCode::kUsage:
    case ErrorCode::kData:
      status = 400;
      break;
    case ErrorCode::kUnavailable:
      status = 503;
      break;
    default:
      log.Error("http.admin_failed", {{"error", error.ToString()}});
      break;
  }
  return JsonAnswer(status, {{"error", error.ToString()}});
}

struct Handlers {
  AdminRoutes deps;

  // The handler behind a token check: the actor is "api:<label>".
  Handler Guarded(std::function<Response(const Request&, const std::string& actor)> inner) const {
    return [this, inner](const Request& request) {
      const std::string label = deps.tokens->Check(request.Header("Authorization"));
      if (label.empty()) {
        Response res = Response::Json(401, "{\"error\":\"unauthorized\"}\n");
        res.headers.emplace_back("WWW-Authenticate", "Bearer");
        return res;
      }
      return inner(request, "api:" + label);
    };
  }

  Response Status(const Request&, const std::string&) const {
    auto store = deps.pool->Acquire();
    if (!store) return Failure(store.error(), *deps.log);
    auto counts = ReadStatusCounts(**store);
    if (!counts) return Failure(counts.error(), *deps.log);
    auto conditions = ListConditions(**store);
    if (!conditions) return Failure(conditions.error(), *deps.log);
    return JsonAnswer(200, StatusJson(*counts, *conditions));
  }

  Response Batches(const Request& request, const std::string&) const {
    int limit = 50;
    if (const std::string asked = request.QueryParam("limit"); !asked.empty()) {
      limit = std::atoi(asked.c_str());
      if (limit < 1 || limit > 10000) {
        return JsonAnswer(400, {{"error", "limit must be between 1 and 10000"}});
      }
    }
    const long long before = std::atoll(request.QueryParam("before").c_str());
    auto store = deps.pool->Acquire();
    if (!store) return Failure(store.error(), *deps.log);
    auto rows = ListBatches(**store, request.QueryParam("institution"), limit, before);
    if (!rows) return Failure(rows.error(), *deps.log);
    nlohmann::json list = nlohmann::json::array();
    for (const BatchRow& b : *rows) list.push_back(BatchSummaryJson(b));
    return JsonAnswer(200, {{"batches", list}});
  }

  Response Batch(const Request& request, const std::string&) const {
    const std::string id = request.Param("id");
    if (id.empty() || id.size() > 18 || id.find_first_not_of("0123456789") != std::string::npos) {
      return Response::Text(404, "not found\n");
    }
    auto store = deps.pool->Acquire();
    if (!store) return Failure(store.error(), *deps.log);
    auto row = LoadBatch(**store, std::stoll(id));
    if (!row) return Failure(row.error(), *deps.log);
    auto errors = LoadBatchErrors(**store, row->id);
    if (!errors) return Failure(errors.error(), *deps.log);
    return JsonAnswer(200, BatchReportJson(*row, *errors));
  }

  Response Students(const Request& request, const std::string&) const {
    StudentQuery query{request.QueryParam("student_id"), request.QueryParam("email"),
                       request.QueryParam("institution")};
    if (query.student_id.empty() == query.email.empty()) {
      return JsonAnswer(400, {{"error", "give exactly one of student_id and email"}});
    }
    auto store = deps.pool->Acquire();
    if (!store) return Failure(store.error(), *deps.log);
    auto students = FindStudents(**store, query);
    if (!students) return Failure(students.error(), *deps.log);
    if (students->empty()) return JsonAnswer(404, {{"error", "no such student"}});
    return JsonAnswer(200, StudentsJson(*students));
  }

  // The JSON object a POST carries; kUsage when it is not one.
  static Result<nlohmann::json> Body(const Request& request) {
    if (request.body.empty()) return nlohmann::json::object();
    nlohmann::json body = nlohmann::json::parse(request.body, nullptr, false);
    if (body.is_discarded() || !body.is_object()) {
      return MakeError(ErrorCode::kUsage, "the body must be a JSON object");
    }
    return body;
  }

  static std::string Field(const nlohmann::json& body, const char* name) {
    auto it = body.find(name);
    return it != body.end() && it->is_string() ? it->get<std::string>() : std::string();
  }

  Response Resend(const Request& request, const std::string& actor) const {
    auto body = Body(request);
    if (!body) return Failure(body.error(), *deps.log);
    const std::string institution_id = Field(*body, "institution");
    const std::string student_id = Field(*body, "student_id");
    const std::string to = Field(*body, "to");
    if (institution_id.empty() || student_id.empty() || (!to.empty() && to != "personal")) {
      return JsonAnswer(400, {{"error", "give institution and student_id (and to: personal)"}});
    }
    const auto config = deps.config();
    const InstitutionConfig* institution = config->FindInstitution(institution_id);
    if (institution == nullptr) return JsonAnswer(404, {{"error", "no such institution"}});
    const std::string domain = mail::DomainOf(institution->invitations.from_address);
    auto store = deps.pool->Acquire();
    if (!store) return Failure(store.error(), *deps.log);
    auto id = QueueResend(**store, institution_id, student_id, to == "personal", domain, actor);
    if (!id) return Failure(id.error(), *deps.log);
    deps.log->Info("admin.resend",
                   {{"actor", actor}, {"student", institution_id + "/" + student_id}});
    return JsonAnswer(
        202, {{"outbox", *id}, {"institution", institution_id}, {"student_id", student_id}});
  }

  Response Revoke(const Request& request, const std::string& actor) const {
    auto body = Body(request);
    if (!body) return Failure(body.error(), *deps.log);
    const std::string reason = std::string(TrimBlanks(Field(*body, "reason")));
    if (reason.empty()) return JsonAnswer(400, {{"error", "give a reason"}});
    auto store = deps.pool->Acquire();
    if (!store) return Failure(store.error(), *deps.log);
    auto doc = FindDocument(**store, request.Param("id"));
    if (!doc) return Failure(doc.error(), *deps.log);
    if (credd::Status s = RevokeDocument(**store, doc->id, reason, actor); !s) {
      return Failure(s.error(), *deps.log);
    }
    deps.log->Info("admin.revoke", {{"actor", actor}, {"document", doc->public_id}});
    return JsonAnswer(200,
                      {{"document_id", doc->public_id}, {"status", "revoked"}, {"reason", reason}});
  }

  Response Reissue(const Request& request, const std::string& actor) const {
    auto store = deps.pool->Acquire();
    if (!store) return Failure(store.error(), *deps.log);
    auto doc = FindDocument(**store, request.Param("id"));
    if (!doc) return Failure(doc.error(), *deps.log);
    auto issued = deps.reissue(**store, std::to_string(doc->id), actor);
    if (!issued) return Failure(issued.error(), *deps.log);
    deps.log->Info("admin.reissue",
                   {{"actor", actor}, {"document", doc->public_id}, {"new_document", *issued}});
    return JsonAnswer(201, {{"document_id", *issued}, {"supersedes", doc->public_id}});
  }
};

}  // namespace

Result<AdminTokens> AdminTokens::Parse(const std::string& text, const std::string& where) {
  AdminTokens tokens;
  std::set<std::string> labels;
  std::size_t start = 0;
  for (int number = 1; start <= text.size(); ++number) {
    std::size_t end = text.find('\n', start);
    if (end == std::string::npos) end = text.size();
    const std::string line = std::string(TrimBlanks(text.substr(start, end - start)));
    start = end + 1;
    if (line.empty() || line.front() == '#') continue;
    const std::string at = where + ":" + std::to_string(number);
    const std::size_t colon = line.find(':');
    if (colon == std::string::npos) {
      return MakeError(ErrorCode::kConfig, "expected label:token", at);
    }
    const std::string label = line.substr(0, colon);
    const std::string token = line.substr(colon + 1);
    if (label.empty() ||
        label.find_first_not_of("abcdefghijklmnopqrstuvwxyz0123456789._-") != std::string::npos) {
      return MakeError(ErrorCode::kConfig, "a label is made of a-z, 0-9, '.', '_' and '-'", at);
    }
    if (token.size() < 32) {
      return MakeError(ErrorCode::kConfig,
                       "the token of '" + label + "' is shorter than 32 characters", at);
    }
    if (!labels.insert(label).second) {
      return MakeError(ErrorCode::kConfig, "label '" + label + "' is used twice", at);
    }
    tokens.tokens_.push_back({label, Sha256Hex(token)});
  }
  return tokens;
}

std::string AdminTokens::Check(const std::string& authorization) const {
  static const std::string kScheme = "Bearer ";
  const bool well_formed = authorization.size() > kScheme.size() &&
                           authorization.compare(0, kScheme.size(), kScheme) == 0;
  const std::string digest = Sha256Hex(well_formed ? authorization.substr(kScheme.size()) : "");
  std::string found;
  for (const Token& token : tokens_) {
    // Digests have the same length, so CRYPTO_memcmp's time depends on neither input.
    const bool same = CRYPTO_memcmp(token.digest.data(), digest.data(), digest.size()) == 0;
    if (same && well_formed && found.empty()) found = token.label;
  }
  return found;
}

void AddAdminRoutes(Router& router, const AdminRoutes& routes) {
  auto h = std::make_shared<Handlers>(Handlers{routes});
  auto bind = [h](Response (Handlers::*method)(const Request&, const std::string&) const) {
    return h->Guarded([h, method](const Request& r, const std::string& actor) {
      return ((*h).*method)(r, actor);
    });
  };
  router.Add({"GET", "/api/v1/admin/status", bind(&Handlers::Status)});
  router.Add({"GET", "/api/v1/admin/batches", bind(&Handlers::Batches)});
  router.Add({"GET", "/api/v1/admin/batches/{id}", bind(&Handlers::Batch)});
  router.Add({"GET", "/api/v1/admin/students", bind(&Handlers::Students)});
  router.Add({"POST", "/api/v1/admin/invitations/resend", bind(&Handlers::Resend)});
  router.Add({"POST", "/api/v1/admin/documents/{id}/revoke", bind(&Handlers::Revoke)});
  router.Add({"POST", "/api/v1/admin/documents/{id}/reissue", bind(&Handlers::Reissue)});
}

}  // namespace credd::http
