#include "daemon/verify/document_verifier.h"

#include "common/sha256.h"
#include "daemon/pipeline/key_registry.h"
#include "daemon/sign/pdf_signature.h"

namespace credd {

struct DocumentVerifier::Keys {
  std::vector<SigningKeyRow> rows;
  std::vector<sign::X509Ptr> owned;
  std::vector<X509*> trusted;

  const SigningKeyRow* Find(const std::string& key_id) const {
    for (const SigningKeyRow& row : rows) {
      if (row.key_id == key_id) return &row;
    }
    return nullptr;
  }
};

DocumentVerifier::DocumentVerifier(const Clock& clock, std::chrono::seconds key_cache)
    : clock_(clock), key_cache_(key_cache) {}

DocumentVerifier::~DocumentVerifier() = default;

Result<std::shared_ptr<const DocumentVerifier::Keys>> DocumentVerifier::LoadKeys(Store& store,
                                                                                 bool force) {
  const Clock::SteadyTime now = clock_.Steady();
  {
    std::lock_guard lock(mu_);
    if (keys_ && !force && now - loaded_at_ < key_cache_) return keys_;
  }
  auto rows = ListSigningKeys(store);
  if (!rows) return rows.error();
  auto keys = std::make_shared<Keys>();
  keys->rows = std::move(*rows);
  for (const SigningKeyRow& key : keys->rows) {
    auto certs = ParsePemCertificates(key.certificates_pem, "key " + key.key_id);
    if (!certs) continue;  // A key whose PEM no longer parses verifies nothing.
    for (sign::X509Ptr& cert : *certs) {
      keys->trusted.push_back(cert.get());
      keys->owned.push_back(std::move(cert));
    }
  }
  std::lock_guard lock(mu_);
  keys_ = keys;
  loaded_at_ = now;
  return keys_;
}

Result<Verification> DocumentVerifier::Verify(Store& store, std::string_view pdf,
                                              const std::string& where) {
  Verification v;
  auto refuse = [&v](std::string reason) {
    v.reasons.push_back(std::move(reason));
    return v;
  };
  auto signature = sign::ExtractLastSignature(pdf, where);
  if (!signature) return refuse(signature.error().message);
  v.covers_whole_file = signature->covers_whole_file;
  if (!signature->covers_whole_file) {
    return refuse(
        "bytes were added after the signature: the signature does not cover the whole file");
  }
  auto keys = LoadKeys(store, false);
  if (!keys) return keys.error();
  auto check = sign::VerifyCms(pdf, *signature, (*keys)->trusted, where);
  if (!check) return refuse(check.error().message);
  if (!check->digest_matched) {
    return refuse("the document was changed after it was signed (" + check->problem + ")");
  }
  const SigningKeyRow* signer = (*keys)->Find(check->signer_key_id);
  if (signer == nullptr) {
    // Perhaps registered since the cache was filled: ask once more before saying no.
    keys = LoadKeys(store, true);
    if (!keys) return keys.error();
    signer = (*keys)->Find(check->signer_key_id);
  }
  if (signer == nullptr) {
    return refuse("signed by a key this installation does not know (" +
                  check->signer_key_id.substr(0, 16) + "...)");
  }
  // The signer is one of this installation's own registered certificates: that identity,
  // not a chain to some root, is what makes the document ours (docs/decisions.md).
  v.signer = Verification::Signer{signer->key_id, signer->subject, signer->status == "retired",
                                  signer->retired_at};
  auto standing = FindStandingBySha256(store, Sha256Hex(pdf));
  if (!standing) return standing.error();
  if (!standing->has_value()) {
    return refuse("the signature is valid but no document with this content was issued here");
  }
  v.genuine = true;
  v.document = std::move(**standing);
  return v;
}

}  // namespace credd
