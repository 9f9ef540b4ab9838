// Key generation for the fuzz targets; see fuzz_key.h.
#include "fuzz/fuzz_key.h"

#include <openssl/pem.h>
#include <openssl/x509.h>

#include <memory>
#include <string>

#include "fuzz/fuzz_support.h"

namespace credd::fuzz {
namespace {

std::string BioText(BIO* bio) {
  char* data = nullptr;
  const long length = BIO_get_mem_data(bio, &data);
  return std::string(data, static_cast<std::size_t>(length));
}

const std::string& WriteText(std::string_view name, const std::string& text) {
  return WriteScratchFile(name, reinterpret_cast<const std::uint8_t*>(text.data()), text.size());
}

sign::SigningKey MakeKey() {
  EVP_PKEY* raw_key = EVP_PKEY_Q_keygen(nullptr, nullptr, "EC", "P-256");
  Check(raw_key != nullptr, "cannot generate a P-256 key");
  std::unique_ptr<EVP_PKEY, decltype(&EVP_PKEY_free)> key(raw_key, EVP_PKEY_free);
  std::unique_ptr<X509, decltype(&X509_free)> cert(X509_new(), X509_free);
  Check(cert != nullptr, "cannot allocate a certificate");
  X509_set_version(cert.get(), 2);
  ASN1_INTEGER_set(X509_get_serialNumber(cert.get()), 1);
  X509_gmtime_adj(X509_getm_notBefore(cert.get()), -3600);
  X509_gmtime_adj(X509_getm_notAfter(cert.get()), 3600L * 24 * 365);
  X509_NAME* name = X509_get_subject_name(cert.get());
  X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC,
                             reinterpret_cast<const unsigned char*>("credd fuzz"), -1, -1, 0);
  X509_set_issuer_name(cert.get(), name);
  X509_set_pubkey(cert.get(), key.get());
  Check(X509_sign(cert.get(), key.get(), EVP_sha256()) > 0, "cannot self-sign the certificate");

  std::unique_ptr<BIO, decltype(&BIO_free)> key_pem(BIO_new(BIO_s_mem()), BIO_free);
  std::unique_ptr<BIO, decltype(&BIO_free)> cert_pem(BIO_new(BIO_s_mem()), BIO_free);
  Check(PEM_write_bio_PrivateKey(key_pem.get(), key.get(), nullptr, nullptr, 0, nullptr, nullptr) ==
                1 &&
            PEM_write_bio_X509(cert_pem.get(), cert.get()) == 1,
        "cannot write the key as PEM");
  const std::string key_path = WriteText("key.pem", BioText(key_pem.get()));
  const std::string cert_path = WriteText("cert.pem", BioText(cert_pem.get()));
  Result<sign::SigningKey> loaded = sign::SigningKey::LoadFromFiles(key_path, cert_path, "");
  Check(loaded.ok(), "SigningKey refused the generated key");
  return std::move(loaded).value();
}

}  // namespace

const sign::SigningKey& FuzzSigningKey() {
  static const sign::SigningKey* key = new sign::SigningKey(MakeKey());
  return *key;
}

}  // namespace credd::fuzz
