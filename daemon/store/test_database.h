// Test support for *_pgtest.cpp anywhere in the tree: a fresh, uniquely named database per
// test on the server named by CREDD_TEST_DATABASE_URL (scripts/test starts one with
// scripts/pg-test-server), so tests are isolated and may run in parallel. No libpqxx here:
// tests outside daemon/store/ reach the database through the store's operations only.
// Thread contract: one object per test.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "common/log.h"
#include "daemon/config/config.h"
#include "daemon/store/database.h"
#include "daemon/store/store.h"

namespace credd::testing {

class TestDatabase {
 public:
  // Fails the current test (rather than skipping it: a skipped database test is a test
  // nobody runs) when the server is not configured or reachable.
  TestDatabase();
  ~TestDatabase();  // Drops the database.
  TestDatabase(const TestDatabase&) = delete;
  TestDatabase& operator=(const TestDatabase&) = delete;

  bool ok() const { return !conninfo_.empty(); }
  // keyword=value conninfo of this test's database (DatabaseConfig::url takes it).
  const std::string& conninfo() const { return conninfo_; }
  std::unique_ptr<Store> Connect() const;
  // The conninfo as a single-quoted YAML scalar (a quote doubled), for a test's credd.yaml.
  std::string YamlUrl() const;
  // A Database on this test's database, migrated and holding `institutions`, and in *store
  // a connection of the test's own; null (the test failed) on error.
  std::unique_ptr<Database> OpenPrepared(Logger& log,
                                         const std::vector<InstitutionConfig>& institutions,
                                         std::unique_ptr<Store>* store) const;

 private:
  std::string admin_url_;
  std::string name_;
  std::string conninfo_;
};

}  // namespace credd::testing
