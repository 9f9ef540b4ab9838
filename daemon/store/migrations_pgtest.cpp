// Migrations, the schema's constraints and triggers, status counts and institution sync,
// against a real PostgreSQL (CREDD_TEST_DATABASE_URL); each test in a fresh database.
#include <gtest/gtest.h>

#include <set>
#include <thread>

#include "daemon/store/institutions.h"
#include "daemon/store/migrations.h"
#include "daemon/store/pgtest_util.h"
#include "daemon/store/status_query.h"

namespace credd {
namespace {

// Everything about the schema a migration could change, hashed: columns, indexes,
// constraints and triggers.
constexpr const char* kCatalogFingerprintQuery = R"sql(
SELECT md5(string_agg(x, E'\n' ORDER BY x)) FROM (
  SELECT concat_ws('|', 'column', table_name, column_name, data_type, is_nullable,
                   column_default) AS x
    FROM information_schema.columns WHERE table_schema = 'public'
  UNION ALL
  SELECT concat_ws('|', 'index', tablename, indexname, indexdef)
    FROM pg_indexes WHERE schemaname = 'public'
  UNION ALL
  SELECT concat_ws('|', 'constraint', conrelid::regclass::text, conname,
                   pg_get_constraintdef(oid))
    FROM pg_constraint WHERE connamespace = 'public'::regnamespace
  UNION ALL
  SELECT concat_ws('|', 'trigger', tgrelid::regclass::text, tgname, pg_get_triggerdef(oid))
    FROM pg_trigger WHERE NOT tgisinternal
) catalog
)sql";

constexpr const char* kTables[] = {"schema_migrations", "institutions", "students",
                                   "student_emails",    "batches",      "batch_errors",
                                   "credentials",       "documents",    "invitations",
                                   "mail_outbox",       "audit_events"};

std::string Hex64(char c) { return std::string(64, c); }

class MigrationsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(db_.ok());
    conn_ = db_.Connect();
  }

  void Migrated() {
    Result<MigrateOutcome> outcome = Migrate(*conn_);
    ASSERT_TRUE(outcome.ok()) << outcome.error().ToString();
  }

  void Exec(const std::string& sql) {
    pqxx::work txn(Pq(*conn_));
    txn.exec(sql);
    txn.commit();
  }

  template <typename T>
  T Scalar(const std::string& sql) {
    pqxx::work txn(Pq(*conn_));
    T value = txn.exec1(sql)[0].as<T>();
    txn.commit();
    return value;
  }

  // One institution, student, email and 'done' batch; returns the batch id.
  int64_t Seed() {
    Exec("INSERT INTO institutions (id, name_en, name_fr) VALUES ('uni', 'Uni', 'Uni')");
    Exec(
        "INSERT INTO students (institution_id, student_id, family_name) "
        "VALUES ('uni', 'S1', 'Tremblay')");
    Exec(
        "INSERT INTO student_emails (student, kind, address, is_primary) "
        "SELECT id, 'institutional', 's1@uni.ca', true FROM students");
    return Scalar<int64_t>(
        "INSERT INTO batches (institution_id, sha256, file_name, format, status) "
        "VALUES ('uni', '" +
        Hex64('a') + "', 'x.csv', 'csv', 'done') RETURNING id");
  }

  testing::TestDatabase db_;
  std::unique_ptr<Store> conn_;
};

TEST_F(MigrationsTest, MigratesAnEmptyDatabaseToTheLatestVersion) {
  Result<int> before = CurrentSchemaVersion(*conn_);
  ASSERT_TRUE(before.ok()) << before.error().ToString();
  EXPECT_EQ(*before, 0);

  Result<MigrateOutcome> outcome = Migrate(*conn_);
  ASSERT_TRUE(outcome.ok()) << outcome.error().ToString();
  EXPECT_EQ(outcome->from_version, 0);
  EXPECT_EQ(outcome->to_version, LatestSchemaVersion());
  std::vector<int> all;
  for (const Migration& m : EmbeddedMigrations()) all.push_back(m.version);
  EXPECT_EQ(outcome->applied, all);

  Result<int> after = CurrentSchemaVersion(*conn_);
  ASSERT_TRUE(after.ok());
  EXPECT_EQ(*after, LatestSchemaVersion());
  for (const char* table : kTables) {
    EXPECT_TRUE(Scalar<bool>(std::string("SELECT to_regclass('") + table + "') IS NOT NULL"))
        << table;
  }
  EXPECT_TRUE(CheckSchemaVersion(*conn_).ok());
}

TEST_F(MigrationsTest, EmbeddedMigrationsAreNumberedAndChecksummed) {
  ASSERT_FALSE(EmbeddedMigrations().empty());
  const Migration& first = EmbeddedMigrations().front();
  EXPECT_EQ(first.version, 1);
  EXPECT_EQ(first.name, "initial");
  EXPECT_EQ(first.sha256.size(), 64u);
  EXPECT_NE(first.sql.find("CREATE TABLE audit_events"), std::string::npos);
  // The recorded checksum is the database's own sha256 of the text.
  Migrated();
  EXPECT_EQ(Scalar<std::string>("SELECT sha256 FROM schema_migrations WHERE version = 1"),
            first.sha256);
  EXPECT_EQ(Scalar<std::string>("SELECT encode(sha256(convert_to(" + Pq(*conn_).quote(first.sql) +
                                ", 'UTF8')), 'hex')"),
            first.sha256);
}

TEST_F(MigrationsTest, MigratingTwiceAppliesNothingAndLeavesTheCatalogAlone) {
  Migrated();
  std::string before = Scalar<std::string>(kCatalogFingerprintQuery);
  Result<MigrateOutcome> again = Migrate(*conn_);
  ASSERT_TRUE(again.ok()) << again.error().ToString();
  EXPECT_TRUE(again->applied.empty());
  EXPECT_EQ(again->from_version, LatestSchemaVersion());
  EXPECT_EQ(again->to_version, LatestSchemaVersion());
  EXPECT_EQ(Scalar<std::string>(kCatalogFingerprintQuery), before);
  EXPECT_EQ(Scalar<int64_t>("SELECT count(*) FROM schema_migrations"),
            static_cast<int64_t>(EmbeddedMigrations().size()));
}

TEST_F(MigrationsTest, CheckRefusesAnEmptyDatabase) {
  Status status = CheckSchemaVersion(*conn_);
  ASSERT_FALSE(status.ok());
  EXPECT_EQ(status.error().code, ErrorCode::kConfig);
  EXPECT_EQ(status.error().message, "database schema is empty: run `credctl migrate`");
}

TEST_F(MigrationsTest, CheckAndMigrateRefuseANewerDatabase) {
  Migrated();
  const int newer = LatestSchemaVersion() + 8;
  Exec("INSERT INTO schema_migrations (version, name, sha256) VALUES (" + std::to_string(newer) +
       ", 'future', '" + Hex64('0') + "')");
  const std::string expected = "database schema version " + std::to_string(newer) +
                               " is newer than this credd knows (" +
                               std::to_string(LatestSchemaVersion()) + "): upgrade credd";
  Status status = CheckSchemaVersion(*conn_);
  ASSERT_FALSE(status.ok());
  EXPECT_EQ(status.error().code, ErrorCode::kConfig);
  EXPECT_EQ(status.error().message, expected);

  Result<MigrateOutcome> outcome = Migrate(*conn_);
  ASSERT_FALSE(outcome.ok());
  EXPECT_EQ(outcome.error().code, ErrorCode::kConfig);
  EXPECT_EQ(outcome.error().message, expected);
}

TEST_F(MigrationsTest, CheckReportsAnOlderDatabase) {
  Migrated();
  Exec("DELETE FROM schema_migrations WHERE version = " + std::to_string(LatestSchemaVersion()));
  Status status = CheckSchemaVersion(*conn_);
  ASSERT_FALSE(status.ok());
  EXPECT_EQ(status.error().code, ErrorCode::kConfig);
  EXPECT_EQ(status.error().message,
            "database schema version " + std::to_string(LatestSchemaVersion() - 1) +
                " is older than this credd (" + std::to_string(LatestSchemaVersion()) +
                "): run `credctl migrate`");
}

TEST_F(MigrationsTest, RefusesAnEditedMigration) {
  Migrated();
  Exec("UPDATE schema_migrations SET sha256 = '" + Hex64('0') + "' WHERE version = 1");
  Status status = CheckSchemaVersion(*conn_);
  ASSERT_FALSE(status.ok());
  EXPECT_EQ(status.error().code, ErrorCode::kConfig);
  EXPECT_NE(status.error().message.find("0001_initial.sql was applied with checksum 0000"),
            std::string::npos)
      << status.error().message;

  Result<MigrateOutcome> outcome = Migrate(*conn_);
  ASSERT_FALSE(outcome.ok());
  EXPECT_EQ(outcome.error().code, ErrorCode::kConfig);
}

TEST_F(MigrationsTest, ConcurrentMigratorsApplyEachMigrationOnce) {
  constexpr int kMigrators = 4;
  std::vector<Result<MigrateOutcome>> outcomes(kMigrators, Error{});
  std::vector<std::thread> threads;
  for (int i = 0; i < kMigrators; ++i) {
    threads.emplace_back([this, i, &outcomes] {
      auto conn = db_.Connect();
      outcomes[static_cast<size_t>(i)] = Migrate(*conn);
    });
  }
  for (std::thread& t : threads) t.join();
  std::multiset<int> applied;
  for (const auto& outcome : outcomes) {
    ASSERT_TRUE(outcome.ok()) << outcome.error().ToString();
    EXPECT_EQ(outcome->to_version, LatestSchemaVersion());
    applied.insert(outcome->applied.begin(), outcome->applied.end());
  }
  EXPECT_EQ(applied.size(), EmbeddedMigrations().size());
  EXPECT_EQ(std::set<int>(applied.begin(), applied.end()).size(), EmbeddedMigrations().size());
  EXPECT_EQ(Scalar<int64_t>("SELECT count(*) FROM schema_migrations"),
            static_cast<int64_t>(EmbeddedMigrations().size()));
}

TEST_F(MigrationsTest, AuditEventsAreAppendOnly) {
  Migrated();
  Exec("INSERT INTO audit_events (actor, event, subject) VALUES ('test', 'a', 'x')");
  for (const char* change : {"UPDATE audit_events SET actor = 'mallory'",
                             "DELETE FROM audit_events", "TRUNCATE audit_events"}) {
    try {
      Exec(change);
      ADD_FAILURE() << change << " was allowed";
    } catch (const pqxx::sql_error& e) {
      EXPECT_NE(std::string(e.what()).find("append-only"), std::string::npos) << e.what();
      EXPECT_NE(PqError("changing history", e).message.find("[SQLSTATE 42501]"), std::string::npos)
          << change;
    }
  }
  EXPECT_EQ(Scalar<std::string>("SELECT actor FROM audit_events"), "test");
}

TEST_F(MigrationsTest, AuditEventsAreHashChainedInSeqOrder) {
  Migrated();
  // Concurrent writers: the chain must still follow seq, one link per row.
  constexpr int kWriters = 4;
  constexpr int kRowsEach = 20;
  std::vector<std::thread> writers;
  for (int w = 0; w < kWriters; ++w) {
    writers.emplace_back([this, w] {
      auto conn = db_.Connect();
      for (int i = 0; i < kRowsEach; ++i) {
        pqxx::work txn(Pq(*conn));
        txn.exec_params(
            "INSERT INTO audit_events (actor, institution_id, event, subject, details) "
            "VALUES ($1, 'uni', 'test.event', $2, jsonb_build_object('i', $3::int))",
            "writer" + std::to_string(w), std::to_string(i), i);
        txn.commit();
      }
    });
  }
  for (std::thread& t : writers) t.join();

  pqxx::work txn(Pq(*conn_));
  pqxx::result rows = txn.exec(
      "SELECT seq, prev_hash IS NULL, encode(prev_hash, 'hex'), encode(hash, 'hex'),"
      " hash = audit_event_hash(prev_hash, seq, occurred_at, actor, institution_id, event,"
      "                         subject, details)"
      " FROM audit_events ORDER BY seq");
  ASSERT_EQ(rows.size(), static_cast<size_t>(kWriters * kRowsEach));
  EXPECT_TRUE(rows[0][1].as<bool>()) << "the first row has no predecessor";
  for (size_t i = 0; i < rows.size(); ++i) {
    EXPECT_TRUE(rows[i][4].as<bool>()) << "row " << rows[i][0].c_str() << " hash recomputes";
    EXPECT_EQ(rows[i][3].size(), 64u);
    if (i > 0) {
      EXPECT_EQ(rows[i][2].as<std::string>(), rows[i - 1][3].as<std::string>())
          << "row " << rows[i][0].c_str() << " links to its predecessor";
    }
  }
}

TEST_F(MigrationsTest, AuditEventsRefuseInsertsThatCouldForkTheChain) {
  Migrated();
  pqxx::transaction<pqxx::repeatable_read> txn(Pq(*conn_));
  EXPECT_THROW(txn.exec("INSERT INTO audit_events (actor, event) VALUES ('t', 'e')"),
               pqxx::sql_error);
}

TEST_F(MigrationsTest, SameBatchContentIsOneRealBatch) {
  Migrated();
  int64_t first = Seed();
  const std::string insert =
      "INSERT INTO batches (institution_id, sha256, file_name, format, status, duplicate_of) "
      "VALUES ('uni', '" +
      Hex64('a') + "', 'y.csv', 'csv', ";
  EXPECT_THROW(Exec(insert + "'processing', NULL)"), pqxx::unique_violation);
  // Recorded as a duplicate of the first, it is accepted (as often as it is dropped).
  Exec(insert + "'duplicate', " + std::to_string(first) + ")");
  Exec(insert + "'duplicate', " + std::to_string(first) + ")");
  // A duplicate must name its original.
  EXPECT_THROW(Exec(insert + "'duplicate', NULL)"), pqxx::check_violation);
  EXPECT_THROW(Exec("INSERT INTO batches (institution_id, sha256, file_name, format) "
                    "VALUES ('uni', 'ABC', 'z.csv', 'csv')"),
               pqxx::check_violation);
}

TEST_F(MigrationsTest, OneActiveVersionPerCredential) {
  Migrated();
  int64_t batch = Seed();
  const std::string insert =
      "INSERT INTO credentials (student, batch, kind, credential_key, title, content_sha256, "
      "version, supersedes, status) SELECT s.id, " +
      std::to_string(batch) + ", 'diploma', 'diploma:bsc', 'BSc', ";
  Exec(insert + "'" + Hex64('1') + "', 1, NULL, 'active' FROM students s");
  // The same version twice is refused.
  EXPECT_THROW(Exec(insert + "'" + Hex64('1') + "', 1, NULL, 'superseded' FROM students s"),
               pqxx::unique_violation);
  // Changed content is a new version; only one version is active at a time.
  EXPECT_THROW(Exec(insert + "'" + Hex64('2') + "', 2, 1, 'active' FROM students s"),
               pqxx::unique_violation);
  Exec("UPDATE credentials SET status = 'superseded'");
  int64_t second =
      Scalar<int64_t>("WITH v AS (" + insert + "'" + Hex64('2') +
                      "', 2, 1, 'active' FROM students s RETURNING id) SELECT id FROM v");
  // Back to the first content (a correction undone): a third version, not a conflict.
  Exec("UPDATE credentials SET status = 'superseded' WHERE id = " + std::to_string(second));
  Exec(insert + "'" + Hex64('1') + "', 3, " + std::to_string(second) +
       ", 'active' FROM students s");
  EXPECT_EQ(Scalar<int64_t>("SELECT count(*) FROM credentials"), 3);
}

TEST_F(MigrationsTest, OneActiveDocumentAndOnePrimaryEmail) {
  Migrated();
  int64_t batch = Seed();
  Exec(
      "INSERT INTO credentials (student, batch, kind, credential_key, title, content_sha256) "
      "SELECT id, " +
      std::to_string(batch) + ", 'transcript', 't', 'T', '" + Hex64('1') + "' FROM students");
  // Documents name a known signing key.
  Exec(
      "INSERT INTO signing_keys (key_id, certificates_pem, subject, not_before, not_after) "
      "VALUES ('" +
      Hex64('b') + "', 'PEM', 'CN=test', now(), now() + interval '1 year')");
  const std::string document =
      "INSERT INTO documents (credential, version, sha256, pdf, key_id) "
      "SELECT id, %V, '%S', '\\x25504446'::bytea, '" +
      Hex64('b') + "' FROM credentials";
  auto doc = [&](int version, char sha) {
    std::string sql = document;
    sql.replace(sql.find("%V"), 2, std::to_string(version));
    sql.replace(sql.find("%S"), 2, Hex64(sha));
    return sql;
  };
  Exec(doc(1, 'c'));
  EXPECT_THROW(Exec(doc(2, 'd')), pqxx::unique_violation);  // A second active document.
  EXPECT_THROW(Exec("INSERT INTO student_emails (student, kind, address, is_primary) "
                    "SELECT id, 'personal', 'me@example.org', true FROM students"),
               pqxx::unique_violation);
  EXPECT_THROW(Exec("UPDATE documents SET status = 'revoked'"), pqxx::check_violation);
  Exec("UPDATE documents SET status = 'revoked', revoked_reason = 'issued in error'");
}

TEST_F(MigrationsTest, StatusCountsAreExact) {
  Migrated();
  int64_t batch = Seed();
  Exec(
      "INSERT INTO batches (institution_id, sha256, file_name, format, status) VALUES "
      "('uni', '" +
      Hex64('b') +
      "', 'b.csv', 'csv', 'done'), "
      "('uni', '" +
      Hex64('c') + "', 'c.csv', 'csv', 'rejected')");
  Exec(
      "INSERT INTO batches (institution_id, sha256, file_name, format, status, duplicate_of) "
      "VALUES ('uni', '" +
      Hex64('a') + "', 'a2.csv', 'csv', 'duplicate', " + std::to_string(batch) + ")");
  Exec(
      "INSERT INTO invitations (student, batch, email, state) "
      "SELECT s.id, " +
      std::to_string(batch) +
      ", e.id, 'sent' "
      "FROM students s JOIN student_emails e ON e.student = s.id");
  Exec(
      "INSERT INTO invitations (student, batch, email, kind, state) "
      "SELECT s.id, " +
      std::to_string(batch) +
      ", e.id, 'notice', 'pending' "
      "FROM students s JOIN student_emails e ON e.student = s.id");
  Exec(
      "INSERT INTO mail_outbox (invitation, message_id, recipient, status) "
      "SELECT id, 'm' || id, 's1@uni.ca', 'deferred' FROM invitations");

  Result<StatusCounts> counts = ReadStatusCounts(*conn_);
  ASSERT_TRUE(counts.ok()) << counts.error().ToString();
  EXPECT_EQ(counts->schema_version, LatestSchemaVersion());
  using Counts = std::map<std::string, int64_t>;
  EXPECT_EQ(counts->batches,
            (Counts{{"processing", 0}, {"done", 2}, {"rejected", 1}, {"duplicate", 1}}));
  EXPECT_EQ(counts->documents, (Counts{{"active", 0}, {"superseded", 0}, {"revoked", 0}}));
  EXPECT_EQ(counts->invitations, (Counts{{"pending", 1},
                                         {"sent", 1},
                                         {"reminded", 0},
                                         {"activated", 0},
                                         {"expired", 0},
                                         {"bounced", 0},
                                         {"cancelled", 0}}));
  EXPECT_EQ(counts->outbox,
            (Counts{{"queued", 0}, {"sending", 0}, {"sent", 0}, {"deferred", 2}, {"failed", 0}}));
}

TEST_F(MigrationsTest, StatusCountsNeedASchema) {
  Result<StatusCounts> counts = ReadStatusCounts(*conn_);
  ASSERT_FALSE(counts.ok());
  EXPECT_EQ(counts.error().code, ErrorCode::kConfig);
}

TEST_F(MigrationsTest, SyncInstitutionsIsIdempotent) {
  Migrated();
  std::vector<InstitutionConfig> institutions(2);
  institutions[0].id = "uni";
  institutions[0].name_en = "University";
  institutions[0].name_fr = "Université";
  institutions[1].id = "col";
  institutions[1].name_en = "College";
  institutions[1].name_fr = "Collège";
  ASSERT_TRUE(SyncInstitutions(*conn_, institutions).ok());
  const std::string snapshot =
      "SELECT string_agg(id || '/' || name_en || '/' || name_fr || '/' || updated_at, ',' "
      "ORDER BY id) FROM institutions";
  std::string first = Scalar<std::string>(snapshot);
  Status again = SyncInstitutions(*conn_, institutions);
  ASSERT_TRUE(again.ok()) << again.error().ToString();
  EXPECT_EQ(Scalar<std::string>(snapshot), first);  // Not even updated_at moved.

  institutions[1].name_en = "Community College";
  institutions.pop_back();  // Leaving the config does not delete.
  institutions.push_back({});
  institutions.back().id = "col";
  institutions.back().name_en = "Community College";
  institutions.back().name_fr = "Collège communautaire";
  ASSERT_TRUE(SyncInstitutions(*conn_, institutions).ok());
  EXPECT_EQ(Scalar<std::string>("SELECT name_en || '/' || name_fr FROM institutions "
                                "WHERE id = 'col'"),
            "Community College/Collège communautaire");
  EXPECT_EQ(Scalar<int64_t>("SELECT count(*) FROM institutions"), 2);
}

TEST_F(MigrationsTest, SyncInstitutionsNamesTheFailingEntry) {
  // No schema: the error is converted, not thrown, and says which entry it was at.
  std::vector<InstitutionConfig> institutions(1);
  institutions[0].id = "uni";
  Status status = SyncInstitutions(*conn_, institutions);
  ASSERT_FALSE(status.ok());
  EXPECT_EQ(status.error().code, ErrorCode::kInternal);
  EXPECT_EQ(status.error().where, "institutions[0]");
  EXPECT_NE(status.error().message.find("42P01"), std::string::npos) << status.error().message;
}

}  // namespace
}  // namespace credd
