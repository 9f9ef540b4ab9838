// The mail queue's guarantees, with the clock injected: claims respect every rate window
// across workers, a stalled worker's lease is reclaimed and its late completion refused,
// and local time (for sending windows) follows the institution's time zone.
#include <gtest/gtest.h>

#include "common/sha256.h"
#include "daemon/store/invitation_store.h"
#include "daemon/store/migrations.h"
#include "daemon/store/pgtest_util.h"

namespace credd {
namespace {

class InvitationStoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(db_.ok());
    conn_ = db_.Connect();
    ASSERT_TRUE(Migrate(*conn_).ok());
    Exec("INSERT INTO institutions (id) VALUES ('uni')");
    // Ten students, each with one issued-document-less pending invitation queued as mail.
    Exec(
        "INSERT INTO batches (institution_id, sha256, file_name, format, status) VALUES "
        "('uni', repeat('a', 64), 'x.csv', 'csv', 'done')");
    for (int i = 1; i <= 10; ++i) {
      std::string n = std::to_string(i);
      Exec("INSERT INTO students (institution_id, student_id, family_name) VALUES ('uni', 'S" + n +
           "', 'F" + n + "')");
      Exec(
          "INSERT INTO student_emails (student, kind, address, is_primary) SELECT id, "
          "'institutional', 's" +
          n + "@uni.ca', true FROM students WHERE student_id = 'S" + n + "'");
      Exec(
          "INSERT INTO invitations (student, batch, email, send_after) SELECT s.id, 1, e.id, "
          "'2026-11-30T10:00:00Z' FROM students s JOIN student_emails e ON e.student = s.id "
          "WHERE s.student_id = 'S" +
          n + "'");
    }
  }

  void Exec(const std::string& sql) { testing::ExecSql(*conn_, sql); }
  int64_t Count(const std::string& sql) { return testing::SqlNumber(*conn_, sql); }

  testing::TestDatabase db_;
  std::unique_ptr<Store> conn_;
};

TEST_F(InvitationStoreTest, NothingIsQueuedBeforeItIsDue) {
  auto queued = QueueDueMail(*conn_, "uni", "2026-11-30T09:59:59Z", "uni.ca", 2);
  ASSERT_TRUE(queued.ok()) << queued.error().ToString();
  EXPECT_EQ(*queued, 0);
  queued = QueueDueMail(*conn_, "uni", "2026-11-30T10:00:00Z", "uni.ca", 2);
  ASSERT_TRUE(queued.ok());
  EXPECT_EQ(*queued, 10);
  // Idempotent: the same invitations are not queued twice.
  queued = QueueDueMail(*conn_, "uni", "2026-11-30T10:00:01Z", "uni.ca", 2);
  EXPECT_EQ(*queued, 0);
  EXPECT_EQ(Count("SELECT count(DISTINCT message_id) FROM mail_outbox"), 10);
}

TEST_F(InvitationStoreTest, RateWindowsHoldAcrossWorkers) {
  ASSERT_TRUE(QueueDueMail(*conn_, "uni", "2026-11-30T10:00:00Z", "uni.ca", 2).ok());
  auto other = db_.Connect();  // A second credd process.
  std::vector<RateWindow> per_minute = {{4, 60}};
  auto a = ClaimMail(*conn_, "uni", "2026-11-30T10:00:00Z", "a", 300, per_minute, {}, 100);
  auto b = ClaimMail(*other, "uni", "2026-11-30T10:00:00Z", "b", 300, per_minute, {}, 100);
  ASSERT_TRUE(a.ok() && b.ok());
  EXPECT_EQ(a->size() + b->size(), 4u) << "in-flight claims count against the window";
  for (const ClaimedMail& m : *a) {
    ASSERT_TRUE(*MarkSent(*conn_, m, "a", "2026-11-30T10:00:10Z", "250 ok", {7, 21}));
  }
  for (const ClaimedMail& m : *b) {
    ASSERT_TRUE(*MarkSent(*other, m, "b", "2026-11-30T10:00:10Z", "250 ok", {7, 21}));
  }
  // Still inside the minute: nothing more.
  auto c = ClaimMail(*conn_, "uni", "2026-11-30T10:00:59Z", "a", 300, per_minute, {}, 100);
  EXPECT_EQ(c->size(), 0u);
  // A minute after the sends: four more. A global limit of 5 per hour caps it at one.
  auto d = ClaimMail(*conn_, "uni", "2026-11-30T10:01:11Z", "a", 300, per_minute, {{5, 3600}}, 100);
  EXPECT_EQ(d->size(), 1u);
  // Reminders are due 7 days after the first send.
  EXPECT_EQ(Count("SELECT count(*) FROM invitations WHERE next_reminder_at = "
                  "'2026-12-07T10:00:10Z'"),
            4);
}

TEST_F(InvitationStoreTest, StalledLeaseIsReclaimedAndTheLateCompletionRefused) {
  ASSERT_TRUE(QueueDueMail(*conn_, "uni", "2026-11-30T10:00:00Z", "uni.ca", 2).ok());
  auto stalled = ClaimMail(*conn_, "uni", "2026-11-30T10:00:00Z", "stalled", 60, {}, {}, 1);
  ASSERT_EQ(stalled->size(), 1u);
  // Before the lease ends nobody else gets that row...
  auto early = ClaimMail(*conn_, "uni", "2026-11-30T10:00:30Z", "rescuer", 60, {}, {}, 10);
  for (const ClaimedMail& m : *early) EXPECT_NE(m.outbox_id, (*stalled)[0].outbox_id);
  // ... after it, the rescuer takes it over.
  auto late = ClaimMail(*conn_, "uni", "2026-11-30T10:02:00Z", "rescuer", 60, {}, {}, 1);
  ASSERT_EQ(late->size(), 1u);
  EXPECT_EQ((*late)[0].outbox_id, (*stalled)[0].outbox_id);
  EXPECT_EQ((*late)[0].attempts, 2);
  EXPECT_EQ((*stalled)[0].taken_over_from, "") << "a fresh claim is nobody's take-over";
  EXPECT_EQ((*late)[0].taken_over_from, "stalled") << "the rescuer must know it may duplicate";
  // The stalled worker wakes up: its completion is refused, the rescuer's is taken.
  auto refused = MarkSent(*conn_, (*stalled)[0], "stalled", "2026-11-30T10:02:05Z", "250", {});
  ASSERT_TRUE(refused.ok());
  EXPECT_FALSE(*refused);
  auto token_refused = SetTokens(*conn_, {{(*stalled)[0].outbox_id, std::string(64, 'f'), ""}},
                                 "stalled", "2026-11-30T10:02:05Z", "2026-12-30T10:00:00Z");
  ASSERT_TRUE(token_refused.ok()) << token_refused.error().ToString();
  EXPECT_FALSE(token_refused->count((*stalled)[0].outbox_id));
  auto taken = MarkSent(*conn_, (*late)[0], "rescuer", "2026-11-30T10:02:06Z", "250", {});
  EXPECT_TRUE(*taken);
}

// A whole claimed chunk gets its tokens in one statement, and only the rows still ours do:
// a row another worker has taken over keeps its token (and must not be sent by us).
TEST_F(InvitationStoreTest, TokensForAChunkAreStoredOnlyWhereTheLeaseIsOurs) {
  ASSERT_TRUE(QueueDueMail(*conn_, "uni", "2026-11-30T10:00:00Z", "uni.ca", 2).ok());
  auto claimed = ClaimMail(*conn_, "uni", "2026-11-30T10:00:00Z", "w", 60, {}, {}, 10);
  ASSERT_EQ(claimed->size(), 10u);
  const int64_t stolen = (*claimed)[3].outbox_id;
  Exec("UPDATE mail_outbox SET lease_owner = 'other' WHERE id = " + std::to_string(stolen));
  std::vector<TokenHash> tokens;
  for (const ClaimedMail& m : *claimed) {
    tokens.push_back({m.outbox_id, Sha256Hex("token" + std::to_string(m.outbox_id)), ""});
  }
  auto stored = SetTokens(*conn_, tokens, "w", "2026-11-30T10:00:01Z", "2026-12-30T10:00:00Z");
  ASSERT_TRUE(stored.ok()) << stored.error().ToString();
  EXPECT_EQ(stored->size(), 9u);
  EXPECT_FALSE(stored->count(stolen));
  EXPECT_EQ(Count("SELECT count(*) FROM invitations i JOIN mail_outbox o ON o.invitation = i.id "
                  "WHERE encode(i.token_sha256, 'hex') = encode(sha256(('token' || o.id)::bytea), "
                  "'hex') AND i.expires_at = '2026-12-30T10:00:00Z'"),
            9);
  EXPECT_EQ(Count("SELECT count(*) FROM invitations WHERE token_sha256 IS NOT NULL"), 9);
  // Past the lease, nothing is stored at all.
  auto late = SetTokens(*conn_, tokens, "w", "2026-11-30T10:01:01Z", "2026-12-30T10:00:00Z");
  ASSERT_TRUE(late.ok());
  EXPECT_TRUE(late->empty());
  // Each student of the chunk is in the answer, with or without documents.
  std::vector<int64_t> students;
  for (const ClaimedMail& m : *claimed) students.push_back(m.student);
  auto documents = StudentDocuments(*conn_, students);
  ASSERT_TRUE(documents.ok()) << documents.error().ToString();
  EXPECT_EQ(documents->size(), 10u);
  for (const auto& [student, lines] : *documents) EXPECT_TRUE(lines.empty()) << student;
}

// Rows whose invitation has ended (activated, cancelled, expired) at the head of the queue
// must not use up the claim's LIMIT: the one real email behind them still goes.
TEST_F(InvitationStoreTest, FinishedInvitationsAtTheHeadDoNotStarveTheQueue) {
  ASSERT_TRUE(QueueDueMail(*conn_, "uni", "2026-11-30T10:00:00Z", "uni.ca", 2).ok());
  Exec(
      "UPDATE invitations SET state = 'activated' WHERE id IN (SELECT i.id FROM invitations i "
      "JOIN students s ON s.id = i.student WHERE s.student_id <> 'S10')");
  // The live row is the last in queue order.
  Exec("UPDATE mail_outbox SET next_attempt_at = '2026-11-30T10:00:00Z'");
  Exec(
      "UPDATE mail_outbox o SET next_attempt_at = '2026-11-30T10:00:05Z' FROM invitations i, "
      "students s WHERE i.id = o.invitation AND s.id = i.student AND s.student_id = 'S10'");
  auto claimed = ClaimMail(*conn_, "uni", "2026-11-30T10:01:00Z", "w", 60, {}, {}, 3);
  ASSERT_TRUE(claimed.ok()) << claimed.error().ToString();
  ASSERT_EQ(claimed->size(), 1u);
  EXPECT_EQ((*claimed)[0].student_id, "S10");
}

// A worker stopped past its lease (SIGSTOP) must not revive it when it wakes, and while its
// row is still marked sending it counts against the rate windows, lease or no lease.
TEST_F(InvitationStoreTest, AnExpiredLeaseIsNeitherRenewedNorUncounted) {
  ASSERT_TRUE(QueueDueMail(*conn_, "uni", "2026-11-30T10:00:00Z", "uni.ca", 2).ok());
  auto stalled = ClaimMail(*conn_, "uni", "2026-11-30T10:00:00Z", "stalled", 60, {}, {}, 1);
  ASSERT_EQ(stalled->size(), 1u);
  const int64_t id = (*stalled)[0].outbox_id;
  auto renewed =
      RenewLeases(*conn_, {id}, "stalled", "2026-11-30T10:00:30Z", "2026-11-30T10:01:30Z");
  ASSERT_TRUE(renewed.ok()) << renewed.error().ToString();
  EXPECT_TRUE(renewed->count(id)) << "a running lease is renewed";
  // Past the lease (10:01:30), nobody has reclaimed it yet: renewing is refused all the same.
  auto revived =
      RenewLeases(*conn_, {id}, "stalled", "2026-11-30T10:02:00Z", "2026-11-30T10:03:00Z");
  ASSERT_TRUE(revived.ok());
  EXPECT_FALSE(revived->count(id)) << "an expired lease was revived";
  // The row in flight still counts: with a limit of 1 per hour, nothing else is claimed.
  auto other = db_.Connect();
  auto more = ClaimMail(*other, "uni", "2026-11-30T10:02:00Z", "other", 60, {}, {{1, 3600}}, 10);
  ASSERT_TRUE(more.ok()) << more.error().ToString();
  EXPECT_EQ(more->size(), 0u) << "an expired 'sending' row did not count against the limit";
}

// Found by the long soak (two_daemons): a worker stopped while holding a full window of
// claims kept every other worker from sending anything, because its rows counted for ever.
// They count while their lease runs and within the windows their attempt began in.
TEST_F(InvitationStoreTest, AFrozenWorkersExpiredClaimsStopCountingAndAreTakenOver) {
  ASSERT_TRUE(QueueDueMail(*conn_, "uni", "2026-11-30T10:00:00Z", "uni.ca", 2).ok());
  const std::vector<RateWindow> global = {{3, 3}};  // 3 messages per 3 s, across all.
  auto frozen = ClaimMail(*conn_, "uni", "2026-11-30T10:00:00Z", "frozen", 300, {}, global, 10);
  ASSERT_TRUE(frozen.ok()) << frozen.error().ToString();
  ASSERT_EQ(frozen->size(), 3u);
  auto other = db_.Connect();
  // While the leases run, the window is full: nothing for anyone else.
  auto early = ClaimMail(*other, "uni", "2026-11-30T10:04:00Z", "other", 300, {}, global, 10);
  ASSERT_TRUE(early.ok());
  EXPECT_EQ(early->size(), 0u) << "claims under a running lease did not count";
  // Past the leases (10:05) and long past the 3-s window the attempts began in: the other
  // worker takes the frozen worker's rows over, and says whose they were.
  auto later = ClaimMail(*other, "uni", "2026-11-30T10:06:00Z", "other", 300, {}, global, 10);
  ASSERT_TRUE(later.ok()) << later.error().ToString();
  ASSERT_EQ(later->size(), 3u) << "a frozen worker's expired claims still blocked the window";
  for (const ClaimedMail& mail : *later) EXPECT_EQ(mail.taken_over_from, "frozen");
}

TEST_F(InvitationStoreTest, LocalTimeFollowsTheInstitutionsZone) {
  // 2026-11-30 is a Monday. 14:30 UTC is 09:30 in Toronto (EST) and 06:30 in Vancouver.
  auto toronto = LocalTimeIn(*conn_, "2026-11-30T14:30:00Z", "America/Toronto");
  ASSERT_TRUE(toronto.ok());
  EXPECT_EQ(toronto->iso_weekday, 1);
  EXPECT_EQ(toronto->hour_minute, "09:30");
  EXPECT_EQ(toronto->date, "2026-11-30");
  auto vancouver = LocalTimeIn(*conn_, "2026-11-30T04:30:00Z", "America/Vancouver");
  EXPECT_EQ(vancouver->iso_weekday, 7);  // Still Sunday there.
  EXPECT_EQ(vancouver->date, "2026-11-29");
}

TEST_F(InvitationStoreTest, FailureReroutesToThePersonalAddress) {
  Exec(
      "INSERT INTO student_emails (student, kind, address) SELECT id, 'personal', "
      "'me@home.example' FROM students WHERE student_id = 'S1'");
  ASSERT_TRUE(QueueDueMail(*conn_, "uni", "2026-11-30T10:00:00Z", "uni.ca", 2).ok());
  auto claimed = ClaimMail(*conn_, "uni", "2026-11-30T10:00:00Z", "w", 60, {}, {}, 100);
  for (const ClaimedMail& m : *claimed) {
    std::string rerouted;
    ASSERT_TRUE(*MarkFailed(*conn_, m, "w", "2026-11-30T10:00:01Z", "550 5.1.1 no such user", true,
                            &rerouted));
    EXPECT_EQ(rerouted, m.student_id == "S1" ? "me@home.example" : "");
  }
  EXPECT_EQ(Count("SELECT count(*) FROM invitations WHERE state = 'bounced'"), 9);
  EXPECT_EQ(Count("SELECT count(*) FROM mail_outbox WHERE status = 'queued' AND recipient = "
                  "'me@home.example'"),
            1);
}

}  // namespace
}  // namespace credd
