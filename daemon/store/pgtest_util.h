// Test support for *_pgtest.cpp: a fresh, uniquely named database per test on the server
// named by CREDD_TEST_DATABASE_URL (scripts/test starts one with scripts/pg-test-server), so
// tests are isolated and may run in parallel. Thread contract: one object per test.
#pragma once

#include <gtest/gtest.h>

#include <cstdlib>
#include <memory>
#include <pqxx/pqxx>
#include <random>
#include <string>

#include "daemon/store/database.h"
#include "daemon/store/internal/pq.h"

namespace credd::testing {

class TestDatabase {
 public:
  // Fails the current test (rather than skipping it: a skipped database test is a test
  // nobody runs) when the server is not configured or reachable.
  TestDatabase() {
    const char* url = std::getenv("CREDD_TEST_DATABASE_URL");
    if (url == nullptr || *url == '\0') {
      ADD_FAILURE() << "CREDD_TEST_DATABASE_URL is not set: run the tests with scripts/test "
                       "(or start a server with scripts/pg-test-server and export its line)";
      return;
    }
    admin_url_ = url;
    std::random_device random;
    name_ = "credd_test_" + std::to_string(random()) + std::to_string(random());
    try {
      pqxx::connection admin(admin_url_);
      pqxx::nontransaction txn(admin);
      txn.exec0("CREATE DATABASE " + txn.quote_name(name_));
    } catch (const std::exception& e) {
      ADD_FAILURE() << "cannot create a test database on " << admin_url_ << ": " << e.what();
      name_.clear();
      return;
    }
    Result<std::string> conninfo = RewriteConninfo(admin_url_, {{"dbname", name_}});
    if (!conninfo.ok()) {
      ADD_FAILURE() << conninfo.error().ToString();
      return;
    }
    conninfo_ = *conninfo;
  }

  ~TestDatabase() {
    if (name_.empty()) return;
    try {
      pqxx::connection admin(admin_url_);
      pqxx::nontransaction txn(admin);
      txn.exec0("DROP DATABASE IF EXISTS " + txn.quote_name(name_) + " WITH (FORCE)");
    } catch (const std::exception& e) {
      ADD_FAILURE() << "cannot drop " << name_ << ": " << e.what();
    }
  }
  TestDatabase(const TestDatabase&) = delete;
  TestDatabase& operator=(const TestDatabase&) = delete;

  bool ok() const { return !conninfo_.empty(); }
  const std::string& conninfo() const { return conninfo_; }
  std::unique_ptr<Store> Connect() const {
    return std::make_unique<Store>(std::make_unique<Store::Connection>(conninfo_));
  }

 private:
  std::string admin_url_;
  std::string name_;
  std::string conninfo_;
};

}  // namespace credd::testing
