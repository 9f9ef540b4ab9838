// credctl: the admin CLI. Parses the command line and dispatches to one command function;
// every command runs against the same config and storage code as the daemon.
#include <CLI/CLI.hpp>
#include <iostream>

#include "common/exit_codes.h"
#include "common/log.h"
#include "credctl/commands.h"
#include "importers/formats.h"

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
  std::vector<std::string> format_names;
  for (const auto& format : credd::kFormats) format_names.emplace_back(format.name);
  import->add_option("--format", import_options.format, credd::kFormats.List())
      ->check(CLI::IsMember(format_names));
  import->add_flag("--dry-run", import_options.dry_run,
                   "parse and validate only; store nothing, no database needed");
  import->add_flag("--json", global.json, "print the report as one JSON document");
  import->add_option("--out", import_options.out_dir, "also write each signed PDF into DIR");
  import->add_option("FILE", import_options.file, "file (or folder, for pdf-manifest)")->required();

  std::string verify_file;
  auto* verify = app.add_subcommand(
      "verify",
      "is FILE.pdf genuine and current? (exit 0 yes, 1 not genuine, 2 revoked or "
      "superseded)");
  verify->add_option("FILE", verify_file, "a PDF")->required();
  verify->add_flag("--json", global.json, "print one JSON document");

  auto* document = app.add_subcommand("document", "revoke, reissue or export a document");
  document->require_subcommand(1);
  std::string document_id, revoke_reason, export_path;
  auto* revoke = document->add_subcommand("revoke", "revoke a document (it stays verifiable)");
  revoke->add_option("ID", document_id, "document id (number or UUID)")->required();
  revoke->add_option("--reason", revoke_reason, "why, for the record")->required();
  auto* reissue = document->add_subcommand("reissue", "issue a new document for its credential");
  reissue->add_option("ID", document_id, "document id (number or UUID)")->required();
  auto* export_cmd = document->add_subcommand("export", "write a stored document's signed PDF");
  export_cmd->add_option("ID", document_id, "document id (number or UUID)")->required();
  export_cmd->add_option("--out", export_path, "FILE.pdf")->required();

  auto* keys = app.add_subcommand("keys", "signing keys: list, add");
  keys->require_subcommand(1);
  auto* keys_list = keys->add_subcommand("list", "every key documents were signed with");
  keys_list->add_flag("--json", global.json, "print one JSON document");
  std::string key_certificate;
  auto* keys_add = keys->add_subcommand(
      "add", "make a certificate known for verification (the configured key signs)");
  keys_add->add_option("--certificate", key_certificate, "PEM certificate (and chain)")->required();

  credd::ctl::StudentOptions student_options;
  auto* student = app.add_subcommand("student", "find a student, add an email address");
  student->require_subcommand(1);
  auto* find = student->add_subcommand("find", "a student's emails, documents and invitations");
  auto* find_by = find->add_option_group("by");
  find_by->add_option("--student-id", student_options.student_id, "SIS student id");
  find_by->add_option("--email", student_options.email, "an address of the student");
  find_by->require_option(1);
  find->add_option("--institution", student_options.institution, "institution id");
  find->add_flag("--json", global.json, "print one JSON document");
  auto* add_email = student->add_subcommand("add-email", "add (or reactivate) an address");
  add_email->add_option("--institution", student_options.institution, "institution id")->required();
  add_email->add_option("--student-id", student_options.student_id, "SIS student id")->required();
  add_email->add_option("--email", student_options.email, "the address")->required();
  add_email->add_option("--kind", student_options.kind, "institutional or personal")
      ->check(CLI::IsMember({"institutional", "personal"}));
  add_email->add_flag("--primary", student_options.primary, "make it the primary address");

  auto* invite = app.add_subcommand("invite", "activation invitations");
  invite->require_subcommand(1);
  auto* resend = invite->add_subcommand("resend", "send a new invitation (a new link)");
  resend->add_option("--institution", student_options.institution, "institution id")->required();
  resend->add_option("--student-id", student_options.student_id, "SIS student id")->required();
  std::string resend_to;
  resend->add_option("--to", resend_to, "personal: to the personal address")
      ->check(CLI::IsMember({"personal"}));

  auto* batches = app.add_subcommand("batches", "the files credd has taken, and their reports");
  batches->require_subcommand(1);
  auto* batches_list = batches->add_subcommand("list", "the newest batches first");
  batches_list->add_flag("--json", global.json, "print one JSON document");
  std::string batches_institution;
  int batches_limit = 50;
  batches_list->add_option("--institution", batches_institution, "only this institution");
  batches_list->add_option("--limit", batches_limit, "at most this many (default 50)")
      ->check(CLI::Range(1, 10000));
  auto* batches_show = batches->add_subcommand("show", "one batch with its report");
  batches_show->add_flag("--json", global.json, "print one JSON document");
  int64_t batch_id = 0;
  batches_show->add_option("ID", batch_id, "batch id")->required();

  credd::ctl::AuditOptions audit_options;
  auto* audit = app.add_subcommand("audit", "the tamper-evident history: verify, anchor");
  audit->require_subcommand(1);
  auto* audit_verify = audit->add_subcommand(
      "verify", "walk the hash chain (exit 0 whole, 65 naming the first broken event)");
  audit_verify->add_option("--institution", audit_options.institution,
                           "report only this institution's breaks");
  audit_verify->add_option(
      "--anchors", audit_options.anchors,
      "check against the last anchor line of FILE (default: audit.anchors_file)");
  audit_verify->add_flag("--json", global.json, "print one JSON document");
  auto* audit_show = audit->add_subcommand(
      "show", "a student's history: them, their documents, invitations and shares");
  audit_show->add_option("--institution", audit_options.institution, "institution id")->required();
  audit_show->add_option("--student-id", audit_options.student_id, "SIS student id")->required();
  audit_show->add_flag("--json", global.json, "print one JSON document");
  auto* audit_anchor = audit->add_subcommand(
      "anchor", "print the chain's head as an anchor line, to keep outside the database");
  audit_anchor->add_option("--anchors", audit_options.anchors,
                           "also append it to FILE (default: audit.anchors_file)");

  credd::ctl::StaffOptions staff_options;
  auto* staff = app.add_subcommand("staff", "the members of staff who use the desk (/desk)");
  staff->require_subcommand(1);
  auto* staff_add = staff->add_subcommand(
      "add", "add a member of staff; a local account's password is read from standard input");
  staff_add
      ->add_option("USERNAME", staff_options.username,
                   "sign-in name (for --sso: the value of staff.sso_header)")
      ->required();
  staff_add->add_option("--name", staff_options.display_name, "the name the desk shows");
  staff_add->add_option("--role", staff_options.role, "viewer, support or registrar")
      ->required()
      ->check(CLI::IsMember({"viewer", "support", "registrar"}));
  staff_add
      ->add_option("--institution", staff_options.institutions,
                   "an institution they serve (repeat for several)")
      ->required();
  staff_add->add_flag("--sso", staff_options.sso, "signs in through the proxy's SSO header");
  auto* staff_list = staff->add_subcommand("list", "every member of staff");
  staff_list->add_flag("--json", global.json, "print one JSON document");
  auto* staff_disable =
      staff->add_subcommand("disable", "stop a member of staff signing in; ends their sessions");
  std::string disable_username;
  staff_disable->add_option("USERNAME", disable_username, "sign-in name")->required();

  auto* mail = app.add_subcommand("mail", "the mail queue: resume paused sending");
  mail->require_subcommand(1);
  auto* mail_resume =
      mail->add_subcommand("resume", "resume an institution's sending after a pause");
  std::string mail_institution;
  mail_resume->add_option("--institution", mail_institution, "institution id")->required();

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
  if (verify->parsed()) {
    return credd::ctl::VerifyCommand(global, verify_file, log, std::cout, std::cerr);
  }
  const std::string actor = credd::ctl::CommandActor();
  if (revoke->parsed()) {
    return credd::ctl::DocumentRevokeCommand(global, document_id, revoke_reason, actor, log,
                                             std::cout, std::cerr);
  }
  if (reissue->parsed()) {
    return credd::ctl::DocumentReissueCommand(global, document_id, actor, log, std::cout,
                                              std::cerr);
  }
  if (export_cmd->parsed()) {
    return credd::ctl::DocumentExportCommand(global, document_id, export_path, log, std::cout,
                                             std::cerr);
  }
  if (find->parsed()) {
    return credd::ctl::StudentFindCommand(global, student_options, log, std::cout, std::cerr);
  }
  if (add_email->parsed()) {
    return credd::ctl::StudentAddEmailCommand(global, student_options, actor, log, std::cout,
                                              std::cerr);
  }
  if (resend->parsed()) {
    student_options.kind = resend_to;
    return credd::ctl::InviteResendCommand(global, student_options, actor, log, std::cout,
                                           std::cerr);
  }
  if (keys_list->parsed()) return credd::ctl::KeysListCommand(global, log, std::cout, std::cerr);
  if (keys_add->parsed()) {
    return credd::ctl::KeysAddCommand(global, key_certificate, actor, log, std::cout, std::cerr);
  }
  if (status->parsed()) return credd::ctl::StatusCommand(global, log, std::cout, std::cerr);
  if (batches_list->parsed()) {
    return credd::ctl::BatchesListCommand(global, batches_institution, batches_limit, log,
                                          std::cout, std::cerr);
  }
  if (batches_show->parsed()) {
    return credd::ctl::BatchesShowCommand(global, batch_id, log, std::cout, std::cerr);
  }
  if (audit_verify->parsed()) {
    return credd::ctl::AuditVerifyCommand(global, audit_options, log, std::cout, std::cerr);
  }
  if (audit_show->parsed()) {
    return credd::ctl::AuditShowCommand(global, audit_options, log, std::cout, std::cerr);
  }
  if (audit_anchor->parsed()) {
    return credd::ctl::AuditAnchorCommand(global, audit_options, log, std::cout, std::cerr);
  }
  if (staff_add->parsed()) {
    return credd::ctl::StaffAddCommand(global, staff_options, actor, log, std::cin, std::cout,
                                       std::cerr);
  }
  if (staff_list->parsed()) return credd::ctl::StaffListCommand(global, log, std::cout, std::cerr);
  if (staff_disable->parsed()) {
    return credd::ctl::StaffDisableCommand(global, disable_username, actor, log, std::cout,
                                           std::cerr);
  }
  if (mail_resume->parsed()) {
    return credd::ctl::MailResumeCommand(global, mail_institution, log, std::cout, std::cerr);
  }
  return credd::kExitUsage;
}
