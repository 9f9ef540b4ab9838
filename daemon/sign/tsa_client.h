// RFC 3161 client: asks the configured Time-Stamp Authority (signing.tsa_url) for a token over
// a PAdES signature value, for SignOptions::timestamp. Thread contract: Timestamp is const and
// reentrant; each call opens its own connection and shares nothing with other calls.
#pragma once

#include <chrono>
#include <string>
#include <string_view>

#include "common/result.h"

namespace credd::sign {

class TsaClient {
 public:
  // `url` is http://host[:port][/path] or https://...; it is checked by Timestamp, so a bad
  // URL is reported where it is used. `timeout` bounds connecting, sending and reading
  // together (name resolution is bounded by the system resolver's own timeouts).
  TsaClient(std::string url, std::chrono::seconds timeout);

  // POSTs a TimeStampReq (SHA-256 imprint of `data`, a random 64-bit nonce, certReq) and
  // returns the DER TimeStampToken (a CMS ContentInfo) from the TSA's answer. The token's
  // imprint, nonce and signature (by the certificate it carries) are checked; whether that
  // certificate is trusted is not: that is for whoever verifies the signed PDF.
  // https:// checks the server against the system store (OpenSSL's default paths, which
  // honour SSL_CERT_FILE) and its host name.
  // Errors: kConfig for a malformed or unsupported URL; kUnavailable (where = the URL) when
  // the TSA cannot be reached, times out, fails TLS verification or answers a non-200
  // status; kData when the answer is not a timestamp reply, is rejected by the TSA (with
  // its status text) or does not match the request; kInternal for an OpenSSL failure.
  Result<std::string> Timestamp(std::string_view data) const;

 private:
  std::string url_;
  std::chrono::seconds timeout_;
};

}  // namespace credd::sign
