#include <dirent.h>
#include <pwd.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <iostream>

#include "common/exit_codes.h"
#include "credctl/commands.h"
#include "daemon/config/config.h"
#include "daemon/pipeline/batch_processor.h"
#include "daemon/pipeline/record_identity.h"
#include "daemon/store/institutions.h"
#include "daemon/store/migrations.h"
#include "importers/importer.h"

namespace credd::ctl {
namespace {

int Fail(const Error& error, std::ostream& err) {
  err << "credctl: " << error.ToString() << "\n";
  return error.ExitCode();
}

std::string Actor() {
  const passwd* pw = ::getpwuid(::getuid());
  return std::string("credctl:") + (pw != nullptr ? pw->pw_name : std::to_string(::getuid()));
}

// A folder (pdf-manifest) has no single content hash: it is the hash of its sorted entries'
// names and content hashes, so the same PDFs and manifest give the same batch identity.
Result<std::string> Sha256OfFolder(const std::string& path) {
  DIR* dir = ::opendir(path.c_str());
  if (dir == nullptr) return MakeError(ErrorCode::kNoInput, "cannot list the folder", path);
  std::vector<std::string> names;
  while (dirent* entry = ::readdir(dir)) {
    std::string name = entry->d_name;
    if (name != "." && name != "..") names.push_back(name);
  }
  ::closedir(dir);
  std::sort(names.begin(), names.end());
  std::string listing;
  for (const std::string& name : names) {
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

}  // namespace

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
  input.display_name = BaseName(options.file);
  if (!options.format.empty()) {
    input.format = options.format;
  } else if (S_ISDIR(st.st_mode)) {
    input.format = "pdf-manifest";
  } else {
    auto format = FormatForFileName(input.display_name);
    if (!format) return Fail(format.error(), err);
    input.format = *format;
  }
  if (auto entry = FindImporter(input.format); !entry) return Fail(entry.error(), err);
  auto sha256 = S_ISDIR(st.st_mode) ? Sha256OfFolder(options.file) : Sha256OfFile(options.file);
  if (!sha256) return Fail(sha256.error(), err);
  input.sha256 = *sha256;

  ProcessOptions process;
  process.actor = Actor();
  Result<BatchReport> report = MakeError(ErrorCode::kInternal, "not run");
  std::unique_ptr<Database> database;
  if (options.dry_run) {
    BatchProcessor processor(nullptr, log, process);
    report = processor.DryRun(input);
  } else {
    auto opened = Database::Open(config->database, log);
    if (!opened) return Fail(opened.error(), err);
    database = std::move(opened).value();
    auto conn = database->Connect();
    if (!conn) return Fail(conn.error(), err);
    if (Status s = CheckSchemaVersion(**conn); !s) return Fail(s.error(), err);
    if (Status s = SyncInstitutions(**conn, config->institutions); !s) return Fail(s.error(), err);
    BatchProcessor processor(database.get(), log, process);
    report = processor.Process(input);
  }
  if (!report) return Fail(report.error(), err);

  if (global.json) {
    out << ReportJson(*report).dump(2) << "\n";
  } else {
    out << ReportText(*report);
  }
  bool rejected = report->status == "rejected" || report->counts.rejected > 0;
  return rejected ? kExitDataError : kExitOk;
}

}  // namespace credd::ctl
