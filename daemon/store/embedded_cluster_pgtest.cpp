// EmbeddedCluster against the system's PostgreSQL programs (no CREDD_TEST_DATABASE_URL
// needed): start, reuse, shared use, and recovery from a user that was killed.
#include <gtest/gtest.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <pqxx/pqxx>
#include <sstream>
#include <thread>

#include "daemon/store/database.h"
#include "daemon/store/embedded_cluster.h"

namespace credd {
namespace {

namespace fs = std::filesystem;

class EmbeddedClusterTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char pattern[] = "/tmp/credd-ec-XXXXXX";
    ASSERT_NE(mkdtemp(pattern), nullptr);
    dir_ = pattern;
    config_.data_dir = dir_.string();
  }

  // Whatever a failed test left running is stopped here (fast shutdown by signal), so no
  // server outlives the test.
  void TearDown() override {
    if (pid_t pid = PostmasterPid(); pid > 0) {
      kill(pid, SIGINT);
      WaitFor([pid] { return kill(pid, 0) != 0; });
    }
    std::error_code ec;
    fs::remove_all(dir_, ec);
  }

  pid_t PostmasterPid() const {
    std::ifstream in(dir_ / "pgdata" / "postmaster.pid");
    long pid = 0;
    return (in >> pid) ? static_cast<pid_t>(pid) : 0;
  }

  bool ServerRunning() const {
    pid_t pid = PostmasterPid();
    return pid > 0 && kill(pid, 0) == 0;
  }

  template <typename Condition>
  static bool WaitFor(Condition condition) {
    auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
    while (std::chrono::steady_clock::now() < deadline) {
      if (condition()) return true;
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    return condition();
  }

  static int SelectOne(const EmbeddedCluster& cluster) {
    pqxx::connection conn(cluster.conninfo());
    pqxx::work txn(conn);
    return txn.exec1("SELECT 1")[0].as<int>();
  }

  std::unique_ptr<EmbeddedCluster> StartOrFail() {
    Result<std::unique_ptr<EmbeddedCluster>> cluster = EmbeddedCluster::Start(config_, log_);
    if (!cluster.ok()) {
      ADD_FAILURE() << cluster.error().ToString() << "\nlog:\n" << out_.str();
      return nullptr;
    }
    return std::move(cluster).value();
  }

  fs::path dir_;
  EmbeddedDatabaseConfig config_;
  std::ostringstream out_;
  Logger log_{out_};
};

TEST_F(EmbeddedClusterTest, StartsConnectsAndStopsOnDestruction) {
  auto cluster = StartOrFail();
  ASSERT_NE(cluster, nullptr);
  EXPECT_EQ(SelectOne(*cluster), 1);
  EXPECT_NE(cluster->conninfo().find("host=" + (dir_ / "run").string()), std::string::npos);
  EXPECT_NE(cluster->conninfo().find("dbname=credd"), std::string::npos);
  EXPECT_TRUE(ServerRunning());
  EXPECT_EQ(fs::status(dir_ / "run").permissions() & fs::perms::all, fs::perms::owner_all);
  EXPECT_NE(out_.str().find("embedded_pg.initdb"), std::string::npos);
  EXPECT_NE(out_.str().find("embedded_pg.start"), std::string::npos);
  if (geteuid() == 0) {
    struct stat st {};
    ASSERT_EQ(stat((dir_ / "pgdata").c_str(), &st), 0);
    EXPECT_NE(st.st_uid, 0u) << "as root, the server runs as an unprivileged user";
  }
  cluster.reset();
  EXPECT_FALSE(fs::exists(dir_ / "pgdata" / "postmaster.pid"));
  EXPECT_NE(out_.str().find("embedded_pg.stop"), std::string::npos);

  // A second start reuses the cluster (no initdb) and its database.
  out_.str("");
  cluster = StartOrFail();
  ASSERT_NE(cluster, nullptr);
  EXPECT_EQ(SelectOne(*cluster), 1);
  EXPECT_EQ(out_.str().find("embedded_pg.initdb"), std::string::npos) << out_.str();
  EXPECT_EQ(out_.str().find("embedded_pg.create_database"), std::string::npos) << out_.str();
}

TEST_F(EmbeddedClusterTest, TheLastUserStopsTheServer) {
  auto first = StartOrFail();
  ASSERT_NE(first, nullptr);
  auto second = StartOrFail();
  ASSERT_NE(second, nullptr);
  EXPECT_NE(out_.str().find("embedded_pg.reuse"), std::string::npos);
  first.reset();
  EXPECT_TRUE(ServerRunning());
  EXPECT_NE(out_.str().find("embedded_pg.leave"), std::string::npos);
  EXPECT_EQ(SelectOne(*second), 1);
  second.reset();
  EXPECT_FALSE(ServerRunning());
}

TEST_F(EmbeddedClusterTest, ReusesAServerLeftByAKilledUser) {
  // The child starts the cluster and dies without running the destructor, like a credd
  // killed with -9: its lock goes with it, the server stays.
  pid_t child = fork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    std::ostringstream child_out;
    Logger child_log(child_out);
    Result<std::unique_ptr<EmbeddedCluster>> leaked = EmbeddedCluster::Start(config_, child_log);
    _exit(leaked.ok() ? (leaked->release(), 0) : 1);
  }
  int status = 0;
  ASSERT_EQ(waitpid(child, &status, 0), child);
  ASSERT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0);
  ASSERT_TRUE(ServerRunning());
  pid_t leaked_pid = PostmasterPid();

  auto cluster = StartOrFail();
  ASSERT_NE(cluster, nullptr);
  EXPECT_NE(out_.str().find("embedded_pg.reuse"), std::string::npos) << out_.str();
  EXPECT_EQ(PostmasterPid(), leaked_pid);
  EXPECT_EQ(SelectOne(*cluster), 1);
  cluster.reset();
  EXPECT_FALSE(ServerRunning());
}

TEST_F(EmbeddedClusterTest, RestartsAfterTheServerWasKilled) {
  auto cluster = StartOrFail();
  ASSERT_NE(cluster, nullptr);
  pid_t killed = PostmasterPid();
  ASSERT_GT(killed, 0);
  ASSERT_EQ(kill(killed, SIGKILL), 0);
  ASSERT_TRUE(WaitFor([killed] { return kill(killed, 0) != 0; }));
  // postmaster.pid is stale now; the next user must start a new server over it.
  ASSERT_TRUE(fs::exists(dir_ / "pgdata" / "postmaster.pid"));
  auto next = StartOrFail();
  ASSERT_NE(next, nullptr);
  EXPECT_NE(PostmasterPid(), killed);
  EXPECT_EQ(SelectOne(*next), 1);
  cluster.reset();
  EXPECT_TRUE(ServerRunning());
  next.reset();
  EXPECT_FALSE(ServerRunning());
}

TEST_F(EmbeddedClusterTest, IgnoresAStalePidFileNamingAnotherProcess) {
  auto cluster = StartOrFail();
  ASSERT_NE(cluster, nullptr);
  cluster.reset();
  // A reboot or container restart may hand the old postmaster's PID to anything: here a
  // sleeping process of the server's own user (pg_ctl would think the server alive; a PID
  // of another user, or of pg_ctl's parent, it already ignores).
  struct stat st {};
  ASSERT_EQ(stat((dir_ / "pgdata").c_str(), &st), 0);
  pid_t sleeper = fork();
  ASSERT_GE(sleeper, 0);
  if (sleeper == 0) {
    if (geteuid() == 0 && (setgid(st.st_gid) != 0 || setuid(st.st_uid) != 0)) _exit(1);
    pause();
    _exit(0);
  }
  std::ofstream(dir_ / "pgdata" / "postmaster.pid") << sleeper << "\n"
                                                    << dir_.string() << "/pgdata\n";
  out_.str("");
  cluster = StartOrFail();
  kill(sleeper, SIGKILL);
  waitpid(sleeper, nullptr, 0);
  ASSERT_NE(cluster, nullptr);
  EXPECT_NE(out_.str().find("embedded_pg.stale_pid"), std::string::npos) << out_.str();
  EXPECT_EQ(SelectOne(*cluster), 1);
}

TEST_F(EmbeddedClusterTest, RefusesASocketPathOverTheLimit) {
  config_.data_dir = (dir_ / std::string(100, 'x')).string();
  Result<std::unique_ptr<EmbeddedCluster>> cluster = EmbeddedCluster::Start(config_, log_);
  ASSERT_FALSE(cluster.ok());
  EXPECT_EQ(cluster.error().code, ErrorCode::kConfig);
  EXPECT_NE(cluster.error().message.find("107-byte limit"), std::string::npos)
      << cluster.error().message;
}

TEST_F(EmbeddedClusterTest, RefusesAnUnknownRunAsUserAsRoot) {
  if (geteuid() != 0) GTEST_SKIP() << "run_as_user only matters as root";
  config_.run_as_user = "no-such-user-credd";
  Result<std::unique_ptr<EmbeddedCluster>> cluster = EmbeddedCluster::Start(config_, log_);
  ASSERT_FALSE(cluster.ok());
  EXPECT_EQ(cluster.error().code, ErrorCode::kConfig);
  EXPECT_EQ(cluster.error().where, "database.embedded.run_as_user");
}

TEST_F(EmbeddedClusterTest, RefusesADataDirTheServerUserCannotReach) {
  if (geteuid() != 0) GTEST_SKIP() << "only root can make a folder the server user cannot enter";
  ASSERT_EQ(chmod(dir_.c_str(), 0700), 0);
  config_.data_dir = (dir_ / "db").string();
  Result<std::unique_ptr<EmbeddedCluster>> cluster = EmbeddedCluster::Start(config_, log_);
  ASSERT_FALSE(cluster.ok());
  EXPECT_EQ(cluster.error().code, ErrorCode::kConfig);
  EXPECT_NE(cluster.error().message.find("cannot enter " + dir_.string()), std::string::npos)
      << cluster.error().message;
}

TEST_F(EmbeddedClusterTest, DatabaseOpensTheEmbeddedCluster) {
  DatabaseConfig config;
  config.embedded = config_;
  Result<std::unique_ptr<Database>> db = Database::Open(config, log_);
  ASSERT_TRUE(db.ok()) << db.error().ToString();
  EXPECT_NE((*db)->Describe().find("dbname='credd'"), std::string::npos) << (*db)->Describe();
  Result<std::unique_ptr<Store>> conn = (*db)->Connect();
  ASSERT_TRUE(conn.ok()) << conn.error().ToString();
  conn->reset();
  db->reset();  // The last user: the server stops.
  EXPECT_FALSE(ServerRunning());
}

TEST(FindPostgresBinDirTest, FindsInitdb) {
  Result<std::string> found = FindPostgresBinDir("");
  ASSERT_TRUE(found.ok()) << found.error().ToString();
  EXPECT_TRUE(fs::exists(fs::path(*found) / "initdb"));
  Result<std::string> configured = FindPostgresBinDir(*found);
  ASSERT_TRUE(configured.ok());
  EXPECT_EQ(*configured, *found);
  Result<std::string> wrong = FindPostgresBinDir("/nonexistent");
  ASSERT_FALSE(wrong.ok());
  EXPECT_EQ(wrong.error().code, ErrorCode::kConfig);
}

}  // namespace
}  // namespace credd
