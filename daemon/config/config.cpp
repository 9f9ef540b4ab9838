#include "daemon/config/config.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cctype>
#include <cerrno>
#include <charconv>
#include <cstdlib>
#include <filesystem>
#include <iomanip>
#include <span>
#include <sstream>
#include <string_view>
#include <system_error>
#include <utility>

#include "common/yaml_reader.h"

namespace credd {
namespace {

namespace fs = std::filesystem;

constexpr int kMaxPort = 65535;
constexpr int kMaxTimeoutSeconds = 3600;      // Longer than an hour is a hung peer, not a slow one.
constexpr int kMaxRescanSeconds = 24 * 3600;  // A rescan less than daily would hide lost files.
constexpr int kMaxSettleSeconds = 3600;
constexpr std::size_t kMaxInstitutionIdLength = 63;
constexpr std::size_t kMaxConfigBytes = 1024 * 1024;
constexpr std::size_t kMaxSecretBytes = 64 * 1024;

constexpr std::array<std::string_view, 2> kTransports = {"smtp", "maildir"};
constexpr std::array<std::string_view, 3> kTlsModes = {"starttls", "implicit", "none"};
constexpr std::array<std::string_view, 2> kLocales = {"en", "fr"};
constexpr std::array<std::string_view, 2> kLoginMethods = {"email", "sso"};
constexpr std::array<std::string_view, 3> kEncodings = {"utf-8", "windows-1252", "iso-8859-1"};
constexpr std::array<std::string_view, 4> kLogLevels = {"debug", "info", "warn", "error"};
// The fields a CSV row maps onto; csv.columns may rename any of them and nothing else.
constexpr std::array<std::string_view, 10> kCsvFields = {
    "student_id",       "family_name",     "given_names",      "email",   "personal_email",
    "preferred_locale", "credential_type", "credential_title", "program", "issued_on"};

std::string ErrnoText(int error) {
  return std::error_code(error, std::generic_category()).message();
}

// Institution ids name a folder under drop_root, so the pattern rules out "..", "/", hidden
// names and anything a shell or a share would mangle: ^[a-z0-9][a-z0-9_-]{0,62}$.
bool IsValidInstitutionId(std::string_view id) {
  if (id.empty() || id.size() > kMaxInstitutionIdLength) return false;
  for (std::size_t i = 0; i < id.size(); ++i) {
    const char c = id[i];
    const bool alnum = (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
    if (!alnum && (i == 0 || (c != '-' && c != '_'))) return false;
  }
  return true;
}

bool IsValidEnvName(std::string_view name) {
  if (name.empty() || (name[0] >= '0' && name[0] <= '9')) return false;
  for (char c : name) {
    const bool ok =
        (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_';
    if (!ok) return false;
  }
  return true;
}

// Parses "host:port" or "[v6]:port"; returns an empty string when valid, else the problem.
std::string CheckListenAddress(const std::string& listen) {
  const std::string format_error = "expected host:port (IPv6 as [::1]:8480), got '" + listen + "'";
  std::string host;
  std::string port;
  if (!listen.empty() && listen[0] == '[') {
    const std::size_t close = listen.find("]:");
    if (close == std::string::npos) return format_error;
    host = listen.substr(1, close - 1);
    port = listen.substr(close + 2);
    if (host.find(':') == std::string::npos) return format_error;
  } else {
    const std::size_t colon = listen.rfind(':');
    if (colon == std::string::npos) return format_error;
    host = listen.substr(0, colon);
    port = listen.substr(colon + 1);
    // An unbracketed IPv6 address is ambiguous: is "::1:8480" a port or part of the address?
    if (host.find(':') != std::string::npos) return format_error;
  }
  if (host.empty() || host.find_first_of(" \t[]/") != std::string::npos) return format_error;
  int number = 0;
  const auto [end, error] = std::from_chars(port.data(), port.data() + port.size(), number);
  if (port.empty() || error != std::errc() || end != port.data() + port.size()) {
    return format_error;
  }
  if (number < 1 || number > kMaxPort) {
    return "port must be between 1 and 65535, got '" + listen + "'";
  }
  return {};
}

bool IsHexColor(const std::string& text) {
  if (text.size() != 7 || text[0] != '#') return false;
  for (std::size_t i = 1; i < text.size(); ++i) {
    if (!std::isxdigit(static_cast<unsigned char>(text[i]))) return false;
  }
  return true;
}

// prefix_file and prefix_env: where a secret comes from (never the secret itself).
void ReadSecret(YamlMap& reader, const std::string& prefix, SecretSource* out) {
  const std::string file_key = prefix + "_file";
  const std::string env_key = prefix + "_env";
  reader.String(file_key, &out->file);
  if (reader.String(env_key, &out->env) && !IsValidEnvName(out->env)) {
    reader.Problem(env_key, "'" + out->env + "' is not a valid environment variable name");
  }
  if (!out->file.empty() && !out->env.empty()) {
    reader.Problem(env_key, "cannot be set together with " + file_key + "; set only one");
  }
}

void ReadDatabase(YamlMap& reader, DatabaseConfig* database) {
  reader.String("url", &database->url);
  ReadSecret(reader, "password", &database->password);
  reader.Int("connect_timeout_seconds", &database->connect_timeout_seconds, 1, kMaxTimeoutSeconds);
  reader.Map("embedded", [&](YamlMap& embedded) {
    embedded.String("data_dir", &database->embedded.data_dir);
    embedded.String("bin_dir", &database->embedded.bin_dir);
    embedded.String("run_as_user", &database->embedded.run_as_user);
  });
}

void ReadRateLimits(YamlMap& reader, std::vector<RateLimit>* limits) {
  std::vector<RateLimit> read;
  bool listed =
      reader
          .List("rate_limits", YamlMap::Need::kOptional,
                [&](YamlMap& item, std::size_t) {
                  RateLimit limit;
                  // A bad value is one problem, not also a missing key.
                  item.Int("messages", &limit.messages, 1, 1000000, YamlMap::Need::kRequired);
                  item.Int("seconds", &limit.seconds, 1, 30 * 86400, YamlMap::Need::kRequired);
                  read.push_back(limit);
                })
          .has_value();
  if (listed) *limits = std::move(read);
}

void ReadMail(YamlMap& reader, MailConfig* mail) {
  reader.Enum("transport", &mail->transport, kTransports);
  reader.String("maildir", &mail->maildir);
  if (mail->transport == "maildir" && mail->maildir.empty()) {
    reader.Problem("maildir", "must not be empty when mail.transport is maildir");
  }
  reader.Map("smtp", [&](YamlMap& smtp) {
    SmtpConfig* config = &mail->smtp;
    smtp.String("host", &config->host);
    if (mail->transport == "smtp" && config->host.empty()) {
      smtp.Problem("host", "must not be empty when mail.transport is smtp");
    }
    smtp.Int("port", &config->port, 1, kMaxPort);
    smtp.Enum("tls", &config->tls, kTlsModes);
    smtp.String("username", &config->username);
    ReadSecret(smtp, "password", &config->password);
    smtp.String("ca_file", &config->ca_file);
    smtp.Int("timeout_seconds", &config->timeout_seconds, 1, kMaxTimeoutSeconds);
  });
  ReadRateLimits(reader, &mail->rate_limits);
  reader.Int("retry_initial_seconds", &mail->retry_initial_seconds, 1, 86400);
  reader.Int("retry_max_seconds", &mail->retry_max_seconds, 1, 7 * 86400);
  reader.Int("scheduler_seconds", &mail->scheduler_seconds, 1, 3600);
  reader.Int("lease_seconds", &mail->lease_seconds, 10, 86400);
}

bool IsHourMinute(const std::string& text) {
  return text.size() == 5 && std::isdigit(static_cast<unsigned char>(text[0])) &&
         std::isdigit(static_cast<unsigned char>(text[1])) && text[2] == ':' &&
         std::isdigit(static_cast<unsigned char>(text[3])) &&
         std::isdigit(static_cast<unsigned char>(text[4])) && text.substr(0, 2) <= "23" &&
         text.substr(3, 2) <= "59";
}

void ReadInvitations(YamlMap& reader, InvitationConfig* inv) {
  std::string enabled;
  if (reader.String("enabled", &enabled)) {
    if (enabled == "true" || enabled == "false") {
      inv->enabled = enabled == "true";
    } else {
      reader.Problem("enabled", "must be true or false, got '" + enabled + "'");
    }
  }
  inv->activation_url_set = reader.String("activation_url", &inv->activation_url);
  if (inv->activation_url_set && inv->activation_url.find("{token}") == std::string::npos) {
    reader.Problem("activation_url", "must contain {token}");
  }
  inv->portfolio_url_set = reader.String("portfolio_url", &inv->portfolio_url);
  reader.String("from_address", &inv->from_address);
  if (inv->enabled && inv->from_address.empty()) {
    reader.Problem("from_address", "required key is missing");
  }
  reader.String("from_name", &inv->from_name);
  reader.String("reply_to", &inv->reply_to);
  // These reach email headers: a line break there would let a config forge headers.
  for (const auto& [key, value] :
       {std::pair<const char*, const std::string*>{"from_address", &inv->from_address},
        {"from_name", &inv->from_name},
        {"reply_to", &inv->reply_to}}) {
    if (std::any_of(value->begin(), value->end(),
                    [](unsigned char c) { return c < 0x20 || c == 0x7f; })) {
      reader.Problem(key, "must not contain control characters (such as a line break)");
    }
  }
  reader.Int("expiry_days", &inv->expiry_days, 1, 365);
  std::vector<std::string> reminders;
  if (reader.StringList("reminder_days", &reminders)) {
    inv->reminder_days.clear();
    for (std::size_t i = 0; i < reminders.size(); ++i) {
      int days = std::atoi(reminders[i].c_str());
      if (days < 1 || days > 365 || std::to_string(days) != reminders[i]) {
        reader.Problem("reminder_days[" + std::to_string(i) + "]",
                       "must be a whole number of days from 1 to 365, got '" + reminders[i] + "'");
        continue;
      }
      inv->reminder_days.push_back(days);
    }
  }
  std::string notices;
  if (reader.String("notices", &notices)) {
    if (notices == "true" || notices == "false") {
      inv->notices = notices == "true";
    } else {
      reader.Problem("notices", "must be true or false, got '" + notices + "'");
    }
  }
  reader.Map("window", [&](YamlMap& window) {
    static constexpr std::array<std::string_view, 7> kDays = {"mon", "tue", "wed", "thu",
                                                              "fri", "sat", "sun"};
    std::vector<std::string> days;
    if (window.StringList("days", &days)) {
      for (const std::string& day : days) {
        if (!Contains(kDays, day)) {
          window.Problem("days", "must list days among " + JoinList(kDays) + "; got '" + day + "'");
        }
      }
      inv->days = days;
    }
    if (window.String("start", &inv->window_start) && !IsHourMinute(inv->window_start)) {
      window.Problem("start", "must be HH:MM, got '" + inv->window_start + "'");
    }
    if (window.String("end", &inv->window_end) && !IsHourMinute(inv->window_end)) {
      window.Problem("end", "must be HH:MM, got '" + inv->window_end + "'");
    }
    if (inv->window_end <= inv->window_start) window.Problem("end", "must be after start");
    if (window.String("time_zone", &inv->time_zone) &&
        !fs::exists(fs::path("/usr/share/zoneinfo") / inv->time_zone)) {
      window.Problem("time_zone", "unknown IANA time zone '" + inv->time_zone + "'");
    }
    if (window.StringList("blackout_dates", &inv->blackout_dates)) {
      for (const std::string& date : inv->blackout_dates) {
        if (date.size() != 10 || date[4] != '-' || date[7] != '-') {
          window.Problem("blackout_dates", "must list YYYY-MM-DD dates; got '" + date + "'");
        }
      }
    }
  });
  ReadRateLimits(reader, &inv->rate_limits);
}

void ReadCsv(YamlMap& reader, CsvOptions* csv) {
  reader.Map("columns", [&](YamlMap& columns) {
    columns.ForEachKey([&](const std::string& field) {
      std::string header;
      if (!Contains(kCsvFields, field)) {
        columns.Problem(field, "unknown credd field; expected one of " + JoinList(kCsvFields));
        return;
      }
      if (columns.String(field, &header, YamlMap::Need::kRequired)) csv->columns[field] = header;
    });
  });
  reader.Enum("encoding", &csv->encoding, kEncodings);
  std::string delimiter;
  if (reader.String("delimiter", &delimiter)) {
    if (delimiter.size() != 1 || static_cast<unsigned char>(delimiter[0]) >= 0x80) {
      reader.Problem("delimiter", "must be exactly one ASCII character, got '" + delimiter + "'");
    } else if (delimiter == "\"" || delimiter == "\r" || delimiter == "\n") {
      reader.Problem("delimiter", "must not be a double quote, CR or LF");
    } else {
      csv->delimiter = delimiter;
    }
  }
}

void ReadHttp(YamlMap& reader, HttpConfig* http) {
  if (reader.String("listen", &http->listen)) {
    const std::string problem = CheckListenAddress(http->listen);
    if (!problem.empty()) reader.Problem("listen", problem);
  }
  if (reader.String("public_url", &http->public_url)) {
    if (http->public_url.ends_with('/')) http->public_url.pop_back();
    const bool scheme =
        http->public_url.starts_with("https://") || http->public_url.starts_with("http://");
    const std::size_t host = http->public_url.find("://") + 3;
    if (!scheme || http->public_url.size() <= host ||
        http->public_url.find_first_of("/?#", host) != std::string::npos) {
      reader.Problem("public_url",
                     "must be an origin such as https://credentials.example-college.ca (no path)");
    }
  }
  reader.StringList("trusted_proxies", &http->trusted_proxies);
  reader.Map("tls", [&](YamlMap& tls) {
    tls.String("certificate", &http->tls.certificate);
    tls.String("key", &http->tls.key);
    if (http->tls.certificate.empty() != http->tls.key.empty()) {
      tls.Problem(http->tls.key.empty() ? "key" : "certificate", "certificate and key go together");
    }
  });
  reader.Int("threads", &http->threads, 1, 64);
  reader.Int("max_connections", &http->max_connections, 1, 100000);
  reader.Int("max_connections_per_client", &http->max_connections_per_client, 1, 100000);
  reader.Int("requests_per_minute", &http->requests_per_minute, 0, 1000000);
  reader.Int("header_timeout_seconds", &http->header_timeout_seconds, 1, 600);
  reader.Int("idle_timeout_seconds", &http->idle_timeout_seconds, 1, 3600);
  ReadSecret(reader, "admin_token", &http->admin_token);
}

void ReadAccounts(YamlMap& reader, AccountsConfig* accounts) {
  reader.Int("session_idle_minutes", &accounts->session_idle_minutes, 1, 24 * 60);
  reader.Int("session_absolute_hours", &accounts->session_absolute_hours, 1, 24 * 30);
  reader.Int("share_max_days", &accounts->share_max_days, 1, 3650);
  reader.Int("share_default_days", &accounts->share_default_days, 1, 3650);
  if (accounts->share_default_days > accounts->share_max_days) {
    reader.Problem("share_default_days", "must not be more than share_max_days");
  }
  reader.Int("reset_minutes", &accounts->reset_minutes, 5, 24 * 60);
  reader.Int("confirm_hours", &accounts->confirm_hours, 1, 24 * 30);
  reader.Int("access_code_tries", &accounts->access_code_tries, 1, 20);
  reader.Int("sign_in_failures", &accounts->sign_in_failures, 1, 1000);
  reader.Int("sign_in_window_minutes", &accounts->sign_in_window_minutes, 1, 24 * 60);
  reader.Int("sign_in_per_client_per_minute", &accounts->sign_in_per_client_per_minute, 1, 100000);
  reader.String("common_passwords", &accounts->common_passwords);
}

void ReadStaff(YamlMap& reader, StaffConfig* staff) {
  reader.String("sso_header", &staff->sso_header);
  reader.String("sso_login_url", &staff->sso_login_url);
}

void ReadInstitution(YamlMap& reader, InstitutionConfig* institution) {
  if (reader.String("id", &institution->id, YamlMap::Need::kRequired) &&
      !IsValidInstitutionId(institution->id)) {
    reader.Problem("id", "must match ^[a-z0-9][a-z0-9_-]{0,62}$ (it names a folder), got '" +
                             institution->id + "'");
  }
  reader.String("name_en", &institution->name_en);
  reader.String("name_fr", &institution->name_fr);
  reader.String("drop_dir", &institution->drop_dir);
  reader.Enum("default_locale", &institution->default_locale, kLocales);

  std::vector<std::string> names;
  std::vector<int> lines;
  if (reader.StringList("formats", &names, &lines)) {
    if (names.empty()) reader.Problem("formats", "must list at least one format");
    bool ok = !names.empty();
    std::vector<Format> formats;
    for (std::size_t i = 0; i < names.size(); ++i) {
      const std::string item_key = "formats[" + std::to_string(i) + "]";
      const std::optional<Format> format = kFormats.Parse(names[i]);
      if (!format) {
        reader.Problem(item_key, lines[i],
                       "must be one of " + kFormats.List() + "; got '" + names[i] + "'");
        ok = false;
        continue;
      }
      if (std::find(formats.begin(), formats.end(), *format) != formats.end()) {
        reader.Problem(item_key, lines[i], "'" + names[i] + "' is listed twice");
        ok = false;
        continue;
      }
      formats.push_back(*format);
    }
    if (ok) institution->formats = std::move(formats);
  }

  reader.Enum("on_record_error", &institution->on_record_error, kRecordErrorPolicies);
  reader.Map("csv", [&](YamlMap& csv) { ReadCsv(csv, &institution->csv); });

  reader.String("logo", &institution->logo);
  if (reader.String("primary_color", &institution->primary_color) &&
      !IsHexColor(institution->primary_color)) {
    reader.Problem("primary_color",
                   "must be a colour like #1f3a5f, got '" + institution->primary_color + "'");
  }
  institution->verification_url_set =
      reader.String("verification_url", &institution->verification_url);
  if (institution->verification_url_set &&
      institution->verification_url.find("{document_id}") == std::string::npos) {
    reader.Problem("verification_url", "must contain {document_id}");
  }
  reader.List("signatories", YamlMap::Need::kOptional, [&](YamlMap& item, std::size_t) {
    InstitutionConfig::Signatory signatory;
    item.String("name", &signatory.name, YamlMap::Need::kRequired);
    item.String("title_en", &signatory.title_en);
    item.String("title_fr", &signatory.title_fr);
    institution->signatories.push_back(std::move(signatory));
  });
  reader.StringList("grading_legend_en", &institution->grading_legend_en);
  reader.StringList("grading_legend_fr", &institution->grading_legend_fr);
  reader.Enum("login_method", &institution->login_method, kLoginMethods);
  reader.String("sso_header", &institution->sso_header);
  if (institution->login_method == "sso" && institution->sso_header.empty()) {
    reader.Problem("sso_header", "required when login_method is sso");
  }
  reader.String("sso_login_url", &institution->sso_login_url);
  reader.String("contact_email", &institution->contact_email);
  reader.String("contact_url", &institution->contact_url);
  bool has_invitations = false;
  reader.Map("invitations", [&](YamlMap& inv) {
    has_invitations = true;
    ReadInvitations(inv, &institution->invitations);
  });
  // Without an invitations section there is no From address: invitations stay off until
  // the institution says who they come from.
  if (!has_invitations) institution->invitations.enabled = false;
}

void ReadRoot(YamlMap& root, Config* config) {
  const bool database_is_map =
      root.Map("database", [&](YamlMap& reader) { ReadDatabase(reader, &config->database); });
  if (database_is_map) {
    const bool has_url = !config->database.url.empty();
    const bool has_embedded = !config->database.embedded.data_dir.empty();
    if (has_url && has_embedded) {
      root.Problem("database",
                   "both database.url and database.embedded.data_dir are set; set exactly one");
    } else if (!has_url && !has_embedded) {
      root.Problem("database",
                   "neither database.url nor database.embedded.data_dir is set; set exactly one");
    }
  }

  root.String("drop_root", &config->drop_root, YamlMap::Need::kRequired);
  root.Int("rescan_seconds", &config->rescan_seconds, 1, kMaxRescanSeconds);
  root.Int("settle_seconds", &config->settle_seconds, 1, kMaxSettleSeconds);
  std::string level;
  if (root.Enum("log_level", &level, kLogLevels)) ParseLogLevel(level, &config->log_level);

  root.Map("mail", [&](YamlMap& reader) { ReadMail(reader, &config->mail); });
  root.String("templates_dir", &config->templates_dir);

  root.Map("signing", [&](YamlMap& reader) {
    reader.String("key", &config->signing.key);
    reader.String("certificate", &config->signing.certificate);
    if (config->signing.key.empty() && !config->signing.certificate.empty()) {
      reader.Problem("key", "required when signing.certificate is set");
    }
    if (!config->signing.key.empty() && config->signing.certificate.empty()) {
      reader.Problem("certificate", "required when signing.key is set");
    }
    ReadSecret(reader, "passphrase", &config->signing.passphrase);
    ReadSecret(reader, "pin", &config->signing.pin);
    if (reader.String("tsa_url", &config->signing.tsa_url) &&
        !config->signing.tsa_url.starts_with("http://") &&
        !config->signing.tsa_url.starts_with("https://")) {
      reader.Problem("tsa_url", "must start with http:// or https://");
    }
  });

  root.Map("issuing", [&](YamlMap& reader) {
    reader.Int("workers", &config->issuing.workers, 0, 256);
    reader.Int("chunk_size", &config->issuing.chunk_size, 1, 1000);
  });

  root.Map("http", [&](YamlMap& reader) { ReadHttp(reader, &config->http); });
  root.Map("accounts", [&](YamlMap& reader) { ReadAccounts(reader, &config->accounts); });
  root.Map("staff", [&](YamlMap& reader) { ReadStaff(reader, &config->staff); });
  root.Map("audit", [&](YamlMap& reader) {
    reader.String("anchors_file", &config->audit.anchors_file);
    reader.Int("anchor_hours", &config->audit.anchor_hours, 1, 168);
  });

  // Remembers the first index of each id, so a duplicate can name the one it repeats.
  std::map<std::string, std::size_t> first_index;
  const std::optional<std::size_t> count =
      root.List("institutions", YamlMap::Need::kRequired, [&](YamlMap& reader, std::size_t i) {
        InstitutionConfig institution;
        ReadInstitution(reader, &institution);
        if (!institution.id.empty()) {
          const auto [it, inserted] = first_index.emplace(institution.id, i);
          if (!inserted) {
            reader.Problem("id", "duplicate id '" + institution.id +
                                     "' (first used by institutions[" + std::to_string(it->second) +
                                     "])");
          }
        }
        config->institutions.push_back(std::move(institution));
      });
  if (count.has_value() && *count == 0) {
    root.Problem("institutions", "must list at least one institution");
  }
}

// Relative paths mean "next to the config file", so the daemon behaves the same whatever
// folder it was started from (systemd starts it in /).
void ResolvePath(const fs::path& base, std::string* path) {
  if (path->empty() || fs::path(*path).is_absolute()) return;
  *path = (base / *path).lexically_normal().string();
}

void ResolvePaths(const std::string& base_dir, Config* config) {
  std::error_code error;
  fs::path base = fs::absolute(base_dir.empty() ? fs::path(".") : fs::path(base_dir), error);
  if (error) base = fs::path(base_dir);
  base = base.lexically_normal();

  ResolvePath(base, &config->database.embedded.data_dir);
  ResolvePath(base, &config->database.embedded.bin_dir);
  ResolvePath(base, &config->database.password.file);
  ResolvePath(base, &config->drop_root);
  ResolvePath(base, &config->mail.maildir);
  ResolvePath(base, &config->mail.smtp.password.file);
  ResolvePath(base, &config->mail.smtp.ca_file);
  if (!config->signing.key.starts_with("pkcs11:")) ResolvePath(base, &config->signing.key);
  ResolvePath(base, &config->signing.certificate);
  ResolvePath(base, &config->http.admin_token.file);
  ResolvePath(base, &config->http.tls.certificate);
  ResolvePath(base, &config->http.tls.key);
  ResolvePath(base, &config->signing.passphrase.file);
  ResolvePath(base, &config->templates_dir);
  ResolvePath(base, &config->signing.pin.file);
  ResolvePath(base, &config->audit.anchors_file);
  for (InstitutionConfig& institution : config->institutions) {
    ResolvePath(base, &institution.drop_dir);
    ResolvePath(base, &institution.logo);
  }
}

// Two institutions sharing one drop folder would claim each other's files.
void CheckDistinctDropDirs(const Config& config, std::vector<ConfigProblem>* problems) {
  for (std::size_t i = 0; i < config.institutions.size(); ++i) {
    for (std::size_t j = 0; j < i; ++j) {
      if (config.DropDirFor(config.institutions[i]) != config.DropDirFor(config.institutions[j])) {
        continue;
      }
      problems->push_back({"institutions[" + std::to_string(i) + "].drop_dir",
                           "same drop folder as institutions[" + std::to_string(j) + "]", 0});
      break;
    }
  }
}

// Reads at most limit bytes from fd; returns 0 or an errno value.
int ReadAll(int fd, std::size_t limit, std::string* out) {
  char buffer[4096];
  while (out->size() < limit) {
    const ssize_t n = ::read(fd, buffer, sizeof buffer);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return errno;
    if (n == 0) break;
    out->append(buffer, static_cast<std::size_t>(n));
  }
  return 0;
}

class FdCloser {
 public:
  explicit FdCloser(int fd) : fd_(fd) {}
  FdCloser(const FdCloser&) = delete;
  FdCloser& operator=(const FdCloser&) = delete;
  ~FdCloser() {
    if (fd_ >= 0) ::close(fd_);
  }

 private:
  int fd_;
};

std::string OctalMode(mode_t mode) {
  std::ostringstream out;
  out << std::oct << std::setfill('0') << std::setw(4) << (mode & 07777);
  return out.str();
}

std::string IndexedPath(const char* list, std::size_t index, const char* key) {
  return std::string(list) + "[" + std::to_string(index) + "]." + key;
}

// The environment checks below use stat(2) directly so they can tell "missing" from
// "something else is there"; none of them create or change anything.
void CheckDirectory(const std::string& key, const std::string& dir, bool may_be_missing,
                    std::vector<ConfigProblem>* problems) {
  if (dir.empty()) return;
  struct stat st {};
  if (::stat(dir.c_str(), &st) != 0) {
    if (errno == ENOENT && may_be_missing) return;
    problems->push_back(
        {key, errno == ENOENT ? "no such directory" : "cannot access: " + ErrnoText(errno), 0});
    return;
  }
  if (!S_ISDIR(st.st_mode)) problems->push_back({key, "not a directory", 0});
}

void CheckReadableFile(const std::string& key, const std::string& file,
                       std::vector<ConfigProblem>* problems) {
  if (file.empty()) return;
  struct stat st {};
  if (::stat(file.c_str(), &st) != 0) {
    problems->push_back(
        {key, errno == ENOENT ? "no such file" : "cannot access: " + ErrnoText(errno), 0});
    return;
  }
  if (!S_ISREG(st.st_mode)) {
    problems->push_back({key, "not a regular file", 0});
    return;
  }
  if (::access(file.c_str(), R_OK) != 0) {
    problems->push_back({key, "cannot read: " + ErrnoText(errno), 0});
  }
}

void CheckSecret(const std::string& prefix, const SecretSource& source,
                 std::vector<ConfigProblem>* problems) {
  if (source.empty()) return;
  const Result<std::string> secret = source.Read();
  if (secret.ok()) return;
  problems->push_back(
      {prefix + (source.file.empty() ? "_env" : "_file"), secret.error().ToString(), 0});
}

}  // namespace

Result<std::string> SecretSource::Read() const {
  auto content = ReadAll();
  if (!content || file.empty()) return content;
  std::string secret = content->substr(0, content->find('\n'));
  if (!secret.empty() && secret.back() == '\r') secret.pop_back();
  if (secret.empty()) {
    return MakeError(ErrorCode::kConfig, "secret file's first line is empty", file);
  }
  return secret;
}

Result<std::string> SecretSource::ReadAll() const {
  if (!file.empty() && !env.empty()) {
    return MakeError(ErrorCode::kConfig,
                     "both a secret file and a secret environment variable are set", file);
  }
  if (!env.empty()) {
    const char* value = std::getenv(env.c_str());
    if (value == nullptr) {
      return MakeError(ErrorCode::kConfig, "environment variable is not set", env);
    }
    if (*value == '\0') return MakeError(ErrorCode::kConfig, "environment variable is empty", env);
    return std::string(value);
  }
  if (file.empty()) return std::string();

  const int fd = ::open(file.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    return MakeError(ErrorCode::kConfig, "cannot open secret file: " + ErrnoText(errno), file);
  }
  FdCloser closer(fd);
  struct stat st {};
  if (::fstat(fd, &st) != 0) {
    return MakeError(ErrorCode::kConfig, "cannot stat secret file: " + ErrnoText(errno), file);
  }
  if (!S_ISREG(st.st_mode)) {
    return MakeError(ErrorCode::kConfig, "secret file is not a regular file", file);
  }
  // Checked on the opened file, not the name, so a swap between check and read is harmless.
  if ((st.st_mode & (S_IRGRP | S_IROTH)) != 0) {
    return MakeError(ErrorCode::kConfig,
                     "secret file is readable by group or others (mode " + OctalMode(st.st_mode) +
                         "); run chmod 600 on it",
                     file);
  }
  std::string content;
  if (const int error = ::credd::ReadAll(fd, kMaxSecretBytes, &content); error != 0) {
    return MakeError(ErrorCode::kConfig, "cannot read secret file: " + ErrnoText(error), file);
  }
  return content;
}

const InstitutionConfig* Config::FindInstitution(const std::string& id) const {
  for (const InstitutionConfig& institution : institutions) {
    if (institution.id == id) return &institution;
  }
  return nullptr;
}

std::string Config::DropDirFor(const InstitutionConfig& institution) const {
  if (!institution.drop_dir.empty()) return institution.drop_dir;
  return (fs::path(drop_root) / institution.id).string();
}

namespace {

// A restart-only key from the one field it names (`field` returns it from a Config, const or
// not): whether it changed, and how to keep the running value, both follow from that field.
// http.public_url is the origin people see: the verification URL printed on documents and
// the activation link in invitations follow it, unless the institution set its own.
void ApplyPublicUrl(Config* config) {
  if (config->http.public_url.empty()) return;
  for (InstitutionConfig& institution : config->institutions) {
    if (!institution.verification_url_set) {
      institution.verification_url = config->http.public_url + "/verify/{document_id}";
    }
    InvitationConfig& inv = institution.invitations;
    if (!inv.activation_url_set) {
      inv.activation_url = config->http.public_url + "/activate?token={token}";
      inv.access_code_url = config->http.public_url + "/activate";
      if (!inv.portfolio_url_set) inv.portfolio_url = config->http.public_url + "/documents";
    }
  }
}

template <typename Field>
RestartOnlyKey RestartOnly(std::string_view key, Field field) {
  return {
      key,
      [field](const Config& running, const Config& next) { return field(running) != field(next); },
      [field](Config& next, const Config& running) { field(next) = field(running); }};
}

}  // namespace

const std::vector<RestartOnlyKey>& RestartOnlyKeys() {
  static const std::vector<RestartOnlyKey> kKeys = {
      RestartOnly(
          "database.url", [](auto& c) -> auto& { return c.database.url; }),
      RestartOnly(
          "database.password", [](auto& c) -> auto& { return c.database.password; }),
      RestartOnly(
          "database.embedded", [](auto& c) -> auto& { return c.database.embedded; }),
      RestartOnly(
          "database.connect_timeout_seconds",
          [](auto& c) -> auto& { return c.database.connect_timeout_seconds; }),
      RestartOnly(
          "drop_root", [](auto& c) -> auto& { return c.drop_root; }),
      RestartOnly(
          "http", [](auto& c) -> auto& { return c.http; }),
      RestartOnly(
          "accounts.common_passwords",
          [](auto& c) -> auto& { return c.accounts.common_passwords; }),
      // The in-memory limits are made once, at start-up.
      RestartOnly(
          "accounts.sign_in_failures",
          [](auto& c) -> auto& { return c.accounts.sign_in_failures; }),
      RestartOnly(
          "accounts.sign_in_window_minutes",
          [](auto& c) -> auto& { return c.accounts.sign_in_window_minutes; }),
      RestartOnly(
          "accounts.sign_in_per_client_per_minute",
          [](auto& c) -> auto& { return c.accounts.sign_in_per_client_per_minute; }),
  };
  return kKeys;
}

bool NeedsRestart(std::string_view path) {
  for (const RestartOnlyKey& rule : RestartOnlyKeys()) {
    const std::string_view key = rule.key;
    if (path == key) return true;
    const std::string_view rest =
        path.size() > key.size() && path.starts_with(key) ? path.substr(key.size()) : "";
    if (rest.starts_with('.') || rest == "_file" || rest == "_env") return true;
    if (key.size() > path.size() && key.starts_with(path) && key[path.size()] == '.') return true;
  }
  return false;
}

Result<Config> ParseConfig(const std::string& yaml_text, const std::string& base_dir,
                           std::vector<ConfigProblem>* problems) {
  std::vector<ConfigProblem> local;
  if (problems == nullptr) problems = &local;
  const std::size_t before = problems->size();

  Config config;
  ReadYamlDocument(yaml_text, problems, [&](YamlMap& root) { ReadRoot(root, &config); });

  if (problems->size() == before) {
    ResolvePaths(base_dir, &config);
    CheckDistinctDropDirs(config, problems);
    ApplyPublicUrl(&config);
  }
  const std::size_t count = problems->size() - before;
  if (count == 0) return config;
  const std::string first = (*problems)[before].ToString();
  return MakeError(
      ErrorCode::kConfig,
      count == 1 ? first : std::to_string(count) + " problems in config; first: " + first);
}

Result<Config> LoadConfigFile(const std::string& path, std::vector<ConfigProblem>* problems) {
  std::vector<ConfigProblem> local;
  if (problems == nullptr) problems = &local;

  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    const std::string message = "cannot open config file " + path + ": " + ErrnoText(errno);
    problems->push_back({"", message, 0});
    return MakeError(ErrorCode::kConfig, message, path);
  }
  FdCloser closer(fd);
  std::string text;
  int error = ReadAll(fd, kMaxConfigBytes + 1, &text);
  if (error == 0 && text.size() > kMaxConfigBytes) error = EFBIG;
  if (error != 0) {
    const std::string message = "cannot read config file " + path + ": " + ErrnoText(error);
    problems->push_back({"", message, 0});
    return MakeError(ErrorCode::kConfig, message, path);
  }

  Result<Config> config = ParseConfig(text, fs::path(path).parent_path().string(), problems);
  if (!config.ok()) return MakeError(ErrorCode::kConfig, config.error().message, path);
  std::error_code ignored;
  const fs::path absolute = fs::absolute(path, ignored);
  config->source_path = ignored ? path : absolute.lexically_normal().string();
  return config;
}

bool CheckEnvironment(const Config& config, std::vector<ConfigProblem>* problems) {
  const std::size_t before = problems->size();

  // The daemon creates drop_root, the default drop folders, the maildir and the embedded
  // data folder; it only needs them not to be something else already.
  CheckDirectory("drop_root", config.drop_root, /*may_be_missing=*/true, problems);
  for (std::size_t i = 0; i < config.institutions.size(); ++i) {
    // An explicit drop_dir is usually a share someone else mounts; creating it would hide
    // a missing mount, so it must exist.
    CheckDirectory(IndexedPath("institutions", i, "drop_dir"), config.institutions[i].drop_dir,
                   /*may_be_missing=*/false, problems);
  }

  const DatabaseConfig& database = config.database;
  if (database.url.empty()) {
    CheckDirectory("database.embedded.data_dir", database.embedded.data_dir, true, problems);
    CheckDirectory("database.embedded.bin_dir", database.embedded.bin_dir, false, problems);
  } else {
    CheckSecret("database.password", database.password, problems);
  }

  // Only the transport in use is checked: a maildir setup need not carry SMTP credentials.
  if (config.mail.transport == "maildir") {
    CheckDirectory("mail.maildir", config.mail.maildir, true, problems);
  } else {
    CheckSecret("mail.smtp.password", config.mail.smtp.password, problems);
    CheckReadableFile("mail.smtp.ca_file", config.mail.smtp.ca_file, problems);
  }

  if (!config.signing.key.starts_with("pkcs11:")) {
    CheckReadableFile("signing.key", config.signing.key, problems);
  }
  CheckReadableFile("signing.certificate", config.signing.certificate, problems);
  CheckSecret("signing.passphrase", config.signing.passphrase, problems);
  CheckSecret("signing.pin", config.signing.pin, problems);
  CheckSecret("http.admin_token", config.http.admin_token, problems);
  CheckReadableFile("http.tls.certificate", config.http.tls.certificate, problems);
  CheckReadableFile("http.tls.key", config.http.tls.key, problems);
  for (std::size_t i = 0; i < config.institutions.size(); ++i) {
    CheckReadableFile("institutions[" + std::to_string(i) + "].logo", config.institutions[i].logo,
                      problems);
  }

  return problems->size() == before;
}

}  // namespace credd
