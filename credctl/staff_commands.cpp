// credctl staff: the members of staff who may use the desk (/desk).
#include <iostream>
#include <nlohmann/json.hpp>

#include "common/clock.h"
#include "common/exit_codes.h"
#include "common/time_format.h"
#include "credctl/commands.h"
#include "credctl/session.h"
#include "daemon/accounts/passwords.h"
#include "daemon/store/staff_store.h"

namespace credd::ctl {

namespace {

nlohmann::json StaffJson(const StaffRow& s) {
  return {{"username", s.username},           {"display_name", s.display_name},
          {"kind", kStaffKinds.Name(s.kind)}, {"role", kStaffRoles.Name(s.role)},
          {"institutions", s.institutions},   {"disabled", s.disabled},
          {"created_at", s.created_at}};
}

}  // namespace

// Adds a member of staff. A local account's password is the first line of standard input
// (never an argument, which other users can read in the process list).
int StaffAddCommand(const GlobalOptions& global, const StaffOptions& options,
                    const std::string& actor, Logger& log, std::istream& in, std::ostream& out,
                    std::ostream& err) {
  auto c = OpenSession(global, log, err);
  if (!c) return Fail(c.error(), err);
  for (const std::string& institution : options.institutions) {
    if (c->config.FindInstitution(institution) == nullptr) {
      err << "credctl: --institution " << institution << ": no such institution in "
          << global.config_path << "\n";
      return kExitUsage;
    }
  }
  StaffRow staff;
  staff.username = options.username;
  staff.display_name = options.display_name;
  staff.kind = options.sso ? StaffKind::kSso : StaffKind::kLocal;
  staff.role = *kStaffRoles.Parse(options.role);
  staff.institutions = options.institutions;
  if (!options.sso) {
    std::string password;
    std::getline(in, password);
    if (!password.empty() && password.back() == '\r') password.pop_back();
    auto policy = accounts::PasswordPolicy::Load(c->config.accounts.common_passwords);
    if (!policy) return Fail(policy.error(), err);
    const accounts::PasswordProblem problem = policy->Check(password, {options.username, "credd"});
    if (problem != accounts::PasswordProblem::kNone) {
      err << "credctl: the password (standard input): "
          << accounts::PasswordProblemText(problem, "en") << "\n";
      return kExitDataError;
    }
    auto hash = accounts::HashPassword(password);
    if (!hash) return Fail(hash.error(), err);
    staff.password_hash = *hash;
  }
  if (Status added = AddStaff(*c->conn, staff, actor); !added) return Fail(added.error(), err);
  out << "added " << kStaffKinds.Name(staff.kind) << " staff " << staff.username << " ("
      << options.role << ")\n";
  return kExitOk;
}

int StaffListCommand(const GlobalOptions& global, Logger& log, std::ostream& out,
                     std::ostream& err) {
  auto c = OpenSession(global, log, err);
  if (!c) return Fail(c.error(), err);
  auto staff = ListStaff(*c->conn);
  if (!staff) return Fail(staff.error(), err);
  if (global.json) {
    nlohmann::json list = nlohmann::json::array();
    for (const StaffRow& s : *staff) list.push_back(StaffJson(s));
    out << nlohmann::json{{"staff", list}}.dump(2) << "\n";
    return kExitOk;
  }
  for (const StaffRow& s : *staff) {
    out << s.username << " " << kStaffKinds.Name(s.kind) << " " << kStaffRoles.Name(s.role);
    for (const std::string& i : s.institutions) out << " " << i;
    out << (s.disabled ? " (disabled)" : "") << "\n";
  }
  return kExitOk;
}

int StaffDisableCommand(const GlobalOptions& global, const std::string& username,
                        const std::string& actor, Logger& log, std::ostream& out,
                        std::ostream& err) {
  auto c = OpenSession(global, log, err);
  if (!c) return Fail(c.error(), err);
  if (Status done = DisableStaff(*c->conn, username, Iso8601UtcMicros(SystemClock().Now()), actor);
      !done) {
    return Fail(done.error(), err);
  }
  out << "disabled " << username << "; their sessions ended\n";
  return kExitOk;
}

}  // namespace credd::ctl
