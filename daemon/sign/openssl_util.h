// Internal to daemon/sign: RAII owners for OpenSSL objects and the one helper that turns
// OpenSSL's error queue into an Error. Thread contract: the helpers touch only the calling
// thread's OpenSSL error queue; the owners are plain move-only values.
#pragma once

#include <openssl/bio.h>
#include <openssl/cms.h>
#include <openssl/evp.h>
#include <openssl/x509.h>

#include <memory>
#include <string>
#include <string_view>

#include "common/result.h"

namespace credd::sign {

// unique_ptr with the matching OpenSSL free function, so no early return can leak.
template <typename T, void (*kFree)(T*)>
struct OpenSslDeleter {
  void operator()(T* p) const { kFree(p); }
};
template <typename T, void (*kFree)(T*)>
using OpenSslPtr = std::unique_ptr<T, OpenSslDeleter<T, kFree>>;

using BioPtr = OpenSslPtr<BIO, BIO_free_all>;
using CmsPtr = OpenSslPtr<CMS_ContentInfo, CMS_ContentInfo_free>;
using EvpMdCtxPtr = OpenSslPtr<EVP_MD_CTX, EVP_MD_CTX_free>;
using EvpPkeyPtr = OpenSslPtr<EVP_PKEY, EVP_PKEY_free>;
using X509Ptr = OpenSslPtr<X509, X509_free>;
using X509StorePtr = OpenSslPtr<X509_STORE, X509_STORE_free>;
using X509StoreCtxPtr = OpenSslPtr<X509_STORE_CTX, X509_STORE_CTX_free>;

// STACK_OF(X509) owners: the stack alone (certificates borrowed), or stack and certificates.
void FreeX509StackShallow(STACK_OF(X509) * stack);
void FreeX509StackDeep(STACK_OF(X509) * stack);
using X509StackPtr = OpenSslPtr<STACK_OF(X509), FreeX509StackShallow>;
using X509StackOwnerPtr = OpenSslPtr<STACK_OF(X509), FreeX509StackDeep>;

// The one place OpenSSL failures become credd errors: "context: reason; reason" with every
// queued OpenSSL reason, oldest first, and the queue left empty for the next call.
Error OpenSslError(std::string_view context, std::string where = {},
                   ErrorCode code = ErrorCode::kInternal);

// Empties the error queue after an expected failure (end of a PEM certificate list).
void ClearOpenSslErrors();

// A read-only memory BIO over bytes that must outlive it.
BioPtr MemoryBio(std::string_view bytes);

// Lower-case hex SHA-256 of the certificate's DER encoding; empty on failure.
std::string CertificateSha256Hex(X509* certificate);

std::string HexEncode(std::string_view bytes);

}  // namespace credd::sign
