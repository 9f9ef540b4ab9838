// Describes a signing key's certificates for the signing_keys table (id, PEM chain,
// subject, validity), and turns stored PEM back into certificates for verification.
// Thread contract: pure functions.
#pragma once

#include <string>
#include <vector>

#include "common/result.h"
#include "daemon/sign/signing_key.h"
#include "daemon/store/document_store.h"

namespace credd {

// The row for a loaded key; key_reference says where the private key lives.
Result<SigningKeyRow> DescribeSigningKey(const sign::SigningKey& key,
                                         const std::string& key_reference);

// The row for a certificate file alone (a key kept only for verification).
Result<SigningKeyRow> DescribeCertificateFile(const std::string& certificate_path);

// Every certificate in a PEM text.
Result<std::vector<sign::X509Ptr>> ParsePemCertificates(const std::string& pem,
                                                        const std::string& where);

}  // namespace credd
