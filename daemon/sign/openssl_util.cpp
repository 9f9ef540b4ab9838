// OpenSSL helpers shared by the signing module; see openssl_util.h.
#include "daemon/sign/openssl_util.h"

#include <openssl/err.h>

#include <array>

namespace credd::sign {

Error OpenSslError(std::string_view context, std::string where, ErrorCode code) {
  std::string message(context);
  bool first = true;
  for (unsigned long error = ERR_get_error(); error != 0; error = ERR_get_error()) {
    std::array<char, 256> text{};
    ERR_error_string_n(error, text.data(), text.size());
    message += first ? ": " : "; ";
    message += text.data();
    first = false;
  }
  return MakeError(code, std::move(message), std::move(where));
}

void FreeX509StackShallow(STACK_OF(X509) * stack) { sk_X509_free(stack); }

void FreeX509StackDeep(STACK_OF(X509) * stack) { sk_X509_pop_free(stack, X509_free); }

void ClearOpenSslErrors() { ERR_clear_error(); }

BioPtr MemoryBio(std::string_view bytes) {
  return BioPtr(BIO_new_mem_buf(bytes.data(), static_cast<int>(bytes.size())));
}

std::string CertificateSha256Hex(X509* certificate) {
  unsigned char* der = nullptr;
  const int length = i2d_X509(certificate, &der);
  if (length <= 0) return {};
  std::array<unsigned char, EVP_MAX_MD_SIZE> digest{};
  unsigned int digest_length = 0;
  const bool ok = EVP_Digest(der, static_cast<size_t>(length), digest.data(), &digest_length,
                             EVP_sha256(), nullptr) == 1;
  OPENSSL_free(der);
  if (!ok) return {};
  return HexEncode(std::string_view(reinterpret_cast<const char*>(digest.data()), digest_length));
}

std::string HexEncode(std::string_view bytes) {
  static constexpr char kDigits[] = "0123456789abcdef";
  std::string hex;
  hex.reserve(bytes.size() * 2);
  for (const char c : bytes) {
    const auto byte = static_cast<unsigned char>(c);
    hex += kDigits[byte >> 4];
    hex += kDigits[byte & 0x0f];
  }
  return hex;
}

}  // namespace credd::sign
