// People in the store, against a real PostgreSQL with the clock injected: activation keys
// (single use, expiry, tries), who signs in with which address, sessions' timeouts,
// single-use tokens, linking the same person's students, shares and their receipts in a
// document's history, staff, and account mail's queue.
#include <gtest/gtest.h>

#include "common/sha256.h"
#include "daemon/store/account_store.h"
#include "daemon/store/document_store.h"
#include "daemon/store/invitation_store.h"
#include "daemon/store/migrations.h"
#include "daemon/store/pgtest_util.h"
#include "daemon/store/share_store.h"
#include "daemon/store/staff_store.h"

namespace credd {
namespace {

constexpr const char* kNow = "2026-12-01T10:00:00Z";
const std::string kHash = "$argon2id$v=19$m=65536,t=3,p=1$c2FsdA$aGFzaA";

std::string Token(const std::string& name) { return Sha256Hex("token:" + name); }

class AccountStoreTest : public testing::MigratedStoreTest {
 protected:
  void SetUp() override {
    MigratedStoreTest::SetUp();
    if (HasFatalFailure()) return;
    Exec("INSERT INTO institutions (id) VALUES ('uni'), ('col')");
    Exec(
        "INSERT INTO batches (institution_id, sha256, file_name, format, status) VALUES "
        "('uni', repeat('a', 64), 'x.csv', 'csv', 'done'), "
        "('col', repeat('c', 64), 'y.csv', 'csv', 'done')");
    Exec(
        "INSERT INTO signing_keys (key_id, certificates_pem, subject, not_before, not_after, "
        "status) VALUES (repeat('b', 64), 'PEM', 'CN=test', now(), now() + interval '1 year', "
        "'active')");
    ana_ = AddStudent("uni", "S1", "Ana", "ana@uni.ca");
    ana_invitation_ = Invite(ana_, "ana", "2026-12-31T00:00:00Z");
  }

  std::string Text(const std::string& sql) {
    pqxx::read_transaction txn(Pq(*conn_));
    return txn.exec1(sql)[0].as<std::string>();
  }

  // A student with one institutional (SIS) address; returns students.id.
  int64_t AddStudent(const std::string& institution, const std::string& id,
                     const std::string& given, const std::string& address) {
    const int64_t student = Count(
        "INSERT INTO students (institution_id, student_id, given_names, family_name) "
        "VALUES ('" +
        institution + "', '" + id + "', '" + given + "', 'Tremblay') RETURNING id");
    Exec("INSERT INTO student_emails (student, kind, address, is_primary) VALUES (" +
         std::to_string(student) + ", 'institutional', '" + address + "', true)");
    return student;
  }
  // A sent invitation to the student's first address, whose link's token is Token(name).
  int64_t Invite(int64_t student, const std::string& name, const std::string& expires_at) {
    return Count(
        "INSERT INTO invitations (student, batch, email, state, token_sha256, expires_at) "
        "SELECT s.id, b.id, e.id, 'sent', decode('" +
        Token(name) + "', 'hex'), '" + expires_at +
        "' FROM students s JOIN student_emails e ON e.student = s.id "
        "JOIN batches b ON b.institution_id = s.institution_id WHERE s.id = " +
        std::to_string(student) + " ORDER BY e.id LIMIT 1 RETURNING id");
  }
  // Gives the invitation an access code.
  void SetCode(int64_t invitation, const std::string& code) {
    Exec("UPDATE invitations SET access_code_sha256 = decode('" + AccessCodeHash(invitation, code) +
         "', 'hex') WHERE id = " + std::to_string(invitation));
  }
  // Activates by the link, with a password; returns the account.
  int64_t ActivateByLink(const std::string& name) {
    auto done = Activate(
        *conn_, {Token(name), "", ""},
        [](const ActivationTarget&) { return Result<std::string>(kHash); }, 5, kNow, "test");
    EXPECT_TRUE(done.ok() && done->has_value());
    return done.ok() && done->has_value() ? (*done)->account : 0;
  }
  // One issued document of the student; returns its public id.
  std::string Issue(int64_t student, const std::string& key, char sha) {
    const int64_t credential = Count(
        "INSERT INTO credentials (student, batch, kind, credential_key, title, content_sha256) "
        "SELECT s.id, b.id, 'diploma', '" +
        key + "', 'BSc', repeat('" + std::string(1, sha) +
        "', 64) FROM students s JOIN batches b ON b.institution_id = s.institution_id "
        "WHERE s.id = " +
        std::to_string(student) + " RETURNING id");
    return IssueVersion(credential, sha);
  }
  std::string IssueVersion(int64_t credential, char sha) {
    const std::string public_id = "00000000-0000-4000-8000-0000000000" + std::string(2, sha);
    Result<int64_t> stored =
        StoreDocument(*conn_,
                      {public_id, credential, "en", std::string(64, sha),
                       "%PDF-1.7 " + std::string(1, sha), std::string(64, 'b'), kNow},
                      "test");
    EXPECT_TRUE(stored.ok()) << stored.error().ToString();
    return public_id;
  }

  int64_t ana_ = 0;
  int64_t ana_invitation_ = 0;
};

PasswordFor NoPassword() {
  return [](const ActivationTarget&) { return Result<std::string>(std::string()); };
}

TEST_F(AccountStoreTest, TheLinkIsShownAnyNumberOfTimesAndActivatesOnce) {
  for (int i = 0; i < 3; ++i) {  // Mail scanners follow the link: that spends nothing.
    auto found = FindActivation(*conn_, Token("ana"), kNow);
    ASSERT_TRUE(found.ok()) << found.error().ToString();
    ASSERT_TRUE(found->has_value());
    EXPECT_EQ((*found)->student_name, "Ana Tremblay");
    EXPECT_EQ((*found)->address, "ana@uni.ca");
    EXPECT_EQ((*found)->account, 0);
  }
  const int64_t account = ActivateByLink("ana");
  ASSERT_NE(account, 0);
  EXPECT_EQ(Text("SELECT state FROM invitations WHERE id = " + std::to_string(ana_invitation_)),
            "activated");
  EXPECT_EQ(Count("SELECT count(*) FROM invitations WHERE token_sha256 IS NOT NULL OR "
                  "next_reminder_at IS NOT NULL"),
            0)
      << "the token is void and reminders stop";
  EXPECT_EQ(Text("SELECT activated_at FROM students WHERE id = " + std::to_string(ana_)),
            "2026-12-01 10:00:00+00");
  EXPECT_EQ(Text("SELECT password_hash FROM accounts"), kHash);
  EXPECT_EQ(Count("SELECT count(*) FROM audit_events WHERE event = 'student.activated' "
                  "AND subject = 'student:S1' AND details->>'by' = 'link'"),
            1);
  // Used: both the page and the POST now find nothing.
  EXPECT_FALSE(FindActivation(*conn_, Token("ana"), kNow)->has_value());
  auto again = Activate(*conn_, {Token("ana"), "", ""}, NoPassword(), 5, kNow, "test");
  ASSERT_TRUE(again.ok());
  EXPECT_FALSE(again->has_value());
  EXPECT_EQ(Count("SELECT count(*) FROM accounts"), 1);
}

TEST_F(AccountStoreTest, AnExpiredOrReplacedTokenOpensNothing) {
  EXPECT_FALSE(FindActivation(*conn_, Token("ana"), "2026-12-31T00:00:00Z")->has_value())
      << "expired at the second it ends";
  EXPECT_TRUE(FindActivation(*conn_, Token("ana"), "2026-12-30T23:59:59Z")->has_value());
  // A reminder stores a newer token on the invitation: the older link is void.
  Exec("UPDATE invitations SET state = 'reminded', token_sha256 = decode('" + Token("ana2") +
       "', 'hex')");
  EXPECT_FALSE(FindActivation(*conn_, Token("ana"), kNow)->has_value());
  EXPECT_FALSE(
      Activate(*conn_, {Token("ana"), "", ""}, NoPassword(), 5, kNow, "test")->has_value());
  EXPECT_TRUE(FindActivation(*conn_, Token("ana2"), kNow)->has_value());
  // Its email is being handed to the relay (token stored, not yet marked sent): a link
  // clicked at once works.
  Exec("UPDATE invitations SET state = 'pending'");
  EXPECT_TRUE(FindActivation(*conn_, Token("ana2"), kNow)->has_value());
  // A bounced or cancelled invitation opens nothing either.
  Exec("UPDATE invitations SET state = 'bounced'");
  EXPECT_FALSE(FindActivation(*conn_, Token("ana2"), kNow)->has_value());
}

TEST_F(AccountStoreTest, APasswordRefusedLeavesTheKeyAsUsableAsItWas) {
  auto refused = Activate(
      *conn_, {Token("ana"), "", ""},
      [](const ActivationTarget&) -> Result<std::string> {
        return MakeError(ErrorCode::kData, "too short");
      },
      5, kNow, "test");
  ASSERT_FALSE(refused.ok());
  EXPECT_EQ(refused.error().message, "too short");
  EXPECT_EQ(Count("SELECT count(*) FROM accounts"), 0);
  EXPECT_TRUE(FindActivation(*conn_, Token("ana"), kNow)->has_value());
  EXPECT_NE(ActivateByLink("ana"), 0);
}

TEST_F(AccountStoreTest, AnAccessCodeHasFewTriesThenItIsVoid) {
  SetCode(ana_invitation_, "K7Q2M9XD");
  const ActivationKey wrong{"", "ANA@uni.ca", "K7Q2M9XE"};
  for (int i = 1; i <= 2; ++i) {
    auto miss = Activate(*conn_, wrong, NoPassword(), 3, kNow, "test");
    ASSERT_TRUE(miss.ok()) << miss.error().ToString();
    EXPECT_FALSE(miss->has_value());
    EXPECT_EQ(Count("SELECT access_code_tries FROM invitations"), i) << "the try is kept";
  }
  // A code for another address is no try of Ana's.
  EXPECT_FALSE(
      Activate(*conn_, {"", "bob@uni.ca", "K7Q2M9XD"}, NoPassword(), 3, kNow, "test")->has_value());
  EXPECT_EQ(Count("SELECT access_code_tries FROM invitations"), 2);
  // The third wrong try voids it: the right code no longer works.
  EXPECT_FALSE(Activate(*conn_, wrong, NoPassword(), 3, kNow, "test")->has_value());
  EXPECT_EQ(Count("SELECT count(*) FROM invitations WHERE access_code_sha256 IS NULL"), 1);
  EXPECT_FALSE(
      Activate(*conn_, {"", "ana@uni.ca", "K7Q2M9XD"}, NoPassword(), 3, kNow, "test")->has_value());
  // The link still works: only the code is spent.
  EXPECT_NE(ActivateByLink("ana"), 0);
}

TEST_F(AccountStoreTest, TheRightAccessCodeActivatesAsTypedInAnyCase) {
  SetCode(ana_invitation_, "K7Q2M9XD");
  EXPECT_EQ(NormalizeAccessCode(" k7q2-m9xd "), "K7Q2M9XD");
  EXPECT_NE(AccessCodeHash(1, "K7Q2M9XD"), AccessCodeHash(2, "K7Q2M9XD"))
      << "salted with the invitation";
  auto done = Activate(*conn_, {"", "Ana@UNI.ca", NormalizeAccessCode("k7q2-m9xd")}, NoPassword(),
                       3, kNow, "test");
  ASSERT_TRUE(done.ok()) << done.error().ToString();
  ASSERT_TRUE(done->has_value());
  EXPECT_EQ((*done)->invitation, ana_invitation_);
  EXPECT_EQ(Count("SELECT count(*) FROM audit_events WHERE event = 'student.activated' "
                  "AND details->>'by' = 'access_code'"),
            1);
  EXPECT_EQ(Count("SELECT count(*) FROM accounts WHERE password_hash IS NULL"), 1);
  EXPECT_EQ(Count("SELECT count(*) FROM invitations WHERE access_code_sha256 IS NOT NULL"), 0);
}

TEST_F(AccountStoreTest, SignInUsesConfirmedActiveAddressesOnly) {
  EXPECT_FALSE(FindSignInAccount(*conn_, "ana@uni.ca")->has_value()) << "not activated yet";
  const int64_t account = ActivateByLink("ana");
  auto found = FindSignInAccount(*conn_, "ANA@Uni.CA");
  ASSERT_TRUE(found.ok() && found->has_value());
  EXPECT_EQ((*found)->account, account);
  EXPECT_EQ((*found)->password_hash, kHash);
  EXPECT_EQ((*found)->primary_address, "ana@uni.ca");
  EXPECT_EQ((*found)->institution_id, "uni");

  // A personal address counts only once confirmed.
  Result<int64_t> personal = AddPendingEmail(*conn_, account, ana_, "ana@perso.ca", "student");
  ASSERT_TRUE(personal.ok()) << personal.error().ToString();
  EXPECT_FALSE(FindSignInAccount(*conn_, "ana@perso.ca")->has_value());
  EXPECT_FALSE(SetPrimaryEmail(*conn_, account, *personal, "student").ok())
      << "an unconfirmed address cannot be primary";
  ASSERT_TRUE(ConfirmEmail(*conn_, account, *personal, kNow, "student").ok());
  EXPECT_TRUE(FindSignInAccount(*conn_, "ana@perso.ca")->has_value());

  // The institution closes its address: she signs in with the personal one, which she makes
  // her primary.
  Exec("UPDATE student_emails SET status = 'closed' WHERE address = 'ana@uni.ca'");
  EXPECT_FALSE(FindSignInAccount(*conn_, "ana@uni.ca")->has_value());
  found = FindSignInAccount(*conn_, "ana@perso.ca");
  ASSERT_TRUE(found->has_value());
  EXPECT_EQ((*found)->primary_address, "ana@perso.ca") << "the closed primary is not used";
  ASSERT_TRUE(SetPrimaryEmail(*conn_, account, *personal, "student").ok());
  EXPECT_EQ(Count("SELECT count(*) FROM student_emails WHERE is_primary"), 1);
  EXPECT_EQ(Text("SELECT address FROM student_emails WHERE is_primary"), "ana@perso.ca");
  Result<AccountProfile> profile = LoadProfile(*conn_, account);
  ASSERT_TRUE(profile.ok());
  ASSERT_EQ(profile->students.size(), 1u);
  ASSERT_EQ(profile->students[0].emails.size(), 2u);
  EXPECT_EQ(profile->students[0].emails[0].status, EmailStatus::kClosed);
  EXPECT_EQ(profile->students[0].emails[1].added_by, "student");
  EXPECT_TRUE(profile->students[0].emails[1].primary);
}

TEST_F(AccountStoreTest, AnAddressCannotBeAddedTwiceNorToSomeoneElse) {
  const int64_t account = ActivateByLink("ana");
  const int64_t bob = AddStudent("uni", "S2", "Bob", "bob@uni.ca");
  Result<int64_t> other = AddPendingEmail(*conn_, account, bob, "x@perso.ca", "student");
  ASSERT_FALSE(other.ok());
  EXPECT_EQ(other.error().code, ErrorCode::kNoInput);
  Result<int64_t> twice = AddPendingEmail(*conn_, account, ana_, "ana@uni.ca", "student");
  ASSERT_FALSE(twice.ok());
  EXPECT_EQ(twice.error().code, ErrorCode::kData);
  // A pending one may be asked for again (a second confirmation email).
  Result<int64_t> first = AddPendingEmail(*conn_, account, ana_, "ana@perso.ca", "student");
  Result<int64_t> second = AddPendingEmail(*conn_, account, ana_, "ana@perso.ca", "student");
  ASSERT_TRUE(first.ok() && second.ok());
  EXPECT_EQ(*first, *second);
  // Another account cannot confirm it.
  const int64_t bob_invitation = Invite(bob, "bob", "2026-12-31T00:00:00Z");
  ASSERT_NE(bob_invitation, 0);
  const int64_t bob_account = ActivateByLink("bob");
  EXPECT_FALSE(ConfirmEmail(*conn_, bob_account, *first, kNow, "student").ok());
  EXPECT_FALSE(FindSignInAccount(*conn_, "ana@perso.ca")->has_value());
}

TEST_F(AccountStoreTest, AConfirmedAddressLinksTheSamePersonAtAnotherInstitution) {
  const int64_t account = ActivateByLink("ana");
  // The college's SIS knows her by her personal address; it has sent her an invitation.
  const int64_t at_college = AddStudent("col", "C9", "Ana", "ana@perso.ca");
  Invite(at_college, "ana-col", "2026-12-31T00:00:00Z");
  // Someone else at a third student added the same address themselves: that proves nothing.
  const int64_t claimant = AddStudent("col", "C10", "Eve", "eve@col.ca");
  Exec("INSERT INTO student_emails (student, kind, address, added_by, confirmed_at) VALUES (" +
       std::to_string(claimant) + ", 'personal', 'ana@perso.ca', 'student', NULL)");

  Result<int64_t> personal = AddPendingEmail(*conn_, account, ana_, "Ana@Perso.ca", "student");
  ASSERT_TRUE(personal.ok());
  Result<std::vector<std::string>> linked =
      ConfirmEmail(*conn_, account, *personal, kNow, "student");
  ASSERT_TRUE(linked.ok()) << linked.error().ToString();
  EXPECT_EQ(*linked, std::vector<std::string>{"col"});
  Result<AccountProfile> profile = LoadProfile(*conn_, account);
  ASSERT_TRUE(profile.ok());
  ASSERT_EQ(profile->students.size(), 2u);
  EXPECT_EQ(profile->students[0].institution_id, "col");
  EXPECT_EQ(profile->students[0].student_id, "C9");
  EXPECT_EQ(Count("SELECT count(*) FROM students WHERE account IS NOT NULL"), 2);
  EXPECT_FALSE(FindActivation(*conn_, Token("ana-col"), kNow)->has_value())
      << "the college's invitation is finished";
  EXPECT_EQ(Count("SELECT count(*) FROM audit_events WHERE event = 'student.linked' "
                  "AND institution_id = 'col' AND subject = 'student:C9'"),
            1);
}

TEST_F(AccountStoreTest, FailedSignInsCountInTheirWindowAndAGoodOneEndsTheRun) {
  const int64_t account = ActivateByLink("ana");
  EXPECT_EQ(*RecordFailedSignIn(*conn_, account, "2026-12-01T10:00:00Z", 900), 1);
  EXPECT_EQ(*RecordFailedSignIn(*conn_, account, "2026-12-01T10:05:00Z", 900), 2);
  EXPECT_EQ(*RecordFailedSignIn(*conn_, account, "2026-12-01T10:14:59Z", 900), 3);
  EXPECT_EQ(*RecordFailedSignIn(*conn_, account, "2026-12-01T10:15:01Z", 900), 1)
      << "a run starts afresh once its window has passed";
  EXPECT_EQ(*RecordFailedSignIn(*conn_, account, "2026-12-01T10:15:02Z", 900), 2);
  const std::string stronger = "$argon2id$v=19$m=131072,t=3,p=1$c2FsdA$aGFzaA";
  ASSERT_TRUE(RecordSignIn(*conn_, account, stronger, "student").ok());
  auto found = FindSignInAccount(*conn_, "ana@uni.ca");
  EXPECT_EQ((*found)->failed_logins, 0);
  EXPECT_EQ((*found)->failed_since, "");
  EXPECT_EQ((*found)->password_hash, stronger) << "rehashed at stronger parameters";
  ASSERT_TRUE(RecordSignIn(*conn_, account, "", "student").ok());
  EXPECT_EQ((*FindSignInAccount(*conn_, "ana@uni.ca"))->password_hash, stronger);
}

TEST_F(AccountStoreTest, SessionsEndWhenIdleAtTheirAbsoluteEndAndOnSignOut) {
  const int64_t account = ActivateByLink("ana");
  const std::string csrf(43, 'c');
  auto start = [&](const std::string& name) {
    ASSERT_TRUE(
        StartSession(*conn_,
                     {account, 0, Token(name), csrf, "192.0.2.1", SessionVia::kPassword, 3600},
                     "2026-12-01T10:00:00Z")
            .ok());
  };
  start("idle");
  auto live = TouchSession(*conn_, Token("idle"), "2026-12-01T10:09:00Z", 600);
  ASSERT_TRUE(live.ok() && live->has_value()) << "idle 9 minutes of 10";
  EXPECT_EQ((*live)->account, account);
  EXPECT_EQ((*live)->csrf_token, csrf);
  EXPECT_FALSE(TouchSession(*conn_, Token("idle"), "2026-12-01T10:19:01Z", 600)->has_value());
  EXPECT_FALSE(TouchSession(*conn_, Token("idle"), "2026-12-01T10:19:02Z", 6000)->has_value())
      << "an ended session never comes back";

  start("busy");  // Used every 9 minutes: still ended at the absolute timeout.
  for (const char* at : {"10:09", "10:18", "10:27", "10:36", "10:45", "10:54", "10:59"}) {
    EXPECT_TRUE(TouchSession(*conn_, Token("busy"), std::string("2026-12-01T") + at + ":00Z", 600)
                    ->has_value())
        << at;
  }
  EXPECT_FALSE(TouchSession(*conn_, Token("busy"), "2026-12-01T11:00:00Z", 600)->has_value());

  start("out");
  ASSERT_TRUE(EndSession(*conn_, Token("out"), "2026-12-01T10:01:00Z").ok());
  EXPECT_FALSE(TouchSession(*conn_, Token("out"), "2026-12-01T10:01:01Z", 600)->has_value());

  start("a");
  start("b");
  ASSERT_TRUE(SetPassword(*conn_, account, kHash, "2026-12-01T10:02:00Z", "student").ok());
  EXPECT_FALSE(TouchSession(*conn_, Token("a"), "2026-12-01T10:02:01Z", 600)->has_value());
  EXPECT_FALSE(TouchSession(*conn_, Token("b"), "2026-12-01T10:02:01Z", 600)->has_value());
  EXPECT_EQ(Count("SELECT count(*) FROM audit_events WHERE event = 'account.password_reset' "
                  "AND details->>'sessions_ended' = '2'"),
            1);
  EXPECT_FALSE(TouchSession(*conn_, Token("never"), "2026-12-01T10:02:01Z", 600)->has_value());
}

TEST_F(AccountStoreTest, MailedTokensAreSingleUseShortLivedAndReplacedByANewerOne) {
  const int64_t account = ActivateByLink("ana");
  const auto reset = AccountTokenPurpose::kPasswordReset;
  ASSERT_TRUE(
      CreateAccountToken(*conn_, account, reset, 0, Token("r1"), "2026-12-01T11:00:00Z").ok());
  EXPECT_TRUE(*AccountTokenUsable(*conn_, Token("r1"), reset, kNow));
  EXPECT_FALSE(*AccountTokenUsable(*conn_, Token("r1"), AccountTokenPurpose::kEmailConfirm, kNow))
      << "a token is for its purpose only";
  ASSERT_TRUE(
      CreateAccountToken(*conn_, account, reset, 0, Token("r2"), "2026-12-01T11:00:00Z").ok());
  EXPECT_FALSE(*AccountTokenUsable(*conn_, Token("r1"), reset, kNow)) << "a newer one voids it";
  EXPECT_FALSE(UseAccountToken(*conn_, Token("r1"), reset, kNow)->has_value());
  EXPECT_FALSE(UseAccountToken(*conn_, Token("r2"), reset, "2026-12-01T11:00:00Z")->has_value())
      << "expired";
  auto used = UseAccountToken(*conn_, Token("r2"), reset, "2026-12-01T10:59:59Z");
  ASSERT_TRUE(used.ok() && used->has_value());
  EXPECT_EQ((*used)->account, account);
  EXPECT_FALSE(UseAccountToken(*conn_, Token("r2"), reset, "2026-12-01T10:59:59Z")->has_value())
      << "single use";
  EXPECT_FALSE(*AccountTokenUsable(*conn_, Token("r2"), reset, kNow));

  // Confirmations are one per address: a new one for another address keeps the first.
  Result<int64_t> one = AddPendingEmail(*conn_, account, ana_, "one@perso.ca", "student");
  Result<int64_t> two = AddPendingEmail(*conn_, account, ana_, "two@perso.ca", "student");
  const auto confirm = AccountTokenPurpose::kEmailConfirm;
  ASSERT_TRUE(
      CreateAccountToken(*conn_, account, confirm, *one, Token("c1"), "2026-12-02T10:00:00Z").ok());
  ASSERT_TRUE(
      CreateAccountToken(*conn_, account, confirm, *two, Token("c2"), "2026-12-02T10:00:00Z").ok());
  auto first = UseAccountToken(*conn_, Token("c1"), confirm, kNow);
  ASSERT_TRUE(first.ok() && first->has_value());
  EXPECT_EQ((*first)->email, *one);
  EXPECT_TRUE(*AccountTokenUsable(*conn_, Token("c2"), confirm, kNow));
}

TEST_F(AccountStoreTest, SsoSignsInTheInstitutionalAddressOfItsOwnInstitutionOnly) {
  Exec("INSERT INTO student_emails (student, kind, address) VALUES (" + std::to_string(ana_) +
       ", 'personal', 'ana@perso.ca')");
  EXPECT_FALSE(SsoSignIn(*conn_, "uni", "ana@perso.ca", kNow, "sso")->has_value())
      << "a personal address is not the institution's to vouch for";
  EXPECT_FALSE(SsoSignIn(*conn_, "col", "ana@uni.ca", kNow, "sso")->has_value())
      << "another institution's sign-on does not vouch for uni's students";
  auto first = SsoSignIn(*conn_, "uni", "ANA@uni.ca", kNow, "sso");
  ASSERT_TRUE(first.ok() && first->has_value()) << (first.ok() ? "" : first.error().ToString());
  EXPECT_NE((*first)->account, 0);
  EXPECT_EQ(Count("SELECT count(*) FROM students WHERE activated_at IS NOT NULL"), 1);
  EXPECT_EQ(Text("SELECT state FROM invitations"), "activated");
  auto second = SsoSignIn(*conn_, "uni", "ana@uni.ca", kNow, "sso");
  ASSERT_TRUE(second.ok() && second->has_value());
  EXPECT_EQ((*second)->account, (*first)->account);
  EXPECT_EQ(Count("SELECT count(*) FROM accounts"), 1);
  EXPECT_EQ(Count("SELECT count(*) FROM audit_events WHERE event = 'student.activated'"), 1);
}

TEST_F(AccountStoreTest, ASharesReceiptsAreItsOpensAndDownloadsInTheDocumentsHistory) {
  const int64_t account = ActivateByLink("ana");
  const std::string diploma = Issue(ana_, "diploma:bsc", '1');
  const std::string minor = Issue(ana_, "diploma:minor", '2');
  const int64_t bob = AddStudent("uni", "S2", "Bob", "bob@uni.ca");
  const std::string bobs = Issue(bob, "diploma:bsc", '3');

  Result<std::vector<AccountDocument>> documents = AccountDocuments(*conn_, account);
  ASSERT_TRUE(documents.ok()) << documents.error().ToString();
  EXPECT_EQ(documents->size(), 2u);
  EXPECT_FALSE(AccountDocumentById(*conn_, account, bobs)->has_value());
  EXPECT_FALSE(AccountDocumentPdf(*conn_, account, bobs)->has_value());
  EXPECT_EQ(**AccountDocumentPdf(*conn_, account, diploma), "%PDF-1.7 1");

  NewShare wanted{account, {diploma, bobs}, "hr@employer.ca",      "For the job",
                  "fr",    Token("s1"),     "2026-12-31T10:00:00Z"};
  Result<ShareRow> refused = CreateShare(*conn_, wanted, kNow, "student");
  ASSERT_FALSE(refused.ok()) << "Bob's document is not hers to share";
  EXPECT_EQ(refused.error().code, ErrorCode::kNoInput);
  EXPECT_EQ(Count("SELECT count(*) FROM shares"), 0);
  wanted.document_ids = {diploma, minor};
  Result<ShareRow> share = CreateShare(*conn_, wanted, kNow, "student");
  ASSERT_TRUE(share.ok()) << share.error().ToString();
  EXPECT_EQ(share->state, ShareState::kActive);
  EXPECT_EQ(share->documents.size(), 2u) << "with its documents, for the recipient's email";

  // The recipient opens it twice and downloads one document; another one is not in it.
  ASSERT_TRUE(OpenShare(*conn_, Token("s1"), "2026-12-02T09:00:00Z", "recipient")->has_value());
  auto opened = OpenShare(*conn_, Token("s1"), "2026-12-02T09:01:00Z", "recipient");
  ASSERT_TRUE(opened.ok() && opened->has_value());
  EXPECT_EQ((*opened)->opens, 2);
  EXPECT_EQ((*opened)->documents.size(), 2u);
  EXPECT_EQ(**ShareDownload(*conn_, Token("s1"), diploma, "2026-12-02T09:02:00Z", "recipient"),
            "%PDF-1.7 1");
  EXPECT_FALSE(
      ShareDownload(*conn_, Token("s1"), bobs, "2026-12-02T09:02:00Z", "recipient")->has_value());
  EXPECT_FALSE(OpenShare(*conn_, Token("nope"), kNow, "recipient")->has_value());

  // A revocation shows to the recipient at once.
  const int64_t diploma_row = Count("SELECT id FROM documents WHERE public_id = '" + diploma + "'");
  ASSERT_TRUE(RevokeDocument(*conn_, diploma_row, "issued in error", "registrar").ok());
  opened = OpenShare(*conn_, Token("s1"), "2026-12-02T09:03:00Z", "recipient");
  for (const ShareDocument& d : (*opened)->documents) {
    EXPECT_EQ(d.status, d.public_id == diploma ? DocumentStatus::kRevoked : DocumentStatus::kActive)
        << d.public_id;
  }

  // Changes: only hers, and a cancelled share answers nothing but its state.
  EXPECT_FALSE(*ChangeShareExpiry(*conn_, account + 1, share->public_id, "2027-01-15T10:00:00Z",
                                  kNow, "student"));
  EXPECT_TRUE(*ChangeShareExpiry(*conn_, account, share->public_id, "2027-01-15T10:00:00Z",
                                 "2026-12-02T10:00:00Z", "student"));
  EXPECT_FALSE(*CancelShare(*conn_, account + 1, share->public_id, kNow, "student"));
  EXPECT_TRUE(*CancelShare(*conn_, account, share->public_id, "2026-12-02T11:00:00Z", "student"));
  EXPECT_FALSE(*CancelShare(*conn_, account, share->public_id, "2026-12-02T11:00:01Z", "student"));
  opened = OpenShare(*conn_, Token("s1"), "2026-12-02T11:00:02Z", "recipient");
  ASSERT_TRUE(opened->has_value());
  EXPECT_EQ((*opened)->state, ShareState::kCancelled);
  EXPECT_EQ((*opened)->opens, 3) << "a cancelled share's open is not counted";
  EXPECT_FALSE(
      ShareDownload(*conn_, Token("s1"), minor, "2026-12-02T11:00:02Z", "recipient")->has_value());

  auto seen = AccountShare(*conn_, account, share->public_id, "2026-12-02T12:00:00Z");
  ASSERT_TRUE(seen.ok() && seen->has_value());
  EXPECT_EQ((*seen)->opens, 3);
  EXPECT_EQ((*seen)->downloads, 1);
  // Receipts are audit events, stamped by the database's clock (not the injected one).
  EXPECT_FALSE((*seen)->last_opened_at.empty());
  EXPECT_FALSE(AccountShare(*conn_, account + 1, share->public_id, kNow)->has_value());

  std::vector<std::string> events;
  Result<std::vector<HistoryEntry>> history = DocumentHistory(*conn_, diploma_row);
  ASSERT_TRUE(history.ok()) << history.error().ToString();
  for (const HistoryEntry& e : history.value()) {
    events.push_back(e.event + (e.detail.empty() ? "" : " " + e.detail));
  }
  EXPECT_EQ(events,
            (std::vector<std::string>{
                "document.issued", "share.created hr@employer.ca", "share.opened", "share.opened",
                "share.downloaded", "document.revoked issued in error", "share.opened",
                "share.expiry_changed 2027-01-15T10:00:00Z", "share.cancelled"}));
  // The other document's history has the share, but not the diploma's download.
  const int64_t minor_row = Count("SELECT id FROM documents WHERE public_id = '" + minor + "'");
  int downloads = 0;
  history = DocumentHistory(*conn_, minor_row);
  ASSERT_TRUE(history.ok());
  for (const HistoryEntry& e : history.value()) {
    downloads += e.event == "share.downloaded";
  }
  EXPECT_EQ(downloads, 0);
}

TEST_F(AccountStoreTest, AnExpiredShareOpensNothingAndASupersededDocumentSaysSo) {
  const int64_t account = ActivateByLink("ana");
  const std::string first = Issue(ana_, "diploma:bsc", '1');
  Result<ShareRow> share = CreateShare(
      *conn_, {account, {first}, "hr@employer.ca", "", "en", Token("s"), "2026-12-05T00:00:00Z"},
      kNow, "student");
  ASSERT_TRUE(share.ok());
  auto expired = OpenShare(*conn_, Token("s"), "2026-12-05T00:00:00Z", "recipient");
  ASSERT_TRUE(expired.ok() && expired->has_value());
  EXPECT_EQ((*expired)->state, ShareState::kExpired);
  EXPECT_EQ((*expired)->opens, 0);
  EXPECT_FALSE(
      ShareDownload(*conn_, Token("s"), first, "2026-12-05T00:00:00Z", "recipient")->has_value());
  Result<std::vector<ShareRow>> listed = AccountShares(*conn_, account, "2026-12-05T00:00:00Z");
  ASSERT_TRUE(listed.ok());
  ASSERT_EQ(listed->size(), 1u);
  EXPECT_EQ((*listed)[0].state, ShareState::kExpired);

  // A corrected version supersedes the first; its history says so.
  const int64_t credential = Count("SELECT credential FROM documents");
  const std::string second = IssueVersion(credential, '9');
  const int64_t first_row = Count("SELECT id FROM documents WHERE public_id = '" + first + "'");
  std::vector<std::string> events;
  Result<std::vector<HistoryEntry>> history = DocumentHistory(*conn_, first_row);
  ASSERT_TRUE(history.ok());
  for (const HistoryEntry& e : history.value()) events.push_back(e.event);
  EXPECT_EQ(events,
            (std::vector<std::string>{"document.issued", "share.created", "document.superseded"}));
  auto doc = AccountDocumentById(*conn_, account, first);
  ASSERT_TRUE(doc.ok() && doc->has_value());
  EXPECT_EQ((*doc)->status, DocumentStatus::kSuperseded);
  EXPECT_EQ((*doc)->superseded_by, second);
}

TEST_F(AccountStoreTest, StaffAreFoundWithoutCaseAndDisablingEndsTheirSessions) {
  StaffRow clerk;
  clerk.username = "Clerk@Uni.ca";
  clerk.display_name = "A. Clerk";
  clerk.kind = StaffKind::kLocal;
  clerk.password_hash = kHash;
  clerk.role = StaffRole::kSupport;
  clerk.institutions = {"uni"};
  ASSERT_TRUE(AddStaff(*conn_, clerk, "credctl").ok());
  StaffRow again = clerk;
  again.username = "clerk@uni.ca";
  Status taken = AddStaff(*conn_, again, "credctl");
  ASSERT_FALSE(taken.ok()) << "usernames differ only in case";
  EXPECT_EQ(taken.error().code, ErrorCode::kData);

  auto found = FindStaff(*conn_, "CLERK@uni.ca");
  ASSERT_TRUE(found.ok() && found->has_value());
  EXPECT_TRUE((*found)->Serves("uni"));
  EXPECT_FALSE((*found)->Serves("col"));
  EXPECT_TRUE((*found)->May(StaffRole::kViewer));
  EXPECT_TRUE((*found)->May(StaffRole::kSupport));
  EXPECT_FALSE((*found)->May(StaffRole::kRegistrar));
  EXPECT_EQ((*found)->password_hash, kHash);
  EXPECT_EQ(*RecordStaffFailedSignIn(*conn_, (*found)->id, kNow, 900), 1);

  ASSERT_TRUE(StartSession(*conn_,
                           {0, (*found)->id, Token("staff"), std::string(43, 'c'), "",
                            SessionVia::kPassword, 3600},
                           kNow)
                  .ok());
  auto session = TouchSession(*conn_, Token("staff"), kNow, 600);
  ASSERT_TRUE(session->has_value());
  EXPECT_EQ((*session)->staff, (*found)->id);
  EXPECT_EQ((*session)->account, 0);
  ASSERT_TRUE(DisableStaff(*conn_, "clerk@uni.ca", kNow, "credctl").ok());
  EXPECT_FALSE(TouchSession(*conn_, Token("staff"), kNow, 600)->has_value());
  EXPECT_TRUE((*FindStaff(*conn_, "clerk@uni.ca"))->disabled);
  Status unknown = DisableStaff(*conn_, "nobody", kNow, "credctl");
  ASSERT_FALSE(unknown.ok());
  EXPECT_EQ(unknown.error().code, ErrorCode::kNoInput);
  EXPECT_EQ(Count("SELECT count(*) FROM audit_events WHERE event IN ('staff.added', "
                  "'staff.disabled')"),
            2);
  Result<std::vector<StaffRow>> all = ListStaff(*conn_);
  ASSERT_TRUE(all.ok());
  EXPECT_EQ(all->size(), 1u);
}

TEST_F(AccountStoreTest, AccountMailGoesUnderTheGlobalLimitAndItsMessageIsWiped) {
  for (int i = 1; i <= 3; ++i) {
    const std::string n = std::to_string(i);
    ASSERT_TRUE(
        QueueAccountMail(*conn_,
                         {0, MailKind::kShare, "uni", "hr" + n + "@employer.ca", "registrar@uni.ca",
                          "<share" + n + "@uni.ca>", "Subject: x\r\n\r\nhttps://x/s/secret" + n, 0},
                         kNow)
            .ok());
  }
  auto claimed = ClaimAccountMail(*conn_, kNow, "w", 60, {{2, 3600}}, 10);
  ASSERT_TRUE(claimed.ok()) << claimed.error().ToString();
  ASSERT_EQ(claimed->size(), 2u) << "two an hour";
  EXPECT_EQ((*claimed)[0].mime, "Subject: x\r\n\r\nhttps://x/s/secret1");
  EXPECT_EQ((*claimed)[0].attempts, 1);
  auto others = ClaimAccountMail(*conn_, kNow, "other", 60, {}, 10);
  ASSERT_EQ(others->size(), 1u) << "another worker takes only what is not leased";
  ASSERT_TRUE(
      *FinishAccountMail(*conn_, (*others)[0], "other", kNow, OutboxState::kSent, "250", 0));
  ASSERT_TRUE(
      *FinishAccountMail(*conn_, (*claimed)[0], "w", kNow, OutboxState::kSent, "250 ok", 0));
  ASSERT_TRUE(*FinishAccountMail(*conn_, (*claimed)[1], "w", kNow, OutboxState::kDeferred,
                                 "451 later", 300));
  EXPECT_FALSE(
      *FinishAccountMail(*conn_, (*claimed)[1], "thief", kNow, OutboxState::kSent, "250", 0))
      << "not its lease";
  EXPECT_EQ(Count("SELECT count(*) FROM mail_outbox WHERE message IS NULL"), 2)
      << "the sent messages (with their links) are gone; the deferred one keeps it";
  EXPECT_EQ(ClaimAccountMail(*conn_, "2026-12-01T10:04:59Z", "w", 60, {}, 10)->size(), 0u);
  auto retried = ClaimAccountMail(*conn_, "2026-12-01T10:05:00Z", "w", 60, {}, 10);
  ASSERT_EQ(retried->size(), 1u);
  EXPECT_EQ((*retried)[0].attempts, 2);
  ASSERT_TRUE(*FinishAccountMail(*conn_, (*retried)[0], "w", "2026-12-01T10:05:01Z",
                                 OutboxState::kFailed, "550 no", 0));
  EXPECT_EQ(Count("SELECT count(*) FROM mail_outbox WHERE message IS NULL"), 3);
}

}  // namespace
}  // namespace credd
