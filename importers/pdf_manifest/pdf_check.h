// Checks that bytes are a PDF credd can sign, using qpdf: it parses, has pages and is not
// encrypted. The bytes are only read, never changed. qpdf's exceptions stop here.
// Thread contract: pure function; qpdf objects live only inside the call.
#pragma once

#include <string>
#include <string_view>

#include "common/result.h"

namespace credd::pdf_manifest {

struct PdfCheck {
  // qpdf's warnings in one line (it repaired or tolerated something); empty when none.
  std::string warnings;
};

// kData with a message fit for a report ("not a valid PDF: <reason>", "encrypted PDFs
// cannot be signed"); `name` only labels qpdf's own messages.
Result<PdfCheck> CheckPdf(std::string_view bytes, const std::string& name);

}  // namespace credd::pdf_manifest
