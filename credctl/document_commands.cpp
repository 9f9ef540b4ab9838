#include <fstream>
#include <iostream>
#include <iterator>
#include <nlohmann/json.hpp>
#include <sstream>

#include "common/clock.h"
#include "common/exit_codes.h"
#include "common/sha256.h"
#include "credctl/commands.h"
#include "credctl/session.h"
#include "daemon/config/config.h"
#include "daemon/pipeline/document_issuer.h"
#include "daemon/pipeline/key_registry.h"
#include "daemon/pipeline/record_identity.h"
#include "daemon/pipeline/signing_setup.h"
#include "daemon/store/database.h"
#include "daemon/store/document_store.h"
#include "daemon/store/migrations.h"
#include "daemon/verify/document_verifier.h"

namespace credd::ctl {
namespace {

Result<std::string> ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return MakeError(ErrorCode::kNoInput, "cannot read the file", path);
  return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

}  // namespace

int VerifyCommand(const GlobalOptions& global, const std::string& file, Logger& log,
                  std::ostream& out, std::ostream& err) {
  auto pdf = ReadFile(file);
  if (!pdf) return Fail(pdf.error(), err);
  auto session = OpenSession(global, log, err);
  if (!session) return Fail(session.error(), err);
  DocumentVerifier verifier(SystemClock());
  auto result = verifier.Verify(*session->conn, *pdf, file);
  if (!result) return Fail(result.error(), err);
  const Verification& v = *result;

  nlohmann::json doc = {{"file", file}};
  auto verdict = [&](int code, const std::string& status, const std::string& reason) {
    doc["verdict"] = status;
    doc["reason"] = reason;
    if (global.json) {
      out << doc.dump(2) << "\n";
    } else {
      out << file << ": " << status << ": " << reason << "\n";
    }
    return code;
  };
  if (v.signer) {
    doc["key"] = {{"id", v.signer->key_id},
                  {"subject", v.signer->subject},
                  {"status", v.signer->retired ? "retired" : "active"}};
  }
  if (!v.genuine) return verdict(1, "NOT GENUINE", v.reasons.front());
  const DocumentRow& d = v.document->document;
  doc["document"] = {{"id", d.public_id},
                     {"status", kDocumentStatuses.Name(d.status)},
                     {"institution", d.institution_id},
                     {"student_id", d.student_id},
                     {"kind", d.kind},
                     {"title", d.title},
                     {"issued_at", d.issued_at}};
  std::string about = d.kind + " '" + d.title + "' for student " + d.student_id + " of " +
                      d.institution_id + ", document " + d.public_id + ", issued " + d.issued_at +
                      ", signed by " + v.signer->subject +
                      (v.signer->retired ? " (a key since retired)" : "");
  if (d.status == DocumentStatus::kRevoked) {
    return verdict(2, "GENUINE BUT REVOKED", about + "; revoked: " + d.revoked_reason);
  }
  if (d.status == DocumentStatus::kSuperseded) {
    return verdict(2, "GENUINE BUT SUPERSEDED", about + "; a newer version replaces it");
  }
  return verdict(0, "GENUINE AND CURRENT", about);
}

int DocumentRevokeCommand(const GlobalOptions& global, const std::string& id,
                          const std::string& reason, const std::string& actor, Logger& log,
                          std::ostream& out, std::ostream& err) {
  auto session = OpenSession(global, log, err);
  if (!session) return Fail(session.error(), err);
  auto doc = FindDocument(*session->conn, id);
  if (!doc) return Fail(doc.error(), err);
  if (Status s = RevokeDocument(*session->conn, doc->id, reason, actor); !s) {
    return Fail(s.error(), err);
  }
  out << "document " << doc->public_id << " revoked\n";
  return kExitOk;
}

int DocumentExportCommand(const GlobalOptions& global, const std::string& id,
                          const std::string& out_path, Logger& log, std::ostream& out,
                          std::ostream& err) {
  auto session = OpenSession(global, log, err);
  if (!session) return Fail(session.error(), err);
  auto doc = FindDocument(*session->conn, id);
  if (!doc) return Fail(doc.error(), err);
  auto pdf = LoadDocumentPdf(*session->conn, doc->id);
  if (!pdf) return Fail(pdf.error(), err);
  std::ofstream file(out_path, std::ios::binary | std::ios::trunc);
  file.write(pdf->data(), static_cast<std::streamsize>(pdf->size()));
  file.close();
  if (!file) return Fail(MakeError(ErrorCode::kIo, "cannot write the file", out_path), err);
  out << "document " << doc->public_id << " (" << kDocumentStatuses.Name(doc->status)
      << ") written to " << out_path << "\n";
  return kExitOk;
}

int DocumentReissueCommand(const GlobalOptions& global, const std::string& id,
                           const std::string& actor, Logger& log, std::ostream& out,
                           std::ostream& err) {
  auto session = OpenSession(global, log, err);
  if (!session) return Fail(session.error(), err);
  auto target = FindReissueTarget(*session->conn, session->config, id);
  if (!target) return Fail(target.error(), err);
  auto setup = LoadSigningSetup(session->config, CREDD_TEMPLATES_DIR);
  if (!setup) return Fail(setup.error(), err);
  if (!setup->key) {
    return Fail(MakeError(ErrorCode::kConfig, "signing.key is not set", global.config_path), err);
  }
  if (Status s = RegisterActiveKey(*session->conn, session->config, *setup->key, actor); !s) {
    return Fail(s.error(), err);
  }
  DocumentIssuer issuer(log, *setup->renderer, *setup->key, IssuerOptionsFor(*setup, actor));
  auto new_id = issuer.IssueFor(*session->conn, *target->institution, target->credential);
  if (!new_id) return Fail(new_id.error(), err);
  auto reissued = FindDocument(*session->conn, std::to_string(*new_id));
  if (!reissued) return Fail(reissued.error(), err);
  out << "document " << reissued->public_id << " issued; it supersedes "
      << target->document.public_id << "\n";
  return kExitOk;
}

int KeysListCommand(const GlobalOptions& global, Logger& log, std::ostream& out,
                    std::ostream& err) {
  auto session = OpenSession(global, log, err);
  if (!session) return Fail(session.error(), err);
  auto keys = ListSigningKeys(*session->conn);
  if (!keys) return Fail(keys.error(), err);
  nlohmann::json list = nlohmann::json::array();
  for (const SigningKeyRow& k : *keys) {
    list.push_back({{"key_id", k.key_id},
                    {"status", k.status},
                    {"subject", k.subject},
                    {"not_before", k.not_before},
                    {"not_after", k.not_after},
                    {"key_reference", k.key_reference},
                    {"added_at", k.added_at},
                    {"retired_at", k.retired_at}});
    if (!global.json) {
      out << k.key_id.substr(0, 16) << "  " << k.status << "  " << k.not_before.substr(0, 10)
          << ".." << k.not_after.substr(0, 10) << "  " << k.subject << "\n";
    }
  }
  if (global.json) out << nlohmann::json{{"keys", list}}.dump(2) << "\n";
  return kExitOk;
}

int KeysAddCommand(const GlobalOptions& global, const std::string& certificate,
                   const std::string& actor, Logger& log, std::ostream& out, std::ostream& err) {
  auto session = OpenSession(global, log, err);
  if (!session) return Fail(session.error(), err);
  auto row = DescribeCertificateFile(certificate);
  if (!row) return Fail(row.error(), err);
  if (Status s = RegisterSigningKey(*session->conn, *row, false, actor); !s) {
    return Fail(s.error(), err);
  }
  out << "key " << row->key_id << " (" << row->subject
      << ") is known for verification; the configured signing.key signs\n";
  return kExitOk;
}

}  // namespace credd::ctl
