// cairo PDF surface + Pango context set up for reproducible output.
#include "daemon/render/pdf_canvas.h"

#include <cairo-pdf.h>

#include <algorithm>

#include "daemon/render/document_fonts.h"

namespace credd::render {

Result<Rgb> ParseColor(std::string_view hex) {
  auto nibble = [](char c) -> int {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
  };
  if (hex.size() != 7 || hex[0] != '#') {
    return MakeError(ErrorCode::kConfig, "'" + std::string(hex) + "' is not a #rrggbb colour");
  }
  double channels[3];
  for (int i = 0; i < 3; ++i) {
    int hi = nibble(hex[static_cast<std::size_t>(1 + 2 * i)]);
    int lo = nibble(hex[static_cast<std::size_t>(2 + 2 * i)]);
    if (hi < 0 || lo < 0) {
      return MakeError(ErrorCode::kConfig, "'" + std::string(hex) + "' is not a #rrggbb colour");
    }
    channels[i] = (hi * 16 + lo) / 255.0;
  }
  return Rgb{channels[0], channels[1], channels[2]};
}

cairo_status_t PdfCanvas::Append(void* closure, const unsigned char* data, unsigned int length) {
  static_cast<std::string*>(closure)->append(reinterpret_cast<const char*>(data), length);
  return CAIRO_STATUS_SUCCESS;
}

Result<std::unique_ptr<PdfCanvas>> PdfCanvas::Create(PangoFontMap* font_map, double width,
                                                     double height, const PdfMetadata& metadata) {
  std::unique_ptr<PdfCanvas> canvas(new PdfCanvas());
  canvas->surface_.reset(
      cairo_pdf_surface_create_for_stream(&PdfCanvas::Append, &canvas->bytes_, width, height));
  if (cairo_surface_status(canvas->surface_.get()) != CAIRO_STATUS_SUCCESS) {
    return MakeError(ErrorCode::kInternal, "cairo cannot create a PDF surface");
  }
  cairo_surface_t* surface = canvas->surface_.get();
  // cairo 1.16 stamps the current time unless told otherwise; everything else it writes
  // (producer string, font subset tags) is derived from the content.
  cairo_pdf_surface_set_metadata(surface, CAIRO_PDF_METADATA_TITLE, metadata.title.c_str());
  cairo_pdf_surface_set_metadata(surface, CAIRO_PDF_METADATA_AUTHOR, metadata.author.c_str());
  cairo_pdf_surface_set_metadata(surface, CAIRO_PDF_METADATA_CREATOR, "credd");
  cairo_pdf_surface_set_metadata(surface, CAIRO_PDF_METADATA_CREATE_DATE, metadata.date.c_str());
  cairo_pdf_surface_set_metadata(surface, CAIRO_PDF_METADATA_MOD_DATE, metadata.date.c_str());
  canvas->cr_.reset(cairo_create(surface));

  canvas->context_.reset(pango_font_map_create_context(font_map));
  // One user unit = one point, so template sizes are points; no hinting, so glyph
  // positions do not depend on a device resolution.
  pango_cairo_context_set_resolution(canvas->context_.get(), 72);
  FontOptionsPtr options(cairo_font_options_create());
  cairo_font_options_set_hint_style(options.get(), CAIRO_HINT_STYLE_NONE);
  cairo_font_options_set_hint_metrics(options.get(), CAIRO_HINT_METRICS_OFF);
  pango_cairo_context_set_font_options(canvas->context_.get(), options.get());
  pango_context_set_round_glyph_positions(canvas->context_.get(), FALSE);
  return canvas;
}

GObjectPtr<PangoLayout> PdfCanvas::Layout(std::string_view text, const TextStyle& style,
                                          double width, PangoAlignment align,
                                          const BoldRanges& bold) {
  GObjectPtr<PangoLayout> layout(pango_layout_new(context_.get()));
  FontDescriptionPtr font(pango_font_description_from_string(DocumentFonts::kFamilies));
  pango_font_description_set_absolute_size(font.get(), style.size * PANGO_SCALE);
  pango_font_description_set_weight(font.get(),
                                    style.bold ? PANGO_WEIGHT_BOLD : PANGO_WEIGHT_NORMAL);
  pango_layout_set_font_description(layout.get(), font.get());
  pango_layout_set_text(layout.get(), text.data(), static_cast<int>(text.size()));
  if (width > 0) {
    pango_layout_set_width(layout.get(), static_cast<int>(width * PANGO_SCALE));
    // A long course code or URL must still fit its column: break inside words if needed.
    pango_layout_set_wrap(layout.get(), PANGO_WRAP_WORD_CHAR);
  }
  pango_layout_set_alignment(layout.get(), align);
  if (!bold.empty()) {
    AttrListPtr attrs(pango_attr_list_new());
    for (const auto& [first, last] : bold) {
      PangoAttribute* weight = pango_attr_weight_new(PANGO_WEIGHT_BOLD);
      weight->start_index = static_cast<guint>(std::min(first, text.size()));
      weight->end_index = static_cast<guint>(std::min(last, text.size()));
      pango_attr_list_insert(attrs.get(), weight);  // The list now owns it.
    }
    pango_layout_set_attributes(layout.get(), attrs.get());
  }
  if (pango_layout_get_unknown_glyphs_count(layout.get()) > 0 && unknown_glyph_text_.empty()) {
    unknown_glyph_text_ = std::string(text);
  }
  return layout;
}

double PdfCanvas::Width(PangoLayout* layout) {
  PangoRectangle logical;
  pango_layout_get_extents(layout, nullptr, &logical);
  return static_cast<double>(logical.width) / PANGO_SCALE;
}

double PdfCanvas::Height(PangoLayout* layout) {
  PangoRectangle logical;
  pango_layout_get_extents(layout, nullptr, &logical);
  return static_cast<double>(logical.height) / PANGO_SCALE;
}

double PdfCanvas::Baseline(PangoLayout* layout) {
  return static_cast<double>(pango_layout_get_baseline(layout)) / PANGO_SCALE;
}

void PdfCanvas::DrawText(PangoLayout* layout, double x, double y, const Rgb& color) {
  cairo_set_source_rgb(cr_.get(), color.r, color.g, color.b);
  cairo_move_to(cr_.get(), x, y);
  pango_cairo_show_layout(cr_.get(), layout);
}

void PdfCanvas::DrawRule(double x0, double x1, double y, double line_width, const Rgb& color) {
  cairo_set_source_rgb(cr_.get(), color.r, color.g, color.b);
  cairo_set_line_width(cr_.get(), line_width);
  cairo_move_to(cr_.get(), x0, y);
  cairo_line_to(cr_.get(), x1, y);
  cairo_stroke(cr_.get());
}

void PdfCanvas::FillRect(double x, double y, double w, double h, const Rgb& color) {
  cairo_set_source_rgb(cr_.get(), color.r, color.g, color.b);
  cairo_rectangle(cr_.get(), x, y, w, h);
  cairo_fill(cr_.get());
}

void PdfCanvas::StrokeRect(double x, double y, double w, double h, double line_width,
                           const Rgb& color) {
  cairo_set_source_rgb(cr_.get(), color.r, color.g, color.b);
  cairo_set_line_width(cr_.get(), line_width);
  cairo_rectangle(cr_.get(), x, y, w, h);
  cairo_stroke(cr_.get());
}

void PdfCanvas::DrawImage(cairo_surface_t* image, double x, double y, double w, double h) {
  double iw = cairo_image_surface_get_width(image);
  double ih = cairo_image_surface_get_height(image);
  if (iw <= 0 || ih <= 0) return;
  double scale = std::min(w / iw, h / ih);
  cairo_save(cr_.get());
  cairo_translate(cr_.get(), x, y);
  cairo_scale(cr_.get(), scale, scale);
  cairo_set_source_surface(cr_.get(), image, 0, 0);
  cairo_paint(cr_.get());
  cairo_restore(cr_.get());
}

void PdfCanvas::ShowPage() { cairo_show_page(cr_.get()); }

Result<std::string> PdfCanvas::Finish() {
  cairo_status_t status = cairo_status(cr_.get());
  cr_.reset();
  cairo_surface_finish(surface_.get());
  if (status == CAIRO_STATUS_SUCCESS) status = cairo_surface_status(surface_.get());
  surface_.reset();
  if (status != CAIRO_STATUS_SUCCESS) {
    return MakeError(ErrorCode::kInternal, std::string("cairo failed to write the PDF: ") +
                                               cairo_status_to_string(status));
  }
  if (!unknown_glyph_text_.empty()) {
    return MakeError(ErrorCode::kInternal,
                     "the fonts have no glyph for part of '" + unknown_glyph_text_ + "'");
  }
  return std::move(bytes_);
}

Result<CairoSurfacePtr> LoadPng(const std::string& path) {
  CairoSurfacePtr image(cairo_image_surface_create_from_png(path.c_str()));
  cairo_status_t status = cairo_surface_status(image.get());
  if (status != CAIRO_STATUS_SUCCESS) {
    return MakeError(ErrorCode::kConfig,
                     std::string("cannot read the logo PNG: ") + cairo_status_to_string(status),
                     path);
  }
  return image;
}

}  // namespace credd::render
