#include "daemon/http/verify_routes.h"

#include <Poco/Exception.h>
#include <Poco/Net/MediaType.h>
#include <Poco/Net/MessageHeader.h>
#include <Poco/Net/MultipartReader.h>
#include <Poco/Net/NameValueCollection.h>

#include <iterator>
#include <sstream>

#include "daemon/store/document_store.h"

namespace credd::http {
namespace {

nlohmann::json InstitutionJson(const Config& config, const std::string& id,
                               const std::string& lang) {
  const InstitutionConfig* institution = config.FindInstitution(id);
  std::string name = id;
  if (institution != nullptr) {
    const std::string& local = lang == "fr" ? institution->name_fr : institution->name_en;
    const std::string& other = lang == "fr" ? institution->name_en : institution->name_fr;
    name = !local.empty() ? local : !other.empty() ? other : id;
  }
  return {{"id", id}, {"name", name}};
}

// Status words as the pages show them; the API uses the stored names.
const char* StatusWord(DocumentStatus status, const std::string& lang) {
  const bool fr = lang == "fr";
  switch (status) {
    case DocumentStatus::kActive:
      return fr ? "valide et à jour" : "valid and current";
    case DocumentStatus::kSuperseded:
      return fr ? "remplacé par une version plus récente" : "replaced by a newer version";
    case DocumentStatus::kRevoked:
      return fr ? "révoqué" : "revoked";
  }
  return "";
}

Response Unavailable(const Error& error, Logger& log) {
  log.Error("http.verify_unavailable", {{"error", error.ToString()}});
  Response res = Response::Json(503, R"({"error":"the database cannot be reached; try again"})");
  res.headers.emplace_back("Retry-After", "5");
  return res;
}

// What the page shows of a verification (a superset of the API's answer).
nlohmann::json ResultForPage(const Verification& v, const Config& config, const std::string& lang) {
  nlohmann::json result = VerificationJson(v, config);
  result["not_genuine"] = !v.genuine;
  if (v.document) {
    const DocumentRow& d = v.document->document;
    result["institution"] = InstitutionJson(config, d.institution_id, lang);
    result["current"] = d.status == DocumentStatus::kActive;
    result["superseded"] = d.status == DocumentStatus::kSuperseded;
    result["revoked"] = d.status == DocumentStatus::kRevoked;
    result["status_word"] = StatusWord(d.status, lang);
  }
  return result;
}

struct Handlers {
  VerifyRoutes deps;

  // Runs a verification on a borrowed connection.
  Result<Verification> Verify(const std::string& pdf, const Request& request) const {
    auto store = deps.pool->Acquire();
    if (!store) return store.error();
    return deps.verifier->Verify(**store, pdf, "upload from " + request.client);
  }

  Response Page(const Request& request) const {
    const std::string lang = PageLanguage(request);
    nlohmann::json values = {
        {"title", lang == "fr" ? "Vérifier un document" : "Verify a document"}};
    const std::string id = request.Param("document_id");
    if (!id.empty()) {
      auto store = deps.pool->Acquire();
      if (!store) return Unavailable(store.error(), *deps.log);
      auto standing = FindStandingByPublicId(**store, id);
      if (!standing) return Unavailable(standing.error(), *deps.log);
      if (!standing->has_value()) {
        values["unknown_id"] = id;
        return deps.pages->Render(404, "verify", lang, request.path, std::move(values));
      }
      const DocumentStanding& s = **standing;
      const auto config = deps.config();
      values["document"] = {
          {"id", s.document.public_id},
          {"status_word", StatusWord(s.document.status, lang)},
          {"current", s.document.status == DocumentStatus::kActive},
          {"revoked_at", s.revoked_at.empty() ? nlohmann::json() : nlohmann::json(s.revoked_at)},
          {"superseded_at",
           s.superseded_at.empty() ? nlohmann::json() : nlohmann::json(s.superseded_at)},
          {"institution", InstitutionJson(*config, s.document.institution_id, lang)}};
      values["document_id"] = s.document.public_id;
      values["brand"] = s.document.institution_id;
    }
    return deps.pages->Render(200, "verify", lang, request.path, std::move(values));
  }

  Response FormPost(const Request& request) const {
    std::string pdf;
    std::map<std::string, std::string> fields;
    std::string problem;
    const bool parsed =
        ParseVerifyForm(request.Header("Content-Type"), request.body, &pdf, &fields, &problem);
    std::string lang = fields.count("lang") ? fields["lang"] : PageLanguage(request);
    if (lang != "fr") lang = "en";
    nlohmann::json values = {
        {"title", lang == "fr" ? "Résultat de la vérification" : "Verification result"}};
    if (!parsed || pdf.empty()) {
      values["form_problem"] =
          lang == "fr" ? "Choisissez le fichier PDF à vérifier." : "Choose the PDF file to verify.";
      return deps.pages->Render(400, "verify", lang, "/verify", std::move(values));
    }
    auto v = Verify(pdf, request);
    if (!v) return Unavailable(v.error(), *deps.log);
    const auto config = deps.config();
    values["result"] = ResultForPage(*v, *config, lang);
    if (v->document) values["brand"] = v->document->document.institution_id;
    return deps.pages->Render(200, "verify", lang, "/verify", std::move(values));
  }

  Response ApiVerify(const Request& request) const {
    if (request.body.empty()) {
      return Response::Json(400, R"({"error":"send the PDF as the request body"})");
    }
    auto v = Verify(request.body, request);
    if (!v) return Unavailable(v.error(), *deps.log);
    return Response::Json(200, VerificationJson(*v, *deps.config()).dump());
  }

  Response ApiStatus(const Request& request) const {
    auto store = deps.pool->Acquire();
    if (!store) return Unavailable(store.error(), *deps.log);
    auto standing = FindStandingByPublicId(**store, request.Param("id"));
    if (!standing) return Unavailable(standing.error(), *deps.log);
    // An unknown id answers exactly as a path that does not exist.
    if (!standing->has_value()) return Response::Text(404, "not found\n");
    const DocumentStanding& s = **standing;
    nlohmann::json answer = {{"document_id", s.document.public_id},
                             {"status", kDocumentStatuses.Name(s.document.status)},
                             {"issued_at", s.document.issued_at}};
    if (s.document.status == DocumentStatus::kRevoked) answer["revoked_at"] = s.revoked_at;
    if (!s.superseded_by.empty()) {
      answer["superseded_by"] = {{"document_id", s.superseded_by}, {"issued_at", s.superseded_at}};
    }
    return Response::Json(200, answer.dump());
  }

  Response Brand(const Request& request) const {
    const auto config = deps.config();
    const InstitutionConfig* institution = config->FindInstitution(request.Param("id"));
    if (institution == nullptr) return Response::Text(404, "not found\n");
    Response res{200,
                 "text/css; charset=utf-8",
                 ":root { --brand: " + institution->primary_color + "; }\n",
                 {}};
    return res;
  }
};

}  // namespace

nlohmann::json VerificationJson(const Verification& v, const Config& config) {
  nlohmann::json answer = {{"genuine", v.genuine},
                           {"status", "not_genuine"},
                           {"document_id", nullptr},
                           {"reasons", v.reasons},
                           {"covers_whole_file", v.covers_whole_file}};
  if (v.signer) {
    answer["signer"] = {
        {"subject", v.signer->subject},
        {"key_id", v.signer->key_id},
        {"retired", v.signer->retired},
        {"retired_at",
         v.signer->retired_at.empty() ? nlohmann::json() : nlohmann::json(v.signer->retired_at)}};
  }
  if (!v.document) return answer;
  const DocumentStanding& s = *v.document;
  const DocumentRow& d = s.document;
  answer["status"] = kDocumentStatuses.Name(d.status);
  answer["document_id"] = d.public_id;
  const InstitutionConfig* institution = config.FindInstitution(d.institution_id);
  answer["document"] = {{"id", d.public_id},
                        {"institution", d.institution_id},
                        {"institution_name_en", institution ? institution->name_en : ""},
                        {"institution_name_fr", institution ? institution->name_fr : ""},
                        {"kind", d.kind},
                        {"title", d.title},
                        {"student_name", s.student_name},
                        {"issued_at", d.issued_at}};
  answer["superseded_by"] = nullptr;
  answer["revoked"] = nullptr;
  if (!s.superseded_by.empty()) {
    answer["superseded_by"] = {{"document_id", s.superseded_by}, {"issued_at", s.superseded_at}};
  }
  if (d.status == DocumentStatus::kRevoked) {
    answer["revoked"] = {{"reason", d.revoked_reason}, {"revoked_at", s.revoked_at}};
  }
  return answer;
}

bool ParseVerifyForm(const std::string& content_type, const std::string& body, std::string* pdf,
                     std::map<std::string, std::string>* fields, std::string* problem) {
  try {
    const Poco::Net::MediaType type(content_type);
    if (!type.matches("multipart", "form-data") || !type.hasParameter("boundary")) {
      *problem = "expected multipart/form-data";
      return false;
    }
    std::istringstream in(body);
    Poco::Net::MultipartReader reader(in, type.getParameter("boundary"));
    while (reader.hasNextPart()) {
      Poco::Net::MessageHeader header;
      reader.nextPart(header);
      std::string disposition;
      Poco::Net::NameValueCollection params;
      Poco::Net::MessageHeader::splitParameters(header.get("Content-Disposition", ""), disposition,
                                                params);
      const std::string name = params.get("name", "");
      std::istream& part = reader.stream();
      std::string value((std::istreambuf_iterator<char>(part)), std::istreambuf_iterator<char>());
      if (name == "pdf") {
        *pdf = std::move(value);
      } else if (!name.empty() && value.size() < 1024) {
        (*fields)[name] = std::move(value);
      }
    }
    return true;
  } catch (const Poco::Exception& e) {
    *problem = e.displayText();
  } catch (const std::exception& e) {
    *problem = e.what();
  }
  return false;
}

void AddVerifyRoutes(Router& router, const VerifyRoutes& routes) {
  auto h = std::make_shared<Handlers>(Handlers{routes});
  router.Add({"GET", "/verify", [h](const Request& r) { return h->Page(r); }});
  router.Add({"GET", "/verify/{document_id}", [h](const Request& r) { return h->Page(r); }});
  router.Add(
      {"POST", "/verify", [h](const Request& r) { return h->FormPost(r); }, kVerifyBodyLimit});
  router.Add({"POST", "/api/v1/verify", [h](const Request& r) { return h->ApiVerify(r); },
              kVerifyBodyLimit});
  router.Add(
      {"GET", "/api/v1/documents/{id}/status", [h](const Request& r) { return h->ApiStatus(r); }});
  router.Add({"GET", "/static/credd.css",
              [h](const Request&) {
                Response res{200, "text/css; charset=utf-8", h->deps.pages->stylesheet(), {}};
                res.headers.emplace_back("Cache-Control", "public, max-age=3600");
                return res;
              },
              kSmallBody, false});
  router.Add({"GET", "/static/institutions/{id}/brand.css",
              [h](const Request& r) { return h->Brand(r); }, kSmallBody, false});
}

}  // namespace credd::http
