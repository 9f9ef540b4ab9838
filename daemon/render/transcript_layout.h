// The transcript: a masthead and student block, then each session as a table that flows
// across pages (header repeated, rows never split), cumulative GPA, awards, grading legend,
// and a footer with issue date, document id, verification URL and "Page n of m".
// Thread contract: one call per PdfCanvas; no shared state.
#pragma once

#include <string>
#include <vector>

#include "common/result.h"
#include "daemon/render/document_content.h"
#include "daemon/render/layout_template.h"
#include "daemon/render/pdf_canvas.h"

namespace credd::render {

// What templates/transcript/layout.yaml must define.
const std::vector<std::string>& TranscriptFontRoles();
const std::vector<std::string>& TranscriptLabelKeys();

// Lays the whole document out first (so the page count is known), then draws it.
Result<std::string> RenderTranscript(const LayoutTemplate& layout, const DocumentContent& content,
                                     PdfCanvas& canvas);

}  // namespace credd::render
