// Turns one CredentialRecord into PDF bytes: a transcript (sessions, courses, GPA, awards,
// legend; as many pages as it needs) or a one-page diploma, certificate or attestation,
// laid out from templates/<kind>/layout.yaml in English or French.
// Thread contract: Render() is thread-safe, but calls on one Renderer are serialised by an
// internal mutex (Pango's font map caches are shared); for parallel rendering create one
// Renderer per thread.
#pragma once

#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "common/result.h"
#include "records/record.h"

namespace credd {

namespace render {
class DocumentFonts;
struct LayoutTemplate;
}  // namespace render

// What the institution puts on every document (filled from the institution config).
struct Branding {
  std::string name_en, name_fr;           // Institution name per locale; empty: the record's name.
  std::string logo_png;                   // Path to a PNG, or empty for none.
  std::string primary_color = "#1f3a5f";  // Institution name, headings and rules.
  struct Signatory {
    std::string name, title_en, title_fr;
  };
  std::vector<Signatory> signatories;  // Diplomas, certificates, attestations.
  std::vector<std::string> grading_legend_en, grading_legend_fr;  // One line each.
  // "{document_id}" is replaced by the (percent-encoded) document id.
  std::string verification_url_template = "https://credentials.example.edu/verify/{document_id}";
};

struct RenderRequest {
  const CredentialRecord* record = nullptr;
  std::string locale;       // "en" | "fr".
  std::string document_id;  // Printed on every page and put into the verification URL.
  std::string issued_at;    // ISO 8601 UTC from the injected clock; also the PDF dates.
  const Branding* branding = nullptr;
  std::string record_ref;  // "x.csv:42": the `where` of record errors.
};

class Renderer {
 public:
  // Loads templates_dir/{transcript,diploma,certificate,attestation}/layout.yaml and the
  // Noto fonts. kConfig naming the file and key when a template is wrong, a label holds a
  // character the fonts lack, or a font file is missing.
  static Result<std::unique_ptr<Renderer>> Create(const std::string& templates_dir);
  ~Renderer();

  // The PDF for request.record (kind from credential_type). Errors:
  // kData, where = record_ref: "<field>: 'ꓮ' (U+A4EE) is not covered by the document fonts",
  //   invalid UTF-8, control characters, an unknown credential_type;
  // kUsage: a malformed request (locale, issued_at, missing record/branding/document id);
  // kConfig: branding that cannot be drawn (colour, logo, uncovered characters).
  Result<std::string> Render(const RenderRequest& request) const;

  // The record-level checks of Render without drawing anything: a template exists for the
  // credential type, and every character is valid text the document fonts can draw.
  // Cheap enough for validation, so a record the fonts cannot print is rejected in the
  // file's report instead of failing later. Errors as for Render (kData, where = ref).
  Status CheckRecord(const CredentialRecord& record, const std::string& record_ref) const;

 private:
  struct Templates;
  Renderer(std::unique_ptr<render::DocumentFonts> fonts, std::unique_ptr<Templates> templates);

  std::unique_ptr<render::DocumentFonts> fonts_;
  std::unique_ptr<Templates> templates_;
  mutable std::mutex mutex_;  // Guards the Pango font map inside fonts_.
};

}  // namespace credd
