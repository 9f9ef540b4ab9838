// Database::Open/Connect/Describe and PqError against a real PostgreSQL
// (CREDD_TEST_DATABASE_URL) and an unreachable one.
#include <gtest/gtest.h>

#include <sstream>

#include "daemon/store/database.h"
#include "daemon/store/pgtest_util.h"

namespace credd {
namespace {

TEST(DatabaseTest, OpensAUrlAndDescribesItWithoutThePassword) {
  testing::TestDatabase test_db;
  ASSERT_TRUE(test_db.ok());
  Result<std::string> url = RewriteConninfo(test_db.conninfo(), {{"password", "s3cret"}});
  ASSERT_TRUE(url.ok()) << url.error().ToString();

  std::ostringstream out;
  Logger log(out);
  DatabaseConfig config;
  config.url = *url;  // Trust authentication ignores the password; Describe must hide it.
  Result<std::unique_ptr<Database>> db = Database::Open(config, log);
  ASSERT_TRUE(db.ok()) << db.error().ToString();
  EXPECT_EQ((*db)->Describe().find("s3cret"), std::string::npos) << (*db)->Describe();
  EXPECT_NE((*db)->Describe().find("password=***"), std::string::npos) << (*db)->Describe();
  EXPECT_NE((*db)->Describe().find("connect_timeout='10'"), std::string::npos);
  EXPECT_EQ(out.str().find("s3cret"), std::string::npos) << out.str();

  Result<std::unique_ptr<Store>> conn = (*db)->Connect();
  ASSERT_TRUE(conn.ok()) << conn.error().ToString();
  pqxx::work txn(Pq(**conn));
  EXPECT_EQ(txn.exec1("SELECT 1")[0].as<int>(), 1);
}

TEST(DatabaseTest, UnreachableServerIsUnavailable) {
  std::ostringstream out;
  Logger log(out);
  DatabaseConfig config;
  config.url = "postgresql:///credd?host=/nonexistent-credd-socket-dir&user=u&password=pw";
  Result<std::unique_ptr<Database>> db = Database::Open(config, log);
  ASSERT_FALSE(db.ok());
  EXPECT_EQ(db.error().code, ErrorCode::kUnavailable);
  EXPECT_NE(db.error().message.find("/nonexistent-credd-socket-dir"), std::string::npos)
      << db.error().message;
  EXPECT_EQ(db.error().message.find("pw'"), std::string::npos) << db.error().message;
}

TEST(DatabaseTest, BadUrlIsAConfigError) {
  std::ostringstream out;
  Logger log(out);
  DatabaseConfig config;
  config.url = "host='unterminated";
  Result<std::unique_ptr<Database>> db = Database::Open(config, log);
  ASSERT_FALSE(db.ok());
  EXPECT_EQ(db.error().code, ErrorCode::kConfig);
  EXPECT_EQ(db.error().where, "database.url");

  config.url.clear();
  db = Database::Open(config, log);
  ASSERT_FALSE(db.ok());
  EXPECT_EQ(db.error().code, ErrorCode::kConfig);
}

TEST(DatabaseTest, PqErrorKeepsSqlstateAndQuery) {
  testing::TestDatabase test_db;
  ASSERT_TRUE(test_db.ok());
  auto conn = test_db.Connect();
  try {
    pqxx::work txn(Pq(*conn));
    txn.exec("SELECT * FROM no_such_table");
    FAIL() << "query succeeded";
  } catch (const std::exception& e) {
    Error error = PqError("listing things", e);
    EXPECT_EQ(error.code, ErrorCode::kInternal);
    EXPECT_EQ(error.message.rfind("listing things: ", 0), 0u) << error.message;
    EXPECT_NE(error.message.find("[SQLSTATE 42P01]"), std::string::npos) << error.message;
    EXPECT_NE(error.message.find("in query: SELECT * FROM no_such_table"), std::string::npos);
    EXPECT_EQ(error.message.find('\n'), std::string::npos);
  }
  try {
    pqxx::work txn(Pq(*conn));
    txn.exec("DO $$ BEGIN RAISE EXCEPTION 'no' USING ERRCODE = '40001'; END $$");
  } catch (const std::exception& e) {
    // A serialization failure goes away when the work is tried again later, like an
    // outage: the file waits in processing/ instead of being rejected.
    Error error = PqError("retrying", e);
    EXPECT_EQ(error.code, ErrorCode::kUnavailable);
    EXPECT_NE(error.message.find("[SQLSTATE 40001]"), std::string::npos) << error.message;
  }
  for (const char* state : {"53100", "40P01", "57P01"}) {  // Disk full, deadlock, shutdown.
    try {
      pqxx::work txn(Pq(*conn));
      txn.exec(std::string("DO $$ BEGIN RAISE EXCEPTION 'no' USING ERRCODE = '") + state +
               "'; END $$");
    } catch (const std::exception& e) {
      EXPECT_EQ(PqError("storing", e).code, ErrorCode::kUnavailable) << state;
    }
  }
  try {
    pqxx::work txn(Pq(*conn));
    txn.exec("SELECT convert_from('\\xe9'::bytea, 'UTF8')");  // 22021: not transient.
  } catch (const std::exception& e) {
    EXPECT_EQ(PqError("storing", e).code, ErrorCode::kInternal);
  }
  Error other = PqError("parsing", std::runtime_error("boom"));
  EXPECT_EQ(other.code, ErrorCode::kInternal);
  EXPECT_EQ(other.message, "parsing: boom");
}

TEST(DatabaseTest, RewriteConninfoAcceptsUrisAndKeywords) {
  Result<std::string> from_uri =
      RewriteConninfo("postgresql://alice@db.example:6543/credd?sslmode=require", {});
  ASSERT_TRUE(from_uri.ok());
  // libpq's own keyword order.
  EXPECT_EQ(*from_uri,
            "user='alice' dbname='credd' host='db.example' port='6543' "
            "sslmode='require'");
  Result<std::string> replaced =
      RewriteConninfo("host=/tmp dbname=postgres user=x", {{"dbname", "o'k"}, {"user", ""}});
  ASSERT_TRUE(replaced.ok());
  EXPECT_EQ(*replaced, "host='/tmp' dbname='o\\'k'");
}

}  // namespace
}  // namespace credd
