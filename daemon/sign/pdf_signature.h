// Verification primitives for `credctl verify` and the HTTP verify endpoint: find a PDF's
// last signature and check its CMS over the signed byte ranges.
// Thread contract: reentrant; no shared state.
#pragma once

#include <openssl/x509.h>

#include <array>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "common/result.h"

namespace credd::sign {

struct PdfSignature {
  // /ByteRange: [offset1 length1 offset2 length2].
  std::array<std::int64_t, 4> byte_range{};
  // True when the ranges start at 0, end at the end of the file and leave out only the
  // /Contents string: nothing was added after signing.
  bool covers_whole_file = false;
  std::string sub_filter;  // "/ETSI.CAdES.detached" for credd's own signatures.
  std::string cms_der;     // /Contents without its zero padding.
};

struct SignatureCheck {
  // The CMS signature verifies and its message digest matches the signed byte ranges.
  bool digest_matched = false;
  // The signer certificate chains (through the embedded certificates) to a trusted one.
  bool chain_trusted = false;
  // Lower-case hex SHA-256 of the signer certificate's DER, as SigningKey::key_id.
  std::string signer_key_id;
  // Why a check failed, for the report; empty when both passed.
  std::string problem;
};

// The signature whose byte ranges reach furthest into the file. Errors (kData): not a PDF,
// no signature, or a /ByteRange whose gap is not exactly the /Contents string.
Result<PdfSignature> ExtractLastSignature(std::string_view pdf, const std::string& where = {});

// True when the four /ByteRange values are ordered ranges inside a file of this size.
// Checked without ever adding unchecked values: they come from the file.
bool ByteRangeFits(const std::array<std::int64_t, 4>& range, std::size_t file_size);

// The bytes a signature covers: both ranges, concatenated; empty when the ranges do not fit
// the file (ByteRangeFits).
std::string SignedBytes(std::string_view pdf, const PdfSignature& signature);

// Checks the CMS over the signed bytes. The signature is checked first without the chain
// (CMS_NO_SIGNER_CERT_VERIFY), then the chain separately, so an altered document and an
// unknown signer give different answers. Errors (kData): the CMS cannot be parsed, or the
// signature's ranges do not fit `pdf`.
Result<SignatureCheck> VerifyCms(std::string_view pdf, const PdfSignature& signature,
                                 const std::vector<X509*>& trusted_certificates,
                                 const std::string& where = {});

}  // namespace credd::sign
