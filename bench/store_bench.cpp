// The store's ceiling, with no rendering or signing: ROWS credentials written through the
// batch store (ChunkWriter, one round trip per chunk, as ingestion does), then one document
// each stored through PendingChunk (claim, then Commit, as the issuing pipeline does). Every
// document is the same signed PDF with a unique comment after it, so each has its own
// SHA-256. Prints one key=value line; asserts nothing.
#include <CLI/CLI.hpp>
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <iterator>
#include <sstream>
#include <string>
#include <vector>

#include "common/exit_codes.h"
#include "common/log.h"
#include "common/sha256.h"
#include "common/time_format.h"
#include "daemon/config/config.h"
#include "daemon/pipeline/key_registry.h"
#include "daemon/store/batch_store.h"
#include "daemon/store/database.h"
#include "daemon/store/document_store.h"
#include "daemon/store/institutions.h"
#include "daemon/store/migrations.h"

namespace {

using Clock = std::chrono::steady_clock;

struct Options {
  std::string database_url;
  std::string pdf_path;
  std::string certificate_path;
  int rows = 10000;
  int record_chunk = 500;   // ingestion's chunk_size
  int document_chunk = 64;  // issuing.chunk_size
};

int Fail(const credd::Error& error) {
  std::fprintf(stderr, "store_bench: %s\n", error.ToString().c_str());
  return error.ExitCode();
}

double Since(Clock::time_point start) {
  return std::chrono::duration<double>(Clock::now() - start).count();
}

int Run(const Options& options) {
  std::ostringstream ignored;
  credd::Logger log(ignored, credd::LogLevel::kError);
  std::ifstream in(options.pdf_path, std::ios::binary);
  const std::string pdf((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  if (pdf.empty()) {
    return Fail(
        credd::MakeError(credd::ErrorCode::kNoInput, "empty or unreadable", options.pdf_path));
  }
  credd::DatabaseConfig database_config;
  database_config.url = options.database_url;
  auto database = credd::Database::Open(database_config, log);
  if (!database) return Fail(database.error());
  auto store = (*database)->Connect();
  if (!store) return Fail(store.error());
  credd::Store& conn = **store;
  if (auto migrated = credd::Migrate(conn); !migrated) return Fail(migrated.error());
  credd::InstitutionConfig institution;
  institution.id = "bench-college";
  institution.name_en = "Bench College";
  if (credd::Status s = credd::SyncInstitutions(conn, {institution}); !s) return Fail(s.error());
  auto key = credd::DescribeCertificateFile(options.certificate_path);
  if (!key) return Fail(key.error());
  if (credd::Status s = credd::RegisterSigningKey(conn, *key, true, "bench"); !s) {
    return Fail(s.error());
  }

  // Records, a chunk per transaction.
  const Clock::time_point records_start = Clock::now();
  auto start =
      credd::BeginBatch(conn, {institution.id, credd::Sha256Hex("store_bench"), "bench.csv", "csv",
                               credd::RecordErrorPolicy::kAcceptValid, false,
                               credd::Iso8601Utc(std::chrono::system_clock::now())});
  if (!start) return Fail(start.error());
  for (int first = 1; first <= options.rows; first += options.record_chunk) {
    const int last = std::min(options.rows, first + options.record_chunk - 1);
    credd::ChunkWriter writer(conn, start->batch, "bench", credd::InviteMode::kInvitations);
    for (int i = first; i <= last; ++i) {
      const std::string n = std::to_string(i);
      credd::CredentialRecord record;
      record.line = i + 1;
      record.student_id = "S" + n;
      record.family_name = "Family" + n;
      record.given_names = "Given" + n;
      record.email = "s" + n + "@college.example";
      record.preferred_locale = "en";
      record.credential_type = "diploma";
      record.credential_title = "Diploma in Nursing";
      record.program = "Nursing";
      record.issued_on = "2024-06-14";
      writer.Add(i, record, "bench-college/S" + n + "/diploma", credd::Sha256Hex("content" + n),
                 "{}");
    }
    auto committed = writer.Commit(last, last - first + 1, 0);
    if (!committed) return Fail(committed.error());
  }
  const double records_seconds = Since(records_start);

  // Documents, a claimed chunk per transaction.
  const std::string issued_at = credd::Iso8601Utc(std::chrono::system_clock::now());
  const Clock::time_point documents_start = Clock::now();
  long documents = 0;
  int64_t after = 0;
  for (;;) {
    auto chunk = credd::PendingChunk::Claim(conn, institution.id, options.document_chunk, after);
    if (!chunk) return Fail(chunk.error());
    const auto& credentials = (*chunk)->credentials();
    if (credentials.empty()) break;
    std::vector<credd::NewDocument> made;
    made.reserve(credentials.size());
    for (const credd::PendingCredential& credential : credentials) {
      credd::NewDocument document;
      char public_id[40];
      std::snprintf(public_id, sizeof public_id, "00000000-0000-4000-8000-%012lld",
                    static_cast<long long>(credential.id));
      document.public_id = public_id;
      document.credential = credential.id;
      document.locale = credential.locale;
      document.pdf = pdf + "% bench " + std::to_string(credential.id) + "\n";
      document.sha256 = credd::Sha256Hex(document.pdf);
      document.key_id = key->key_id;
      document.issued_at = issued_at;
      made.push_back(std::move(document));
      after = credential.id;
    }
    auto ids = (*chunk)->Commit(made, "bench");
    if (!ids) return Fail(ids.error());
    documents += static_cast<long>(ids->size());
  }
  const double documents_seconds = Since(documents_start);
  std::printf(
      "rows=%d records_per_s=%.0f documents=%ld documents_per_s=%.0f pdf_bytes=%zu "
      "record_chunk=%d document_chunk=%d\n",
      options.rows, options.rows / records_seconds, documents, documents / documents_seconds,
      pdf.size(), options.record_chunk, options.document_chunk);
  return documents == options.rows ? credd::kExitOk : credd::kExitSoftware;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"store_bench: the store's records/s and documents/s, without render or sign"};
  Options options;
  app.add_option("--database", options.database_url, "conninfo of an empty database")->required();
  app.add_option("--pdf", options.pdf_path, "a signed PDF (sign_bench --save)")
      ->required()
      ->check(CLI::ExistingFile);
  app.add_option("--cert", options.certificate_path, "its signer's certificate chain (PEM)")
      ->required()
      ->check(CLI::ExistingFile);
  app.add_option("--rows", options.rows, "credentials, then documents")
      ->check(CLI::Range(1, 10000000))
      ->capture_default_str();
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    const int code = app.exit(e);
    return code == 0 ? credd::kExitOk : credd::kExitUsage;
  }
  return Run(options);
}
