// Each state table of states.h names exactly the words its column's CHECK constraint allows,
// so every row read back parses (ParseStored) and every word the code writes is accepted.
#include <gtest/gtest.h>

#include <set>
#include <string>

#include "daemon/store/migrations.h"
#include "daemon/store/pgtest_util.h"
#include "daemon/store/states.h"

namespace credd {
namespace {

// The quoted words of the CHECK on `table` of the form `column IN (...)`, as PostgreSQL
// prints it: ((column = ANY (ARRAY['a'::text, 'b'::text]))).
std::set<std::string> AllowedWords(Store& store, const std::string& table,
                                   const std::string& column) {
  pqxx::read_transaction txn(Pq(store));
  const pqxx::result checks = txn.exec_params(
      "SELECT pg_get_constraintdef(oid) FROM pg_constraint WHERE conrelid = $1::regclass "
      "AND contype = 'c' AND pg_get_constraintdef(oid) LIKE $2",
      table, "%(" + column + " = ANY (ARRAY[%");
  EXPECT_EQ(checks.size(), 1u) << table << "." << column;
  std::set<std::string> words;
  if (checks.empty()) return words;
  const std::string check = checks[0][0].as<std::string>();
  for (size_t open = check.find('\''); open != std::string::npos;
       open = check.find('\'', open + 1)) {
    const size_t close = check.find('\'', open + 1);
    if (close == std::string::npos) break;
    words.insert(check.substr(open + 1, close - open - 1));
    open = close;
  }
  return words;
}

template <typename E, size_t N>
std::set<std::string> TableWords(const EnumTable<E, N>& table) {
  std::set<std::string> words;
  for (const auto& entry : table) words.insert(std::string(entry.name));
  return words;
}

class StatesTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(db_.ok());
    store_ = db_.Connect();
    ASSERT_TRUE(Migrate(*store_).ok());
  }
  testing::TestDatabase db_;
  std::unique_ptr<Store> store_;
};

TEST_F(StatesTest, BatchStatusesAreTheBatchesColumns) {
  EXPECT_EQ(TableWords(kBatchStatuses), AllowedWords(*store_, "batches", "status"));
}

TEST_F(StatesTest, DocumentStatusesAreTheDocumentsAndCredentialsColumns) {
  EXPECT_EQ(TableWords(kDocumentStatuses), AllowedWords(*store_, "documents", "status"));
  EXPECT_EQ(TableWords(kDocumentStatuses), AllowedWords(*store_, "credentials", "status"));
}

TEST_F(StatesTest, InvitationStatesAreTheInvitationsColumn) {
  EXPECT_EQ(TableWords(kInvitationStates), AllowedWords(*store_, "invitations", "state"));
}

TEST_F(StatesTest, OutboxStatesAndMailKindsAreTheOutboxsColumns) {
  EXPECT_EQ(TableWords(kOutboxStates), AllowedWords(*store_, "mail_outbox", "status"));
  EXPECT_EQ(TableWords(kMailKinds), AllowedWords(*store_, "mail_outbox", "kind"));
}

TEST_F(StatesTest, AccountWordsAreTheirColumns) {
  EXPECT_EQ(TableWords(kEmailStatuses), AllowedWords(*store_, "student_emails", "status"));
  EXPECT_EQ(TableWords(kStaffRoles), AllowedWords(*store_, "staff", "role"));
  EXPECT_EQ(TableWords(kStaffKinds), AllowedWords(*store_, "staff", "kind"));
  EXPECT_EQ(TableWords(kSessionVias), AllowedWords(*store_, "sessions", "via"));
}

// A word the table lacks is an error, never a silent default.
TEST_F(StatesTest, AnUnknownStoredWordIsAnError) {
  pqxx::read_transaction txn(Pq(*store_));
  const pqxx::row row = txn.exec1("SELECT 'archived'::text AS status");
  EXPECT_THROW(ParseStored(kDocumentStatuses, row[0]), std::runtime_error);
  const pqxx::row known = txn.exec1("SELECT 'revoked'::text AS status");
  EXPECT_EQ(ParseStored(kDocumentStatuses, known[0]), DocumentStatus::kRevoked);
}

}  // namespace
}  // namespace credd
