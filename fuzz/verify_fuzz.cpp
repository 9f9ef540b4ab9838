// Fuzz target: what `credctl verify` (and the HTTP verify endpoint) runs on an untrusted
// PDF: find the last signature's /ByteRange and /Contents (ExtractLastSignature), then
// check the CMS over the signed bytes (VerifyCms). Any input must give a verdict value.
#include <openssl/x509.h>

#include <cstddef>
#include <cstdint>
#include <string_view>
#include <vector>

#include "daemon/sign/pdf_signature.h"
#include "fuzz/fuzz_support.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace credd;
  const std::string_view pdf(reinterpret_cast<const char*>(data), size);
  Result<sign::PdfSignature> signature = sign::ExtractLastSignature(pdf, "fuzz.pdf");
  if (!signature) {
    fuzz::Check(!signature.error().message.empty(), "a verify error without a reason");
    return 0;
  }
  const auto& range = signature->byte_range;
  fuzz::Check(range[0] >= 0 && range[1] >= 0 && range[2] >= range[0] + range[1] && range[3] >= 0 &&
                  range[2] + range[3] <= static_cast<std::int64_t>(size),
              "an accepted /ByteRange outside the file");
  const std::vector<X509*> no_trusted_certificates;
  Result<sign::SignatureCheck> check =
      sign::VerifyCms(pdf, *signature, no_trusted_certificates, "fuzz.pdf");
  if (check) fuzz::Check(!check->chain_trusted, "a chain trusted with no trusted certificate");
  return 0;
}
