// The embedded PostgreSQL cluster: layout, locking and the initdb/pg_ctl children; see
// embedded_cluster.h.
//
// Layout under data_dir:
//   pgdata/        the cluster (initdb -D)
//   run/           the unix socket directory, mode 0700, owned by the server's user
//   server.log     the server's log (pg_ctl -l)
//   control.lock   flock LOCK_EX while a process starts or stops the server
//   users.lock     flock LOCK_SH by every process using the server, for its lifetime
#include "daemon/store/embedded_cluster.h"

#include <fcntl.h>
#include <grp.h>
#include <libpq-fe.h>
#include <pwd.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <pqxx/pqxx>
#include <thread>
#include <vector>

#include "common/posix_error.h"
#include "daemon/store/database.h"
#include "daemon/store/internal/pq.h"

namespace credd {
namespace {

namespace fs = std::filesystem;

constexpr const char* kDefaultRunAsUser = "postgres";
constexpr const char* kPort = "5432";
// sockaddr_un.sun_path is 108 bytes including the terminating NUL.
constexpr size_t kMaxSocketPath = 107;
// How long pg_ctl and our own readiness polls wait for the server.
constexpr int kServerWaitSeconds = 60;
// How much of server.log a start failure quotes.
constexpr size_t kLogTailBytes = 2000;
// A postmaster killed with -9 leaves children that exit once they notice; until then a new
// postmaster refuses to start ("pre-existing shared memory block is still in use").
constexpr int kStartAttempts = 5;

constexpr const char* kDatabaseExistsQuery = "SELECT 1 FROM pg_database WHERE datname = 'credd'";
constexpr const char* kCreateDatabaseQuery = "CREATE DATABASE credd";

// Who runs initdb, pg_ctl and therefore the server.
struct Identity {
  bool switch_user = false;  // True when credd is root and must drop to `name`.
  std::string name;
  uid_t uid = 0;
  gid_t gid = 0;
  std::vector<gid_t> groups;  // Supplementary groups, as initgroups(3) would set them.
};

// The supplementary groups of a user, computed in the parent: initgroups(3) reads
// /etc/group and allocates, which is not safe between fork and exec in a threaded process,
// so the child calls setgroups(2) with this list instead.
std::vector<gid_t> GroupsOf(const std::string& name, gid_t gid) {
  int count = 32;
  std::vector<gid_t> groups(static_cast<size_t>(count));
  while (getgrouplist(name.c_str(), gid, groups.data(), &count) == -1) {
    groups.resize(static_cast<size_t>(count) + 1);
    count = static_cast<int>(groups.size());
  }
  groups.resize(static_cast<size_t>(count));
  return groups;
}

Result<Identity> IdentityFor(const std::string& name) {
  std::vector<char> buffer(16384);
  passwd pw{};
  passwd* found = nullptr;
  int err = getpwnam_r(name.c_str(), &pw, buffer.data(), buffer.size(), &found);
  if (err != 0) return PosixError(ErrorCode::kIo, "looking up user '" + name + "'", err);
  if (found == nullptr) {
    return MakeError(ErrorCode::kConfig,
                     "user '" + name +
                         "' does not exist; as root, credd runs the embedded PostgreSQL as an "
                         "unprivileged user (create it, or set another one)",
                     "database.embedded.run_as_user");
  }
  if (pw.pw_uid == 0) {
    return MakeError(ErrorCode::kConfig,
                     "user '" + name + "' is root; PostgreSQL refuses to run as root",
                     "database.embedded.run_as_user");
  }
  return Identity{true, name, pw.pw_uid, pw.pw_gid, GroupsOf(name, pw.pw_gid)};
}

Result<Identity> ChooseIdentity(const EmbeddedDatabaseConfig& config) {
  if (geteuid() == 0) {
    return IdentityFor(config.run_as_user.empty() ? kDefaultRunAsUser : config.run_as_user);
  }
  // A normal user runs the server as itself; run_as_user only matters for root.
  return Identity{false, "", geteuid(), getegid(), {}};
}

Result<Identity> IdentityForUid(uid_t uid, gid_t gid) {
  if (uid == geteuid()) return Identity{false, "", uid, gid, {}};
  std::vector<char> buffer(16384);
  passwd pw{};
  passwd* found = nullptr;
  if (getpwuid_r(uid, &pw, buffer.data(), buffer.size(), &found) != 0 || found == nullptr) {
    return MakeError(ErrorCode::kConfig, "no user with uid " + std::to_string(uid));
  }
  return Identity{true, pw.pw_name, uid, gid, GroupsOf(pw.pw_name, gid)};
}

struct ProcessOutcome {
  int exit_code = -1;  // -1 when killed by a signal.
  std::string output;  // stdout and stderr, interleaved.
};

// Runs `argv` (argv[0] an absolute path) without a shell, as `who`, in `cwd`, with a small
// fixed environment (so a stray PGPORT or PGDATA in ours cannot redirect the server), and
// captures its output. kIo when it cannot even be started.
Result<ProcessOutcome> RunProcess(const std::vector<std::string>& argv, const Identity& who,
                                  const std::string& cwd) {
  std::vector<std::string> env_strings = {"PATH=/usr/local/bin:/usr/bin:/bin", "LC_ALL=C.UTF-8"};
  if (const char* tz = std::getenv("TZ")) env_strings.push_back(std::string("TZ=") + tz);
  std::vector<char*> args;
  for (const std::string& a : argv) args.push_back(const_cast<char*>(a.c_str()));
  args.push_back(nullptr);
  std::vector<char*> env;
  for (const std::string& e : env_strings) env.push_back(const_cast<char*>(e.c_str()));
  env.push_back(nullptr);

  int null_fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
  if (null_fd < 0) return PosixError(ErrorCode::kIo, "opening /dev/null", errno);
  int fds[2];
  if (pipe2(fds, O_CLOEXEC) != 0) {
    int err = errno;
    close(null_fd);
    return PosixError(ErrorCode::kIo, "creating a pipe", err);
  }
  pid_t pid = fork();
  if (pid < 0) {
    int err = errno;
    close(null_fd);
    close(fds[0]);
    close(fds[1]);
    return PosixError(ErrorCode::kIo, "fork", err);
  }
  if (pid == 0) {
    // Child: only async-signal-safe calls from here to exec.
    auto fail = [](const char* what) {
      const char* reason = strerror(errno);
      if (write(2, what, strlen(what)) < 0 || write(2, ": ", 2) < 0 ||
          write(2, reason, strlen(reason)) < 0 || write(2, "\n", 1) < 0) {
        _exit(127);
      }
      _exit(127);
    };
    if (dup2(null_fd, 0) < 0 || dup2(fds[1], 1) < 0 || dup2(fds[1], 2) < 0) fail("dup2");
    // Nothing else of ours may leak into the server: an inherited lock file descriptor would
    // keep our flock alive as long as the postmaster runs.
    close_range(3, ~0U, 0);
    if (who.switch_user) {
      if (setgroups(who.groups.size(), who.groups.data()) != 0) fail("setgroups");
      if (setgid(who.gid) != 0) fail("setgid");
      if (setuid(who.uid) != 0) fail("setuid");
    }
    if (chdir(cwd.c_str()) != 0) fail("chdir");
    execve(args[0], args.data(), env.data());
    fail(args[0]);
  }
  close(null_fd);
  close(fds[1]);
  ProcessOutcome outcome;
  char buffer[4096];
  for (;;) {
    ssize_t n = read(fds[0], buffer, sizeof buffer);
    if (n > 0) {
      outcome.output.append(buffer, static_cast<size_t>(n));
    } else if (n == 0 || errno != EINTR) {
      break;
    }
  }
  close(fds[0]);
  int status = 0;
  while (waitpid(pid, &status, 0) < 0) {
    if (errno != EINTR) return PosixError(ErrorCode::kIo, "waiting for " + argv[0], errno);
  }
  outcome.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  while (!outcome.output.empty() && outcome.output.back() == '\n') outcome.output.pop_back();
  return outcome;
}

// A command line for messages.
std::string Describe(const std::vector<std::string>& argv) {
  std::string out;
  for (const std::string& a : argv) out += (out.empty() ? "" : " ") + a;
  return out;
}

bool IsExecutable(const fs::path& path) { return access(path.c_str(), X_OK) == 0; }

// An open lock file; closing it releases its flock. Each object opens its own file
// description, because flock locks belong to the description: two users in one process
// then hold two independent locks.
class LockFile {
 public:
  LockFile() = default;
  explicit LockFile(int fd) : fd_(fd) {}
  LockFile(LockFile&& other) noexcept : fd_(std::exchange(other.fd_, -1)) {}
  LockFile& operator=(LockFile&&) = delete;
  ~LockFile() {
    if (fd_ >= 0) close(fd_);
  }

  static Result<LockFile> Open(const fs::path& path) {
    // O_CLOEXEC: the postmaster must never inherit (and so keep) our locks.
    int fd = open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
    if (fd < 0) return PosixError(ErrorCode::kIo, "opening " + path.string(), errno);
    return LockFile(fd);
  }

  Status Lock(int operation, const std::string& what) {
    while (flock(fd_, operation) != 0) {
      if (errno != EINTR) return PosixError(ErrorCode::kIo, "locking " + what, errno);
    }
    return Status::Ok();
  }

  int fd() const { return fd_; }
  int Release() { return std::exchange(fd_, -1); }

 private:
  int fd_ = -1;
};

// The user must be able to enter every parent of data_dir, or initdb and the server fail
// with a confusing "permission denied" deep inside pg_ctl's output.
Status CheckTraversable(const fs::path& data_dir, const Identity& who) {
  for (fs::path dir = data_dir.parent_path(); !dir.empty(); dir = dir.parent_path()) {
    struct stat st {};
    if (stat(dir.c_str(), &st) != 0)
      return PosixError(ErrorCode::kIo, "checking " + dir.string(), errno);
    mode_t bit = S_IXOTH;
    if (st.st_uid == who.uid) {
      bit = S_IXUSR;
    } else if (st.st_gid == who.gid ||
               std::find(who.groups.begin(), who.groups.end(), st.st_gid) != who.groups.end()) {
      bit = S_IXGRP;
    }
    if ((st.st_mode & bit) == 0) {
      char mode[8];
      std::snprintf(mode, sizeof mode, "%04o", st.st_mode & 07777);
      return MakeError(ErrorCode::kConfig,
                       "the embedded PostgreSQL runs as user '" + who.name +
                           "', which cannot enter " + dir.string() + " (mode " + mode +
                           "); choose a data_dir that user can reach, or let it traverse " +
                           dir.string() + " (e.g. chmod o+x)",
                       "database.embedded.data_dir");
    }
    if (dir == dir.root_path()) break;
  }
  return Status::Ok();
}

Status ChownTo(const fs::path& path, const Identity& who) {
  if (!who.switch_user) return Status::Ok();
  if (lchown(path.c_str(), who.uid, who.gid) != 0) {
    return PosixError(ErrorCode::kIo, "changing the owner of " + path.string(), errno);
  }
  return Status::Ok();
}

// pgdata must belong to the server's user; a cluster created by an earlier run under a
// different account is handed over whole.
Status ChownTree(const fs::path& root, const Identity& who) {
  if (!who.switch_user) return Status::Ok();
  struct stat st {};
  if (lstat(root.c_str(), &st) != 0)
    return PosixError(ErrorCode::kIo, "checking " + root.string(), errno);
  if (st.st_uid == who.uid && st.st_gid == who.gid) return Status::Ok();
  if (Status s = ChownTo(root, who); !s.ok()) return s;
  std::error_code ec;
  for (auto it = fs::recursive_directory_iterator(root, ec); !ec && it != fs::end(it);
       it.increment(ec)) {
    if (Status s = ChownTo(it->path(), who); !s.ok()) return s;
  }
  if (ec) return PosixError(ErrorCode::kIo, "walking " + root.string(), ec.value());
  return Status::Ok();
}

Status MakeDir(const fs::path& dir, mode_t mode, const Identity& who) {
  if (mkdir(dir.c_str(), mode) != 0 && errno != EEXIST) {
    return PosixError(ErrorCode::kIo, "creating " + dir.string(), errno);
  }
  if (chmod(dir.c_str(), mode) != 0)
    return PosixError(ErrorCode::kIo, "setting the mode of " + dir.string(), errno);
  return ChownTo(dir, who);
}

// The bytes appended to server.log since `offset`, at most kLogTailBytes of them.
std::string LogTailSince(const fs::path& log_path, std::uintmax_t offset) {
  std::ifstream in(log_path, std::ios::binary);
  if (!in) return {};
  in.seekg(0, std::ios::end);
  std::uintmax_t size = static_cast<std::uintmax_t>(in.tellg());
  if (size <= offset) return {};
  std::uintmax_t start = std::max(offset, size > kLogTailBytes ? size - kLogTailBytes : 0);
  in.seekg(static_cast<std::streamoff>(start));
  std::string tail(static_cast<size_t>(size - start), '\0');
  in.read(tail.data(), static_cast<std::streamsize>(tail.size()));
  while (!tail.empty() && tail.back() == '\n') tail.pop_back();
  return tail;
}

std::uintmax_t FileSize(const fs::path& path) {
  std::error_code ec;
  std::uintmax_t size = fs::file_size(path, ec);
  return ec ? 0 : size;
}

// Polls until the server accepts connections (or answers "starting up" no more).
bool WaitUntilAccepting(const std::string& conninfo) {
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(kServerWaitSeconds);
  while (std::chrono::steady_clock::now() < deadline) {
    if (PQping(conninfo.c_str()) == PQPING_OK) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  return false;
}

// The first line of postmaster.pid, or 0.
pid_t ReadPostmasterPid(const fs::path& pgdata) {
  std::ifstream in(pgdata / "postmaster.pid");
  long pid = 0;
  if (!(in >> pid) || pid <= 0) return 0;
  return static_cast<pid_t>(pid);
}

bool IsPostgresProcess(pid_t pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/comm");
  std::string comm;
  return static_cast<bool>(std::getline(in, comm)) && comm.rfind("postgres", 0) == 0;
}

struct Layout {
  fs::path data_dir;
  fs::path pgdata;
  fs::path run;
  fs::path log;
};

// Everything Start does while holding the control lock.
class Starter {
 public:
  Starter(Layout layout, std::string bin_dir, Identity who, Logger& log)
      : layout_(std::move(layout)), bin_dir_(std::move(bin_dir)), who_(std::move(who)), log_(log) {}

  Status PrepareLayout() {
    if (Status s = ChownTo(layout_.data_dir, who_); !s.ok()) return s;
    for (const char* name : {"control.lock", "users.lock"}) {
      if (Status s = ChownTo(layout_.data_dir / name, who_); !s.ok()) return s;
    }
    // The socket directory is private to the server's user: with listen_addresses='' it is
    // the only way in, which is what makes trust authentication safe.
    if (Status s = MakeDir(layout_.run, 0700, who_); !s.ok()) return s;
    if (fs::exists(layout_.pgdata)) {
      if (Status s = ChownTree(layout_.pgdata, who_); !s.ok()) return s;
    }
    int fd =
        open(layout_.log.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC | O_NOFOLLOW, 0600);
    if (fd < 0) return PosixError(ErrorCode::kIo, "creating " + layout_.log.string(), errno);
    close(fd);
    return ChownTo(layout_.log, who_);
  }

  Status InitIfNeeded() {
    if (fs::exists(layout_.pgdata / "PG_VERSION")) return Status::Ok();
    std::error_code ec;
    if (fs::exists(layout_.pgdata) && !fs::is_empty(layout_.pgdata, ec)) {
      return MakeError(ErrorCode::kConfig,
                       layout_.pgdata.string() +
                           " exists but holds no PostgreSQL cluster (an interrupted initdb?); "
                           "remove it to start afresh",
                       "database.embedded.data_dir");
    }
    if (Status s = MakeDir(layout_.pgdata, 0700, who_); !s.ok()) return s;
    log_.Info("embedded_pg.initdb", {{"data_dir", layout_.data_dir.string()}});
    // Trust is safe here: the server listens on no TCP address (listen_addresses='') and its
    // socket directory is mode 0700, so only its own OS user (and root) can connect at all.
    return Run({bin_dir_ + "/initdb", "-D", layout_.pgdata.string(), "-U", "credd",
                "--auth-local=trust", "--auth-host=reject", "-E", "UTF8", "--locale=C.UTF-8"},
               "initdb");
  }

  // 0 = running, 3 = not running (pg_ctl's own exit codes); anything else is an error.
  Result<bool> IsRunning() {
    Result<ProcessOutcome> status = RunProcess(
        {bin_dir_ + "/pg_ctl", "status", "-D", layout_.pgdata.string()}, who_, layout_.data_dir);
    if (!status.ok()) return status.error();
    if (status->exit_code == 0) return true;
    if (status->exit_code == 3) return false;
    return MakeError(
        ErrorCode::kUnavailable,
        "pg_ctl status failed (exit " + std::to_string(status->exit_code) + "): " + status->output);
  }

  // pg_ctl status trusts postmaster.pid when its PID is alive. After a reboot or container
  // restart that PID may belong to an unrelated process, and then the server would refuse to
  // start forever; a PID that is not a postgres, while our socket is silent, is stale.
  Result<bool> IsReallyRunning(const std::string& admin_conninfo) {
    Result<bool> running = IsRunning();
    if (!running.ok() || !*running) return running;
    PGPing ping = PQping(admin_conninfo.c_str());
    if (ping == PQPING_OK || ping == PQPING_REJECT) return true;
    pid_t pid = ReadPostmasterPid(layout_.pgdata);
    if (pid > 0 && !IsPostgresProcess(pid)) {
      log_.Warn("embedded_pg.stale_pid",
                {{"data_dir", layout_.data_dir.string()}, {"pid", std::to_string(pid)}});
      fs::remove(layout_.pgdata / "postmaster.pid");
      return false;
    }
    return true;  // A postgres starting up; WaitUntilAccepting decides.
  }

  Status StartServer() {
    std::string run = layout_.run.string();
    // jit=off: credd.service sets MemoryDenyWriteExecute, under which LLVM's JIT (on by
    // default for costly queries) cannot map the code it writes.
    std::string options = "-c listen_addresses='' -c port=" + std::string(kPort) +
                          " -c unix_socket_directories='" + run +
                          "' -c unix_socket_permissions=0700 -c jit=off";
    Status result = Status::Ok();
    for (int attempt = 1; attempt <= kStartAttempts; ++attempt) {
      std::uintmax_t log_offset = FileSize(layout_.log);
      log_.Info("embedded_pg.start",
                {{"data_dir", layout_.data_dir.string()}, {"attempt", std::to_string(attempt)}});
      Result<ProcessOutcome> started = RunProcess(
          {bin_dir_ + "/pg_ctl", "start", "-D", layout_.pgdata.string(), "-l", layout_.log.string(),
           "-w", "-t", std::to_string(kServerWaitSeconds), "-o", options},
          who_, layout_.data_dir);
      if (!started.ok()) return started.error();
      if (started->exit_code == 0) return Status::Ok();
      std::string tail = LogTailSince(layout_.log, log_offset);
      result = MakeError(ErrorCode::kUnavailable,
                         "pg_ctl start failed (exit " + std::to_string(started->exit_code) +
                             "): " + started->output + "\nserver.log:\n" + tail,
                         layout_.log.string());
      if (tail.find("pre-existing shared memory block") == std::string::npos) break;
      std::this_thread::sleep_for(std::chrono::seconds(1));
    }
    return result;
  }

  Status CreateDatabase(const std::string& admin_conninfo) {
    try {
      pqxx::connection conn(admin_conninfo);
      pqxx::nontransaction txn(conn);
      if (txn.exec(kDatabaseExistsQuery).empty()) {
        log_.Info("embedded_pg.create_database",
                  {{"data_dir", layout_.data_dir.string()}, {"database", "credd"}});
        txn.exec0(kCreateDatabaseQuery);
      }
      return Status::Ok();
    } catch (const std::exception& e) {
      return PqError("creating database credd in the embedded cluster", e);
    }
  }

 private:
  Status Run(const std::vector<std::string>& argv, const std::string& what) {
    Result<ProcessOutcome> outcome = RunProcess(argv, who_, layout_.data_dir);
    if (!outcome.ok()) return outcome.error();
    if (outcome->exit_code != 0) {
      return MakeError(
          ErrorCode::kUnavailable,
          what + " failed (exit " + std::to_string(outcome->exit_code) + "): " + outcome->output,
          Describe(argv));
    }
    return Status::Ok();
  }

  Layout layout_;
  std::string bin_dir_;
  Identity who_;
  Logger& log_;
};

Layout LayoutFor(const fs::path& data_dir) {
  return {data_dir, data_dir / "pgdata", data_dir / "run", data_dir / "server.log"};
}

std::string ConninfoFor(const fs::path& run, const std::string& dbname) {
  return "host=" + run.string() + " port=" + kPort + " dbname=" + dbname + " user=credd";
}

}  // namespace

Result<std::string> FindPostgresBinDir(const std::string& configured) {
  if (!configured.empty()) {
    if (IsExecutable(fs::path(configured) / "initdb")) return configured;
    return MakeError(ErrorCode::kConfig, "no executable initdb in " + configured,
                     "database.embedded.bin_dir");
  }
  const char* path_env = std::getenv("PATH");
  std::string path = path_env != nullptr ? path_env : "/usr/local/bin:/usr/bin:/bin";
  for (size_t begin = 0; begin <= path.size();) {
    size_t end = path.find(':', begin);
    if (end == std::string::npos) end = path.size();
    fs::path pg_config = fs::path(path.substr(begin, end - begin)) / "pg_config";
    begin = end + 1;
    if (!pg_config.is_absolute() || !IsExecutable(pg_config)) continue;
    Identity self{false, "", geteuid(), getegid(), {}};
    Result<ProcessOutcome> out = RunProcess({pg_config.string(), "--bindir"}, self, "/");
    if (out.ok() && out->exit_code == 0 && IsExecutable(fs::path(out->output) / "initdb")) {
      return out->output;
    }
    break;  // Only the first pg_config on PATH speaks for the system.
  }
  // Debian/Ubuntu install each major version side by side; take the newest.
  std::error_code ec;
  fs::path best;
  double best_version = -1;
  for (const auto& entry : fs::directory_iterator("/usr/lib/postgresql", ec)) {
    std::string name = entry.path().filename().string();
    char* end = nullptr;
    double version = std::strtod(name.c_str(), &end);
    if (end == name.c_str() || *end != '\0') continue;
    if (version > best_version && IsExecutable(entry.path() / "bin" / "initdb")) {
      best_version = version;
      best = entry.path() / "bin";
    }
  }
  if (!best.empty()) return best.string();
  return MakeError(ErrorCode::kConfig,
                   "no PostgreSQL server programs (initdb, pg_ctl) found: install postgresql, "
                   "or set database.embedded.bin_dir",
                   "database.embedded.bin_dir");
}

Result<std::unique_ptr<EmbeddedCluster>> EmbeddedCluster::Start(
    const EmbeddedDatabaseConfig& config, Logger& log) {
  if (config.data_dir.empty()) {
    return MakeError(ErrorCode::kConfig, "no data folder configured", "database.embedded.data_dir");
  }
  std::error_code ec;
  fs::path data_dir = fs::absolute(config.data_dir, ec).lexically_normal();
  if (ec) return PosixError(ErrorCode::kIo, "resolving " + config.data_dir, ec.value());
  if (!data_dir.has_filename()) data_dir = data_dir.parent_path();  // "x/" -> "x"
  Layout layout = LayoutFor(data_dir);

  std::string socket_path = (layout.run / (std::string(".s.PGSQL.") + kPort)).string();
  if (socket_path.size() > kMaxSocketPath) {
    return MakeError(ErrorCode::kConfig,
                     "the server's socket path " + socket_path + " is " +
                         std::to_string(socket_path.size()) +
                         " bytes long, over the 107-byte limit of unix sockets; choose a "
                         "shorter data_dir",
                     "database.embedded.data_dir");
  }
  // The socket directory is passed through pg_ctl's shell in single quotes.
  if (layout.run.string().find('\'') != std::string::npos) {
    return MakeError(ErrorCode::kConfig, "the path must not contain a single quote",
                     "database.embedded.data_dir");
  }

  Result<std::string> bin_dir = FindPostgresBinDir(config.bin_dir);
  if (!bin_dir.ok()) return bin_dir.error();
  Result<Identity> who = ChooseIdentity(config);
  if (!who.ok()) return who.error();

  fs::create_directories(data_dir, ec);
  if (ec) return PosixError(ErrorCode::kIo, "creating " + data_dir.string(), ec.value());
  if (who->switch_user) {
    if (Status s = CheckTraversable(data_dir, *who); !s.ok()) return s.error();
  }

  Result<LockFile> control = LockFile::Open(data_dir / "control.lock");
  if (!control.ok()) return control.error();
  if (Status s = control->Lock(LOCK_EX, "control.lock"); !s.ok()) return s.error();
  Result<LockFile> users = LockFile::Open(data_dir / "users.lock");
  if (!users.ok()) return users.error();

  Starter starter(layout, *bin_dir, *who, log);
  if (Status s = starter.PrepareLayout(); !s.ok()) return s.error();
  if (Status s = starter.InitIfNeeded(); !s.ok()) return s.error();

  std::string admin_conninfo = ConninfoFor(layout.run, "postgres") + " connect_timeout=10";
  Result<bool> running = starter.IsReallyRunning(admin_conninfo);
  if (!running.ok()) return running.error();
  if (*running) {
    // Typically a previous credd killed with -9: its server is fine, so keep using it.
    log.Info("embedded_pg.reuse", {{"data_dir", data_dir.string()}});
  } else if (Status s = starter.StartServer(); !s.ok()) {
    return s.error();
  }
  if (!WaitUntilAccepting(admin_conninfo)) {
    return MakeError(
        ErrorCode::kUnavailable,
        "the embedded PostgreSQL does not accept connections; see " + layout.log.string(),
        data_dir.string());
  }
  if (Status s = starter.CreateDatabase(admin_conninfo); !s.ok()) return s.error();

  // Declare our use before releasing the control lock, so a process stopping the server
  // (which needs the control lock and an exclusive users lock) cannot slip in between.
  if (Status s = users->Lock(LOCK_SH, "users.lock"); !s.ok()) return s.error();
  return std::unique_ptr<EmbeddedCluster>(
      new EmbeddedCluster(data_dir.string(), *bin_dir, ConninfoFor(layout.run, "credd"),
                          users->Release(), who->uid, who->gid, log));
}

EmbeddedCluster::EmbeddedCluster(std::string data_dir, std::string bin_dir, std::string conninfo,
                                 int users_fd, uid_t run_uid, gid_t run_gid, Logger& log)
    : data_dir_(std::move(data_dir)),
      bin_dir_(std::move(bin_dir)),
      conninfo_(std::move(conninfo)),
      users_fd_(users_fd),
      run_uid_(run_uid),
      run_gid_(run_gid),
      log_(log) {}

Status EmbeddedCluster::EnsureRunning() {
  Layout layout = LayoutFor(data_dir_);
  Result<LockFile> control = LockFile::Open(layout.data_dir / "control.lock");
  if (!control.ok()) return control.error();
  // The control lock: another credd or credctl may be restarting it at the same moment.
  if (Status s = control->Lock(LOCK_EX, "control.lock"); !s.ok()) return s.error();
  Result<Identity> who = IdentityForUid(run_uid_, run_gid_);
  if (!who.ok()) return who.error();
  Starter starter(layout, bin_dir_, *who, log_);
  std::string admin_conninfo = ConninfoFor(layout.run, "postgres") + " connect_timeout=10";
  Result<bool> running = starter.IsReallyRunning(admin_conninfo);
  if (!running.ok()) return running.error();
  if (*running) return Status::Ok();
  log_.Warn("embedded_pg.restart",
            {{"data_dir", data_dir_}, {"reason", "the server is not running"}});
  if (Status s = starter.StartServer(); !s.ok()) return s.error();
  if (!WaitUntilAccepting(admin_conninfo)) {
    return MakeError(
        ErrorCode::kUnavailable,
        "the embedded PostgreSQL does not accept connections; see " + layout.log.string(),
        data_dir_);
  }
  log_.Info("embedded_pg.restarted", {{"data_dir", data_dir_}});
  return Status::Ok();
}

EmbeddedCluster::~EmbeddedCluster() {
  Layout layout = LayoutFor(data_dir_);
  Result<LockFile> control = LockFile::Open(layout.data_dir / "control.lock");
  // Declared after `control` so it is closed (our use released) before the control lock.
  LockFile users(users_fd_);
  if (!control.ok() || !control->Lock(LOCK_EX, "control.lock").ok()) {
    // Without the control lock we might stop a server another process is starting; leave
    // it running, the next user will reuse it.
    log_.Warn("embedded_pg.leave", {{"data_dir", data_dir_}, {"reason", "no control lock"}});
    return;
  }
  // Converting our shared lock to exclusive succeeds only when nobody else holds one.
  if (flock(users.fd(), LOCK_EX | LOCK_NB) != 0) {
    log_.Info("embedded_pg.leave", {{"data_dir", data_dir_}, {"reason", "still in use"}});
    return;
  }
  Result<Identity> who = IdentityForUid(run_uid_, run_gid_);
  if (!who.ok()) {
    log_.Error("embedded_pg.stop_failed",
               {{"data_dir", data_dir_}, {"error", who.error().ToString()}});
    return;
  }
  log_.Info("embedded_pg.stop", {{"data_dir", data_dir_}});
  Result<ProcessOutcome> stopped =
      RunProcess({bin_dir_ + "/pg_ctl", "stop", "-D", layout.pgdata.string(), "-m", "fast", "-w",
                  "-t", std::to_string(kServerWaitSeconds)},
                 *who, data_dir_);
  if (!stopped.ok()) {
    log_.Error("embedded_pg.stop_failed",
               {{"data_dir", data_dir_}, {"error", stopped.error().ToString()}});
  } else if (stopped->exit_code != 0) {
    log_.Error("embedded_pg.stop_failed", {{"data_dir", data_dir_}, {"output", stopped->output}});
  }
}

}  // namespace credd
