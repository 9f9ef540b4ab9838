// One PDF being drawn: a cairo PDF surface writing into memory, the Pango context that lays
// out its text with the document fonts, and the few drawing primitives layouts need.
// Thread contract: one thread at a time (cairo and Pango objects are not shared).
#pragma once

#include <pango/pangocairo.h>

#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "common/result.h"
#include "daemon/render/gfx_handles.h"

namespace credd::render {

struct Rgb {
  double r = 0, g = 0, b = 0;
};

// "#1f3a5f" -> Rgb; kConfig otherwise.
Result<Rgb> ParseColor(std::string_view hex);

struct TextStyle {
  double size = 10;  // Points.
  bool bold = false;
};

// Fixed strings only: the same request must give the same bytes.
struct PdfMetadata {
  std::string title;
  std::string author;
  std::string date;  // ISO 8601 ("2026-11-28T14:03:00Z"): CreationDate and ModDate.
};

class PdfCanvas {
 public:
  // Page size in points. The font map must outlive the canvas.
  static Result<std::unique_ptr<PdfCanvas>> Create(PangoFontMap* font_map, double width,
                                                   double height, const PdfMetadata& metadata);

  // Byte ranges [first, second) of a layout's text set in bold ("Label: value" pairs).
  using BoldRanges = std::vector<std::pair<std::size_t, std::size_t>>;

  // A laid-out paragraph. width <= 0: one line, never wrapped. Text must have passed
  // DocumentFonts::PrepareText; a glyph still missing makes Finish() fail.
  GObjectPtr<PangoLayout> Layout(std::string_view text, const TextStyle& style, double width = 0,
                                 PangoAlignment align = PANGO_ALIGN_LEFT,
                                 const BoldRanges& bold = {});
  static double Width(PangoLayout* layout);
  static double Height(PangoLayout* layout);
  // Distance from the layout's top to its first baseline.
  static double Baseline(PangoLayout* layout);

  void DrawText(PangoLayout* layout, double x, double y, const Rgb& color);
  void DrawRule(double x0, double x1, double y, double line_width, const Rgb& color);
  void FillRect(double x, double y, double w, double h, const Rgb& color);
  void StrokeRect(double x, double y, double w, double h, double line_width, const Rgb& color);
  // Draws `image` scaled to fit w x h, keeping its aspect ratio, top-left at (x, y).
  void DrawImage(cairo_surface_t* image, double x, double y, double w, double h);
  void ShowPage();

  // Closes the document and returns its bytes.
  Result<std::string> Finish();

 private:
  PdfCanvas() = default;
  static cairo_status_t Append(void* closure, const unsigned char* data, unsigned int length);

  std::string bytes_;
  CairoSurfacePtr surface_;
  CairoPtr cr_;
  GObjectPtr<PangoContext> context_;
  std::string unknown_glyph_text_;  // First text Pango could not fully shape, if any.
};

// Reads a PNG (the institution's logo); kConfig naming the file when cairo cannot.
Result<CairoSurfacePtr> LoadPng(const std::string& path);

}  // namespace credd::render
