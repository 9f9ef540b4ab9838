// Renderer: checks a request, prepares every string (NFC, font coverage), then hands the
// content to the layout of its kind.
#include "daemon/render/renderer.h"

#include <array>

#include "daemon/render/award_layout.h"
#include "daemon/render/document_content.h"
#include "daemon/render/document_fonts.h"
#include "daemon/render/layout_template.h"
#include "daemon/render/pdf_canvas.h"
#include "daemon/render/transcript_layout.h"
#include "records/validate.h"

namespace credd {

using render::DocumentContent;
using render::DocumentFonts;
using render::LayoutTemplate;

struct Renderer::Templates {
  LayoutTemplate transcript, diploma, certificate, attestation;

  const LayoutTemplate* For(const std::string& kind) const {
    if (kind == "transcript") return &transcript;
    if (kind == "diploma") return &diploma;
    if (kind == "certificate") return &certificate;
    if (kind == "attestation") return &attestation;
    return nullptr;
  }
};

namespace {

// Every label must be drawable: a template typo with a character the fonts lack would
// otherwise fail each document instead of failing once at start-up.
Status CheckLabels(const LayoutTemplate& layout, const DocumentFonts& fonts) {
  for (const auto& [locale, labels] : layout.locales) {
    for (const auto& [key, text] : labels.text) {
      auto prepared = fonts.PrepareText("labels." + locale + "." + key, text);
      if (!prepared) return MakeError(ErrorCode::kConfig, prepared.error().message, layout.path);
    }
    for (const auto& month : labels.months) {
      auto prepared = fonts.PrepareText("labels." + locale + ".months", month);
      if (!prepared) return MakeError(ErrorCode::kConfig, prepared.error().message, layout.path);
    }
  }
  return Status::Ok();
}

// "2026-11-28T14:03:00Z" (fractional seconds allowed) -> the same without fractions; the
// PDF dates need exactly this shape.
Result<std::string> NormaliseTimestamp(const std::string& iso) {
  static constexpr std::string_view kShape = "dddd-dd-ddTdd:dd:dd";
  bool ok = iso.size() >= kShape.size() && iso.back() == 'Z';
  for (std::size_t i = 0; ok && i < kShape.size(); ++i) {
    ok = kShape[i] == 'd' ? (iso[i] >= '0' && iso[i] <= '9') : iso[i] == kShape[i];
  }
  if (!ok) {
    return MakeError(ErrorCode::kUsage,
                     "issued_at: '" + iso + "' is not an ISO 8601 UTC time (YYYY-MM-DDThh:mm:ssZ)");
  }
  return iso.substr(0, kShape.size()) + "Z";
}

// Keeps a document id safe inside a URL path.
std::string PercentEncode(const std::string& text) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out;
  for (unsigned char c : text) {
    bool unreserved = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
                      c == '-' || c == '.' || c == '_' || c == '~';
    if (unreserved) {
      out += static_cast<char>(c);
    } else {
      out += '%';
      out += kHex[c >> 4];
      out += kHex[c & 15];
    }
  }
  return out;
}

// Runs PrepareText over every string a layout may draw, in place; the first failure wins.
class Preparer {
 public:
  explicit Preparer(const DocumentFonts& fonts) : fonts_(fonts) {}

  void Field(const std::string& name, std::string& text, bool keep_line_breaks = false) {
    if (!error_.empty()) return;
    auto prepared = fonts_.PrepareText(name, text, keep_line_breaks);
    if (prepared) {
      text = std::move(prepared).value();
    } else {
      error_ = prepared.error().message;
    }
  }
  const std::string& error() const { return error_; }

 private:
  const DocumentFonts& fonts_;
  std::string error_;
};

void PrepareRecord(Preparer& p, CredentialRecord& r) {
  p.Field("student_id", r.student_id);
  p.Field("family_name", r.family_name);
  p.Field("given_names", r.given_names);
  p.Field("birth_date", r.birth_date);
  p.Field("credential_title", r.credential_title, true);
  p.Field("program", r.program);
  p.Field("issued_on", r.issued_on);
  p.Field("institution_name", r.transcript.institution_name);
  auto gpa = [&](const std::string& prefix, GpaSummary& g) {
    p.Field(prefix + ".credits_attempted", g.credits_attempted);
    p.Field(prefix + ".credits_earned", g.credits_earned);
    p.Field(prefix + ".quality_points", g.quality_points);
    p.Field(prefix + ".gpa", g.gpa);
  };
  auto& sessions = r.transcript.sessions;
  for (std::size_t s = 0; s < sessions.size(); ++s) {
    std::string at = "sessions[" + std::to_string(s) + "]";
    p.Field(at + ".name", sessions[s].name);
    p.Field(at + ".start_date", sessions[s].start_date);
    p.Field(at + ".end_date", sessions[s].end_date);
    gpa(at + ".gpa", sessions[s].gpa);
    auto& courses = sessions[s].courses;
    for (std::size_t c = 0; c < courses.size(); ++c) {
      std::string course = at + ".courses[" + std::to_string(c) + "]";
      p.Field(course + ".subject", courses[c].subject);
      p.Field(course + ".number", courses[c].number);
      p.Field(course + ".title", courses[c].title);
      p.Field(course + ".credits", courses[c].credits);
      p.Field(course + ".grade", courses[c].grade);
      p.Field(course + ".remark", courses[c].remark);
    }
  }
  auto& awards = r.transcript.awards;
  for (std::size_t a = 0; a < awards.size(); ++a) {
    std::string at = "awards[" + std::to_string(a) + "]";
    p.Field(at + ".title", awards[a].title);
    p.Field(at + ".program", awards[a].program);
    p.Field(at + ".date", awards[a].date);
    p.Field(at + ".honors", awards[a].honors);
  }
  gpa("cumulative", r.transcript.cumulative);
}

}  // namespace

Renderer::Renderer(std::unique_ptr<DocumentFonts> fonts, std::unique_ptr<Templates> templates)
    : fonts_(std::move(fonts)), templates_(std::move(templates)) {}

Renderer::~Renderer() = default;

Result<std::unique_ptr<Renderer>> Renderer::Create(const std::string& templates_dir) {
  auto fonts = DocumentFonts::Load();
  if (!fonts) return fonts.error();
  auto templates = std::make_unique<Templates>();
  struct Entry {
    const char* kind;
    LayoutTemplate* target;
    const std::vector<std::string>& roles;
    const std::vector<std::string>& labels;
  };
  const std::array<Entry, 4> entries = {{
      {"transcript", &templates->transcript, render::TranscriptFontRoles(),
       render::TranscriptLabelKeys()},
      {"diploma", &templates->diploma, render::AwardFontRoles(), render::AwardLabelKeys()},
      {"certificate", &templates->certificate, render::AwardFontRoles(), render::AwardLabelKeys()},
      {"attestation", &templates->attestation, render::AwardFontRoles(), render::AwardLabelKeys()},
  }};
  for (const auto& entry : entries) {
    std::string path = templates_dir + "/" + entry.kind + "/layout.yaml";
    auto loaded = render::LoadLayoutTemplate(path, entry.roles, entry.labels);
    if (!loaded) return loaded.error();
    if (Status s = CheckLabels(*loaded, **fonts); !s) return s.error();
    *entry.target = std::move(loaded).value();
  }
  return std::unique_ptr<Renderer>(new Renderer(std::move(fonts).value(), std::move(templates)));
}

Status Renderer::CheckRecord(const CredentialRecord& record, const std::string& record_ref) const {
  if (templates_->For(record.credential_type) == nullptr) {
    return MakeError(ErrorCode::kData,
                     "credential_type: '" + record.credential_type +
                         "' has no template (transcript, diploma, certificate, attestation)",
                     record_ref);
  }
  CredentialRecord copy = record;
  std::lock_guard lock(mutex_);
  Preparer text(*fonts_);
  PrepareRecord(text, copy);
  if (!text.error().empty()) return MakeError(ErrorCode::kData, text.error(), record_ref);
  return Status::Ok();
}

Result<std::string> Renderer::Render(const RenderRequest& request) const {
  const std::string& where = request.record_ref;
  if (request.record == nullptr || request.branding == nullptr) {
    return MakeError(ErrorCode::kUsage, "render request without a record or branding", where);
  }
  if (request.locale != "en" && request.locale != "fr") {
    return MakeError(ErrorCode::kUsage, "locale: '" + request.locale + "' is not en or fr", where);
  }
  if (request.document_id.empty()) {
    return MakeError(ErrorCode::kUsage, "document_id: empty", where);
  }
  auto issued_at = NormaliseTimestamp(request.issued_at);
  if (!issued_at) return MakeError(ErrorCode::kUsage, issued_at.error().message, where);

  const CredentialRecord& record = *request.record;
  const LayoutTemplate* layout = templates_->For(record.credential_type);
  if (layout == nullptr) {
    return MakeError(ErrorCode::kData,
                     "credential_type: '" + record.credential_type +
                         "' has no template (transcript, diploma, certificate, attestation)",
                     where);
  }

  DocumentContent content;
  content.locale = request.locale;
  content.record = record;
  Preparer record_text(*fonts_);
  PrepareRecord(record_text, content.record);
  content.document_id = request.document_id;
  record_text.Field("document_id", content.document_id);
  if (!record_text.error().empty()) {
    return MakeError(ErrorCode::kData, record_text.error(), where);
  }

  const Branding& branding = *request.branding;
  bool fr = request.locale == "fr";
  Preparer branding_text(*fonts_);
  content.institution = fr ? branding.name_fr : branding.name_en;
  if (content.institution.empty()) content.institution = content.record.transcript.institution_name;
  branding_text.Field(fr ? "branding.name_fr" : "branding.name_en", content.institution);
  for (const auto& signatory : branding.signatories) {
    render::SignatoryLine line{signatory.name, fr ? signatory.title_fr : signatory.title_en};
    branding_text.Field("branding.signatories.name", line.name);
    branding_text.Field("branding.signatories.title", line.title);
    content.signatories.push_back(std::move(line));
  }
  content.grading_legend = fr ? branding.grading_legend_fr : branding.grading_legend_en;
  for (auto& line : content.grading_legend) branding_text.Field("branding.grading_legend", line);
  content.verification_url = render::Fill(branding.verification_url_template,
                                          {{"document_id", PercentEncode(request.document_id)}});
  branding_text.Field("branding.verification_url_template", content.verification_url);
  if (!branding_text.error().empty()) {
    return MakeError(ErrorCode::kConfig, branding_text.error(), where);
  }
  auto primary = render::ParseColor(branding.primary_color);
  if (!primary) {
    return MakeError(ErrorCode::kConfig, "branding.primary_color: " + primary.error().message,
                     where);
  }
  content.primary = *primary;
  if (!branding.logo_png.empty()) {
    auto logo = render::LoadPng(branding.logo_png);
    if (!logo) return logo.error();
    content.logo = std::move(logo).value();
  }
  content.issued_on = layout->FormatDate(request.locale, *issued_at);
  content.metadata.title = record.credential_type == "transcript"
                               ? layout->Label(request.locale, "title")
                               : TitleOnOneLine(content.record.credential_title);
  content.metadata.author = content.institution;
  content.metadata.date = *issued_at;

  // Pango's font map (and its caches) is shared by every call on this Renderer.
  std::lock_guard<std::mutex> lock(mutex_);
  auto canvas = render::PdfCanvas::Create(fonts_->font_map(), layout->page_width,
                                          layout->page_height, content.metadata);
  if (!canvas) return MakeError(ErrorCode::kInternal, canvas.error().message, where);
  Result<std::string> pdf = record.credential_type == "transcript"
                                ? render::RenderTranscript(*layout, content, **canvas)
                                : render::RenderAward(*layout, content, **canvas);
  if (!pdf) return MakeError(pdf.error().code, pdf.error().message, where);
  return pdf;
}

}  // namespace credd
