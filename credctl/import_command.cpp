#include <pwd.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <iostream>
#include <optional>

#include "common/exit_codes.h"
#include "common/file_name.h"
#include "common/folder.h"
#include "common/sha256.h"
#include "credctl/commands.h"
#include "daemon/config/config.h"
#include "daemon/pipeline/batch_processor.h"
#include "daemon/pipeline/document_issuer.h"
#include "daemon/pipeline/issuing_pipeline.h"
#include "daemon/pipeline/record_identity.h"
#include "daemon/pipeline/signing_setup.h"
#include "daemon/store/document_store.h"
#include "daemon/store/institutions.h"
#include "daemon/store/migrations.h"
#include "importers/importer.h"

namespace credd::ctl {
namespace {

int Fail(const Error& error, std::ostream& err) {
  err << "credctl: " << error.ToString() << "\n";
  return error.ExitCode();
}

// A folder (pdf-manifest) has no single content hash: it is the hash of its sorted entries'
// names and content hashes, so the same PDFs and manifest give the same batch identity.
Result<std::string> Sha256OfFolder(const std::string& path) {
  auto names = ListFolder(path);
  if (!names) return MakeError(ErrorCode::kNoInput, "cannot list the folder", path);
  std::string listing;
  for (const std::string& name : *names) {
    struct stat st {};
    std::string entry_path = path + "/" + name;
    if (::lstat(entry_path.c_str(), &st) != 0 || !S_ISREG(st.st_mode)) continue;
    auto hash = Sha256OfFile(entry_path);
    if (!hash) return hash.error();
    listing += name + '\0' + *hash + '\n';
  }
  return Sha256Hex(listing);
}

std::string BaseName(const std::string& path) {
  std::string trimmed = path;
  while (trimmed.size() > 1 && trimmed.back() == '/') trimmed.pop_back();
  auto slash = trimmed.rfind('/');
  return slash == std::string::npos ? trimmed : trimmed.substr(slash + 1);
}

Status WriteFile(const std::string& path, const std::string& bytes);
std::string PdfName(const std::string& student_id, const std::string& kind,
                    const std::string& document_id);

// Writes the active documents of a batch's credentials into `dir`.
Status ExportBatch(Store& store, int64_t batch_id, const std::string& dir) {
  return VisitBatchDocuments(store, batch_id, [&](const ExportedDocument& document) {
    return WriteFile(dir + "/" + PdfName(document.student_id, document.kind, document.public_id),
                     document.pdf);
  });
}

Status WriteFile(const std::string& path, const std::string& bytes) {
  std::ofstream file(path, std::ios::binary | std::ios::trunc);
  file.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
  file.close();
  if (!file) return MakeError(ErrorCode::kIo, "cannot write the file", path);
  return Status::Ok();
}

// "<student_id>-<kind>-<document id>.pdf": sorts by student, never collides.
std::string PdfName(const std::string& student_id, const std::string& kind,
                    const std::string& document_id) {
  return student_id + "-" + kind + "-" + document_id + ".pdf";
}

}  // namespace

std::string CommandActor() {
  const passwd* pw = ::getpwuid(::getuid());
  return std::string("credctl:") + (pw != nullptr ? pw->pw_name : std::to_string(::getuid()));
}

int ImportCommand(const GlobalOptions& global, const ImportOptions& options, Logger& log,
                  std::ostream& out, std::ostream& err) {
  std::vector<ConfigProblem> problems;
  Result<Config> config = LoadConfigFile(global.config_path, &problems);
  if (!config.ok() || !problems.empty()) {
    for (const ConfigProblem& p : problems)
      err << global.config_path << ": " << p.ToString() << "\n";
    return kExitConfig;
  }
  const InstitutionConfig* institution = nullptr;
  std::string known;
  for (const InstitutionConfig& candidate : config->institutions) {
    if (candidate.id == options.institution) institution = &candidate;
    known += (known.empty() ? "" : ", ") + candidate.id;
  }
  if (institution == nullptr) {
    err << "credctl: unknown institution '" << options.institution << "' (configured: " << known
        << ")\n";
    return kExitUsage;
  }

  struct stat st {};
  if (::stat(options.file.c_str(), &st) != 0) {
    err << "credctl: " << options.file << ": no such file\n";
    return kExitNoInput;
  }
  ProcessInput input;
  input.institution = institution;
  input.path = options.file;
  input.display_name = NameAsText(BaseName(options.file));  // Bytes on disk, text in reports.
  if (!options.format.empty()) {
    auto format = ParseFormat(options.format);
    if (!format) return Fail(format.error(), err);
    input.format = *format;
  } else if (S_ISDIR(st.st_mode)) {
    input.format = Format::kPdfManifest;
  } else {
    auto format = FormatForFileName(input.display_name);
    if (!format) return Fail(format.error(), err);
    input.format = *format;
  }
  auto sha256 = S_ISDIR(st.st_mode) ? Sha256OfFolder(options.file) : Sha256OfFile(options.file);
  if (!sha256) return Fail(sha256.error(), err);
  input.sha256 = *sha256;

  if (!options.out_dir.empty()) {
    // A folder that does not exist yet is made (with its parents), as `mkdir -p` would.
    std::error_code ec;
    std::filesystem::create_directories(options.out_dir, ec);
    if (ec || !std::filesystem::is_directory(options.out_dir)) {
      return Fail(MakeError(ErrorCode::kIo,
                            "cannot make the --out folder: " +
                                (ec ? ec.message() : std::string("not a folder")),
                            options.out_dir),
                  err);
    }
  }
  // Rendering and signing, as the daemon does them; without signing.key, records are
  // still checked against the document fonts and no PDF is made.
  auto setup = LoadSigningSetup(*config, CREDD_TEMPLATES_DIR);
  if (!setup) return Fail(setup.error(), err);
  if (!options.out_dir.empty() && !setup->key) {
    err << "credctl: --out needs signing.key in " << global.config_path << "\n";
    return kExitConfig;
  }
  IssuerOptions issuer_options = IssuerOptionsFor(*setup, CommandActor());
  std::optional<DocumentIssuer> issuer;
  if (setup->key) issuer.emplace(log, *setup->renderer, *setup->key, issuer_options);

  ProcessOptions process;
  process.actor = CommandActor();
  process.renderer = setup->renderer.get();
  Result<BatchReport> report = MakeError(ErrorCode::kInternal, "not run");
  std::unique_ptr<Database> database;
  if (options.dry_run) {
    int written = 0;
    if (issuer) {
      process.on_accepted = [&](const CredentialRecord& record) -> Status {
        std::string ref = input.display_name + ":" + std::to_string(record.line);
        auto doc =
            issuer->Issue(*institution, record, record.preferred_locale, record.pdf_bytes, ref);
        if (!doc) return doc.error();
        ++written;
        if (options.out_dir.empty()) return Status::Ok();
        return WriteFile(options.out_dir + "/" +
                             PdfName(record.student_id, record.credential_type, doc->public_id),
                         doc->pdf);
      };
    }
    BatchProcessor processor(nullptr, log, process);
    report = processor.DryRun(input);
    if (report && issuer) {
      log.Info("import.dry_run_signed", {{"documents", std::to_string(written)}});
    }
  } else {
    auto opened = Database::Open(config->database, log);
    if (!opened) return Fail(opened.error(), err);
    database = std::move(opened).value();
    auto conn = database->Connect();
    if (!conn) return Fail(conn.error(), err);
    if (Status s = CheckSchemaVersion(**conn); !s) return Fail(s.error(), err);
    if (Status s = SyncInstitutions(**conn, config->institutions); !s) return Fail(s.error(), err);
    if (setup->key) {
      if (Status s = RegisterActiveKey(**conn, *config, *setup->key, CommandActor()); !s) {
        return Fail(s.error(), err);
      }
    }
    BatchProcessor processor(database.get(), log, process);
    report = processor.Process(input);
    if (report && issuer) {
      // The daemon's pipeline: a pool of workers, each with its own renderer and key.
      auto setups =
          LoadWorkerSetups([](const Config& c) { return LoadSigningSetup(c, CREDD_TEMPLATES_DIR); },
                           *config, config->issuing.workers);
      if (!setups) return Fail(setups.error(), err);
      IssuingOptions issuing_options;
      issuing_options.chunk_size = config->issuing.chunk_size;
      issuing_options.actor = CommandActor();
      IssuingPipeline issuing(log, std::move(setups).value(), issuing_options);
      auto issued = issuing.IssuePending(*database, *institution);
      if (!issued) return Fail(issued.error(), err);
      if (!options.out_dir.empty()) {
        if (Status s = ExportBatch(**conn,
                                   report->batch_id != 0 && report->duplicate_of != 0
                                       ? report->duplicate_of
                                       : report->batch_id,
                                   options.out_dir);
            !s) {
          return Fail(s.error(), err);
        }
      }
    }
  }
  if (!report) return Fail(report.error(), err);

  if (global.json) {
    out << ReportJson(*report).dump(2, ' ', false, nlohmann::json::error_handler_t::replace)
        << "\n";
  } else {
    out << ReportText(*report);
  }
  bool rejected = report->status == BatchStatus::kRejected || report->counts.rejected > 0;
  return rejected ? kExitDataError : kExitOk;
}

}  // namespace credd::ctl
