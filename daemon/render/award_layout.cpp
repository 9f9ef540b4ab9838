// One-page award layout: a centred stack (logo, institution, wording, name, credential,
// program, date), signatory lines above the footer, and a double border.
#include "daemon/render/award_layout.h"

#include <algorithm>
#include <utility>

namespace credd::render {
namespace {

const Rgb kInk{0.10, 0.10, 0.12};
const Rgb kMuted{0.38, 0.38, 0.42};

struct Line {
  GObjectPtr<PangoLayout> layout;
  double space_before = 0;
  Rgb color = kInk;
};

}  // namespace

const std::vector<std::string>& AwardFontRoles() {
  static const std::vector<std::string> kRoles = {"institution", "name", "credential", "body",
                                                  "small"};
  return kRoles;
}

const std::vector<std::string>& AwardLabelKeys() {
  static const std::vector<std::string> kKeys = {
      "separator", "default_title", "intro",       "awarded",   "program_line",
      "date_line", "issued_on",     "document_id", "verify_at", "student_id"};
  return kKeys;
}

Result<std::string> RenderAward(const LayoutTemplate& layout, const DocumentContent& content,
                                PdfCanvas& canvas) {
  const auto& record = content.record;
  const std::string& locale = content.locale;
  auto label = [&](std::string_view key) -> const std::string& {
    return layout.Label(locale, key);
  };
  double left = layout.margin;
  double right = layout.page_width - layout.margin;
  double width = right - left;
  double inner = width - 40;  // Text stays clear of the border.
  auto centred = [&](std::string_view text, std::string_view role, bool bold, double space,
                     Rgb color = kInk) {
    return Line{
        canvas.Layout(text, TextStyle{layout.FontSize(role), bold}, inner, PANGO_ALIGN_CENTER),
        space, color};
  };

  std::vector<Line> stack;
  stack.push_back(centred(content.institution, "institution", true, 0, content.primary));
  stack.push_back(centred(label("intro"), "body", false, 22, kMuted));
  std::string name = record.given_names.empty() ? record.family_name
                                                : record.given_names + " " + record.family_name;
  stack.push_back(centred(name, "name", true, 8));
  stack.push_back(centred(label("awarded"), "body", false, 8, kMuted));
  stack.push_back(
      centred(record.credential_title.empty() ? label("default_title") : record.credential_title,
              "credential", true, 8, content.primary));
  if (!record.program.empty()) {
    stack.push_back(
        centred(Fill(label("program_line"), {{"program", record.program}}), "body", false, 6));
  }
  if (!record.issued_on.empty()) {
    std::string date = layout.FormatDate(locale, record.issued_on);
    stack.push_back(centred(Fill(label("date_line"), {{"date", date}}), "body", false, 14));
  }

  // Footer first, from the bottom up, so the signatures and the stack know their room.
  std::string sep = label("separator");
  std::string footer_text = label("issued_on") + sep + content.issued_on + "   ·   " +
                            label("document_id") + sep + content.document_id + "   ·   " +
                            label("student_id") + sep + record.student_id;
  auto footer = canvas.Layout(footer_text, TextStyle{layout.FontSize("small"), false}, inner,
                              PANGO_ALIGN_CENTER);
  auto verify =
      canvas.Layout(label("verify_at") + sep + content.verification_url,
                    TextStyle{layout.FontSize("small"), false}, inner, PANGO_ALIGN_CENTER);
  double verify_y = layout.page_height - layout.margin - 14 - PdfCanvas::Height(verify.get());
  double footer_y = verify_y - 2 - PdfCanvas::Height(footer.get());

  // Signatories side by side, each over a rule: name, then title.
  double signature_top = footer_y - 18;
  if (!content.signatories.empty()) {
    std::size_t count = content.signatories.size();
    double slot = inner / static_cast<double>(count);
    double line_w = std::min(190.0, slot - 20);
    std::vector<std::pair<GObjectPtr<PangoLayout>, GObjectPtr<PangoLayout>>> texts;
    double height = 0;
    for (const auto& signatory : content.signatories) {
      auto who = canvas.Layout(signatory.name, TextStyle{layout.FontSize("body"), true}, slot - 10,
                               PANGO_ALIGN_CENTER);
      auto role = canvas.Layout(signatory.title, TextStyle{layout.FontSize("small"), false},
                                slot - 10, PANGO_ALIGN_CENTER);
      height = std::max(height, PdfCanvas::Height(who.get()) + PdfCanvas::Height(role.get()) + 6);
      texts.emplace_back(std::move(who), std::move(role));
    }
    signature_top = footer_y - 18 - height;
    for (std::size_t i = 0; i < count; ++i) {
      double x = left + 20 + slot * static_cast<double>(i);
      double centre = x + slot / 2;
      canvas.DrawRule(centre - line_w / 2, centre + line_w / 2, signature_top, 0.7, kInk);
      canvas.DrawText(texts[i].first.get(), x + 5, signature_top + 4, kInk);
      canvas.DrawText(texts[i].second.get(), x + 5,
                      signature_top + 6 + PdfCanvas::Height(texts[i].first.get()), kMuted);
    }
    signature_top -= 40;  // Room to sign above the rule.
  }

  // The stack is centred in what is left between the top margin (and logo) and signatures.
  double logo_h = content.logo ? 60 : 0;
  double top = layout.margin + 28;
  double stack_h = logo_h > 0 ? logo_h + 14 : 0;
  for (const auto& line : stack)
    stack_h += line.space_before + PdfCanvas::Height(line.layout.get());
  double y = top + std::max(0.0, (signature_top - top - stack_h) / 2);
  if (content.logo) {
    double w = cairo_image_surface_get_width(content.logo.get());
    double h = cairo_image_surface_get_height(content.logo.get());
    double logo_w = h > 0 ? std::min(inner, logo_h * w / h) : 0;
    canvas.DrawImage(content.logo.get(), left + (width - logo_w) / 2, y, logo_w, logo_h);
    y += logo_h + 14;
  }
  for (const auto& line : stack) {
    y += line.space_before;
    canvas.DrawText(line.layout.get(), left + 20, y, line.color);
    y += PdfCanvas::Height(line.layout.get());
  }

  canvas.DrawText(footer.get(), left + 20, footer_y, kMuted);
  canvas.DrawText(verify.get(), left + 20, verify_y, kMuted);
  canvas.StrokeRect(left - 12, layout.margin - 12, width + 24,
                    layout.page_height - 2 * layout.margin + 24, 2.5, content.primary);
  canvas.StrokeRect(left - 6, layout.margin - 6, width + 12,
                    layout.page_height - 2 * layout.margin + 12, 0.7, content.primary);
  return canvas.Finish();
}

}  // namespace credd::render
