#include "daemon/config/config.h"

#include <gtest/gtest.h>
#include <stdlib.h>
#include <sys/stat.h>

#include <cctype>
#include <filesystem>
#include <fstream>
#include <optional>
#include <regex>
#include <set>
#include <sstream>
#include <string>
#include <vector>

namespace credd {
namespace {

std::vector<std::string> FormatNames(const std::vector<Format>& formats) {
  std::vector<std::string> names;
  for (Format format : formats) names.emplace_back(kFormats.Name(format));
  return names;
}

namespace fs = std::filesystem;

const std::string kSourceDir = CREDD_SOURCE_DIR;

std::string ReadText(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream out;
  out << in.rdbuf();
  return out.str();
}

void WriteText(const std::string& path, const std::string& text, mode_t mode = 0600) {
  std::ofstream(path, std::ios::binary) << text;
  ASSERT_EQ(::chmod(path.c_str(), mode), 0) << path;
}

// Replaces the only occurrence of from, so a drifting example file fails loudly here.
std::string ReplaceOnce(std::string text, const std::string& from, const std::string& to) {
  const std::size_t at = text.find(from);
  EXPECT_NE(at, std::string::npos) << "not found: " << from;
  EXPECT_EQ(text.find(from, at + 1), std::string::npos) << "not unique: " << from;
  if (at != std::string::npos) text.replace(at, from.size(), to);
  return text;
}

// The 1-based line of the first line of text that contains needle.
int LineContaining(const std::string& text, const std::string& needle) {
  std::istringstream in(text);
  std::string line;
  for (int number = 1; std::getline(in, line); ++number) {
    if (line.find(needle) != std::string::npos) return number;
  }
  ADD_FAILURE() << "no line contains " << needle;
  return 0;
}

std::string Render(const std::vector<ConfigProblem>& problems) {
  std::string out;
  for (const ConfigProblem& problem : problems) out += problem.ToString() + "\n";
  return out;
}

// A folder of its own for each test, removed afterwards.
class TempDir {
 public:
  TempDir() {
    std::string pattern = ::testing::TempDir() + "credd_config_XXXXXX";
    const char* made = ::mkdtemp(pattern.data());
    EXPECT_NE(made, nullptr);
    path_ = pattern;
  }
  ~TempDir() {
    std::error_code ignored;
    fs::remove_all(path_, ignored);
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;

  std::string Path(const std::string& name) const { return (fs::path(path_) / name).string(); }
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

// Sets an environment variable for one test and restores the previous state afterwards.
class ScopedEnv {
 public:
  ScopedEnv(std::string name, const char* value) : name_(std::move(name)) {
    if (const char* old = ::getenv(name_.c_str()); old != nullptr) old_ = old;
    if (value == nullptr) {
      ::unsetenv(name_.c_str());
    } else {
      ::setenv(name_.c_str(), value, 1);
    }
  }
  ~ScopedEnv() {
    if (old_.has_value()) {
      ::setenv(name_.c_str(), old_->c_str(), 1);
    } else {
      ::unsetenv(name_.c_str());
    }
  }
  ScopedEnv(const ScopedEnv&) = delete;
  ScopedEnv& operator=(const ScopedEnv&) = delete;

 private:
  std::string name_;
  std::optional<std::string> old_;
};

// A minimal valid config is kHead + kInstitutions: database (lines 1-3), drop_root (line 4),
// then the institutions list. Top() inserts lines from line 5 on; Inst() replaces the list
// items, which start on line 6.
constexpr char kHead[] = "database:\n  embedded:\n    data_dir: pg\ndrop_root: drop\n";
constexpr char kInstitutions[] = "institutions:\n  - id: college\n";

std::string Top(const std::string& lines) { return kHead + lines + kInstitutions; }
std::string Inst(const std::string& items) {
  return kHead + std::string("institutions:\n") + items;
}
// Lines inside the single institution, from line 7 on.
std::string InInst(const std::string& lines) { return Inst("  - id: college\n" + lines); }

constexpr char kBase[] = "/etc/credd";

TEST(ConfigTest, ExampleConfigLoadsWithoutProblems) {
  std::vector<ConfigProblem> problems;
  const Result<Config> config =
      LoadConfigFile(kSourceDir + "/config/credd.example.yaml", &problems);
  ASSERT_TRUE(config.ok()) << Render(problems);
  EXPECT_TRUE(problems.empty()) << Render(problems);
  EXPECT_EQ(config->database.embedded.data_dir, "/var/lib/credd/pg");
  EXPECT_TRUE(config->database.url.empty());
  EXPECT_EQ(config->drop_root, "/var/lib/credd/drop");
  EXPECT_EQ(config->mail.transport, "maildir");
  EXPECT_EQ(config->mail.maildir, "/var/lib/credd/mail");
  EXPECT_EQ(config->mail.smtp.port, 587);
  EXPECT_EQ(config->http.listen, "127.0.0.1:8480");
  EXPECT_EQ(config->audit.anchors_file, "/var/lib/credd/audit-anchors");
  EXPECT_EQ(config->audit.anchor_hours, 24);
  ASSERT_EQ(config->institutions.size(), 1u);
  const InstitutionConfig& institution = config->institutions[0];
  EXPECT_EQ(institution.id, "example-college");
  EXPECT_EQ(institution.name_fr, "Collège Exemple");
  EXPECT_EQ(institution.csv.columns.at("student_id"), "SPRIDEN_ID");
  EXPECT_EQ(config->DropDirFor(institution), "/var/lib/credd/drop/example-college");
  // It must also pass the environment check on a machine that has never run credd.
  if (!fs::exists("/var/lib/credd")) {
    EXPECT_TRUE(CheckEnvironment(*config, &problems)) << Render(problems);
  }
}

TEST(ConfigTest, DemoConfigResolvesPathsNextToItself) {
  std::vector<ConfigProblem> problems;
  const Result<Config> config = LoadConfigFile(kSourceDir + "/config/demo.yaml", &problems);
  ASSERT_TRUE(config.ok()) << Render(problems);
  const fs::path root = fs::path(kSourceDir).lexically_normal();
  EXPECT_EQ(config->database.embedded.data_dir, (root / "var/pg").string());
  EXPECT_EQ(config->drop_root, (root / "var/drop").string());
  EXPECT_EQ(config->mail.maildir, (root / "var/mail").string());
  EXPECT_EQ(config->signing.key, (root / "var/keys/signing.key").string());
  EXPECT_EQ(config->signing.certificate, (root / "var/keys/signing.crt").string());
  ASSERT_EQ(config->institutions.size(), 1u);
  EXPECT_EQ(config->institutions[0].id, "demo-college");
  EXPECT_EQ(config->institutions[0].name_fr, "Collège Démo");
  EXPECT_EQ(FormatNames(config->institutions[0].formats),
            (std::vector<std::string>{"csv", "pesc", "pdf-manifest"}));
}

TEST(ConfigTest, ReportsEveryProblemInOneRun) {
  std::string text = ReadText(kSourceDir + "/config/credd.example.yaml");
  text = ReplaceOnce(text, "log_level: info\n", "log_level: info\nlog_colour: blue\n");
  text = ReplaceOnce(text, "    port: 587\n", "    port: abc\n");
  text = ReplaceOnce(text, "drop_root: /var/lib/credd/drop\n", "");

  std::vector<ConfigProblem> problems;
  const Result<Config> config = ParseConfig(text, kBase, &problems);
  ASSERT_FALSE(config.ok());
  EXPECT_EQ(config.error().code, ErrorCode::kConfig);
  ASSERT_EQ(problems.size(), 3u) << Render(problems);
  EXPECT_EQ(problems[0].ToString(), "drop_root: required key is missing");
  EXPECT_EQ(problems[1].ToString(), "mail.smtp.port: expected an integer, got 'abc' (line " +
                                        std::to_string(LineContaining(text, "port: abc")) + ")");
  EXPECT_EQ(problems[2].ToString(), "log_colour: unknown key (line " +
                                        std::to_string(LineContaining(text, "log_colour")) + ")");
  EXPECT_EQ(config.error().message,
            "3 problems in config; first: drop_root: required key is missing");
}

struct BadCase {
  const char* name;
  std::string yaml;
  std::string path;
  std::string message;
  int line;
};

TEST(ConfigTest, EachBadValueIsOneProblemWithItsPath) {
  const std::string fields =
      "student_id, family_name, given_names, email, personal_email, preferred_locale, "
      "credential_type, credential_title, program, issued_on";
  const std::string id_rule = "must match ^[a-z0-9][a-z0-9_-]{0,62}$ (it names a folder), got ";
  const BadCase cases[] = {
      // Enums.
      {"log level", Top("log_level: verbose\n"), "log_level",
       "must be one of debug, info, warn, error; got 'verbose'", 5},
      {"transport", Top("mail:\n  transport: sendmail\n"), "mail.transport",
       "must be one of smtp, maildir; got 'sendmail'", 6},
      {"tls", Top("mail:\n  smtp:\n    tls: ssl\n"), "mail.smtp.tls",
       "must be one of starttls, implicit, none; got 'ssl'", 7},
      {"locale", InInst("    default_locale: de\n"), "institutions[0].default_locale",
       "must be one of en, fr; got 'de'", 7},
      {"record error policy", InInst("    on_record_error: skip\n"),
       "institutions[0].on_record_error", "must be one of accept_valid, reject_file; got 'skip'",
       7},
      {"encoding", InInst("    csv:\n      encoding: latin1\n"), "institutions[0].csv.encoding",
       "must be one of utf-8, windows-1252, iso-8859-1; got 'latin1'", 8},
      {"format", InInst("    formats: [csv, xml]\n"), "institutions[0].formats[1]",
       "must be one of csv, pesc, pdf-manifest; got 'xml'", 7},
      {"repeated format", InInst("    formats: [csv, pesc, csv]\n"), "institutions[0].formats[2]",
       "'csv' is listed twice", 7},
      {"no formats", InInst("    formats: []\n"), "institutions[0].formats",
       "must list at least one format", 7},
      {"formats not a list", InInst("    formats: csv\n"), "institutions[0].formats",
       "expected a list, got 'csv'", 7},

      // Types and ranges.
      {"not an integer", Top("rescan_seconds: 1.5\n"), "rescan_seconds",
       "expected an integer, got '1.5'", 5},
      {"mapping for integer", Top("settle_seconds: {a: 1}\n"), "settle_seconds",
       "expected an integer, got a mapping", 5},
      {"rescan zero", Top("rescan_seconds: 0\n"), "rescan_seconds",
       "must be between 1 and 86400, got 0", 5},
      {"settle negative", Top("settle_seconds: -1\n"), "settle_seconds",
       "must be between 1 and 3600, got -1", 5},
      {"huge integer", Top("settle_seconds: 99999999999999999999999\n"), "settle_seconds",
       "must be between 1 and 3600, got 99999999999999999999999", 5},
      {"port zero", Top("mail:\n  smtp:\n    port: 0\n"), "mail.smtp.port",
       "must be between 1 and 65535, got 0", 7},
      {"port too big", Top("mail:\n  smtp:\n    port: 70000\n"), "mail.smtp.port",
       "must be between 1 and 65535, got 70000", 7},
      {"smtp timeout", Top("mail:\n  smtp:\n    timeout_seconds: 0\n"), "mail.smtp.timeout_seconds",
       "must be between 1 and 3600, got 0", 7},
      // Found by bench/invite_bench: a bad value in a list item was also "missing".
      {"rate limit too big",
       Top("mail:\n  rate_limits:\n    - messages: 10000000\n      seconds: 60\n"),
       "mail.rate_limits[0].messages", "must be between 1 and 1000000, got 10000000", 7},
      {"workers", Top("issuing:\n  workers: -1\n"), "issuing.workers",
       "must be between 0 and 256, got -1", 6},
      {"anchor hours", Top("audit:\n  anchor_hours: 0\n"), "audit.anchor_hours",
       "must be between 1 and 168, got 0", 6},
      {"connect timeout",
       "database:\n  connect_timeout_seconds: 9999\n  embedded:\n    data_dir: pg\n"
       "drop_root: d\ninstitutions:\n  - id: c\n",
       "database.connect_timeout_seconds", "must be between 1 and 3600, got 9999", 2},
      {"string expected", Top("mail:\n  maildir: [a]\n"), "mail.maildir",
       "expected a string, got a list", 6},
      {"mapping expected", Top("mail: smtp\n"), "mail", "expected a mapping, got 'smtp'", 5},
      {"unknown key", Top("mail:\n  smtp:\n    hostname: x\n"), "mail.smtp.hostname", "unknown key",
       7},
      {"unknown institution key", InInst("    colour: red\n"), "institutions[0].colour",
       "unknown key", 7},
      {"duplicate key", Top("log_level: info\nlog_level: debug\n"), "log_level", "duplicate key",
       6},

      // Required keys and database choice.
      {"no drop_root", "database:\n  embedded:\n    data_dir: pg\n" + std::string(kInstitutions),
       "drop_root", "required key is missing", 0},
      {"empty drop_root",
       "database:\n  url: postgresql:///credd\ndrop_root: ''\n" + std::string(kInstitutions),
       "drop_root", "must not be empty", 3},
      {"both databases",
       "database:\n  url: postgresql:///credd\n  embedded:\n    data_dir: pg\n"
       "drop_root: d\ninstitutions:\n  - id: c\n",
       "database", "both database.url and database.embedded.data_dir are set; set exactly one", 2},
      {"neither database",
       "database:\n  connect_timeout_seconds: 5\ndrop_root: d\n" + std::string(kInstitutions),
       "database", "neither database.url nor database.embedded.data_dir is set; set exactly one",
       2},
      {"no database at all", "drop_root: d\n" + std::string(kInstitutions), "database",
       "neither database.url nor database.embedded.data_dir is set; set exactly one", 0},
      {"database not a mapping", "database: pg\ndrop_root: d\n" + std::string(kInstitutions),
       "database", "expected a mapping, got 'pg'", 1},
      {"document not a mapping", "- drop_root: d\n", "", "expected a mapping, got a list", 1},
      {"no institutions", kHead, "institutions", "required key is missing", 0},
      {"empty institutions", Inst("  []\n"), "institutions", "must list at least one institution",
       6},
      {"institutions not a list", kHead + std::string("institutions: college\n"), "institutions",
       "expected a list, got 'college'", 5},
      {"institution not a mapping", Inst("  - college\n"), "institutions[0]",
       "expected a mapping, got 'college'", 6},
      {"institution without id", Inst("  - name_en: College\n"), "institutions[0].id",
       "required key is missing", 6},
      {"smtp host empty", Top("mail:\n  transport: smtp\n  smtp:\n    host: ''\n"),
       "mail.smtp.host", "must not be empty when mail.transport is smtp", 8},
      {"maildir empty", Top("mail:\n  maildir: ''\n"), "mail.maildir",
       "must not be empty when mail.transport is maildir", 6},
      {"certificate without key", Top("signing:\n  certificate: c.pem\n"), "signing.key",
       "required when signing.certificate is set", 6},

      // Secrets.
      {"file and env", Top("mail:\n  smtp:\n    password_file: p\n    password_env: P\n"),
       "mail.smtp.password_env", "cannot be set together with password_file; set only one", 8},
      {"bad env name", Top("http:\n  admin_token_env: not-valid\n"), "http.admin_token_env",
       "'not-valid' is not a valid environment variable name", 6},

      // Listen address.
      {"listen without port", Top("http:\n  listen: localhost\n"), "http.listen",
       "expected host:port (IPv6 as [::1]:8480), got 'localhost'", 6},
      {"listen bare IPv6", Top("http:\n  listen: '::1:8480'\n"), "http.listen",
       "expected host:port (IPv6 as [::1]:8480), got '::1:8480'", 6},
      {"listen no host", Top("http:\n  listen: ':8480'\n"), "http.listen",
       "expected host:port (IPv6 as [::1]:8480), got ':8480'", 6},
      {"listen named port", Top("http:\n  listen: localhost:http\n"), "http.listen",
       "expected host:port (IPv6 as [::1]:8480), got 'localhost:http'", 6},
      {"listen port zero", Top("http:\n  listen: 127.0.0.1:0\n"), "http.listen",
       "port must be between 1 and 65535, got '127.0.0.1:0'", 6},

      // Institution ids.
      {"id uppercase", Inst("  - id: College\n"), "institutions[0].id", id_rule + "'College'", 6},
      {"id dot-dot", Inst("  - id: ../etc\n"), "institutions[0].id", id_rule + "'../etc'", 6},
      {"id slash", Inst("  - id: a/b\n"), "institutions[0].id", id_rule + "'a/b'", 6},
      {"id leading dash", Inst("  - id: -a\n"), "institutions[0].id", id_rule + "'-a'", 6},
      {"id leading dot", Inst("  - id: .hidden\n"), "institutions[0].id", id_rule + "'.hidden'", 6},
      {"id too long", Inst("  - id: " + std::string(64, 'a') + "\n"), "institutions[0].id",
       id_rule + "'" + std::string(64, 'a') + "'", 6},
      {"id empty", Inst("  - id: ''\n"), "institutions[0].id", "must not be empty", 6},
      {"duplicate id", Inst("  - id: a\n  - id: b\n  - id: a\n"), "institutions[2].id",
       "duplicate id 'a' (first used by institutions[0])", 8},
      {"shared drop folder", Inst("  - id: a\n  - id: b\n    drop_dir: drop/a\n"),
       "institutions[1].drop_dir", "same drop folder as institutions[0]", 0},

      // CSV dialect.
      {"delimiter two chars", InInst("    csv:\n      delimiter: ';;'\n"),
       "institutions[0].csv.delimiter", "must be exactly one ASCII character, got ';;'", 8},
      {"delimiter empty", InInst("    csv:\n      delimiter: ''\n"),
       "institutions[0].csv.delimiter", "must be exactly one ASCII character, got ''", 8},
      {"delimiter non-ASCII", InInst("    csv:\n      delimiter: '§'\n"),
       "institutions[0].csv.delimiter", "must be exactly one ASCII character, got '§'", 8},
      {"delimiter quote", InInst("    csv:\n      delimiter: '\"'\n"),
       "institutions[0].csv.delimiter", "must not be a double quote, CR or LF", 8},
      {"delimiter LF", InInst("    csv:\n      delimiter: \"\\n\"\n"),
       "institutions[0].csv.delimiter", "must not be a double quote, CR or LF", 8},
      {"delimiter CR", InInst("    csv:\n      delimiter: \"\\r\"\n"),
       "institutions[0].csv.delimiter", "must not be a double quote, CR or LF", 8},
      {"unknown column field", InInst("    csv:\n      columns:\n        studentid: ID\n"),
       "institutions[0].csv.columns.studentid", "unknown credd field; expected one of " + fields,
       9},
      {"empty column header", InInst("    csv:\n      columns:\n        email: ''\n"),
       "institutions[0].csv.columns.email", "must not be empty", 9},
      {"column header not a string", InInst("    csv:\n      columns:\n        email: [a]\n"),
       "institutions[0].csv.columns.email", "expected a string, got a list", 9},
      {"csv not a mapping", InInst("    csv: semicolon\n"), "institutions[0].csv",
       "expected a mapping, got 'semicolon'", 7},
  };
  for (const BadCase& c : cases) {
    SCOPED_TRACE(std::string(c.name) + "\n" + c.yaml);
    std::vector<ConfigProblem> problems;
    const Result<Config> config = ParseConfig(c.yaml, kBase, &problems);
    EXPECT_FALSE(config.ok());
    ASSERT_EQ(problems.size(), 1u) << Render(problems);
    EXPECT_EQ(problems[0].path, c.path);
    EXPECT_EQ(problems[0].message, c.message);
    EXPECT_EQ(problems[0].line, c.line);
  }
}

TEST(ConfigTest, GoodValuesAreAccepted) {
  const std::string yaml =
      Top("log_level: debug\nrescan_seconds: 86400\nsettle_seconds: 1\n"
          "mail:\n  transport: smtp\n  smtp:\n    host: relay\n    port: 465\n    tls: implicit\n"
          "http:\n  listen: '[::1]:8480'\n");
  std::vector<ConfigProblem> problems;
  const Result<Config> config = ParseConfig(yaml, kBase, &problems);
  ASSERT_TRUE(config.ok()) << Render(problems);
  EXPECT_EQ(config->log_level, LogLevel::kDebug);
  EXPECT_EQ(config->rescan_seconds, 86400);
  EXPECT_EQ(config->settle_seconds, 1);
  EXPECT_EQ(config->mail.smtp.port, 465);
  EXPECT_EQ(config->mail.smtp.tls, "implicit");
  EXPECT_EQ(config->http.listen, "[::1]:8480");
  // Defaults hold for what the file leaves out.
  EXPECT_EQ(FormatNames(config->institutions[0].formats),
            (std::vector<std::string>{"csv", "pesc", "pdf-manifest"}));
  EXPECT_EQ(config->institutions[0].csv.delimiter, ",");
  EXPECT_EQ(config->database.connect_timeout_seconds, 10);
  EXPECT_EQ(config->audit.anchors_file, "");
  EXPECT_EQ(config->audit.anchor_hours, 24);

  const std::string tab = InInst(
      "    csv:\n      delimiter: \"\\t\"\n      encoding: windows-1252\n"
      "      columns:\n        student_id: SPRIDEN_ID\n");
  const Result<Config> tabbed = ParseConfig(tab, kBase, &problems);
  ASSERT_TRUE(tabbed.ok()) << Render(problems);
  EXPECT_EQ(tabbed->institutions[0].csv.delimiter, "\t");
  EXPECT_EQ(tabbed->institutions[0].csv.columns.at("student_id"), "SPRIDEN_ID");
}

// http.public_url makes credd's own pages the default: activation (with an access code),
// the portfolio and verification; an institution's own activation_url keeps its wallet.
TEST(ConfigTest, PublicUrlMakesTheDefaultActivationLinkUnlessOneIsGiven) {
  const std::string yaml =
      "database:\n  url: postgresql:///credd\ndrop_root: /srv/drop\n"
      "http:\n  public_url: https://credentials.example.ca/\n"
      "institutions:\n"
      "  - id: own\n    invitations:\n      from_address: r@own.example\n"
      "  - id: wallet\n    login_method: sso\n    sso_header: eppn\n    invitations:\n"
      "      from_address: r@wallet.example\n"
      "      activation_url: 'https://wallet.example.ca/activate?token={token}'\n";
  std::vector<ConfigProblem> problems;
  const Result<Config> config = ParseConfig(yaml, kBase, &problems);
  ASSERT_TRUE(config.ok()) << Render(problems);
  const InvitationConfig& own = config->institutions[0].invitations;
  EXPECT_EQ(own.activation_url, "https://credentials.example.ca/activate?token={token}");
  EXPECT_EQ(own.access_code_url, "https://credentials.example.ca/activate");
  EXPECT_EQ(own.portfolio_url, "https://credentials.example.ca/documents");
  EXPECT_EQ(config->institutions[0].verification_url,
            "https://credentials.example.ca/verify/{document_id}");
  const InvitationConfig& wallet = config->institutions[1].invitations;
  EXPECT_EQ(wallet.activation_url, "https://wallet.example.ca/activate?token={token}");
  EXPECT_EQ(wallet.access_code_url, "") << "no access code for an outside wallet";
  EXPECT_EQ(wallet.portfolio_url, "https://wallet.example.ca/");
  EXPECT_EQ(config->institutions[1].login_method, "sso");
}

TEST(ConfigTest, SsoNeedsItsHeaderAndSharesTheirLimits) {
  const std::string yaml =
      "database:\n  url: postgresql:///credd\ndrop_root: /srv/drop\n"
      "accounts:\n  share_default_days: 90\n  share_max_days: 60\n"
      "institutions:\n  - id: a\n    login_method: sso\n  - id: b\n    login_method: ldap\n";
  std::vector<ConfigProblem> problems;
  ASSERT_FALSE(ParseConfig(yaml, kBase, &problems).ok());
  const std::string text = Render(problems);
  EXPECT_NE(text.find("institutions[0].sso_header: required when login_method is sso"),
            std::string::npos)
      << text;
  EXPECT_NE(text.find("institutions[1].login_method"), std::string::npos) << text;
  EXPECT_NE(text.find("accounts.share_default_days: must not be more than share_max_days"),
            std::string::npos)
      << text;
}

TEST(ConfigTest, YamlSyntaxErrorIsOneProblemWithItsLine) {
  // The over-indented "host" makes "transport: smtp" look like a mapping key with a value.
  const std::string yaml = "drop_root: d\nmail:\n  transport: smtp\n   host: x\nbad: [\n";
  std::vector<ConfigProblem> problems;
  const Result<Config> config = ParseConfig(yaml, kBase, &problems);
  ASSERT_FALSE(config.ok());
  ASSERT_EQ(problems.size(), 1u) << Render(problems);
  EXPECT_EQ(problems[0].path, "");
  EXPECT_EQ(problems[0].message, "YAML syntax error: illegal map value");
  EXPECT_EQ(problems[0].line, 4);
  EXPECT_EQ(problems[0].ToString(), "YAML syntax error: illegal map value (line 4)");
}

TEST(ConfigTest, RelativePathsResolveAgainstTheConfigFolder) {
  const std::string yaml =
      "database:\n  url: postgresql:///credd\n  password_file: secrets/db\n"
      "drop_root: drop\n"
      "mail:\n  maildir: ../mail\n  smtp:\n    ca_file: ca.pem\n    password_file: /abs/smtp\n"
      "signing:\n  key: 'pkcs11:token=credd;object=signing'\n  certificate: keys/./signing.crt\n"
      "http:\n  admin_token_file: token\n"
      "audit:\n  anchors_file: ../state/audit-anchors\n  anchor_hours: 6\n"
      "institutions:\n  - id: a\n    drop_dir: shares/a\n  - id: b\n";
  std::vector<ConfigProblem> problems;
  const Result<Config> config = ParseConfig(yaml, "/srv/credd/etc", &problems);
  ASSERT_TRUE(config.ok()) << Render(problems);
  EXPECT_EQ(config->database.password.file, "/srv/credd/etc/secrets/db");
  EXPECT_EQ(config->drop_root, "/srv/credd/etc/drop");
  EXPECT_EQ(config->mail.maildir, "/srv/credd/mail");
  EXPECT_EQ(config->mail.smtp.ca_file, "/srv/credd/etc/ca.pem");
  EXPECT_EQ(config->mail.smtp.password.file, "/abs/smtp");
  EXPECT_EQ(config->signing.key, "pkcs11:token=credd;object=signing");
  EXPECT_EQ(config->signing.certificate, "/srv/credd/etc/keys/signing.crt");
  EXPECT_EQ(config->http.admin_token.file, "/srv/credd/etc/token");
  EXPECT_EQ(config->audit.anchors_file, "/srv/credd/state/audit-anchors");
  EXPECT_EQ(config->audit.anchor_hours, 6);
  EXPECT_EQ(config->DropDirFor(config->institutions[0]), "/srv/credd/etc/shares/a");
  EXPECT_EQ(config->DropDirFor(config->institutions[1]), "/srv/credd/etc/drop/b");
}

TEST(ConfigTest, EmbeddedPathsAndDefaultMaildirResolveToo) {
  const std::string yaml =
      "database:\n  embedded:\n    data_dir: ../var/pg\n    bin_dir: pgbin\ndrop_root: d\n" +
      std::string(kInstitutions);
  std::vector<ConfigProblem> problems;
  const Result<Config> config = ParseConfig(yaml, "/srv/credd/config", &problems);
  ASSERT_TRUE(config.ok()) << Render(problems);
  EXPECT_EQ(config->database.embedded.data_dir, "/srv/credd/var/pg");
  EXPECT_EQ(config->database.embedded.bin_dir, "/srv/credd/config/pgbin");
  EXPECT_EQ(config->mail.maildir, "/srv/credd/config/mail");  // The default, "mail".
}

TEST(ConfigTest, LoadConfigFileResolvesAgainstItsFolderAndReportsMissingFile) {
  TempDir dir;
  WriteText(dir.Path("credd.yaml"), Top(""));
  std::vector<ConfigProblem> problems;
  const Result<Config> config = LoadConfigFile(dir.Path("credd.yaml"), &problems);
  ASSERT_TRUE(config.ok()) << Render(problems);
  EXPECT_EQ(config->drop_root, dir.Path("drop"));
  EXPECT_EQ(config->source_path, dir.Path("credd.yaml"));

  const Result<Config> missing = LoadConfigFile(dir.Path("nope.yaml"), &problems);
  ASSERT_FALSE(missing.ok());
  EXPECT_EQ(missing.error().code, ErrorCode::kConfig);
  ASSERT_EQ(problems.size(), 1u);
  EXPECT_EQ(problems[0].path, "");
  EXPECT_EQ(problems[0].ToString(),
            "cannot open config file " + dir.Path("nope.yaml") + ": No such file or directory");
}

TEST(ConfigProblemTest, ToStringNamesPathAndLine) {
  EXPECT_EQ((ConfigProblem{"mail.smtp.port", "bad", 12}).ToString(),
            "mail.smtp.port: bad (line 12)");
  EXPECT_EQ((ConfigProblem{"drop_root", "required key is missing", 0}).ToString(),
            "drop_root: required key is missing");
}

TEST(SecretSourceTest, EmptySourceYieldsEmptyString) {
  const Result<std::string> secret = SecretSource{}.Read();
  ASSERT_TRUE(secret.ok());
  EXPECT_EQ(*secret, "");
}

TEST(SecretSourceTest, ReadsFromEnvironment) {
  ScopedEnv env("CREDD_CONFIG_TEST_SECRET", "hunter2");
  const Result<std::string> secret = SecretSource{"", "CREDD_CONFIG_TEST_SECRET"}.Read();
  ASSERT_TRUE(secret.ok()) << secret.error().ToString();
  EXPECT_EQ(*secret, "hunter2");
}

TEST(SecretSourceTest, MissingEnvironmentVariableIsAConfigError) {
  ScopedEnv env("CREDD_CONFIG_TEST_SECRET", nullptr);
  const Result<std::string> secret = SecretSource{"", "CREDD_CONFIG_TEST_SECRET"}.Read();
  ASSERT_FALSE(secret.ok());
  EXPECT_EQ(secret.error().code, ErrorCode::kConfig);
  EXPECT_EQ(secret.error().ToString(), "CREDD_CONFIG_TEST_SECRET: environment variable is not set");
}

TEST(SecretSourceTest, ReadsFirstLineOfAPrivateFile) {
  TempDir dir;
  WriteText(dir.Path("secret"), "s3cret\r\nsecond line\n", 0600);
  const Result<std::string> secret = SecretSource{dir.Path("secret"), ""}.Read();
  ASSERT_TRUE(secret.ok()) << secret.error().ToString();
  EXPECT_EQ(*secret, "s3cret");

  WriteText(dir.Path("no-newline"), "token", 0400);
  const Result<std::string> bare = SecretSource{dir.Path("no-newline"), ""}.Read();
  ASSERT_TRUE(bare.ok()) << bare.error().ToString();
  EXPECT_EQ(*bare, "token");
}

TEST(SecretSourceTest, RefusesAFileOthersCanRead) {
  TempDir dir;
  WriteText(dir.Path("secret"), "s3cret\n", 0644);
  const Result<std::string> secret = SecretSource{dir.Path("secret"), ""}.Read();
  ASSERT_FALSE(secret.ok());
  EXPECT_EQ(secret.error().code, ErrorCode::kConfig);
  EXPECT_EQ(secret.error().where, dir.Path("secret"));
  EXPECT_EQ(secret.error().message,
            "secret file is readable by group or others (mode 0644); run chmod 600 on it");

  WriteText(dir.Path("group"), "s3cret\n", 0640);
  const SecretSource group{dir.Path("group"), ""};
  EXPECT_FALSE(group.Read().ok());
}

TEST(SecretSourceTest, MissingOrEmptyFileIsAConfigError) {
  TempDir dir;
  const Result<std::string> missing = SecretSource{dir.Path("absent"), ""}.Read();
  ASSERT_FALSE(missing.ok());
  EXPECT_EQ(missing.error().code, ErrorCode::kConfig);
  EXPECT_EQ(missing.error().message, "cannot open secret file: No such file or directory");

  WriteText(dir.Path("blank"), "\nsecond\n", 0600);
  const Result<std::string> blank = SecretSource{dir.Path("blank"), ""}.Read();
  ASSERT_FALSE(blank.ok());
  EXPECT_EQ(blank.error().message, "secret file's first line is empty");
}

// A config whose paths all point into dir, valid when parsed against it.
Config ConfigIn(const TempDir& dir, const std::string& extra, const std::string& institutions) {
  std::vector<ConfigProblem> problems;
  Result<Config> config =
      ParseConfig(kHead + extra + "institutions:\n" + institutions, dir.path(), &problems);
  EXPECT_TRUE(config.ok()) << Render(problems);
  return config.ok() ? *config : Config{};
}

TEST(CheckEnvironmentTest, MissingDropRootIsFineButAFileIsNot) {
  TempDir dir;
  std::vector<ConfigProblem> problems;
  EXPECT_TRUE(CheckEnvironment(ConfigIn(dir, "", "  - id: a\n"), &problems)) << Render(problems);

  WriteText(dir.Path("drop"), "not a folder");
  EXPECT_FALSE(CheckEnvironment(ConfigIn(dir, "", "  - id: a\n"), &problems));
  ASSERT_EQ(problems.size(), 1u) << Render(problems);
  EXPECT_EQ(problems[0].ToString(), "drop_root: not a directory");
}

TEST(CheckEnvironmentTest, ExplicitDropDirMustExist) {
  TempDir dir;
  fs::create_directory(dir.Path("share-a"));
  const Config config =
      ConfigIn(dir, "", "  - id: a\n    drop_dir: share-a\n  - id: b\n    drop_dir: share-b\n");
  std::vector<ConfigProblem> problems;
  EXPECT_FALSE(CheckEnvironment(config, &problems));
  ASSERT_EQ(problems.size(), 1u) << Render(problems);
  EXPECT_EQ(problems[0].ToString(), "institutions[1].drop_dir: no such directory");
}

TEST(CheckEnvironmentTest, ChecksSecretsAndSigningFiles) {
  TempDir dir;
  WriteText(dir.Path("token"), "t0ken\n", 0644);
  WriteText(dir.Path("signing.crt"), "cert\n");
  ScopedEnv env("CREDD_CONFIG_TEST_SMTP", nullptr);
  const Config config =
      ConfigIn(dir,
               "mail:\n  transport: smtp\n  smtp:\n    password_env: CREDD_CONFIG_TEST_SMTP\n"
               "signing:\n  key: signing.key\n  certificate: signing.crt\n"
               "http:\n  admin_token_file: token\n",
               "  - id: a\n");
  std::vector<ConfigProblem> problems;
  EXPECT_FALSE(CheckEnvironment(config, &problems));
  ASSERT_EQ(problems.size(), 3u) << Render(problems);
  EXPECT_EQ(problems[0].ToString(),
            "mail.smtp.password_env: CREDD_CONFIG_TEST_SMTP: environment variable is not set");
  EXPECT_EQ(problems[1].ToString(), "signing.key: no such file");
  EXPECT_EQ(problems[2].ToString(),
            "http.admin_token_file: " + dir.Path("token") +
                ": secret file is readable by group or others (mode 0644); run chmod 600 on it");

  // Fixed, the same config passes.
  ASSERT_EQ(::chmod(dir.Path("token").c_str(), 0600), 0);
  WriteText(dir.Path("signing.key"), "key\n");
  ScopedEnv set("CREDD_CONFIG_TEST_SMTP", "pw");
  problems.clear();
  EXPECT_TRUE(CheckEnvironment(config, &problems)) << Render(problems);
}

TEST(CheckEnvironmentTest, UnusedTransportIsNotChecked) {
  TempDir dir;
  const Config config = ConfigIn(dir, "mail:\n  smtp:\n    password_file: absent\n", "  - id: a\n");
  std::vector<ConfigProblem> problems;
  EXPECT_TRUE(CheckEnvironment(config, &problems)) << Render(problems);
}

}  // namespace
}  // namespace credd

namespace credd {
namespace {

// What config/credd.example.yaml says SIGHUP does to one key: from the comment block right
// above it, or, when that says nothing, from the nearest enclosing key's.
struct StatedKey {
  std::string path;
  bool restart = false;
  int line = 0;
};

// "Needs a restart" / "need a restart" -> restart; "reload(s) on SIGHUP" -> reload.
std::optional<bool> Statement(std::string comment) {
  std::string flat;
  for (char c : comment) flat += c == '\n' ? ' ' : static_cast<char>(std::tolower(c));
  while (flat.find("  ") != std::string::npos) flat.replace(flat.find("  "), 2, " ");
  const bool restart = flat.find("need a restart") != std::string::npos ||
                       flat.find("needs a restart") != std::string::npos;
  const bool reload = flat.find("reload on sighup") != std::string::npos ||
                      flat.find("reloads on sighup") != std::string::npos;
  if (restart == reload) return std::nullopt;  // Says nothing, or both (a summary).
  return restart;
}

std::vector<StatedKey> StatedReloadBehaviour(const std::string& text) {
  // A key line, commented out or not: indentation, optional "# ", optional "- ", key.
  static const std::regex kKey(R"(^( *)(# )?(- )?([a-z][a-z0-9_]*):( |$))");
  struct Open {
    size_t indent;
    std::string path;
    std::optional<bool> restart;
  };
  std::vector<Open> open;
  std::vector<StatedKey> stated;
  std::string comment;  // The comment block above the current line.
  std::istringstream in(text);
  std::string line;
  for (int number = 1; std::getline(in, line); ++number) {
    std::smatch m;
    if (!std::regex_search(line, m, kKey)) {
      const size_t hash = line.find_first_not_of(' ');
      if (hash != std::string::npos && line[hash] == '#') {
        comment += line.substr(hash + 1) + "\n";
      } else {
        comment.clear();  // A blank line or a value ends a comment block.
      }
      continue;
    }
    const size_t indent = m[1].length() + m[3].length();
    while (!open.empty() && open.back().indent >= indent) open.pop_back();
    const std::string path = (open.empty() ? std::string() : open.back().path + ".") + m[4].str();
    std::optional<bool> restart = Statement(comment);
    if (!restart && !open.empty()) restart = open.back().restart;
    open.push_back({indent, path, restart});
    if (restart) stated.push_back({path, *restart, number});
    comment.clear();
  }
  return stated;
}

TEST(ConfigTest, TheExampleSaysWhatSighupReloadsAsTheTableDoes) {
  const std::vector<StatedKey> stated =
      StatedReloadBehaviour(ReadText(kSourceDir + "/config/credd.example.yaml"));
  ASSERT_GT(stated.size(), 60u) << "the example states too few keys: is the reader broken?";
  std::set<std::string> restart_keys;
  for (const StatedKey& key : stated) {
    EXPECT_EQ(key.restart, NeedsRestart(key.path))
        << "config/credd.example.yaml:" << key.line << ": " << key.path << " says it "
        << (key.restart ? "needs a restart" : "reloads on SIGHUP")
        << ", RestartOnlyKeys() says otherwise";
    if (key.restart) restart_keys.insert(key.path);
  }
  // Every restart-only key of the table appears in the example.
  for (const RestartOnlyKey& rule : RestartOnlyKeys()) {
    bool found = false;
    for (const std::string& path : restart_keys) found = found || path.starts_with(rule.key);
    EXPECT_TRUE(found) << rule.key << " is restart-only but the example does not show it";
  }
}

TEST(ConfigTest, RestartOnlyKeysCoverTheirFormsAndSections) {
  EXPECT_TRUE(NeedsRestart("database.password_file"));
  EXPECT_TRUE(NeedsRestart("database.embedded.data_dir"));
  EXPECT_TRUE(NeedsRestart("database"));
  EXPECT_TRUE(NeedsRestart("http"));
  EXPECT_TRUE(NeedsRestart("drop_root"));
  EXPECT_FALSE(NeedsRestart("drop_root_extra"));
  EXPECT_FALSE(NeedsRestart("mail.smtp.port"));
  EXPECT_FALSE(NeedsRestart("issuing.workers"));
  EXPECT_FALSE(NeedsRestart("audit.anchors_file"));
  EXPECT_FALSE(NeedsRestart("institutions.csv.encoding"));
  // Each rule's keep() really puts the running value back.
  Config running;
  running.drop_root = "/a";
  running.http.listen = "127.0.0.1:1";
  Config next = running;
  next.drop_root = "/b";
  next.http.listen = "127.0.0.1:2";
  int changed = 0;
  for (const RestartOnlyKey& rule : RestartOnlyKeys()) {
    if (!rule.changed(running, next)) continue;
    ++changed;
    rule.keep(next, running);
  }
  EXPECT_EQ(changed, 2);
  EXPECT_EQ(next.drop_root, "/a");
  EXPECT_EQ(next.http.listen, "127.0.0.1:1");
}

}  // namespace
}  // namespace credd
