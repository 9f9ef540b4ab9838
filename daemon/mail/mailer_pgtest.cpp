// The Mailer against a real PostgreSQL and a real SMTP server (tests/smtp_server.py on
// aiosmtpd, scripted where a relay must defer or refuse), with the clock pinned: a round
// sends everything due that the windows and limits allow, in chunks; the limits hold across
// chunks and rounds; nothing leaves outside the window; a 4xx waits for its backoff; a
// refused recipient is re-routed to the personal address; a relay that refuses everything
// pauses the institution. Students come in through the store's own chunk writer.
#include <gtest/gtest.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "common/sha256.h"
#include "common/time_format.h"
#include "daemon/mail/mailer.h"
#include "daemon/store/batch_store.h"
#include "daemon/store/conditions.h"
#include "daemon/store/institutions.h"
#include "daemon/store/migrations.h"
#include "daemon/store/status_query.h"
#include "daemon/store/test_database.h"
#include "tests/support/child_server.h"

namespace credd::mail {
namespace {

namespace fs = std::filesystem;
using std::chrono::hours;
using std::chrono::seconds;
using WallClock = std::chrono::system_clock;

class MailerTest : public ::testing::Test {
 protected:
  MailerTest() : server_({CREDD_PYTHON, CREDD_SMTP_SERVER}), log_(log_text_, LogLevel::kDebug) {}

  void SetUp() override {
    ASSERT_TRUE(db_.ok());
    char pattern[] = "/tmp/credd-mailer-XXXXXX";
    ASSERT_NE(::mkdtemp(pattern), nullptr);
    dir_ = pattern;
    // Two days from now, so that the students stored now are a day past due whatever their
    // documents; a minute is added near midnight so the 00:00-23:59 window holds all test.
    pinned_ = WallClock::now() + hours(48);
    if (UtcTm(pinned_).tm_hour == 23 && UtcTm(pinned_).tm_min >= 50)
      pinned_ += std::chrono::minutes(15);
  }
  void TearDown() override {
    std::error_code ignored;
    fs::remove_all(dir_, ignored);
  }

  static std::tm UtcTm(WallClock::time_point t) {
    std::time_t seconds_since = WallClock::to_time_t(t);
    std::tm tm{};
    ::gmtime_r(&seconds_since, &tm);
    return tm;
  }
  // "mon".."sun" of a UTC time point.
  static std::string Weekday(WallClock::time_point t) {
    static const char* kDays[] = {"sun", "mon", "tue", "wed", "thu", "fri", "sat"};
    return kDays[UtcTm(t).tm_wday];
  }

  // Starts the SMTP server (with its script) and reads the config; `days` is the sending
  // window's, `limits` the institution's rate_limits block.
  void Start(std::vector<std::string> server_args,
             const std::string& days = "[mon, tue, wed, thu, fri, sat, sun]",
             const std::string& limits = "        - messages: 100000\n          seconds: 60\n") {
    received_ = dir_ / "received.jsonl";
    server_args.insert(server_args.end(), {"--out", received_.string()});
    ASSERT_EQ(server_.Start(server_args), "");
    const std::string yaml =
        "database:\n  url: " + db_.YamlUrl() + "\ndrop_root: '" + (dir_ / "drop").string() +
        "'\nmail:\n  transport: smtp\n  retry_initial_seconds: 60\n  retry_max_seconds: 3600\n"
        "  rate_limits:\n    - messages: 100000\n      seconds: 60\n"
        "  smtp:\n    host: 127.0.0.1\n    port: " +
        std::to_string(server_.port()) +
        "\n    tls: none\n    timeout_seconds: 10\n"
        "institutions:\n  - id: uni\n    name_en: University\n    name_fr: Université\n"
        "    invitations:\n      from_address: registrar@uni.example\n"
        "      from_name: Registrar\n      window:\n        days: " +
        days +
        "\n        start: '00:00'\n        end: '23:59'\n        time_zone: UTC\n"
        "      rate_limits:\n" +
        limits;
    std::vector<ConfigProblem> problems;
    auto config = ParseConfig(yaml, dir_.string(), &problems);
    ASSERT_TRUE(config.ok()) << config.error().ToString() << "\n" << yaml;
    config_ = *config;
    database_ = db_.OpenPrepared(log_, config_.institutions, &store_);
    ASSERT_NE(database_, nullptr);
  }

  // Stores `count` students (S1..), each with one diploma and so one invitation; with
  // personal addresses when asked.
  void Enrol(int count, bool personal = false) {
    auto start =
        BeginBatch(*store_, {"uni", Sha256Hex("batch"), "students.csv", "csv",
                             RecordErrorPolicy::kAcceptValid, false, Iso8601Utc(WallClock::now())});
    ASSERT_TRUE(start.ok()) << start.error().ToString();
    ChunkWriter writer(*store_, start->batch, "test", InviteMode::kInvitations);
    for (int i = 1; i <= count; ++i) {
      const std::string n = std::to_string(i);
      CredentialRecord record;
      record.line = i + 1;
      record.student_id = "S" + n;
      record.family_name = "Family" + n;
      record.given_names = "Given" + n;
      record.email = "s" + n + "@uni.example";
      if (personal) record.personal_email = "s" + n + "@home.example";
      record.preferred_locale = i % 2 == 0 ? "fr" : "en";
      record.credential_type = "diploma";
      record.credential_title = "Diploma in Nursing";
      record.program = "Nursing";
      record.issued_on = "2024-06-14";
      writer.Add(i, record, "uni/S" + n + "/diploma", Sha256Hex("content" + n), "{}");
    }
    auto committed = writer.Commit(count, count, 0);
    ASSERT_TRUE(committed.ok()) << committed.error().ToString();
    ASSERT_EQ(committed->stored, count);
  }

  std::unique_ptr<Mailer> MakeMailer(int claim_size) {
    auto transport = MakeSmtpTransport(config_.mail.smtp, "", log_);
    auto templates = MailTemplates::Load(CREDD_TEMPLATES_DIR);
    if (!transport.ok() || !templates.ok()) {
      ADD_FAILURE() << "cannot build the mailer";
      return nullptr;
    }
    MailerOptions options;
    options.clock = &clock_;
    options.owner = "test:" + std::to_string(::getpid());
    options.claim_size = claim_size;
    return std::make_unique<Mailer>(*database_, log_, std::move(transport).value(),
                                    std::move(templates).value(), options);
  }

  // One round of `mailer` with the clock at `now`.
  Result<int> RunAt(mail::Mailer& mailer, WallClock::time_point now) {
    clock_.Set(now);
    return mailer.RunOnce(config_);
  }

  // What the server received, in order (whole lines only: it may be writing the last).
  std::vector<nlohmann::json> Received() const {
    std::vector<nlohmann::json> records;
    std::ifstream in(received_);
    std::string line;
    while (std::getline(in, line)) {
      if (!in.eof() && !line.empty()) records.push_back(nlohmann::json::parse(line));
    }
    return records;
  }
  std::vector<std::string> DeliveredTo() const {
    std::vector<std::string> to;
    for (const nlohmann::json& r : Received()) {
      if (r["code"].get<int>() / 100 == 2) to.push_back(r["rcpt_tos"][0].get<std::string>());
    }
    return to;
  }
  StatusCounts Counts() {
    auto counts = ReadStatusCounts(*store_);
    EXPECT_TRUE(counts.ok()) << counts.error().ToString();
    return counts.ok() ? *counts : StatusCounts{};
  }

  testing::TestDatabase db_;
  test_support::ChildServer server_;
  std::ostringstream log_text_;
  Logger log_;
  fs::path dir_;
  fs::path received_;
  WallClock::time_point pinned_;
  PinnedClock clock_{WallClock::time_point{}};  // Set to the instant each round runs at.
  Config config_;
  std::unique_ptr<Database> database_;
  std::unique_ptr<Store> store_;
};

TEST_F(MailerTest, OneRoundSendsEverythingDueChunkAfterChunk) {
  ASSERT_NO_FATAL_FAILURE(Start({}));
  ASSERT_NO_FATAL_FAILURE(Enrol(23));
  auto mailer = MakeMailer(5);  // Five chunks, the last one short.
  ASSERT_NE(mailer, nullptr);
  auto sent = RunAt(*mailer, pinned_);
  ASSERT_TRUE(sent.ok()) << sent.error().ToString() << "\n" << log_text_.str();
  EXPECT_EQ(*sent, 23);
  std::vector<std::string> to = DeliveredTo();
  EXPECT_EQ(to.size(), 23u);
  EXPECT_EQ(std::set<std::string>(to.begin(), to.end()).size(), 23u) << "someone got two";
  EXPECT_EQ(Counts().outbox["sent"], 23);
  EXPECT_EQ(Counts().invitations["sent"], 23);
  // Each email carries its own link.
  std::set<std::string> links;
  for (const nlohmann::json& r : Received()) {
    const std::string data = r["data"].get<std::string>();
    auto at = data.find("token=");
    ASSERT_NE(at, std::string::npos);
    links.insert(data.substr(at, 6 + 43));
  }
  EXPECT_EQ(links.size(), 23u);
  // Nothing is left: the next round sends nothing.
  auto again = RunAt(*mailer, pinned_ + seconds(1));
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(*again, 0);
  mailer->Close();
}

TEST_F(MailerTest, TheRateLimitHoldsAcrossChunksAndRounds) {
  ASSERT_NO_FATAL_FAILURE(Start({}, "[mon, tue, wed, thu, fri, sat, sun]",
                                "        - messages: 7\n          seconds: 60\n"));
  ASSERT_NO_FATAL_FAILURE(Enrol(20));
  auto mailer = MakeMailer(3);
  ASSERT_NE(mailer, nullptr);
  EXPECT_EQ(*RunAt(*mailer, pinned_), 7);
  EXPECT_EQ(*RunAt(*mailer, pinned_ + seconds(30)), 0) << "inside the same minute";
  EXPECT_EQ(*RunAt(*mailer, pinned_ + seconds(90)), 7);
  EXPECT_EQ(DeliveredTo().size(), 14u);
  EXPECT_EQ(Counts().outbox["queued"], 6);
  mailer->Close();
}

TEST_F(MailerTest, NothingLeavesOutsideTheWindow) {
  // Every day but the pinned one (UTC).
  std::string days = "[";
  for (const char* day : {"mon", "tue", "wed", "thu", "fri", "sat", "sun"}) {
    if (day != Weekday(pinned_)) days += std::string(days.size() > 1 ? ", " : "") + day;
  }
  ASSERT_NO_FATAL_FAILURE(Start({}, days + "]"));
  ASSERT_NO_FATAL_FAILURE(Enrol(4));
  auto mailer = MakeMailer(500);
  ASSERT_NE(mailer, nullptr);
  EXPECT_EQ(*RunAt(*mailer, pinned_), 0);
  EXPECT_TRUE(Received().empty());
  EXPECT_EQ(Counts().outbox["queued"], 4) << "queued, waiting for the window";
  EXPECT_EQ(*RunAt(*mailer, pinned_ + hours(24)), 4);
  EXPECT_EQ(DeliveredTo().size(), 4u);
  mailer->Close();
}

// Shares, confirmations and resets are not invitations: they go at once, windows or not,
// and once sent are not sent again (account_store_pgtest: the message is wiped then).
TEST_F(MailerTest, AccountMailLeavesOutsideTheWindowAndOnlyOnce) {
  std::string days = "[";
  for (const char* day : {"mon", "tue", "wed", "thu", "fri", "sat", "sun"}) {
    if (day != Weekday(pinned_)) days += std::string(days.size() > 1 ? ", " : "") + day;
  }
  ASSERT_NO_FATAL_FAILURE(Start({}, days + "]"));
  ASSERT_NO_FATAL_FAILURE(Enrol(2));
  AccountMail mail;
  mail.kind = MailKind::kPasswordReset;
  mail.institution_id = "uni";
  mail.recipient = "s1@uni.example";
  mail.envelope_from = "registrar@uni.example";
  mail.message_id = "password_reset-1@uni.example";
  mail.mime = "Subject: reset\r\nMessage-ID: <password_reset-1@uni.example>\r\n\r\nsecret link\r\n";
  ASSERT_TRUE(QueueAccountMail(*store_, mail, Iso8601UtcMicros(pinned_)).ok());
  auto mailer = MakeMailer(500);
  ASSERT_NE(mailer, nullptr);
  clock_.Set(pinned_);
  EXPECT_EQ(*mailer->SendAccountMail(config_), 1);
  EXPECT_EQ(DeliveredTo(), std::vector<std::string>{"s1@uni.example"});
  EXPECT_NE(Received()[0]["data"].get<std::string>().find("secret link"), std::string::npos);
  EXPECT_EQ(*RunAt(*mailer, pinned_), 0) << "the invitations still wait for their window";
  EXPECT_EQ(Counts().outbox["queued"], 2);
  EXPECT_EQ(*mailer->SendAccountMail(config_), 0) << "sent once, recorded";
  EXPECT_EQ(DeliveredTo().size(), 1u);
  mailer->Close();
}

TEST_F(MailerTest, A4xxWaitsForItsBackoffThenGoesOnce) {
  ASSERT_NO_FATAL_FAILURE(Start({"--script", "451"}));
  ASSERT_NO_FATAL_FAILURE(Enrol(1));
  auto mailer = MakeMailer(500);
  ASSERT_NE(mailer, nullptr);
  EXPECT_EQ(*RunAt(*mailer, pinned_), 1);
  EXPECT_EQ(Counts().outbox["deferred"], 1);
  EXPECT_EQ(*RunAt(*mailer, pinned_ + seconds(30)), 0) << "retried before 60 s";
  EXPECT_EQ(*RunAt(*mailer, pinned_ + seconds(120)), 1);
  auto received = Received();
  ASSERT_EQ(received.size(), 2u);
  EXPECT_EQ(received[0]["code"], 451);
  EXPECT_EQ(received[1]["code"], 250);
  EXPECT_EQ(Counts().outbox["sent"], 1);
  EXPECT_NE(log_text_.str().find("event=mail.deferred"), std::string::npos);
  mailer->Close();
}

TEST_F(MailerTest, ARefusedInstitutionalAddressIsReroutedToThePersonalOne) {
  ASSERT_NO_FATAL_FAILURE(Start({"--rcpt-script", "550/5.1.1"}));
  ASSERT_NO_FATAL_FAILURE(Enrol(1, /*personal=*/true));
  auto mailer = MakeMailer(500);
  ASSERT_NE(mailer, nullptr);
  EXPECT_EQ(*RunAt(*mailer, pinned_), 1);
  EXPECT_EQ(Counts().outbox["failed"], 1);
  EXPECT_EQ(*RunAt(*mailer, pinned_ + seconds(1)), 1);
  EXPECT_EQ(DeliveredTo(), std::vector<std::string>{"s1@home.example"});
  EXPECT_EQ(Counts().invitations["sent"], 1);
  mailer->Close();
}

TEST_F(MailerTest, ARelayRefusingEverythingPausesTheInstitution) {
  ASSERT_NO_FATAL_FAILURE(Start({"--script", "550,550,550,550,550,550"}));
  ASSERT_NO_FATAL_FAILURE(Enrol(8));
  auto mailer = MakeMailer(500);
  ASSERT_NE(mailer, nullptr);
  // Five refusals in a row that are not about the address: the rest is given back.
  EXPECT_EQ(*RunAt(*mailer, pinned_), 5);
  EXPECT_EQ(Counts().outbox["failed"], 5);
  EXPECT_EQ(Counts().outbox["queued"], 3);
  auto paused = HasCondition(*store_, "uni", ConditionKind::kMailPaused);
  ASSERT_TRUE(paused.ok());
  EXPECT_TRUE(*paused);
  EXPECT_EQ(*RunAt(*mailer, pinned_ + seconds(1)), 0) << "sent while paused";
  EXPECT_EQ(Received().size(), 5u);
  mailer->Close();
}

}  // namespace
}  // namespace credd::mail
