// See test_database.h.
#include "daemon/store/test_database.h"

#include <gtest/gtest.h>

#include <cstdlib>
#include <random>

#include "daemon/store/database.h"
#include "daemon/store/institutions.h"
#include "daemon/store/internal/pq.h"
#include "daemon/store/migrations.h"

namespace credd::testing {

TestDatabase::TestDatabase() {
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

TestDatabase::~TestDatabase() {
  if (name_.empty()) return;
  try {
    pqxx::connection admin(admin_url_);
    pqxx::nontransaction txn(admin);
    txn.exec0("DROP DATABASE IF EXISTS " + txn.quote_name(name_) + " WITH (FORCE)");
  } catch (const std::exception& e) {
    ADD_FAILURE() << "cannot drop " << name_ << ": " << e.what();
  }
}

std::string TestDatabase::YamlUrl() const {
  std::string url = conninfo_;
  for (size_t at = url.find('\''); at != std::string::npos; at = url.find('\'', at + 2)) {
    url.insert(at, 1, '\'');
  }
  return "'" + url + "'";
}

std::unique_ptr<Database> TestDatabase::OpenPrepared(
    Logger& log, const std::vector<InstitutionConfig>& institutions,
    std::unique_ptr<Store>* store) const {
  DatabaseConfig config;
  config.url = conninfo_;
  auto opened = Database::Open(config, log);
  if (!opened) {
    ADD_FAILURE() << opened.error().ToString();
    return nullptr;
  }
  *store = Connect();
  if (*store == nullptr) return nullptr;
  if (auto migrated = Migrate(**store); !migrated) {
    ADD_FAILURE() << migrated.error().ToString();
    return nullptr;
  }
  if (Status synced = SyncInstitutions(**store, institutions); !synced) {
    ADD_FAILURE() << synced.error().ToString();
    return nullptr;
  }
  return std::move(opened).value();
}

std::unique_ptr<Store> TestDatabase::Connect() const {
  return std::make_unique<Store>(std::make_unique<Store::Connection>(conninfo_));
}

}  // namespace credd::testing
