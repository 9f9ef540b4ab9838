// Everything a layout draws for one document, already checked: each string is NFC and
// covered by the document fonts, dates are formatted for the locale. Built by Renderer.
// Thread contract: plain value.
#pragma once

#include <string>
#include <vector>

#include "daemon/render/gfx_handles.h"
#include "daemon/render/pdf_canvas.h"
#include "records/record.h"

namespace credd::render {

struct SignatoryLine {
  std::string name;
  std::string title;  // In the document's locale.
};

struct DocumentContent {
  std::string locale;       // "en" | "fr".
  CredentialRecord record;  // Text fields prepared; dates still ISO.
  std::string institution;  // Name in the locale.
  CairoSurfacePtr logo;     // Null when the institution has none.
  Rgb primary;              // Brand colour.
  std::vector<SignatoryLine> signatories;
  std::vector<std::string> grading_legend;
  std::string issued_on;  // Formatted issue date ("November 28, 2026").
  std::string document_id;
  std::string verification_url;
  PdfMetadata metadata;
};

}  // namespace credd::render
