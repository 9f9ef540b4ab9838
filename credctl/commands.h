// credctl's commands. Each takes parsed options, writes its human or JSON output to
// `out`, problems to `err`, and returns a sysexits(3) status. main.cpp only parses argv.
#pragma once

#include <istream>
#include <ostream>
#include <string>
#include <vector>

#include "common/log.h"

namespace credd::ctl {

struct GlobalOptions {
  std::string config_path;  // --config FILE
  bool json = false;        // --json: print one JSON document
};

struct ImportOptions {
  std::string institution;  // --institution ID
  std::string format;       // --format; empty = from the file name
  bool dry_run = false;     // --dry-run: parse, validate; no database
  std::string file;         // FILE (a folder for pdf-manifest)
  std::string out_dir;      // --out DIR: also write each signed PDF there
};

struct StaffOptions {
  std::string username;                   // USERNAME (for SSO: the header's value)
  std::string display_name;               // --name "Jane Smith"
  std::string role = "viewer";            // --role viewer|support|registrar
  std::vector<std::string> institutions;  // --institution ID (repeatable)
  bool sso = false;                       // --sso: signs in through the proxy's header
};

int StaffAddCommand(const GlobalOptions& global, const StaffOptions& options,
                    const std::string& actor, Logger& log, std::istream& in, std::ostream& out,
                    std::ostream& err);
int StaffListCommand(const GlobalOptions& global, Logger& log, std::ostream& out,
                     std::ostream& err);
int StaffDisableCommand(const GlobalOptions& global, const std::string& username,
                        const std::string& actor, Logger& log, std::ostream& out,
                        std::ostream& err);

struct AuditOptions {
  std::string institution;  // --institution ID: only that institution's breaks (show: whose)
  std::string anchors;      // --anchors FILE: the anchor lines kept outside the database
  std::string student_id;   // --student-id ID (show)
};

// Walks the whole audit chain, and checks it against the file's last anchor: exit 0 when
// whole, 65 naming the first broken event.
int AuditVerifyCommand(const GlobalOptions& global, const AuditOptions& options, Logger& log,
                       std::ostream& out, std::ostream& err);
// A student's history: the events about them, their credentials, documents, invitations and
// the shares of their documents, oldest first.
int AuditShowCommand(const GlobalOptions& global, const AuditOptions& options, Logger& log,
                     std::ostream& out, std::ostream& err);
// Prints the chain's head as an anchor line (and appends it to --anchors FILE).
int AuditAnchorCommand(const GlobalOptions& global, const AuditOptions& options, Logger& log,
                       std::ostream& out, std::ostream& err);

struct StudentOptions {
  std::string institution;        // --institution ID
  std::string student_id;         // --student-id ID
  std::string email;              // --email ADDR
  std::string kind = "personal";  // --kind institutional|personal (add-email); --to (resend)
  bool primary = false;           // --primary
};

int StudentFindCommand(const GlobalOptions& global, const StudentOptions& options, Logger& log,
                       std::ostream& out, std::ostream& err);
int StudentAddEmailCommand(const GlobalOptions& global, const StudentOptions& options,
                           const std::string& actor, Logger& log, std::ostream& out,
                           std::ostream& err);
int InviteResendCommand(const GlobalOptions& global, const StudentOptions& options,
                        const std::string& actor, Logger& log, std::ostream& out,
                        std::ostream& err);

// "credctl:<login>", for audit events.
std::string CommandActor();

int CheckConfigCommand(const GlobalOptions& global, std::ostream& out, std::ostream& err);
int MigrateCommand(const GlobalOptions& global, Logger& log, std::ostream& out, std::ostream& err);
int ImportCommand(const GlobalOptions& global, const ImportOptions& options, Logger& log,
                  std::ostream& out, std::ostream& err);
int VerifyCommand(const GlobalOptions& global, const std::string& file, Logger& log,
                  std::ostream& out, std::ostream& err);
int DocumentRevokeCommand(const GlobalOptions& global, const std::string& id,
                          const std::string& reason, const std::string& actor, Logger& log,
                          std::ostream& out, std::ostream& err);
int DocumentReissueCommand(const GlobalOptions& global, const std::string& id,
                           const std::string& actor, Logger& log, std::ostream& out,
                           std::ostream& err);
int DocumentExportCommand(const GlobalOptions& global, const std::string& id,
                          const std::string& out_path, Logger& log, std::ostream& out,
                          std::ostream& err);
int KeysListCommand(const GlobalOptions& global, Logger& log, std::ostream& out, std::ostream& err);
int KeysAddCommand(const GlobalOptions& global, const std::string& certificate,
                   const std::string& actor, Logger& log, std::ostream& out, std::ostream& err);
int StatusCommand(const GlobalOptions& global, Logger& log, std::ostream& out, std::ostream& err);
// The newest batches (of one institution, or all), and one batch with its report.
int BatchesListCommand(const GlobalOptions& global, const std::string& institution, int limit,
                       Logger& log, std::ostream& out, std::ostream& err);
int BatchesShowCommand(const GlobalOptions& global, int64_t batch_id, Logger& log,
                       std::ostream& out, std::ostream& err);
// Clears an institution's mail pause (after repeated policy refusals by the relay).
int MailResumeCommand(const GlobalOptions& global, const std::string& institution, Logger& log,
                      std::ostream& out, std::ostream& err);

}  // namespace credd::ctl
