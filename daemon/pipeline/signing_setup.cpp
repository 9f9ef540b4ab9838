#include "daemon/pipeline/signing_setup.h"

#include "daemon/pipeline/key_registry.h"
#include "daemon/store/document_store.h"

namespace credd {
namespace {

// A TSA that does not answer within this holds up one document, not the daemon: the
// document stays pending and is retried.
constexpr std::chrono::seconds kTsaTimeout{30};

}  // namespace

Result<SigningSetup> LoadSigningSetup(const Config& config, const std::string& built_in_templates) {
  SigningSetup setup;
  const std::string templates =
      config.templates_dir.empty() ? built_in_templates : config.templates_dir;
  auto renderer = Renderer::Create(templates);
  if (!renderer) return renderer.error();
  setup.renderer = std::move(renderer).value();
  if (config.signing.key.empty()) return setup;

  const SigningConfig& signing = config.signing;
  Result<sign::SigningKey> key = MakeError(ErrorCode::kInternal, "not loaded");
  if (signing.key.starts_with("pkcs11:")) {
    auto pin = signing.pin.Read();
    if (!pin) return pin.error();
    key = sign::SigningKey::LoadFromPkcs11(signing.key, signing.certificate, *pin);
  } else {
    auto passphrase = signing.passphrase.Read();
    if (!passphrase) return passphrase.error();
    key = sign::SigningKey::LoadFromFiles(signing.key, signing.certificate, *passphrase);
  }
  if (!key) return key.error();
  setup.key.emplace(std::move(key).value());
  if (!signing.tsa_url.empty()) {
    setup.tsa = std::make_shared<sign::TsaClient>(signing.tsa_url, kTsaTimeout);
  }
  return setup;
}

IssuerOptions IssuerOptionsFor(const SigningSetup& setup, const std::string& actor) {
  IssuerOptions options;
  options.actor = actor;
  if (setup.tsa) {
    std::shared_ptr<sign::TsaClient> tsa = setup.tsa;
    options.timestamp = [tsa](std::string_view value) { return tsa->Timestamp(value); };
  }
  return options;
}

Status RegisterActiveKey(Store& conn, const Config& config, const sign::SigningKey& key,
                         const std::string& actor) {
  auto row = DescribeSigningKey(key, config.signing.key);
  if (!row) return row.error();
  return RegisterSigningKey(conn, *row, true, actor);
}

}  // namespace credd
