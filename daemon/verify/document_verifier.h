// Whether a PDF is a genuine credd document, and what has become of it: the checks behind
// `credctl verify`, the verification page and POST /api/v1/verify, in one place.
//
// In order: a signature is found and its byte ranges cover the whole file; the CMS digest
// matches those bytes; the signer is one of this installation's registered certificates
// (active or retired); a document with exactly these bytes was issued here. Only then is it
// genuine, and its status (active, superseded, revoked) is told with what replaced or
// revoked it. Anything a hostile file can do ends as "not genuine" with a reason.
// Thread contract: Verify may be called from many threads at once, each with its own Store;
// the registered keys are cached for all of them.
#pragma once

#include <chrono>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/clock.h"
#include "common/result.h"
#include "daemon/store/document_store.h"
#include "daemon/store/store.h"

namespace credd {

struct Verification {
  bool genuine = false;
  // Not genuine: why, the decisive check first (the texts credctl verify prints).
  std::vector<std::string> reasons;
  bool covers_whole_file = false;  // Nothing was added after the signature.
  struct Signer {
    std::string key_id;
    std::string subject;
    bool retired = false;  // Since replaced by a newer key; its documents stay genuine.
    std::string retired_at;
  };
  std::optional<Signer> signer;              // Known when the signer is one of ours.
  std::optional<DocumentStanding> document;  // Set exactly when genuine.
};

class DocumentVerifier {
 public:
  // Registered keys are read again once `key_cache` has passed, and at once when a
  // signature names a key the cache does not know (one just registered elsewhere).
  explicit DocumentVerifier(const Clock& clock,
                            std::chrono::seconds key_cache = std::chrono::seconds(30));
  ~DocumentVerifier();

  // kUnavailable (or another store error) only when the database could not answer; every
  // problem of the PDF itself is a Verification with genuine = false.
  Result<Verification> Verify(Store& store, std::string_view pdf, const std::string& where);

 private:
  struct Keys;
  Result<std::shared_ptr<const Keys>> LoadKeys(Store& store, bool force);

  const Clock& clock_;
  const std::chrono::seconds key_cache_;
  std::mutex mu_;  // Guards keys_ and loaded_at_.
  std::shared_ptr<const Keys> keys_;
  Clock::SteadyTime loaded_at_{};
};

}  // namespace credd
