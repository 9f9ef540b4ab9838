#include "daemon/pipeline/key_registry.h"

#include <openssl/asn1.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include <ctime>

#include "common/time_format.h"

namespace credd {
namespace {

std::string Iso(const ASN1_TIME* time) {
  std::tm tm{};
  if (ASN1_TIME_to_tm(time, &tm) != 1) return "";
  return Iso8601Utc(tm);
}

std::string Subject(X509* cert) {
  sign::BioPtr bio(BIO_new(BIO_s_mem()));
  X509_NAME_print_ex(bio.get(), X509_get_subject_name(cert), 0, XN_FLAG_RFC2253);
  char* data = nullptr;
  long length = BIO_get_mem_data(bio.get(), &data);
  return std::string(data, static_cast<size_t>(length));
}

Result<SigningKeyRow> Describe(const std::vector<sign::X509Ptr>& chain, const std::string& ref,
                               const std::string& where) {
  if (chain.empty()) return MakeError(ErrorCode::kConfig, "no certificate", where);
  SigningKeyRow row;
  sign::BioPtr bio(BIO_new(BIO_s_mem()));
  for (const sign::X509Ptr& cert : chain) PEM_write_bio_X509(bio.get(), cert.get());
  char* data = nullptr;
  long length = BIO_get_mem_data(bio.get(), &data);
  row.certificates_pem.assign(data, static_cast<size_t>(length));
  X509* leaf = chain.front().get();
  row.key_id = sign::CertificateSha256Hex(leaf);
  row.subject = Subject(leaf);
  row.not_before = Iso(X509_get0_notBefore(leaf));
  row.not_after = Iso(X509_get0_notAfter(leaf));
  row.key_reference = ref;
  if (row.not_before.empty() || row.not_after.empty()) {
    return MakeError(ErrorCode::kConfig, "certificate validity cannot be read", where);
  }
  return row;
}

}  // namespace

Result<std::vector<sign::X509Ptr>> ParsePemCertificates(const std::string& pem,
                                                        const std::string& where) {
  sign::BioPtr bio(BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())));
  std::vector<sign::X509Ptr> certs;
  while (X509* cert = PEM_read_bio_X509(bio.get(), nullptr, nullptr, nullptr)) {
    certs.emplace_back(cert);
  }
  ERR_clear_error();  // The loop ends on "no start line", which is not an error here.
  if (certs.empty()) return MakeError(ErrorCode::kData, "no PEM certificate", where);
  return certs;
}

Result<SigningKeyRow> DescribeSigningKey(const sign::SigningKey& key,
                                         const std::string& key_reference) {
  // A PKCS#11 URI may carry the PIN: it is never stored or printed.
  const std::string shown = sign::RedactKeyReference(key_reference);
  return Describe(key.chain(), shown, shown);
}

Result<SigningKeyRow> DescribeCertificateFile(const std::string& certificate_path) {
  auto certs = sign::ReadPemCertificateFile(certificate_path);
  if (!certs) return certs.error();
  return Describe(*certs, "", certificate_path);
}

}  // namespace credd
