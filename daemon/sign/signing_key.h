// The institution's signing key and its certificate chain, loaded from a PEM or PKCS#12
// file or from a PKCS#11 token (HSM). Thread contract: load once, then share a const
// SigningKey between threads only if the key is a file key; a PKCS#11 session is not
// guaranteed thread-safe by every module, so sign with one thread per PKCS#11 key.
#pragma once

#include <openssl/evp.h>
#include <openssl/types.h>
#include <openssl/x509.h>

#include <memory>
#include <string>
#include <vector>

#include "common/result.h"
#include "daemon/sign/openssl_util.h"

namespace credd::sign {

// A key reference as it may be shown, stored and logged: a PKCS#11 URI without its
// "pin-value" attribute (path or query part); anything else unchanged.
std::string RedactKeyReference(const std::string& reference);

class SigningKey {
 public:
  // key_path: PEM private key (PKCS#8, encrypted or not, or traditional EC/RSA) or a
  // PKCS#12 bundle (.p12/.pfx, or any file that is not PEM). It must not be readable by
  // group or others. certificate_path: PEM certificates, leaf first, then the chain; may be
  // empty for a PKCS#12 bundle that holds the certificates. passphrase: for an encrypted
  // key or the bundle; empty for none.
  static Result<SigningKey> LoadFromFiles(const std::string& key_path,
                                          const std::string& certificate_path,
                                          const std::string& passphrase);

  // uri: RFC 7512 PKCS#11 URI, e.g. "pkcs11:token=credd;object=signing;type=private",
  // optionally with "?module-path=/usr/lib/softhsm/libsofthsm2.so" (the default) and
  // "pin-value=..." (pin, when not empty, wins). Loaded through OpenSSL's "pkcs11" engine.
  static Result<SigningKey> LoadFromPkcs11(const std::string& uri,
                                           const std::string& certificate_path,
                                           const std::string& pin);

  SigningKey(SigningKey&&) noexcept = default;
  SigningKey& operator=(SigningKey&&) noexcept = default;
  ~SigningKey();

  EVP_PKEY* private_key() const { return private_key_.get(); }
  // Leaf first, then the intermediates and (if given) the root.
  const std::vector<X509Ptr>& chain() const { return chain_; }
  X509* certificate() const { return chain_.front().get(); }
  // Lower-case hex SHA-256 of the leaf certificate's DER: how documents name their key.
  const std::string& key_id() const { return key_id_; }

  // Signs a fixed message and checks the signature with the certificate's public key: that
  // the key (a token's, too) can sign now. kUnavailable saying why when it cannot.
  Status Probe() const;

 private:
  struct EngineReleaser {
    void operator()(ENGINE* engine) const;
  };

  SigningKey() = default;
  // Checks the key type and size and that the key belongs to the leaf certificate.
  static Result<SigningKey> Assemble(EvpPkeyPtr key, std::vector<X509Ptr> chain,
                                     std::unique_ptr<ENGINE, EngineReleaser> engine,
                                     const std::string& where);

  // Declared first so it is released last: an engine key needs its engine until freed.
  std::unique_ptr<ENGINE, EngineReleaser> engine_;
  EvpPkeyPtr private_key_;
  std::vector<X509Ptr> chain_;
  std::string key_id_;
};

// Every certificate in a PEM file, in file order (trusted roots for VerifyCms, chains).
Result<std::vector<X509Ptr>> ReadPemCertificateFile(const std::string& path);

}  // namespace credd::sign
