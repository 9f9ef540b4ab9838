// errno turned into an Error in one place (LevelDB's PosixError): what failed, the
// system's reason, and the path or input it is about, so every message names its file.
// Thread contract: a pure function.
#pragma once

#include <cstring>
#include <string>

#include "common/result.h"

namespace credd {

// "<where>: <what>: <strerror(error)>", as an Error with `code`. Pass the errno saved right
// after the failing call: anything in between may change it.
inline Error PosixError(ErrorCode code, const std::string& what, int error,
                        const std::string& where = {}) {
  return MakeError(code, what + ": " + std::strerror(error), where);
}

}  // namespace credd
