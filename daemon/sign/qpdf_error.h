// Internal to daemon/sign: the one place qpdf's exceptions become credd errors.
// Thread contract: stateless.
#pragma once

#include <exception>
#include <string>

#include "common/result.h"

namespace credd::sign {

// kData for a damaged or password-protected PDF, with qpdf's reason and byte offset.
Error QpdfError(const std::exception& e, const std::string& where);

}  // namespace credd::sign
