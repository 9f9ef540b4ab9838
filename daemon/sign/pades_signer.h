// Signs a PDF as PAdES baseline B-B (B-T with a timestamp callback): the input bytes,
// unchanged, followed by one incremental update holding a CAdES detached signature.
// Thread contract: SignPdf is reentrant; the SigningKey's own contract applies.
#pragma once

#include <chrono>
#include <cstddef>
#include <functional>
#include <string>
#include <string_view>

#include "common/result.h"
#include "daemon/sign/signing_key.h"

namespace credd::sign {

// Returns a DER RFC 3161 TimeStampToken over the given signature value (the SignerInfo's
// signature OCTET STRING contents), or an error (kUnavailable when the TSA is down).
using TimestampCallback = std::function<Result<std::string>(std::string_view signature_value)>;

struct SignOptions {
  // The signature dictionary's /M, a UTC PDF date ("D:20261128190000Z"). Injected, not read
  // from the clock, so the output depends only on the input, the key and this value.
  std::string signing_time;
  // Optional texts shown by PDF readers (/Reason, /Location, /ContactInfo, /Name); UTF-8.
  std::string reason;
  std::string location;
  std::string contact_info;
  std::string name;
  // The signature field's name (/T); a number is appended when the PDF already has it.
  std::string field_name = "Signature1";
  // When set, the signature becomes PAdES B-T: the token is added as the unsigned
  // attribute id-aa-signatureTimeStampToken.
  TimestampCallback timestamp;
  // Room kept in /Contents for the timestamp token (TSA certificates included), in bytes.
  std::size_t timestamp_reserve_bytes = 16384;
  // Names the input in errors ("x.pdf", a document id).
  std::string where;
  // The PDF was made by credd's own renderer a moment ago, not given by anyone: the checks
  // for damaged third-party files (every object read before signing, and the signed output
  // parsed again as a verifier would) are skipped. They cost a quarter of each document's
  // time and guard against input that cairo does not produce.
  bool rendered_here = false;
};

// Errors: kData for an encrypted, damaged or page-less PDF; kUsage for a malformed
// signing_time; kInternal for an OpenSSL failure; the timestamp callback's own error.
Result<std::string> SignPdf(std::string_view pdf, const SigningKey& key,
                            const SignOptions& options);

// "D:YYYYMMDDHHmmSSZ" for a point in time, for SignOptions::signing_time.
std::string PdfDateUtc(std::chrono::system_clock::time_point time);

}  // namespace credd::sign
