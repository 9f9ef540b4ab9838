// The whole configuration of credd and credctl: one struct, loaded from one YAML file.
// Every field has a default and a one-line comment; config/credd.example.yaml lists every
// key with the same defaults and says which ones SIGHUP reloads.
// Thread contract: plain values; the daemon swaps whole Config objects on reload.
#pragma once

#include <chrono>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/enum_table.h"
#include "common/log.h"
#include "common/result.h"
#include "common/yaml_problem.h"
#include "importers/formats.h"
#include "importers/import_options.h"

namespace credd {

// One problem found while loading or validating, named by its key path
// ("institutions[1].drop_dir: no such directory").
// One problem in credd.yaml: its key path, what is wrong, and its line.
using ConfigProblem = YamlProblem;

// A secret (password) is never written in the config itself: it is read from a file
// (first line, trailing newline removed) or from an environment variable.
struct SecretSource {
  std::string file;  // Path of a file holding the secret; must not be group/world-readable.
  std::string env;   // Name of an environment variable holding the secret.

  bool empty() const { return file.empty() && env.empty(); }
  bool operator==(const SecretSource&) const = default;
  // Reads the secret (a file's first line); an empty source yields an empty string.
  Result<std::string> Read() const;
  // Reads the whole secret, every line (the admin API's "label:token" lines).
  Result<std::string> ReadAll() const;
};

struct EmbeddedDatabaseConfig {
  std::string data_dir;     // Folder for a private PostgreSQL cluster; empty = not embedded.
  std::string bin_dir;      // Folder holding initdb/pg_ctl; empty = found via pg_config.
  std::string run_as_user;  // OS user the server runs as when credd runs as root ("postgres").

  bool operator==(const EmbeddedDatabaseConfig&) const = default;
};

struct DatabaseConfig {
  std::string url;                   // libpq URI/conninfo of an external server; or use embedded.
  SecretSource password;             // Password for url (password_file / password_env).
  EmbeddedDatabaseConfig embedded;   // Private cluster, used when url is empty.
  int connect_timeout_seconds = 10;  // libpq connect_timeout.
};

struct SmtpConfig {
  std::string host = "localhost";  // Relay host name (verified against its certificate).
  int port = 587;                  // 587 for STARTTLS, 465 for implicit TLS, 25 for none.
  std::string tls = "starttls";    // "starttls" (required), "implicit" or "none".
  std::string username;            // AUTH user; empty = no AUTH.
  SecretSource password;           // AUTH password (password_file / password_env).
  std::string ca_file;             // Extra CA bundle for the relay; empty = system store.
  int timeout_seconds = 30;        // Per-command timeout.
};

// At most `messages` emails in any `seconds`-long window (e.g. 30 per 60 s).
struct RateLimit {
  int messages = 0;
  int seconds = 0;
};

struct MailConfig {
  std::string transport = "maildir";   // "smtp" or "maildir".
  std::string maildir = "mail";        // Maildir folder for transport=maildir.
  SmtpConfig smtp;                     // Relay settings for transport=smtp.
  std::vector<RateLimit> rate_limits;  // Across all institutions; empty = none.
  int retry_initial_seconds = 60;      // First retry after a 4xx or connection failure ...
  int retry_max_seconds = 3600;        // ... doubling up to this.
  int scheduler_seconds = 10;          // How often due invitations are looked for.
  // How long a claimed email is reserved for the process sending it; past that another
  // credd (or this one, restarted) may take it over and send it again.
  int lease_seconds = 300;
};

// When and how an institution's invitations go out.
struct InvitationConfig {
  bool enabled = true;          // false: credentials and documents only, no emails.
  std::string activation_url =  // Must contain {token}.
      "https://wallet.example.ca/activate?token={token}";
  bool activation_url_set = false;  // Given in the file (else http.public_url may set it).
  // credd's own activation page, where the invitation's access code is typed with the
  // address: set (with the default activation_url) from http.public_url. Not a key; empty
  // when activation is an outside wallet's, and then emails carry no access code.
  std::string access_code_url;
  std::string portfolio_url = "https://wallet.example.ca/";  // In notices.
  bool portfolio_url_set = false;            // Given in the file (else it follows activation_url).
  std::string from_address;                  // Required when enabled ("registrar@college.ca").
  std::string from_name;                     // Display name ("Registrar / Registraire").
  std::string reply_to;                      // Optional address for replies.
  int expiry_days = 30;                      // A token expires this long after it is sent.
  std::vector<int> reminder_days = {7, 21};  // Reminders, days after the first send.
  bool notices = true;  // Tell students who already activated about new documents.
  // Sending window, in the institution's time zone.
  std::vector<std::string> days = {"mon", "tue", "wed", "thu", "fri"};
  std::string window_start = "09:00";         // HH:MM local.
  std::string window_end = "17:00";           // HH:MM local, after window_start.
  std::string time_zone = "America/Toronto";  // IANA name.
  std::vector<std::string> blackout_dates;    // YYYY-MM-DD local dates with no sending.
  std::vector<RateLimit> rate_limits = {{30, 60}, {10000, 86400}};  // This institution's.
};

struct SigningConfig {
  std::string key;          // PEM/PKCS#12 key file or pkcs11: URI; empty = documents unsigned.
  std::string certificate;  // PEM certificate (leaf first, then the chain) matching key.
  SecretSource passphrase;  // For an encrypted key file or PKCS#12 bundle (passphrase_file/_env).
  SecretSource pin;         // PKCS#11 user PIN (pin_file / pin_env).
  std::string tsa_url;      // RFC 3161 timestamp authority (http/https); empty = PAdES B-B only.
};

// How documents are issued: a pool of workers renders and signs pending credentials, a
// chunk at a time (see daemon/pipeline/issuing_pipeline.h).
struct IssuingConfig {
  int workers = 0;      // Render-and-sign workers; 0 = one per core.
  int chunk_size = 64;  // Credentials claimed, signed and stored in one transaction.
};

struct HttpConfig {
  std::string listen = "127.0.0.1:8480";  // host:port for health, metrics, pages and API.
  // The origin people see ("https://credentials.example-college.ca"); when set, the default
  // verification URL printed on documents is {public_url}/verify/{document_id}.
  std::string public_url;
  std::vector<std::string> trusted_proxies;  // Addresses or networks believed in X-Forwarded-*.
  struct Tls {
    std::string certificate;  // PEM chain; with key, credd serves HTTPS itself.
    std::string key;          // PEM private key (not group/world-readable).
    bool operator==(const Tls&) const = default;
  };
  Tls tls;
  int threads = 4;                      // Handler threads, each with a database connection.
  int max_connections = 512;            // Open connections in all.
  int max_connections_per_client = 32;  // Per client address (trusted proxies exempt).
  int requests_per_minute = 600;        // Per client address; 0 = no limit.
  int header_timeout_seconds = 10;      // A request's whole header must arrive within this.
  int idle_timeout_seconds = 15;        // Keep-alive connections wait this long for the next.
  // Bearer tokens for the admin API: one "label:token" per line (admin_token_file / _env).
  SecretSource admin_token;
  bool operator==(const HttpConfig&) const = default;
};

// What one bad record does to its file; the names are the config's and batches.error_policy's.
enum class RecordErrorPolicy { kAcceptValid, kRejectFile };
inline constexpr EnumTable<RecordErrorPolicy, 2> kRecordErrorPolicies{{{
    {RecordErrorPolicy::kAcceptValid, "accept_valid"},  // Store the good records, report the bad.
    {RecordErrorPolicy::kRejectFile, "reject_file"},    // One bad record rejects the whole file.
}}};

struct InstitutionConfig {
  std::string id;                     // Stable identifier; names the drop folder. Required.
  std::string name_en;                // Institution name in English.
  std::string name_fr;                // Institution name in French.
  std::string drop_dir;               // Override of drop_root/<id>; must exist when set.
  std::string default_locale = "en";  // "en" or "fr", for students without a preference.
  std::vector<Format> formats = {Format::kCsv, Format::kPesc, Format::kPdfManifest};  // Accepted.
  RecordErrorPolicy on_record_error = RecordErrorPolicy::kAcceptValid;
  CsvOptions csv;  // CSV dialect and column mapping (the CSV importer's own options).

  // What the documents show (templates/ holds the layouts; these are the institution's).
  struct Signatory {
    std::string name;      // "Dr. Jane Smith".
    std::string title_en;  // "Registrar".
    std::string title_fr;  // "Registraire".
  };
  std::string logo;                       // PNG file drawn in the header; empty = none.
  std::string primary_color = "#1f3a5f";  // Headings and rules, #rrggbb.
  std::string verification_url =          // Printed on every document.
      "https://credentials.example.edu/verify/{document_id}";
  bool verification_url_set = false;   // Given in the file (else http.public_url may set it).
  std::vector<Signatory> signatories;  // Signature lines on diplomas.
  std::vector<std::string> grading_legend_en;  // One line per grade on transcripts.
  std::vector<std::string> grading_legend_fr;

  InvitationConfig invitations;  // Activation invitations, reminders and notices.

  // How its students sign in: "email" (the address and a password set at activation) or
  // "sso" (the institution's single sign-on, through a reverse proxy that authenticates and
  // passes the verified address in sso_header).
  std::string login_method = "email";
  std::string
      sso_header;  // Required for sso ("OIDC_CLAIM_email", "eppn"); from trusted proxies only.
  std::string sso_login_url;  // Where the proxy starts the sign-on ("/sso/college-a/login").
  // Whom students ask for paper copies and about a document's content (shown on the pages).
  std::string contact_email;
  std::string contact_url;
};

// Student accounts and sharing (the pages under /activate, /signin, /documents, /shares).
struct AccountsConfig {
  int session_idle_minutes = 30;    // A session unused this long ends.
  int session_absolute_hours = 12;  // A session ends this long after sign-in, used or not.
  int share_default_days = 30;      // A share's expiry unless the student chooses.
  int share_max_days = 180;         // The longest a student may choose.
  int reset_minutes = 30;           // A password-reset link works this long.
  int confirm_hours = 48;           // An added address's confirmation link works this long.
  int access_code_tries = 5;        // Wrong access codes before the code is void.
  int sign_in_failures = 10;        // Wrong passwords per account, per window, before a pause.
  int sign_in_window_minutes = 15;  // The window (and the pause).
  int sign_in_per_client_per_minute = 20;  // Sign-in, activation and reset POSTs per address.
  // NIST SP 800-63B's list of passwords known to be common (john-data's); empty = none.
  std::string common_passwords = "/usr/share/john/password.lst";
  bool operator==(const AccountsConfig&) const = default;
};

// Registrar staff's desk (/desk).
struct StaffConfig {
  // The trusted proxy's header naming a member of staff signed in by SSO; empty = local
  // accounts only.
  std::string sso_header;
  std::string sso_login_url;  // Where the proxy starts the staff sign-on.
  bool operator==(const StaffConfig&) const = default;
};

// The audit chain's anchors: its head recorded outside the database (docs/operations.md).
struct AuditConfig {
  // File credd appends an anchor line to; empty = the line is only logged.
  std::string anchors_file;
  int anchor_hours = 24;  // How often an anchor is taken, 1-168.
  bool operator==(const AuditConfig&) const = default;
};

struct Config {
  std::string source_path;               // The file this was loaded from (not a YAML key).
  DatabaseConfig database;               // Where state lives.
  std::string drop_root;                 // Root of the per-institution drop folders. Required.
  int rescan_seconds = 30;               // Full rescan period (network shares, inotify overflow).
  int settle_seconds = 5;                // A rescan-found file must be stable this long.
  LogLevel log_level = LogLevel::kInfo;  // Minimum level logged ("log_level").
  MailConfig mail;                       // Outgoing mail.
  SigningConfig signing;                 // Document signing key.
  IssuingConfig issuing;                 // Workers and chunks for issuing documents.
  std::string templates_dir;  // Document layouts; empty = the templates installed with credd.
  HttpConfig http;            // HTTP endpoints.
  AccountsConfig accounts;    // Student accounts and sharing.
  StaffConfig staff;          // The staff desk.
  AuditConfig audit;          // The audit chain's anchors.
  std::vector<InstitutionConfig> institutions;  // At least one.

  // The institution's drop folder (drop_dir, or drop_root/<id>).
  std::string DropDirFor(const InstitutionConfig& institution) const;
  // The institution with this id; null when the config has none.
  const InstitutionConfig* FindInstitution(const std::string& id) const;
};

// The keys SIGHUP cannot change in a running daemon; every other key takes effect on reload.
// This is the one list: the daemon's reload keeps these at their running values (and says
// so), and config_test checks that config/credd.example.yaml states the same for every key.
// A key covers the keys below it and its _file/_env forms ("database.password" covers
// database.password_file).
struct RestartOnlyKey {
  std::string_view key;
  std::function<bool(const Config& running, const Config& next)> changed;
  std::function<void(Config& next, const Config& running)> keep;  // Puts the running value back.
};
const std::vector<RestartOnlyKey>& RestartOnlyKeys();

// Whether a key path ("mail.smtp.port", "database", "institutions.csv.encoding") needs a
// restart: it is, or is under, a restart-only key, or it is a section holding them.
bool NeedsRestart(std::string_view key_path);

// Parses YAML text. Every problem is collected in one pass (unknown keys, wrong types,
// out-of-range values, missing required keys, a YAML syntax error with its line); the
// result is an error (kConfig) only when problems exist, and then `problems` holds all of
// them. Problems are appended; a null `problems` is allowed.
//
// Relative paths are resolved against base_dir (the config file's folder, made absolute),
// so the daemon behaves the same whatever folder it starts in: database.embedded.data_dir,
// database.embedded.bin_dir, database.password_file, drop_root, mail.maildir (also its
// default "mail"), mail.smtp.password_file, mail.smtp.ca_file, signing.key (unless it
// starts with "pkcs11:"), signing.certificate, http.admin_token_file, audit.anchors_file and
// institutions[].drop_dir. The returned Config holds only absolute paths for these.
Result<Config> ParseConfig(const std::string& yaml_text, const std::string& base_dir,
                           std::vector<ConfigProblem>* problems);

// Reads and parses a file; a missing file is a single problem with path "".
Result<Config> LoadConfigFile(const std::string& path, std::vector<ConfigProblem>* problems);

// Checks what needs the outside world (folders exist, secrets readable). Parsing has
// already checked types, ranges and required keys. Appends to problems; true when none.
// Connects to nothing and creates nothing. drop_root, mail.maildir and the embedded
// data_dir may be missing (the daemon creates them) but must be folders if they exist; an
// explicit institutions[].drop_dir must exist; secrets and files are checked only for the
// database and mail transport actually in use. These problems carry no line.
bool CheckEnvironment(const Config& config, std::vector<ConfigProblem>* problems);

}  // namespace credd
