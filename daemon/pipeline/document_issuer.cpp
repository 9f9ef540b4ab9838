#include "daemon/pipeline/document_issuer.h"

#include <openssl/rand.h>

#include <algorithm>
#include <cstdio>
#include <ctime>

#include "common/sha256.h"
#include "common/time_format.h"
#include "daemon/pipeline/record_identity.h"

namespace credd {
std::string NewUuid() {
  unsigned char b[16];
  RAND_bytes(b, sizeof b);
  b[6] = static_cast<unsigned char>((b[6] & 0x0f) | 0x40);
  b[8] = static_cast<unsigned char>((b[8] & 0x3f) | 0x80);
  char out[37];
  std::snprintf(out, sizeof out,
                "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x", b[0], b[1],
                b[2], b[3], b[4], b[5], b[6], b[7], b[8], b[9], b[10], b[11], b[12], b[13], b[14],
                b[15]);
  return out;
}

Branding BrandingFor(const InstitutionConfig& institution) {
  Branding b;
  b.name_en = institution.name_en;
  b.name_fr = institution.name_fr.empty() ? institution.name_en : institution.name_fr;
  b.logo_png = institution.logo;
  b.primary_color = institution.primary_color;
  for (const auto& s : institution.signatories) {
    b.signatories.push_back({s.name, s.title_en, s.title_fr});
  }
  b.grading_legend_en = institution.grading_legend_en;
  b.grading_legend_fr = institution.grading_legend_fr;
  b.verification_url_template = institution.verification_url;
  return b;
}

DocumentIssuer::DocumentIssuer(Logger& log, const Renderer& renderer, const sign::SigningKey& key,
                               IssuerOptions options)
    : log_(log), renderer_(renderer), key_(key), options_(std::move(options)) {}

Result<IssuedDocument> DocumentIssuer::Issue(const InstitutionConfig& institution,
                                             const CredentialRecord& record,
                                             const std::string& locale,
                                             const std::string& source_pdf,
                                             const std::string& record_ref) const {
  IssuedDocument doc;
  doc.public_id = NewUuid();
  auto now = options_.clock->Now();
  doc.issued_at = Iso8601Utc(now);
  std::string pdf = source_pdf;
  if (pdf.empty()) {
    Branding branding = BrandingFor(institution);
    RenderRequest request;
    request.record = &record;
    request.locale = locale;
    request.document_id = doc.public_id;
    request.issued_at = doc.issued_at;
    request.branding = &branding;
    request.record_ref = record_ref;
    auto rendered = renderer_.Render(request);
    if (!rendered) return rendered.error();
    pdf = std::move(rendered).value();
  }
  sign::SignOptions sign_options;
  sign_options.signing_time = sign::PdfDateUtc(now);
  const std::string& name =
      locale == "fr" && !institution.name_fr.empty() ? institution.name_fr : institution.name_en;
  sign_options.name = name.empty() ? institution.id : name;
  sign_options.reason = (locale == "fr" ? "Document officiel délivré par "
                                        : "Official document "
                                          "issued by ") +
                        sign_options.name;
  sign_options.timestamp = options_.timestamp;
  sign_options.where = record_ref;
  sign_options.rendered_here = source_pdf.empty();
  auto signed_pdf = sign::SignPdf(pdf, key_, sign_options);
  if (!signed_pdf) return signed_pdf.error();
  doc.pdf = std::move(signed_pdf).value();
  doc.sha256 = Sha256Hex(doc.pdf);
  return doc;
}

Result<NewDocument> DocumentIssuer::Make(const InstitutionConfig& institution,
                                         const PendingCredential& credential) const {
  nlohmann::json data = nlohmann::json::parse(credential.data_json, nullptr, false);
  if (data.is_discarded()) {
    return MakeError(ErrorCode::kInternal, "stored credential data is not JSON",
                     credential.source_ref);
  }
  CredentialRecord record = RecordFromData(data);
  record.student_id = credential.student_id;
  auto issued =
      Issue(institution, record, credential.locale, credential.source_pdf, credential.source_ref);
  if (!issued) return issued.error();
  return NewDocument{issued->public_id, credential.id, credential.locale, issued->sha256,
                     issued->pdf,       key_.key_id(), issued->issued_at};
}

Result<int64_t> DocumentIssuer::IssueFor(Store& conn, const InstitutionConfig& institution,
                                         const PendingCredential& credential) const {
  auto document = Make(institution, credential);
  if (!document) return document.error();
  auto id = StoreDocument(conn, *document, options_.actor);
  if (!id) return id.error();
  log_.Info("document.issued", {{"institution", institution.id},
                                {"document", document->public_id},
                                {"credential", std::to_string(credential.id)},
                                {"student_id", credential.student_id}});
  return id;
}

Result<ReissueTarget> FindReissueTarget(Store& store, const Config& config,
                                        const std::string& document_id) {
  auto doc = FindDocument(store, document_id);
  if (!doc) return doc.error();
  auto credential = LoadCredential(store, doc->credential);
  if (!credential) return credential.error();
  const InstitutionConfig* institution = config.FindInstitution(credential->institution_id);
  if (institution == nullptr) {
    return MakeError(ErrorCode::kConfig, "institution is no longer configured",
                     credential->institution_id);
  }
  return ReissueTarget{std::move(*doc), std::move(*credential), institution};
}

}  // namespace credd
