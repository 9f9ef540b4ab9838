// A throwaway P-256 signing key with a self-signed certificate, made in memory once per
// process, for the signer fuzz target and the tool that signs seed PDFs for verify.
// Thread contract: FuzzSigningKey() is called from one thread.
#pragma once

#include "daemon/sign/signing_key.h"

namespace credd::fuzz {

// The process's key; aborts when OpenSSL cannot make one (nothing to fuzz without it).
const sign::SigningKey& FuzzSigningKey();

}  // namespace credd::fuzz
