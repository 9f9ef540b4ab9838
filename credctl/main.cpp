// credctl: the admin CLI. Parses the command line and dispatches to one command function;
// every command runs against the same config and storage code as the daemon.
#include <CLI/CLI.hpp>
#include <iostream>

#include "common/exit_codes.h"
#include "common/log.h"
#include "credctl/commands.h"

int main(int argc, char** argv) {
  CLI::App app{"credctl: administer a credd installation"};
  app.require_subcommand(1);
  app.fallthrough();  // Lets --config come after the command too.
  app.set_version_flag("--version", std::string("credctl ") + CREDD_VERSION);
  credd::ctl::GlobalOptions global;
  app.add_option("--config", global.config_path, "credd configuration file (YAML)")
      ->required()
      ->envname("CREDD_CONFIG");

  auto* check_config = app.add_subcommand("check-config", "report every problem in the config");
  check_config->add_flag("--json", global.json, "print one JSON document");
  auto* migrate = app.add_subcommand("migrate", "apply the embedded database migrations");
  migrate->add_flag("--json", global.json, "print one JSON document");
  auto* status = app.add_subcommand("status", "counts of batches, documents and invitations");
  status->add_flag("--json", global.json, "print one JSON document");

  credd::ctl::ImportOptions import_options;
  auto* import = app.add_subcommand(
      "import", "import one file through the daemon's pipeline (exit 65 if anything is rejected)");
  import->add_option("--institution", import_options.institution, "institution id")->required();
  import->add_option("--format", import_options.format, "csv, pesc or pdf-manifest")
      ->check(CLI::IsMember({"csv", "pesc", "pdf-manifest"}));
  import->add_flag("--dry-run", import_options.dry_run,
                   "parse and validate only; store nothing, no database needed");
  import->add_flag("--json", global.json, "print the report as one JSON document");
  import->add_option("FILE", import_options.file, "file (or folder, for pdf-manifest)")->required();

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    int code = app.exit(e);
    return code == 0 ? credd::kExitOk : credd::kExitUsage;
  }

  // Commands log their progress (embedded cluster start, migrations) to stderr, keeping
  // stdout for the output scripts read.
  credd::Logger log(std::cerr, credd::LogLevel::kWarn);
  if (check_config->parsed()) return credd::ctl::CheckConfigCommand(global, std::cout, std::cerr);
  if (migrate->parsed()) return credd::ctl::MigrateCommand(global, log, std::cout, std::cerr);
  if (import->parsed()) {
    return credd::ctl::ImportCommand(global, import_options, log, std::cout, std::cerr);
  }
  if (status->parsed()) return credd::ctl::StatusCommand(global, log, std::cout, std::cerr);
  return credd::kExitUsage;
}
