// Builds what issuing documents needs from the configuration: the renderer (templates and
// fonts) and the signing key (file or PKCS#11, with its passphrase or PIN), and registers
// the key as the active one. Shared by credd and credctl.
// Thread contract: the result belongs to one thread (see DocumentIssuer).
#pragma once

#include <memory>
#include <optional>
#include <string>

#include "common/result.h"
#include "daemon/config/config.h"
#include "daemon/pipeline/document_issuer.h"
#include "daemon/render/renderer.h"
#include "daemon/sign/signing_key.h"
#include "daemon/sign/tsa_client.h"
#include "daemon/store/store.h"

namespace credd {

struct SigningSetup {
  std::unique_ptr<Renderer> renderer;
  std::optional<sign::SigningKey> key;   // Empty when signing.key is not configured.
  std::shared_ptr<sign::TsaClient> tsa;  // Set when signing.tsa_url is (PAdES B-T).
};

// Issuer options for a setup: its timestamp authority, if any, and who acts.
IssuerOptions IssuerOptionsFor(const SigningSetup& setup, const std::string& actor);

// templates_dir from the config, else `built_in_templates`. kConfig naming the key or file
// when the templates or the key cannot be loaded.
Result<SigningSetup> LoadSigningSetup(const Config& config, const std::string& built_in_templates);

// Records the configured key in signing_keys as the active key (retiring the previous).
Status RegisterActiveKey(Store& conn, const Config& config, const sign::SigningKey& key,
                         const std::string& actor);

}  // namespace credd
