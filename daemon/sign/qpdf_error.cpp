// qpdf exception conversion; see qpdf_error.h.
#include "daemon/sign/qpdf_error.h"

#include <qpdf/QPDFExc.hh>

namespace credd::sign {

Error QpdfError(const std::exception& e, const std::string& where) {
  const auto* qpdf = dynamic_cast<const QPDFExc*>(&e);
  if (qpdf == nullptr)
    return MakeError(ErrorCode::kData, std::string("not a valid PDF: ") + e.what(), where);
  if (qpdf->getErrorCode() == qpdf_e_password) {
    return MakeError(ErrorCode::kData, "encrypted PDFs cannot be signed: a password is needed",
                     where);
  }
  std::string reason = "not a valid PDF: " + qpdf->getMessageDetail();
  if (qpdf->getFilePosition() > 0) {
    reason += " (at byte " + std::to_string(qpdf->getFilePosition()) + ")";
  }
  return MakeError(ErrorCode::kData, std::move(reason), where);
}

}  // namespace credd::sign
