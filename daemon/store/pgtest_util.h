// Test support for the store's own *_pgtest.cpp: the test database (test_database.h) and
// the store's private side, for tests that check rows with SQL of their own.
#pragma once

#include <gtest/gtest.h>

#include <cstdint>
#include <memory>
#include <pqxx/pqxx>
#include <string>

#include "daemon/store/internal/pq.h"
#include "daemon/store/migrations.h"
#include "daemon/store/test_database.h"

namespace credd::testing {

// Runs SQL of the test's own, committed.
inline void ExecSql(Store& store, const std::string& sql) {
  pqxx::work txn(Pq(store));
  txn.exec(sql);
  txn.commit();
}

// One number from SQL of the test's own (a count, an id, an INSERT ... RETURNING's id),
// committed.
inline int64_t SqlNumber(Store& store, const std::string& sql) {
  pqxx::work txn(Pq(store));
  const int64_t value = txn.exec1(sql)[0].as<int64_t>();
  txn.commit();
  return value;
}

// A fixture on a fresh, migrated test database. A test's own SetUp calls this one first and
// returns when it failed (HasFatalFailure()).
class MigratedStoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(db_.ok());
    conn_ = db_.Connect();
    Result<MigrateOutcome> migrated = Migrate(*conn_);
    ASSERT_TRUE(migrated.ok()) << migrated.error().ToString();
  }
  void Exec(const std::string& sql) { ExecSql(*conn_, sql); }
  // One number: a count, an id, or the id an INSERT ... RETURNING made.
  int64_t Count(const std::string& sql) { return SqlNumber(*conn_, sql); }

  TestDatabase db_;
  std::unique_ptr<Store> conn_;
};

}  // namespace credd::testing
