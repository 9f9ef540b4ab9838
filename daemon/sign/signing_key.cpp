// Loads signing keys from files and from PKCS#11 tokens; see signing_key.h.
//
// PKCS#11 goes through OpenSSL's ENGINE API, deprecated in OpenSSL 3.0: Debian 12 ships no
// PKCS#11 provider (pkcs11-provider arrived in Debian 13), only libengine-pkcs11-openssl.
// Suppressing the deprecation warnings here, in this file only, keeps -Werror meaningful
// everywhere else.
#define OPENSSL_SUPPRESS_DEPRECATED

#include "daemon/sign/signing_key.h"

#include <openssl/engine.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/pkcs12.h>
#include <sys/stat.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>
#include <vector>

#include "common/hex.h"
#include "common/posix_error.h"

namespace credd::sign {
namespace {

constexpr char kDefaultPkcs11Module[] = "/usr/lib/softhsm/libsofthsm2.so";
constexpr int kMinimumRsaBits = 2048;

Result<std::string> ReadWholeFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    return PosixError(ErrorCode::kNoInput, "cannot open", errno, path);
  }
  std::ostringstream bytes;
  bytes << in.rdbuf();
  if (in.bad()) return MakeError(ErrorCode::kIo, "cannot read", path);
  return bytes.str();
}

// A key anyone else on the machine can read is a key that may already be copied; refuse
// it rather than sign with it, and say how to fix it.
Status CheckKeyFilePermissions(const std::string& path) {
  struct stat info {};
  if (::stat(path.c_str(), &info) != 0) {
    return PosixError(ErrorCode::kNoInput, "cannot read signing key", errno, path);
  }
  if ((info.st_mode & 077) != 0) {
    char mode[8];
    std::snprintf(mode, sizeof mode, "%04o", static_cast<unsigned>(info.st_mode & 07777));
    return MakeError(ErrorCode::kConfig,
                     std::string("signing key file is readable by group or others (mode ") + mode +
                         "); run: chmod 600 " + path,
                     path);
  }
  return Status::Ok();
}

// Supplies the passphrase to OpenSSL without ever falling back to a terminal prompt.
int PassphraseCallback(char* buffer, int size, int /*rwflag*/, void* user_data) {
  const auto* passphrase = static_cast<const std::string*>(user_data);
  if (passphrase == nullptr || passphrase->empty()) return 0;
  const int length = static_cast<int>(passphrase->size());
  if (length > size) return 0;
  std::memcpy(buffer, passphrase->data(), passphrase->size());
  return length;
}

}  // namespace

Result<std::vector<X509Ptr>> ReadPemCertificateFile(const std::string& path) {
  auto bytes = ReadWholeFile(path);
  if (!bytes) return bytes.error();
  BioPtr bio = MemoryBio(*bytes);
  std::vector<X509Ptr> certificates;
  while (X509* certificate = PEM_read_bio_X509(bio.get(), nullptr, nullptr, nullptr)) {
    certificates.emplace_back(certificate);
  }
  // The loop ends on "no start line"; anything else is a damaged certificate.
  const unsigned long last = ERR_peek_last_error();
  if (ERR_GET_REASON(last) != PEM_R_NO_START_LINE || certificates.empty()) {
    if (certificates.empty() && ERR_GET_REASON(last) == PEM_R_NO_START_LINE) {
      ClearOpenSslErrors();
      return MakeError(ErrorCode::kConfig, "no PEM certificate in the file", path);
    }
    return OpenSslError("cannot read the certificates", path, ErrorCode::kConfig);
  }
  ClearOpenSslErrors();
  return certificates;
}

namespace {

// Value of one attribute in a PKCS#11 URI's path (';'-separated) or query ('&'-separated)
// part, percent-decoded; empty when absent.
std::string Pkcs11UriAttribute(const std::string& uri, const std::string& name) {
  size_t position = uri.find(':');
  while (position != std::string::npos && position < uri.size()) {
    const size_t start = position + 1;
    const size_t end = uri.find_first_of(";?&", start);
    const std::string item = uri.substr(start, end == std::string::npos ? end : end - start);
    if (item.rfind(name + "=", 0) == 0) {
      std::string value;
      const std::string raw = item.substr(name.size() + 1);
      for (size_t i = 0; i < raw.size(); ++i) {
        const int high = i + 2 < raw.size() ? HexDigitValue(raw[i + 1]) : -1;
        const int low = i + 2 < raw.size() ? HexDigitValue(raw[i + 2]) : -1;
        if (raw[i] == '%' && high >= 0 && low >= 0) {
          value += static_cast<char>(high * 16 + low);
          i += 2;
        } else {
          value += raw[i];
        }
      }
      return value;
    }
    position = end;
  }
  return {};
}

}  // namespace

std::string RedactKeyReference(const std::string& reference) {
  if (reference.rfind("pkcs11:", 0) != 0) return reference;
  // Rebuild the URI from its attributes, leaving out pin-value wherever it stands.
  std::string out = "pkcs11:";
  std::string query;
  size_t start = 7;
  char separator = ';';  // Of the part the next attribute belongs to.
  while (start <= reference.size()) {
    const size_t end = reference.find_first_of(";?&", start);
    const std::string item =
        reference.substr(start, end == std::string::npos ? std::string::npos : end - start);
    if (!item.empty() && item.rfind("pin-value=", 0) != 0 && item != "pin-value") {
      std::string& part = separator == ';' ? out : query;
      if (part.size() > (separator == ';' ? 7u : 0u)) part += separator == ';' ? ";" : "&";
      part += item;
    }
    if (end == std::string::npos) break;
    if (reference[end] == '?') separator = '&';
    start = end + 1;
  }
  return query.empty() ? out : out + "?" + query;
}

void SigningKey::EngineReleaser::operator()(ENGINE* engine) const {
  // Balances ENGINE_init (functional reference) and ENGINE_by_id (structural reference).
  ENGINE_finish(engine);
  ENGINE_free(engine);
}

SigningKey::~SigningKey() = default;

Result<SigningKey> SigningKey::LoadFromFiles(const std::string& key_path,
                                             const std::string& certificate_path,
                                             const std::string& passphrase) {
  if (Status permissions = CheckKeyFilePermissions(key_path); !permissions) {
    return permissions.error();
  }
  auto bytes = ReadWholeFile(key_path);
  if (!bytes) return bytes.error();

  EvpPkeyPtr key;
  std::vector<X509Ptr> chain;
  if (bytes->find("-----BEGIN ") != std::string::npos) {
    BioPtr bio = MemoryBio(*bytes);
    key.reset(PEM_read_bio_PrivateKey(bio.get(), nullptr, PassphraseCallback,
                                      const_cast<std::string*>(&passphrase)));
    if (!key) {
      return OpenSslError("cannot read the PEM private key (wrong passphrase?)", key_path,
                          ErrorCode::kConfig);
    }
  } else {
    // Not PEM: a PKCS#12 bundle holding the key and usually the certificates.
    BioPtr bio = MemoryBio(*bytes);
    OpenSslPtr<PKCS12, PKCS12_free> bundle(d2i_PKCS12_bio(bio.get(), nullptr));
    if (!bundle) {
      return OpenSslError("neither a PEM key nor a PKCS#12 bundle", key_path, ErrorCode::kConfig);
    }
    EVP_PKEY* bundle_key = nullptr;
    X509* bundle_leaf = nullptr;
    STACK_OF(X509)* bundle_ca = nullptr;
    if (PKCS12_parse(bundle.get(), passphrase.c_str(), &bundle_key, &bundle_leaf, &bundle_ca) !=
        1) {
      return OpenSslError("cannot open the PKCS#12 bundle (wrong passphrase?)", key_path,
                          ErrorCode::kConfig);
    }
    key.reset(bundle_key);
    if (bundle_leaf != nullptr) chain.emplace_back(bundle_leaf);
    while (bundle_ca != nullptr && sk_X509_num(bundle_ca) > 0) {
      chain.emplace_back(sk_X509_shift(bundle_ca));
    }
    sk_X509_free(bundle_ca);
  }

  if (!certificate_path.empty()) {
    auto certificates = ReadPemCertificateFile(certificate_path);
    if (!certificates) return certificates.error();
    chain = std::move(*certificates);
  } else if (chain.empty()) {
    return MakeError(ErrorCode::kConfig, "no certificate: give signing.certificate", key_path);
  }
  return Assemble(std::move(key), std::move(chain), nullptr, key_path);
}

Result<SigningKey> SigningKey::LoadFromPkcs11(const std::string& uri,
                                              const std::string& certificate_path,
                                              const std::string& pin) {
  // The URI may hold the PIN; never echo it in an error.
  const std::string where = RedactKeyReference(uri);
  auto certificates = ReadPemCertificateFile(certificate_path);
  if (!certificates) return certificates.error();

  // ENGINE_by_id finds pkcs11.so in OpenSSL's engines directory through the dynamic
  // engine; nothing in openssl.cnf has to be configured.
  ENGINE_load_dynamic();
  std::unique_ptr<ENGINE, EngineReleaser> engine;
  ENGINE* found = ENGINE_by_id("pkcs11");
  if (found == nullptr) {
    return OpenSslError(
        "cannot load the OpenSSL pkcs11 engine (is libengine-pkcs11-openssl "
        "installed?)",
        where, ErrorCode::kConfig);
  }
  std::string module_path = Pkcs11UriAttribute(uri, "module-path");
  if (module_path.empty()) module_path = kDefaultPkcs11Module;
  if (ENGINE_ctrl_cmd_string(found, "MODULE_PATH", module_path.c_str(), 0) != 1) {
    ENGINE_free(found);
    return OpenSslError("cannot set the PKCS#11 module " + module_path, where, ErrorCode::kConfig);
  }
  if (ENGINE_init(found) != 1) {
    ENGINE_free(found);
    return OpenSslError("cannot initialise the PKCS#11 module " + module_path, where,
                        ErrorCode::kUnavailable);
  }
  engine.reset(found);
  const std::string effective_pin = pin.empty() ? Pkcs11UriAttribute(uri, "pin-value") : pin;
  if (!effective_pin.empty() &&
      ENGINE_ctrl_cmd_string(engine.get(), "PIN", effective_pin.c_str(), 0) != 1) {
    return OpenSslError("cannot pass the PIN to the pkcs11 engine", where, ErrorCode::kConfig);
  }
  EvpPkeyPtr key(ENGINE_load_private_key(engine.get(), uri.c_str(), nullptr, nullptr));
  if (!key) {
    return OpenSslError("cannot load the private key from the token (wrong PIN or label?)", where,
                        ErrorCode::kConfig);
  }
  return Assemble(std::move(key), std::move(*certificates), std::move(engine), where);
}

Result<SigningKey> SigningKey::Assemble(EvpPkeyPtr key, std::vector<X509Ptr> chain,
                                        std::unique_ptr<ENGINE, EngineReleaser> engine,
                                        const std::string& where) {
  X509* leaf = chain.front().get();
  // The certificate's public key is an ordinary provider key even when the private key
  // lives in an HSM, so type and size are read from it.
  EVP_PKEY* public_key = X509_get0_pubkey(leaf);
  if (public_key == nullptr) {
    return OpenSslError("cannot read the certificate's public key", where, ErrorCode::kConfig);
  }
  if (EVP_PKEY_is_a(public_key, "RSA")) {
    if (EVP_PKEY_get_bits(public_key) < kMinimumRsaBits) {
      return MakeError(ErrorCode::kConfig,
                       "RSA key has " + std::to_string(EVP_PKEY_get_bits(public_key)) +
                           " bits; at least 2048 are required",
                       where);
    }
  } else if (EVP_PKEY_is_a(public_key, "EC")) {
    char group[64] = {};
    if (EVP_PKEY_get_group_name(public_key, group, sizeof group, nullptr) != 1 ||
        std::string(group) != "prime256v1") {
      ClearOpenSslErrors();
      return MakeError(ErrorCode::kConfig,
                       std::string("EC key on curve '") + group + "'; only P-256 is supported",
                       where);
    }
  } else {
    return MakeError(ErrorCode::kConfig, "unsupported key type: only RSA and ECDSA P-256", where);
  }
  if (X509_check_private_key(leaf, key.get()) != 1) {
    return OpenSslError("the private key does not belong to the first certificate", where,
                        ErrorCode::kConfig);
  }
  SigningKey signing_key;
  signing_key.engine_ = std::move(engine);
  signing_key.private_key_ = std::move(key);
  signing_key.chain_ = std::move(chain);
  signing_key.key_id_ = CertificateSha256Hex(leaf);
  if (signing_key.key_id_.empty()) {
    return OpenSslError("cannot hash the certificate", where);
  }
  return signing_key;
}

Status SigningKey::Probe() const {
  static constexpr unsigned char kMessage[] = "credd readiness probe";
  EVP_MD_CTX* sign = EVP_MD_CTX_new();
  EVP_MD_CTX* verify = EVP_MD_CTX_new();
  std::vector<unsigned char> signature;
  size_t length = 0;
  bool ok = sign != nullptr && verify != nullptr &&
            EVP_DigestSignInit(sign, nullptr, EVP_sha256(), nullptr, private_key_.get()) == 1 &&
            EVP_DigestSign(sign, nullptr, &length, kMessage, sizeof kMessage) == 1;
  if (ok) {
    signature.resize(length);
    ok = EVP_DigestSign(sign, signature.data(), &length, kMessage, sizeof kMessage) == 1;
  }
  EVP_PKEY* public_key = ok ? X509_get0_pubkey(certificate()) : nullptr;
  ok = ok && public_key != nullptr &&
       EVP_DigestVerifyInit(verify, nullptr, EVP_sha256(), nullptr, public_key) == 1 &&
       EVP_DigestVerify(verify, signature.data(), length, kMessage, sizeof kMessage) == 1;
  EVP_MD_CTX_free(sign);
  EVP_MD_CTX_free(verify);
  if (ok) return Status::Ok();
  return OpenSslError("the signing key cannot sign", "key " + key_id_.substr(0, 16),
                      ErrorCode::kUnavailable);
}

}  // namespace credd::sign
