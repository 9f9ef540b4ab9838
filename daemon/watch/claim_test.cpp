// Claims where no lease can be taken: credd running as its own user (no CAP_LEASE, as under
// systemd) and the file written by another, as staff on a share do. The settle time then
// decides, and the claim says so; nothing is skipped without a word.
#include "daemon/watch/claim.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <string>

namespace credd {
namespace {

namespace fs = std::filesystem;

constexpr uid_t kNobody = 65534;

class ClaimTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_EQ(::geteuid(), 0u) << "this test switches to an unprivileged user in a child "
                                  "process and must run as root (scripts/test does)";
    char pattern[] = "/tmp/credd-claim-XXXXXX";
    ASSERT_NE(::mkdtemp(pattern), nullptr);
    dir_ = pattern;
    ::chmod(dir_.c_str(), 0755);
    for (const char* state : {"incoming", "processing", "done", "rejected"}) {
      fs::create_directory(dir_ + "/" + state);
      ::chmod((dir_ + "/" + state).c_str(), 0777);
    }
  }
  void TearDown() override {
    if (!dir_.empty()) fs::remove_all(dir_);
  }

  // Claims `name` in a child running as nobody; returns "<kind> <ready_check> <reason>".
  std::string ClaimAsNobody(const std::string& name) {
    int pipe_fds[2];
    EXPECT_EQ(::pipe(pipe_fds), 0);
    pid_t child = ::fork();
    if (child == 0) {
      ::close(pipe_fds[0]);
      if (::setgid(kNobody) != 0 || ::setuid(kNobody) != 0) ::_exit(3);
      ClaimOptions options;
      options.settle_time = std::chrono::seconds(5);
      ClaimResult result = ClaimFile(dir_, name, options);
      std::string line = std::to_string(static_cast<int>(result.kind)) + " " +
                         (result.ready_check == ReadyCheck::kSettleTime ? "settle" : "lease") +
                         " " + result.reason;
      (void)!::write(pipe_fds[1], line.data(), line.size());
      ::_exit(0);
    }
    ::close(pipe_fds[1]);
    std::string out;
    char buffer[512];
    ssize_t n;
    while ((n = ::read(pipe_fds[0], buffer, sizeof buffer)) > 0) out.append(buffer, n);
    ::close(pipe_fds[0]);
    int status = 0;
    ::waitpid(child, &status, 0);
    EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << "child status " << status;
    return out;
  }

  std::string dir_;
};

std::string Kind(ClaimResult::Kind kind) { return std::to_string(static_cast<int>(kind)); }

TEST_F(ClaimTest, WithoutALeaseTheSettleTimeDecidesAndSaysSo) {
  const std::string path = dir_ + "/incoming/staff.csv";
  // Root's file, still open for writing: an unprivileged credd cannot take a lease on it.
  int writer = ::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL, 0644);
  ASSERT_GE(writer, 0);
  ASSERT_EQ(::write(writer, "a,b\n", 4), 4);

  std::string fresh = ClaimAsNobody("staff.csv");
  EXPECT_EQ(fresh.substr(0, fresh.find(' ')), Kind(ClaimResult::Kind::kNotReady)) << fresh;
  EXPECT_NE(fresh.find("no lease"), std::string::npos) << fresh;
  EXPECT_NE(fresh.find("unchanged for 5 s"), std::string::npos) << fresh;
  EXPECT_TRUE(fs::exists(path));

  // Unchanged for longer than the settle time: taken, and the claim says how it was judged.
  struct timespec old[2] = {{::time(nullptr) - 60, 0}, {::time(nullptr) - 60, 0}};
  ASSERT_EQ(::futimens(writer, old), 0);
  std::string settled = ClaimAsNobody("staff.csv");
  EXPECT_EQ(settled.substr(0, settled.find(' ')), Kind(ClaimResult::Kind::kClaimed)) << settled;
  EXPECT_NE(settled.find(" settle "), std::string::npos) << settled;
  EXPECT_TRUE(fs::exists(dir_ + "/processing/staff.csv"));
  ::close(writer);
}

TEST_F(ClaimTest, WithALeaseAFileOpenForWritingWaitsWhateverItsAge) {
  const std::string path = dir_ + "/incoming/own.csv";
  int writer = ::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL, 0644);
  ASSERT_GE(writer, 0);
  struct timespec old[2] = {{::time(nullptr) - 60, 0}, {::time(nullptr) - 60, 0}};
  ASSERT_EQ(::futimens(writer, old), 0);
  ClaimResult open_for_writing = ClaimFile(dir_, "own.csv");  // As root: leases work.
  EXPECT_EQ(open_for_writing.kind, ClaimResult::Kind::kNotReady);
  EXPECT_EQ(open_for_writing.reason, "still open for writing");
  ::close(writer);
  ClaimResult closed = ClaimFile(dir_, "own.csv");
  EXPECT_EQ(closed.kind, ClaimResult::Kind::kClaimed) << closed.reason;
  EXPECT_EQ(closed.ready_check, ReadyCheck::kLease);
  EXPECT_TRUE(closed.file.valid());
}

TEST_F(ClaimTest, AFolderThatCannotBeUsedIsAFailureNotAVanishedFile) {
  const std::string path = dir_ + "/incoming/x.csv";
  ASSERT_EQ(::close(::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL, 0644)), 0);
  fs::remove(dir_ + "/processing");
  ClaimResult result = ClaimFile(dir_, "x.csv");
  EXPECT_EQ(result.kind, ClaimResult::Kind::kFailed);
  EXPECT_NE(result.reason.find("/processing: cannot open the folder"), std::string::npos)
      << result.reason;
  EXPECT_TRUE(fs::exists(path));
}

}  // namespace
}  // namespace credd
