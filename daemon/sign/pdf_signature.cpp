// Signature extraction (qpdf reads the dictionaries) and CMS verification (OpenSSL); see
// pdf_signature.h.
#include "daemon/sign/pdf_signature.h"

#include <openssl/cms.h>

#include <cctype>
#include <limits>
#include <optional>
#include <qpdf/QPDF.hh>
#include <qpdf/QPDFObjectHandle.hh>

#include "common/hex.h"
#include "daemon/sign/openssl_util.h"
#include "daemon/sign/qpdf_error.h"

namespace credd::sign {
namespace {

// Decodes "<hex>" (whitespace allowed inside, odd length padded with 0 as the PDF spec
// says); false when the text is not a hex string.
bool DecodeHexString(std::string_view text, std::string& bytes) {
  if (text.size() < 2 || text.front() != '<' || text.back() != '>') return false;
  int high = -1;
  for (const char c : text.substr(1, text.size() - 2)) {
    if (std::isspace(static_cast<unsigned char>(c))) continue;
    const int value = HexDigitValue(c);
    if (value < 0) return false;
    if (high < 0) {
      high = value;
    } else {
      bytes += static_cast<char>(high * 16 + value);
      high = -1;
    }
  }
  if (high >= 0) bytes += static_cast<char>(high * 16);
  return true;
}

// Length of the DER element at the start of bytes (tag, length, contents), so the zero
// padding after it can be dropped; 0 when the header is not DER.
std::size_t DerElementLength(std::string_view bytes) {
  if (bytes.size() < 2) return 0;
  const auto first = static_cast<unsigned char>(bytes[1]);
  if (first < 0x80) return 2 + first;
  const std::size_t count = first & 0x7f;
  if (count == 0 || count > 4 || bytes.size() < 2 + count) return 0;
  std::size_t length = 0;
  for (std::size_t i = 0; i < count; ++i) {
    length = (length << 8) | static_cast<unsigned char>(bytes[2 + i]);
  }
  const std::size_t total = 2 + count + length;
  return total <= bytes.size() ? total : 0;
}

// a + b, or nullopt when it does not fit: /ByteRange values come from the file and may be
// anything an int64 holds, so no sum of them is computed unchecked.
std::optional<std::int64_t> CheckedAdd(std::int64_t a, std::int64_t b) {
  std::int64_t sum = 0;
  if (__builtin_add_overflow(a, b, &sum)) return std::nullopt;
  return sum;
}

// Where a signature's ranges end; a sum that overflows ends past any file, so the range is
// still the "last" one and is then refused as lying outside the file.
std::int64_t RangeEnd(const std::array<std::int64_t, 4>& range) {
  return CheckedAdd(range[2], range[3]).value_or(std::numeric_limits<std::int64_t>::max());
}

bool ReadByteRange(QPDFObjectHandle dictionary, std::array<std::int64_t, 4>& range) {
  QPDFObjectHandle array = dictionary.getKey("/ByteRange");
  if (!array.isArray() || array.getArrayNItems() != 4) return false;
  for (int i = 0; i < 4; ++i) {
    QPDFObjectHandle item = array.getArrayItem(i);
    if (!item.isInteger()) return false;
    range[static_cast<std::size_t>(i)] = item.getIntValue();
  }
  return true;
}

}  // namespace

Result<PdfSignature> ExtractLastSignature(std::string_view pdf, const std::string& where) {
  PdfSignature found;
  std::string contents;
  std::int64_t best_end = -1;
  try {
    QPDF qpdf;
    qpdf.setSuppressWarnings(true);
    qpdf.processMemoryFile(where.empty() ? "input.pdf" : where.c_str(), pdf.data(), pdf.size());
    // Signature dictionaries hold /ByteRange and /Contents; they are never streams. The one
    // reaching furthest is the latest (each later update covers the earlier ones).
    for (QPDFObjectHandle& object : qpdf.getAllObjects()) {
      if (!object.isDictionary() || object.isStream()) continue;
      std::array<std::int64_t, 4> range{};
      if (!object.getKey("/Contents").isString() || !ReadByteRange(object, range)) continue;
      if (RangeEnd(range) <= best_end) continue;
      best_end = RangeEnd(range);
      found.byte_range = range;
      found.sub_filter = object.getKey("/SubFilter").isName()
                             ? object.getKey("/SubFilter").getName()
                             : std::string();
      contents = object.getKey("/Contents").getStringValue();
    }
  } catch (const std::exception& e) {
    return QpdfError(e, where);
  }
  if (best_end < 0) return MakeError(ErrorCode::kData, "the PDF has no signature", where);

  const auto& range = found.byte_range;
  const auto size = static_cast<std::int64_t>(pdf.size());
  if (!ByteRangeFits(range, pdf.size())) {
    return MakeError(ErrorCode::kData, "the signature's /ByteRange lies outside the file", where);
  }
  // The gap must be exactly this signature's /Contents: otherwise unsigned bytes could hide
  // between the ranges.
  const auto gap = pdf.substr(static_cast<std::size_t>(range[0] + range[1]),
                              static_cast<std::size_t>(range[2] - range[0] - range[1]));
  std::string gap_bytes;
  if (!DecodeHexString(gap, gap_bytes) || gap_bytes != contents) {
    return MakeError(ErrorCode::kData,
                     "the signature's /ByteRange leaves out more than its /Contents", where);
  }
  found.covers_whole_file = range[0] == 0 && range[2] + range[3] == size;
  const std::size_t der_length = DerElementLength(contents);
  if (der_length == 0) {
    return MakeError(ErrorCode::kData, "the signature's /Contents is not DER", where);
  }
  found.cms_der = contents.substr(0, der_length);
  return found;
}

bool ByteRangeFits(const std::array<std::int64_t, 4>& range, std::size_t file_size) {
  // Each bound is checked against the size before anything is added, so no sum overflows:
  // all four values are then in [0, size], and size is far below INT64_MAX.
  const auto size = static_cast<std::int64_t>(file_size);
  for (const std::int64_t value : range) {
    if (value < 0 || value > size) return false;
  }
  return range[1] <= size - range[0] && range[2] >= range[0] + range[1] &&
         range[3] <= size - range[2];
}

std::string SignedBytes(std::string_view pdf, const PdfSignature& signature) {
  const auto& range = signature.byte_range;
  if (!ByteRangeFits(range, pdf.size())) return {};
  std::string bytes(
      pdf.substr(static_cast<std::size_t>(range[0]), static_cast<std::size_t>(range[1])));
  bytes += pdf.substr(static_cast<std::size_t>(range[2]), static_cast<std::size_t>(range[3]));
  return bytes;
}

Result<SignatureCheck> VerifyCms(std::string_view pdf, const PdfSignature& signature,
                                 const std::vector<X509*>& trusted_certificates,
                                 const std::string& where) {
  if (!ByteRangeFits(signature.byte_range, pdf.size())) {
    return MakeError(ErrorCode::kData, "the signature's /ByteRange lies outside the file", where);
  }
  const auto* der = reinterpret_cast<const unsigned char*>(signature.cms_der.data());
  CmsPtr cms(d2i_CMS_ContentInfo(nullptr, &der, static_cast<long>(signature.cms_der.size())));
  if (!cms) return OpenSslError("the signature is not a CMS structure", where, ErrorCode::kData);

  SignatureCheck check;
  const std::string signed_bytes = SignedBytes(pdf, signature);
  BioPtr content = MemoryBio(signed_bytes);
  X509StorePtr no_trust(X509_STORE_new());
  // Integrity only: the message digest attribute against the bytes, and the signature over
  // the attributes. Trust is a separate question, answered below.
  if (CMS_verify(cms.get(), nullptr, no_trust.get(), content.get(), nullptr,
                 CMS_DETACHED | CMS_BINARY | CMS_NO_SIGNER_CERT_VERIFY) == 1) {
    check.digest_matched = true;
  } else {
    check.problem = OpenSslError("the document was altered after signing").message;
  }

  ClearOpenSslErrors();
  if (CMS_set1_signers_certs(cms.get(), nullptr, 0) < 0) {
    return OpenSslError("cannot find the signer certificate", where, ErrorCode::kData);
  }
  X509StackPtr signers(CMS_get0_signers(cms.get()));
  if (!signers || sk_X509_num(signers.get()) < 1) {
    return MakeError(ErrorCode::kData, "the signature carries no signer certificate", where);
  }
  X509* signer = sk_X509_value(signers.get(), 0);
  check.signer_key_id = CertificateSha256Hex(signer);

  X509StorePtr store(X509_STORE_new());
  for (X509* certificate : trusted_certificates) X509_STORE_add_cert(store.get(), certificate);
  X509StackOwnerPtr embedded(CMS_get1_certs(cms.get()));
  X509StoreCtxPtr context(X509_STORE_CTX_new());
  if (!store || !context ||
      X509_STORE_CTX_init(context.get(), store.get(), signer, embedded.get()) != 1) {
    return OpenSslError("cannot set up certificate verification", where);
  }
  if (X509_verify_cert(context.get()) == 1) {
    check.chain_trusted = true;
  } else if (check.problem.empty()) {
    check.problem = std::string("signer certificate not trusted: ") +
                    X509_verify_cert_error_string(X509_STORE_CTX_get_error(context.get()));
  }
  ClearOpenSslErrors();
  return check;
}

}  // namespace credd::sign
