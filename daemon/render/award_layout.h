// Diplomas, certificates and attestations: one page, centred, from one layout engine; the
// kinds differ only in their template (page, sizes, wording).
// Thread contract: one call per PdfCanvas; no shared state.
#pragma once

#include <string>
#include <vector>

#include "common/result.h"
#include "daemon/render/document_content.h"
#include "daemon/render/layout_template.h"
#include "daemon/render/pdf_canvas.h"

namespace credd::render {

// What templates/{diploma,certificate,attestation}/layout.yaml must define.
const std::vector<std::string>& AwardFontRoles();
const std::vector<std::string>& AwardLabelKeys();

Result<std::string> RenderAward(const LayoutTemplate& layout, const DocumentContent& content,
                                PdfCanvas& canvas);

}  // namespace credd::render
