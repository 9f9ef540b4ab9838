// Opening connections and converting libpqxx errors; see database.h.
#include "daemon/store/database.h"

#include <libpq-fe.h>

#include <vector>

#include "daemon/store/internal/pq.h"

namespace credd {
namespace {

// Queries are quoted in messages up to this many bytes: enough to recognise the statement,
// short enough to keep a log line readable (a migration is thousands of bytes).
constexpr size_t kMaxQueryInMessage = 200;

// libpq messages end with a newline and may span lines ("ERROR: ...\nDETAIL: ..."); a
// credd message is one line.
std::string OneLine(std::string_view text) {
  std::string out;
  for (char c : text) {
    if (c == '\n' || c == '\r') {
      if (!out.empty() && out.back() != ' ') out += ' ';
    } else {
      out += c;
    }
  }
  while (!out.empty() && out.back() == ' ') out.pop_back();
  return out;
}

// SQLSTATE classes that mean "the server is not there (yet)" rather than "we did something
// wrong": connection exceptions (08), and admin shutdown / crash / starting up (57P0x).
// How long a credd session may sit idle inside a transaction before the server ends it.
constexpr int kIdleInTransactionSeconds = 60;

// States after which the same work succeeds later: the connection or server went away
// (08, 57P0x), the server ran out of disk, memory or connections (53), a deadlock or
// serialization failure (40001, 40P01), a lock not available, a cancelled query.
bool IsUnavailableState(const std::string& sqlstate) {
  for (const char* prefix : {"08", "57P0", "53", "40001", "40P01", "55P03", "57014", "58030"}) {
    if (sqlstate.rfind(prefix, 0) == 0) return true;
  }
  return false;
}

// A libpq value quoted for keyword=value conninfo.
std::string QuoteConninfoValue(const std::string& value) {
  std::string out = "'";
  for (char c : value) {
    if (c == '\'' || c == '\\') out += '\\';
    out += c;
  }
  out += '\'';
  return out;
}

using ConninfoPairs = std::vector<std::pair<std::string, std::string>>;

Result<ConninfoPairs> ParseConninfo(const std::string& conninfo) {
  char* error = nullptr;
  PQconninfoOption* options = PQconninfoParse(conninfo.c_str(), &error);
  if (options == nullptr) {
    std::string message = error != nullptr ? OneLine(error) : "out of memory";
    PQfreemem(error);
    return MakeError(ErrorCode::kConfig, "cannot parse the database URL: " + message,
                     "database.url");
  }
  ConninfoPairs pairs;
  for (PQconninfoOption* o = options; o->keyword != nullptr; ++o) {
    if (o->val != nullptr) pairs.emplace_back(o->keyword, o->val);
  }
  PQconninfoFree(options);
  return pairs;
}

std::string RenderConninfo(const ConninfoPairs& pairs, bool elide_password) {
  std::string out;
  for (const auto& [key, value] : pairs) {
    if (!out.empty()) out += ' ';
    out += key + "=" + (elide_password && key == "password" ? "***" : QuoteConninfoValue(value));
  }
  return out;
}

// libpqxx 6 leaves sqlstate() empty for some exception classes, and throws transaction
// rollbacks as non-sql_error classes; name their SQLSTATE so messages are uniform.
std::string KnownSqlstate(const std::exception& e) {
  if (const auto* sql = dynamic_cast<const pqxx::sql_error*>(&e); sql != nullptr) {
    if (!sql->sqlstate().empty()) return sql->sqlstate();
    if (dynamic_cast<const pqxx::insufficient_privilege*>(&e) != nullptr) return "42501";
    return {};
  }
  if (dynamic_cast<const pqxx::serialization_failure*>(&e) != nullptr) return "40001";
  if (dynamic_cast<const pqxx::deadlock_detected*>(&e) != nullptr) return "40P01";
  if (dynamic_cast<const pqxx::statement_completion_unknown*>(&e) != nullptr) return "40003";
  if (dynamic_cast<const pqxx::transaction_rollback*>(&e) != nullptr) return "40000";
  return {};
}

}  // namespace

std::string BigintArray(const std::vector<int64_t>& values) {
  std::string out = "{";
  for (size_t i = 0; i < values.size(); ++i) {
    if (i > 0) out += ',';
    out += std::to_string(values[i]);
  }
  return out + "}";
}

std::string TextArray(const std::vector<std::string>& values) {
  std::string out = "{";
  for (size_t i = 0; i < values.size(); ++i) {
    if (i > 0) out += ',';
    out += '"';
    for (char c : values[i]) {
      if (c == '"' || c == '\\') out += '\\';
      out += c;
    }
    out += '"';
  }
  return out + "}";
}

Error PqError(const std::string& context, const std::exception& e) {
  if (dynamic_cast<const pqxx::broken_connection*>(&e) != nullptr) {
    return MakeError(ErrorCode::kUnavailable,
                     context + ": database unavailable: " + OneLine(e.what()));
  }
  if (dynamic_cast<const pqxx::in_doubt_error*>(&e) != nullptr) {
    // The connection broke during COMMIT: the outcome is unknown, the server unreachable.
    return MakeError(ErrorCode::kUnavailable,
                     context + ": connection lost during commit: " + OneLine(e.what()));
  }
  if (const auto* sql = dynamic_cast<const pqxx::sql_error*>(&e)) {
    const std::string sqlstate = KnownSqlstate(e);
    std::string message = context + ": " + OneLine(sql->what());
    if (!sqlstate.empty()) message += " [SQLSTATE " + sqlstate + "]";
    std::string query = OneLine(sql->query());
    if (!query.empty()) {
      if (query.size() > kMaxQueryInMessage) query = query.substr(0, kMaxQueryInMessage) + "...";
      message += " in query: " + query;
    }
    ErrorCode code = IsUnavailableState(sqlstate) ? ErrorCode::kUnavailable : ErrorCode::kInternal;
    return MakeError(code, std::move(message));
  }
  std::string message = context + ": " + OneLine(e.what());
  // A serialization failure or deadlock: the caller may retry the whole transaction.
  const std::string sqlstate = KnownSqlstate(e);
  if (!sqlstate.empty()) message += " [SQLSTATE " + sqlstate + "]";
  return MakeError(IsUnavailableState(sqlstate) ? ErrorCode::kUnavailable : ErrorCode::kInternal,
                   std::move(message));
}

Result<std::string> RewriteConninfo(const std::string& conninfo,
                                    const std::map<std::string, std::string>& overrides) {
  Result<ConninfoPairs> pairs = ParseConninfo(conninfo);
  if (!pairs.ok()) return pairs.error();
  for (const auto& [key, value] : overrides) {
    std::erase_if(*pairs, [&key](const auto& pair) { return pair.first == key; });
    if (!value.empty()) pairs->emplace_back(key, value);
  }
  return RenderConninfo(*pairs, /*elide_password=*/false);
}

Result<std::unique_ptr<Database>> Database::Open(const DatabaseConfig& config, Logger& log) {
  std::unique_ptr<EmbeddedCluster> cluster;
  std::string base;
  if (!config.url.empty()) {
    base = config.url;
  } else if (!config.embedded.data_dir.empty()) {
    Result<std::unique_ptr<EmbeddedCluster>> started = EmbeddedCluster::Start(config.embedded, log);
    if (!started.ok()) return started.error();
    cluster = std::move(started).value();
    base = cluster->conninfo();
  } else {
    return MakeError(ErrorCode::kConfig, "set database.url or database.embedded.data_dir",
                     "database");
  }

  Result<ConninfoPairs> pairs = ParseConninfo(base);
  if (!pairs.ok()) return pairs.error();
  auto has = [&pairs](const std::string& key) {
    for (const auto& pair : *pairs) {
      if (pair.first == key) return true;
    }
    return false;
  };
  // A connect_timeout written in the URL is the operator's explicit choice; keep it.
  if (!has("connect_timeout") && config.connect_timeout_seconds > 0) {
    pairs->emplace_back("connect_timeout", std::to_string(config.connect_timeout_seconds));
  }
  // A credd frozen inside a transaction (SIGSTOP, a paused VM) would hold its locks, and
  // with them every other credd's mail and issuing, for as long as it stays frozen. The
  // server ends such a session after kIdleInTransaction; credd's own transactions never
  // wait that long between statements (the slowest is a document signed with a timestamp).
  const std::string idle =
      "-c idle_in_transaction_session_timeout=" + std::to_string(kIdleInTransactionSeconds) + "s";
  bool has_options = false;
  for (auto& [key, value] : *pairs) {
    if (key != "options") continue;
    has_options = true;
    if (value.find("idle_in_transaction_session_timeout") == std::string::npos) {
      value += " " + idle;
    }
  }
  if (!has_options) pairs->emplace_back("options", idle);
  if (!config.password.empty()) {
    Result<std::string> password = config.password.Read();
    if (!password.ok()) return password.error();
    std::erase_if(*pairs, [](const auto& pair) { return pair.first == "password"; });
    pairs->emplace_back("password", *password);
  }

  std::unique_ptr<Database> db(new Database(RenderConninfo(*pairs, /*elide_password=*/false),
                                            RenderConninfo(*pairs, /*elide_password=*/true),
                                            std::move(cluster)));
  Result<std::unique_ptr<Store>> store = db->Connect();
  if (!store.ok()) return store.error();
  log.Info("store.open", {{"database", db->Describe()},
                          {"server_version", std::to_string((*store)->ServerVersion())}});
  return db;
}

Database::Database(std::string conninfo, std::string described,
                   std::unique_ptr<EmbeddedCluster> cluster)
    : conninfo_(std::move(conninfo)),
      described_(std::move(described)),
      cluster_(std::move(cluster)) {}

// Out of line so the embedded cluster is released here, after every member that uses it.
Database::~Database() = default;

Store::Store(std::unique_ptr<Connection> connection) : connection_(std::move(connection)) {}
Store::~Store() = default;
int Store::ServerVersion() { return connection_->pq.server_version(); }
bool Store::IsOpen() { return connection_->pq.is_open(); }

Result<std::unique_ptr<Store>> Database::Connect() const {
  auto connect = [this]() -> Result<std::unique_ptr<Store>> {
    try {
      return std::make_unique<Store>(std::make_unique<Store::Connection>(conninfo_));
    } catch (const std::exception& e) {
      return PqError("connecting to " + described_, e);
    }
  };
  auto conn = connect();
  if (conn.ok() || cluster_ == nullptr || conn.error().code != ErrorCode::kUnavailable) {
    return conn;
  }
  if (Status restarted = RestartEmbedded(); !restarted) return restarted.error();
  return connect();
}

Status Database::RestartEmbedded() const {
  std::lock_guard lock(restart_mu_);
  const auto now = std::chrono::steady_clock::now();
  if (now < next_restart_) {
    return MakeError(
        ErrorCode::kUnavailable,
        "the embedded PostgreSQL is down; the next restart is due in " +
            std::to_string(
                std::chrono::duration_cast<std::chrono::seconds>(next_restart_ - now).count() + 1) +
            " s",
        described_);
  }
  Status s = cluster_->EnsureRunning();
  if (s) {
    restart_backoff_ = std::chrono::seconds(1);
    next_restart_ = {};
    return s;
  }
  next_restart_ = now + restart_backoff_;
  restart_backoff_ = std::min(restart_backoff_ * 2, std::chrono::seconds(60));
  return s;
}

std::string Database::Describe() const { return described_; }

}  // namespace credd
