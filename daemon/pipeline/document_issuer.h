// Turns a credential into a signed document: renders it (or takes the institution's own PDF,
// for pdf-manifest input) and signs it with the active key. The IssuingPipeline runs one
// DocumentIssuer per worker for pending credentials; credctl uses one for dry runs and
// reissues. Documents are derived from credentials, so issuing runs after the batch has
// committed and is simply retried (at start, after each file) for whatever is still pending.
// Thread contract: one DocumentIssuer per thread (it holds a Renderer and a key).
#pragma once

#include <chrono>
#include <functional>
#include <string>

#include "common/clock.h"
#include "common/heartbeat.h"
#include "common/log.h"
#include "common/result.h"
#include "daemon/config/config.h"
#include "daemon/render/renderer.h"
#include "daemon/sign/pades_signer.h"
#include "daemon/sign/signing_key.h"
#include "daemon/store/database.h"
#include "daemon/store/document_store.h"
#include "records/record.h"

namespace credd {

struct IssuerOptions {
  std::string actor = "credd";
  const Clock* clock = &SystemClock();  // Stamps issued_at and the signing time.
  // RFC 3161 timestamps (PAdES B-T); empty = B-B.
  sign::TimestampCallback timestamp;
  Heartbeat* heartbeat = nullptr;  // Beaten per document, for the watchdog.
};

struct IssuedDocument {
  std::string public_id;
  std::string pdf;  // Signed.
  std::string sha256;
  std::string issued_at;
};

class DocumentIssuer {
 public:
  DocumentIssuer(Logger& log, const Renderer& renderer, const sign::SigningKey& key,
                 IssuerOptions options);

  // Renders (unless source_pdf is given) and signs one record; stores nothing.
  // `record_ref` names the record in errors ("x.csv:42").
  Result<IssuedDocument> Issue(const InstitutionConfig& institution, const CredentialRecord& record,
                               const std::string& locale, const std::string& source_pdf,
                               const std::string& record_ref) const;

  // Issues and stores a new document for one credential (credctl document reissue).
  Result<int64_t> IssueFor(Store& conn, const InstitutionConfig& institution,
                           const PendingCredential& credential) const;

  // Renders and signs the document of a stored credential; stores nothing.
  Result<NewDocument> Make(const InstitutionConfig& institution,
                           const PendingCredential& credential) const;

  const sign::SigningKey& key() const { return key_; }

 private:
  Logger& log_;
  const Renderer& renderer_;
  const sign::SigningKey& key_;
  IssuerOptions options_;
};

// What a reissue starts from: the stored document, its credential, and the institution
// (which must still be configured: kConfig otherwise). kNoInput for an unknown document.
struct ReissueTarget {
  DocumentRow document;
  PendingCredential credential;
  const InstitutionConfig* institution = nullptr;
};
Result<ReissueTarget> FindReissueTarget(Store& store, const Config& config,
                                        const std::string& document_id);

// The institution's branding, as the renderer wants it.
Branding BrandingFor(const InstitutionConfig& institution);

// A random (version 4) UUID.
std::string NewUuid();

}  // namespace credd
