// SHA-256 hex; see sha256.h.
#include "common/sha256.h"

#include <openssl/evp.h>

#include <cstdlib>

#include "common/hex.h"

namespace credd {
namespace {

// EVP_sha256 fails only when memory runs out; a digest credd cannot compute must not
// quietly become a name that matches something else.
void Require(bool ok) {
  if (!ok) std::abort();
}

}  // namespace

struct Sha256::Context {
  Context() : md(EVP_MD_CTX_new()) {
    Require(md != nullptr && EVP_DigestInit_ex(md, EVP_sha256(), nullptr) == 1);
  }
  ~Context() { EVP_MD_CTX_free(md); }
  EVP_MD_CTX* md;
};

Sha256::Sha256() : context_(std::make_unique<Context>()) {}
Sha256::~Sha256() = default;

void Sha256::Update(std::string_view bytes) {
  Require(EVP_DigestUpdate(context_->md, bytes.data(), bytes.size()) == 1);
}

std::string Sha256::FinalHex() {
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int length = 0;
  Require(EVP_DigestFinal_ex(context_->md, digest, &length) == 1);
  return HexLower(digest, length);
}

std::string Sha256Hex(std::string_view bytes) {
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int length = 0;
  Require(EVP_Digest(bytes.data(), bytes.size(), digest, &length, EVP_sha256(), nullptr) == 1);
  return HexLower(digest, length);
}

}  // namespace credd
