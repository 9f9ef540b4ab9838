// Documents and signing keys under concurrency, against a real PostgreSQL
// (CREDD_TEST_DATABASE_URL): several credd processes share one database, so issuing a
// credential's document and registering the active key must each happen once.
#include <gtest/gtest.h>

#include <atomic>
#include <thread>
#include <vector>

#include "daemon/store/document_store.h"
#include "daemon/store/migrations.h"
#include "daemon/store/pgtest_util.h"

namespace credd {
namespace {

std::string Hex64(char c) { return std::string(64, c); }

class DocumentStoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(db_.ok());
    conn_ = db_.Connect();
    Result<MigrateOutcome> outcome = Migrate(*conn_);
    ASSERT_TRUE(outcome.ok()) << outcome.error().ToString();
  }

  void Exec(const std::string& sql) { testing::ExecSql(*conn_, sql); }
  int64_t Count(const std::string& sql) { return testing::SqlNumber(*conn_, sql); }

  // One institution, student, batch, active credential and signing key; returns the
  // credential id.
  int64_t SeedCredential() {
    Exec("INSERT INTO institutions (id, name_en, name_fr) VALUES ('uni', 'Uni', 'Uni')");
    Exec(
        "INSERT INTO students (institution_id, student_id, family_name) "
        "VALUES ('uni', 'S1', 'Tremblay')");
    Exec(
        "INSERT INTO batches (institution_id, sha256, file_name, format, status) VALUES ('uni', '" +
        Hex64('a') + "', 'x.csv', 'csv', 'done')");
    Exec(
        "INSERT INTO credentials (student, batch, kind, credential_key, title, content_sha256) "
        "SELECT s.id, b.id, 'diploma', 'diploma:bsc', 'BSc', '" +
        Hex64('1') + "' FROM students s, batches b");
    Exec(
        "INSERT INTO signing_keys (key_id, certificates_pem, subject, not_before, not_after, "
        "status) VALUES ('" +
        Hex64('b') + "', 'PEM', 'CN=test', now(), now() + interval '1 year', 'active')");
    return Count("SELECT id FROM credentials");
  }

  static NewDocument DocumentFor(const PendingCredential& credential, char sha) {
    return NewDocument{"00000000-0000-4000-8000-00000000000" + std::string(1, sha),
                       credential.id,
                       "en",
                       Hex64(sha),
                       "%PDF-1.7 signed",
                       Hex64('b'),
                       "2026-12-01T00:00:00Z"};
  }

  static SigningKeyRow Key(char id) {
    SigningKeyRow key;
    key.key_id = Hex64(id);
    key.certificates_pem = "PEM";
    key.subject = "CN=key " + std::string(1, id);
    key.key_reference = "/etc/credd/key.pem";
    key.not_before = "2026-01-01T00:00:00Z";
    key.not_after = "2030-01-01T00:00:00Z";
    return key;
  }

  testing::TestDatabase db_;
  std::unique_ptr<Store> conn_;
};

// Two credd processes reach the same pending credential: the first claims it in a chunk
// and signs; the second, arriving while the first is still signing, gets nothing to
// render; afterwards there is exactly one document and it supersedes nothing.
TEST_F(DocumentStoreTest, APendingCredentialIsIssuedOnceAcrossProcesses) {
  int64_t credential = SeedCredential();
  auto other = db_.Connect();
  auto first = PendingChunk::Claim(*conn_, "uni", 10);
  ASSERT_TRUE(first.ok()) << first.error().ToString();
  ASSERT_EQ((*first)->credentials().size(), 1u);
  EXPECT_EQ((*first)->credentials()[0].id, credential);
  // While this process renders and signs, the other one looks for work.
  auto second = PendingChunk::Claim(*other, "uni", 10);
  ASSERT_TRUE(second.ok()) << second.error().ToString();
  EXPECT_TRUE((*second)->credentials().empty())
      << "the second process got a credential the first held";
  second->reset();
  auto ids = (*first)->Commit({DocumentFor((*first)->credentials()[0], 'c')}, "credd-1");
  ASSERT_TRUE(ids.ok()) << ids.error().ToString();
  ASSERT_EQ(ids->size(), 1u);

  // Once the document is there, a late process finds nothing to do.
  auto late = PendingChunk::Claim(*other, "uni", 10);
  ASSERT_TRUE(late.ok()) << late.error().ToString();
  EXPECT_TRUE((*late)->credentials().empty());
  EXPECT_EQ(Count("SELECT count(*) FROM documents"), 1);
  EXPECT_EQ(Count("SELECT count(*) FROM documents WHERE status = 'active' AND supersedes IS NULL"),
            1);
  EXPECT_EQ(Count("SELECT count(*) FROM audit_events WHERE event = 'document.issued' AND "
                  "subject = 'document:" +
                  std::to_string((*ids)[0]) + "' AND institution_id = 'uni'"),
            1);
}

// A credential whose rendering failed is left out of the chunk's commit, and one whose
// chunk was never committed (a crash) is rolled back: both stay pending.
TEST_F(DocumentStoreTest, AFailedRenderingLeavesTheCredentialPending) {
  SeedCredential();
  {
    auto chunk = PendingChunk::Claim(*conn_, "uni", 10);
    ASSERT_TRUE(chunk.ok()) << chunk.error().ToString();
    ASSERT_EQ((*chunk)->credentials().size(), 1u);
    auto ids = (*chunk)->Commit({}, "credd");
    ASSERT_TRUE(ids.ok()) << ids.error().ToString();
  }
  EXPECT_EQ(Count("SELECT count(*) FROM documents"), 0);
  {
    auto chunk = PendingChunk::Claim(*conn_, "uni", 10);
    ASSERT_EQ((*chunk)->credentials().size(), 1u);
  }  // Gone uncommitted.
  auto pending = LoadPendingCredentials(*conn_, "uni", 10);
  ASSERT_TRUE(pending.ok()) << pending.error().ToString();
  EXPECT_EQ(pending->size(), 1u);
  // What failed this run is behind its cursor: not claimed again.
  auto skipped = PendingChunk::Claim(*conn_, "uni", 10, (*pending)[0].id);
  ASSERT_TRUE(skipped.ok());
  EXPECT_TRUE((*skipped)->credentials().empty());
}

// A chunk stores many documents in one transaction: each supersedes the active document of
// its credential's earlier version, and each has one audit event, chained in order.
TEST_F(DocumentStoreTest, AChunkSupersedesEarlierVersionsAndAuditsEachDocument) {
  int64_t first = SeedCredential();
  {
    auto chunk = PendingChunk::Claim(*conn_, "uni", 10);
    ASSERT_TRUE((*chunk)->Commit({DocumentFor((*chunk)->credentials()[0], 'c')}, "credd").ok());
  }
  // A new version of that credential, and a second credential of another kind.
  Exec("UPDATE credentials SET status = 'superseded' WHERE id = " + std::to_string(first));
  Exec(
      "INSERT INTO credentials (student, batch, kind, credential_key, version, title, "
      "content_sha256) SELECT s.id, b.id, 'diploma', 'diploma:bsc', 2, 'BSc', '" +
      Hex64('2') + "' FROM students s, batches b");
  Exec(
      "INSERT INTO credentials (student, batch, kind, credential_key, title, content_sha256) "
      "SELECT s.id, b.id, 'transcript', 'transcript', 'Transcript', '" +
      Hex64('3') + "' FROM students s, batches b");
  auto chunk = PendingChunk::Claim(*conn_, "uni", 10);
  ASSERT_TRUE(chunk.ok()) << chunk.error().ToString();
  ASSERT_EQ((*chunk)->credentials().size(), 2u);
  auto ids = (*chunk)->Commit(
      {DocumentFor((*chunk)->credentials()[0], 'd'), DocumentFor((*chunk)->credentials()[1], 'e')},
      "credd");
  ASSERT_TRUE(ids.ok()) << ids.error().ToString();
  ASSERT_EQ(ids->size(), 2u);
  EXPECT_EQ(Count("SELECT count(*) FROM documents WHERE status = 'active'"), 2);
  EXPECT_EQ(Count("SELECT count(*) FROM documents WHERE status = 'superseded'"), 1);
  EXPECT_EQ(Count("SELECT supersedes FROM documents WHERE id = " + std::to_string((*ids)[0])),
            Count("SELECT id FROM documents WHERE status = 'superseded'"));
  EXPECT_EQ(Count("SELECT count(*) FROM documents WHERE id = " + std::to_string((*ids)[1]) +
                  " AND supersedes IS NULL AND pdf = '%PDF-1.7 signed'::bytea"),
            1);
  // One event per document, in the order given, each linked to the one before.
  EXPECT_EQ(Count("SELECT count(*) FROM audit_events WHERE event = 'document.issued'"), 3);
  EXPECT_EQ(Count("SELECT count(*) FROM audit_events a JOIN audit_events b ON b.seq > a.seq "
                  "WHERE a.subject = 'document:" +
                  std::to_string((*ids)[0]) + "' AND b.subject = 'document:" +
                  std::to_string((*ids)[1]) + "' AND b.prev_hash = a.hash"),
            1);
}

// Every credd registers its active key at start; several starting together on a fresh
// database must all succeed and leave one row.
TEST_F(DocumentStoreTest, RegisteringTheActiveKeyIsIdempotentUnderConcurrency) {
  constexpr int kProcesses = 8;
  for (int round = 0; round < 5; ++round) {
    Exec("DELETE FROM signing_keys");
    std::vector<std::unique_ptr<Store>> conns;
    for (int i = 0; i < kProcesses; ++i) conns.push_back(db_.Connect());
    std::atomic<int> ready{0};
    std::vector<std::string> errors(kProcesses);
    std::vector<std::thread> threads;
    for (int i = 0; i < kProcesses; ++i) {
      threads.emplace_back([&, i] {
        ++ready;
        while (ready.load() < kProcesses) std::this_thread::yield();
        Status s = RegisterSigningKey(*conns[i], Key('f'), true, "credd-" + std::to_string(i));
        if (!s) errors[i] = s.error().ToString();
      });
    }
    for (std::thread& t : threads) t.join();
    for (int i = 0; i < kProcesses; ++i) EXPECT_EQ(errors[i], "") << "process " << i;
    EXPECT_EQ(Count("SELECT count(*) FROM signing_keys WHERE status = 'active'"), 1);
  }
}

// Two installations rotating to different keys at once: one of them ends active, neither
// fails on the one-active-key index.
TEST_F(DocumentStoreTest, TwoKeysActivatedTogetherLeaveOneActive) {
  auto other = db_.Connect();
  Status a;
  Status b;
  std::thread first([&] { a = RegisterSigningKey(*conn_, Key('1'), true, "credd-1"); });
  std::thread second([&] { b = RegisterSigningKey(*other, Key('2'), true, "credd-2"); });
  first.join();
  second.join();
  EXPECT_TRUE(a.ok()) << a.error().ToString();
  EXPECT_TRUE(b.ok()) << b.error().ToString();
  EXPECT_EQ(Count("SELECT count(*) FROM signing_keys"), 2);
  EXPECT_EQ(Count("SELECT count(*) FROM signing_keys WHERE status = 'active'"), 1);
}

}  // namespace
}  // namespace credd
