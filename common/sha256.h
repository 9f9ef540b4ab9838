// SHA-256 as lower-case hex, the one way credd names content (batches, documents, keys,
// migrations, tokens). OpenSSL's EVP does the hashing.
// Thread contract: Sha256Hex is a pure function; a Sha256 object is used by one thread.
#pragma once

#include <memory>
#include <string>
#include <string_view>

namespace credd {

std::string Sha256Hex(std::string_view bytes);

// The same, fed in pieces (a file read in chunks).
class Sha256 {
 public:
  Sha256();
  ~Sha256();
  Sha256(const Sha256&) = delete;
  Sha256& operator=(const Sha256&) = delete;

  void Update(std::string_view bytes);
  std::string FinalHex();  // Once; the object is spent afterwards.

 private:
  struct Context;
  std::unique_ptr<Context> context_;
};

}  // namespace credd
