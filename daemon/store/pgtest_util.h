// Test support for the store's own *_pgtest.cpp: the test database (test_database.h) and
// the store's private side, for tests that check rows with SQL of their own.
#pragma once

#include <cstdint>
#include <pqxx/pqxx>
#include <string>

#include "daemon/store/internal/pq.h"
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

}  // namespace credd::testing
