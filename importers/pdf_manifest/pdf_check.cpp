// qpdf adapter: every qpdf exception is turned into an Error by QpdfError.
#include "importers/pdf_manifest/pdf_check.h"

#include <exception>
#include <qpdf/QPDF.hh>
#include <qpdf/QPDFExc.hh>

namespace credd::pdf_manifest {
namespace {

// qpdf's message without the description and offset it prefixes (the report already names
// the file), or what() for exceptions that are not QPDFExc.
std::string QpdfReason(const std::exception& e) {
  if (const auto* qpdf = dynamic_cast<const QPDFExc*>(&e)) {
    std::string reason = qpdf->getMessageDetail();
    if (qpdf->getFilePosition() > 0) {
      reason += " (at byte " + std::to_string(qpdf->getFilePosition()) + ")";
    }
    return reason;
  }
  return e.what();
}

// The one place qpdf exceptions become credd errors.
Error QpdfError(const std::exception& e) {
  if (const auto* qpdf = dynamic_cast<const QPDFExc*>(&e);
      qpdf != nullptr && qpdf->getErrorCode() == qpdf_e_password) {
    // A user password we do not have: encrypted, whatever else is wrong with it.
    return MakeError(ErrorCode::kData, "encrypted PDFs cannot be signed");
  }
  return MakeError(ErrorCode::kData, "not a valid PDF: " + QpdfReason(e));
}

}  // namespace

Result<PdfCheck> CheckPdf(std::string_view bytes, const std::string& name) {
  try {
    QPDF pdf;
    // Warnings are collected and reported by the caller, not printed on stderr.
    pdf.setSuppressWarnings(true);
    pdf.processMemoryFile(name.c_str(), bytes.data(), bytes.size());
    if (pdf.isEncrypted()) {
      return MakeError(ErrorCode::kData, "encrypted PDFs cannot be signed");
    }
    // Walking the page tree makes qpdf resolve the catalog and every page object, which
    // catches damage a header-and-trailer check would miss.
    if (pdf.getRoot().getKey("/Pages").isNull() || pdf.getAllPages().empty()) {
      return MakeError(ErrorCode::kData, "not a valid PDF: it has no pages");
    }
    // qpdf reads objects lazily: every object is read, so that damage the pages do not
    // reach (a font, an unreferenced object) is found here, as the signer would find it.
    for (QPDFObjectHandle& object : pdf.getAllObjects()) (void)object.getTypeCode();
    PdfCheck check;
    std::vector<QPDFExc> warnings = pdf.getWarnings();
    if (!warnings.empty()) {
      check.warnings = QpdfReason(warnings.front());
      if (warnings.size() > 1) {
        check.warnings += " (and " + std::to_string(warnings.size() - 1) + " more)";
      }
    }
    return check;
  } catch (const std::exception& e) {
    return QpdfError(e);
  }
}

}  // namespace credd::pdf_manifest
