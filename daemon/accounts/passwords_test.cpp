// The password rules against john-data's list and small lists written per test, and argon2id
// hashes made and checked for real.
#include "daemon/accounts/passwords.h"

#include <gtest/gtest.h>
#include <stdlib.h>

#include <algorithm>
#include <filesystem>
#include <fstream>

namespace credd::accounts {
namespace {

namespace fs = std::filesystem;

const std::vector<std::string> kNoContext;

PasswordPolicy JohnPolicy() {
  Result<PasswordPolicy> policy = PasswordPolicy::Load(CREDD_COMMON_PASSWORDS);
  EXPECT_TRUE(policy.ok()) << (policy.ok() ? "" : policy.error().ToString());
  return std::move(policy).value();
}

// A list in a directory of its own, so tests never share files.
class ListFileTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string pattern = (fs::temp_directory_path() / "credd_passwords.XXXXXX").string();
    ASSERT_NE(::mkdtemp(pattern.data()), nullptr);
    dir_ = pattern;
  }
  void TearDown() override { fs::remove_all(dir_); }

  std::string WriteList(const std::string& content) {
    fs::path path = dir_ / "list.txt";
    std::ofstream(path, std::ios::binary) << content;
    return path.string();
  }

  fs::path dir_;
};

TEST(PasswordPolicyTest, LengthCountsCodePointsAfterNfkc) {
  PasswordPolicy policy = JohnPolicy();
  EXPECT_EQ(policy.min_length(), 15u);
  EXPECT_EQ(policy.max_length(), 256u);
  // 15 bytes but 5 code points.
  EXPECT_EQ(policy.Check("日本語大学", kNoContext), PasswordProblem::kTooShort);
  // 16 code points as typed, 14 once each decomposed "é" is composed.
  EXPECT_EQ(policy.Check("Ce\u0301line mon ame\u0301", kNoContext), PasswordProblem::kTooShort);
  EXPECT_EQ(policy.Check("Céline mon amée", kNoContext), PasswordProblem::kNone);
  EXPECT_EQ(policy.Check("fourteen chars", kNoContext), PasswordProblem::kTooShort);
  EXPECT_EQ(policy.Check("fifteen chars!!", kNoContext), PasswordProblem::kNone);
  EXPECT_EQ(policy.Check("", kNoContext), PasswordProblem::kTooShort);
}

TEST(PasswordPolicyTest, TooLong) {
  PasswordPolicy policy = JohnPolicy();
  std::string text;
  while (text.size() < 256) text += "the quick brown fox jumps over a lazy dog ";
  EXPECT_EQ(policy.Check(text.substr(0, 256), kNoContext), PasswordProblem::kNone);
  EXPECT_EQ(policy.Check(text.substr(0, 257), kNoContext), PasswordProblem::kTooLong);
  EXPECT_EQ(policy.Check(std::string(1 << 20, 'x'), kNoContext), PasswordProblem::kTooLong);
}

TEST(PasswordPolicyTest, NotText) {
  PasswordPolicy policy = JohnPolicy();
  const std::string cases[] = {
      "correct horse\xff battery",      // Not UTF-8.
      "correct horse \xc3",             // Truncated sequence.
      "correct horse \xed\xa0\x80 ok",  // A UTF-16 surrogate.
      "correct horse\tbattery",
      "correct horse\nbattery",
      std::string("correct horse\0battery", 21),
      "correct horse\u0085battery",  // C1 control.
  };
  for (const std::string& text : cases) {
    EXPECT_EQ(policy.Check(text, kNoContext), PasswordProblem::kNotText) << text;
  }
}

TEST(PasswordPolicyTest, PaddedListEntriesAreCommon) {
  PasswordPolicy policy = JohnPolicy();
  const char* common[] = {
      "password       ",        "   PASSWORD    ",    "password!!!!!!!",  "!!!!!!!password",
      "password1234567",        "Password987654321",  "passwordpassword", "PassWordPassWord",
      "abcabcabcabcabc",        "Password1Password1", "monkey123456789",  "zzzzdragonzzzzz",
      "pass\u00ADwordpassword",  // A soft hyphen hides nothing.
  };
  for (const char* text : common) {
    EXPECT_EQ(policy.Check(text, kNoContext), PasswordProblem::kCommon) << text;
  }
  const char* fine[] = {"password is not my password", "passwordXpassword", "my password 2024!",
                        "correct horse battery staple"};
  for (const char* text : fine) {
    EXPECT_EQ(policy.Check(text, kNoContext), PasswordProblem::kNone) << text;
  }
  // Without a list the same text passes: the hit above is the list's.
  Result<PasswordPolicy> empty = PasswordPolicy::Load("");
  ASSERT_TRUE(empty.ok());
  EXPECT_EQ(empty->Check("password!!!!!!!", kNoContext), PasswordProblem::kNone);
  EXPECT_EQ(policy.Check("password", kNoContext), PasswordProblem::kTooShort);
}

TEST_F(ListFileTest, ListIsCaseFoldedNfkcWithCommentsAndCrlf) {
  Result<PasswordPolicy> policy =
      PasswordPolicy::Load(WriteList("#!this is a comment line\n"
                                     "correcthorsebatterystaple\r\n"
                                     "\xef\xac\x81nalexaminations\n"  // U+FB01 "ﬁ" ligature.
                                     "\n"
                                     "Straße im Winter\n"));
  ASSERT_TRUE(policy.ok()) << policy.error().ToString();
  EXPECT_EQ(policy->Check("CorrectHorseBatteryStaple", kNoContext), PasswordProblem::kCommon);
  EXPECT_EQ(policy->Check("FinalExaminations", kNoContext), PasswordProblem::kCommon);
  EXPECT_EQ(policy->Check("STRASSE IM WINTER", kNoContext), PasswordProblem::kCommon);
  EXPECT_EQ(policy->Check("#!this is a comment line", kNoContext), PasswordProblem::kNone);
  EXPECT_EQ(policy->Check("correcthorsebatterystaples", kNoContext), PasswordProblem::kCommon);
  EXPECT_EQ(policy->Check("correct horse battery staple", kNoContext), PasswordProblem::kNone);
}

TEST_F(ListFileTest, UnreadableListIsConfigErrorNamingTheFile) {
  for (const std::string& path : {(dir_ / "missing.txt").string(), dir_.string()}) {
    Result<PasswordPolicy> policy = PasswordPolicy::Load(path);
    ASSERT_FALSE(policy.ok()) << path;
    EXPECT_EQ(policy.error().code, ErrorCode::kConfig);
    EXPECT_EQ(policy.error().where, path);
  }
}

TEST(PasswordPolicyTest, RepetitiveAndSequences) {
  PasswordPolicy policy = JohnPolicy();
  const char* repetitive[] = {
      "aaaaaaaaaaaaaaa",
      "AAAAAAAAaaaaaaa",
      "123456789012345",
      "987654321098765",
      "abcdefghijklmnop",
      "zyxwvutsrqponmlk",
      "xyzabcdefghijkl",
      "               ",
      "e\u0301e\u0301e\u0301e\u0301e\u0301e\u0301e\u0301e\u0301e\u0301e\u0301e\u0301e\u0301"
      "e\u0301e\u0301e\u0301",
  };
  for (const char* text : repetitive) {
    EXPECT_EQ(policy.Check(text, kNoContext), PasswordProblem::kRepetitive) << text;
  }
  EXPECT_NE(policy.Check("abcdefghijklmnoa", kNoContext), PasswordProblem::kRepetitive);
  EXPECT_NE(policy.Check("aaaaaaaaaaaaaab", kNoContext), PasswordProblem::kRepetitive);
}

TEST(PasswordPolicyTest, ContextWords) {
  PasswordPolicy policy = JohnPolicy();
  const std::vector<std::string> context = {"j.tremblay", "UQAM-ETU", "credd", "jo"};
  EXPECT_EQ(policy.Check("my name is J.Tremblay ok", context), PasswordProblem::kContext);
  EXPECT_EQ(policy.Check("studying at uqam-etu forever", context), PasswordProblem::kContext);
  EXPECT_EQ(policy.Check("my CREDD password is long", context), PasswordProblem::kContext);
  // Words under four characters would refuse too much by chance.
  EXPECT_EQ(policy.Check("jolly rancher candy", context), PasswordProblem::kNone);
  EXPECT_EQ(policy.Check("jolly rancher candy", {}), PasswordProblem::kNone);
}

TEST(PasswordProblemTextTest, EnglishAndFrench) {
  EXPECT_EQ(PasswordProblemText(PasswordProblem::kTooShort, "en"), "Use at least 15 characters.");
  EXPECT_EQ(PasswordProblemText(PasswordProblem::kTooShort, "fr"),
            "Utilisez au moins 15 caractères.");
  EXPECT_EQ(PasswordProblemText(PasswordProblem::kNone, "fr"), "");
  EXPECT_EQ(PasswordProblemText(PasswordProblem::kCommon, "de"),
            PasswordProblemText(PasswordProblem::kCommon, "en"));
  for (PasswordProblem problem :
       {PasswordProblem::kTooShort, PasswordProblem::kTooLong, PasswordProblem::kNotText,
        PasswordProblem::kCommon, PasswordProblem::kRepetitive, PasswordProblem::kContext}) {
    EXPECT_FALSE(PasswordProblemText(problem, "en").empty());
    EXPECT_NE(PasswordProblemText(problem, "fr"), PasswordProblemText(problem, "en"));
  }
}

TEST(NormalizePasswordTest, NfkcOrNothing) {
  EXPECT_EQ(NormalizePassword("\xef\xac\x81ne"), "fine");
  EXPECT_EQ(NormalizePassword("Ce\u0301line"), "Céline");
  EXPECT_EQ(NormalizePassword("\xef\xbc\xa1"), "A");  // Fullwidth A.
  EXPECT_EQ(NormalizePassword("\xc3"), std::nullopt);
  EXPECT_EQ(NormalizePassword("\xc0\xaf"), std::nullopt);  // Overlong '/'.
}

TEST(HashPasswordTest, RoundTripWithOwaspParameters) {
  Result<std::string> hash = HashPassword("correct horse battery staple");
  ASSERT_TRUE(hash.ok()) << hash.error().ToString();
  EXPECT_TRUE(hash->starts_with("$argon2id$v=19$m=19456,t=2,p=1$")) << *hash;
  EXPECT_TRUE(VerifyPassword("correct horse battery staple", *hash));
  EXPECT_FALSE(VerifyPassword("correct horse battery stapl", *hash));
  EXPECT_FALSE(VerifyPassword("Correct horse battery staple", *hash));
  EXPECT_FALSE(VerifyPassword("", *hash));
  EXPECT_FALSE(NeedsRehash(*hash));
}

TEST(HashPasswordTest, SaltMakesEachHashDifferent) {
  Result<std::string> first = HashPassword("correct horse battery staple");
  Result<std::string> second = HashPassword("correct horse battery staple");
  ASSERT_TRUE(first.ok() && second.ok());
  EXPECT_NE(*first, *second);
  EXPECT_TRUE(VerifyPassword("correct horse battery staple", *second));
}

TEST(HashPasswordTest, NfkcSpellingsAreOnePassword) {
  Result<std::string> hash = HashPassword("\xef\xac\x81nal examinations Ce\u0301line");
  ASSERT_TRUE(hash.ok());
  EXPECT_TRUE(VerifyPassword("final examinations Céline", *hash));
  EXPECT_FALSE(VerifyPassword("Final examinations Céline", *hash));
}

TEST(HashPasswordTest, InvalidUtf8IsRefused) {
  Result<std::string> hash = HashPassword("bad \xff password here");
  ASSERT_FALSE(hash.ok());
  EXPECT_EQ(hash.error().code, ErrorCode::kUsage);
  Result<std::string> good = HashPassword("correct horse battery staple");
  ASSERT_TRUE(good.ok());
  EXPECT_FALSE(VerifyPassword("correct horse battery staple\xff", *good));
}

TEST(VerifyPasswordTest, MalformedEncodingIsFalse) {
  Result<std::string> hash = HashPassword("correct horse battery staple");
  ASSERT_TRUE(hash.ok());
  std::string tampered = *hash;
  tampered[tampered.size() - 2] = tampered[tampered.size() - 2] == 'A' ? 'B' : 'A';
  const std::string cases[] = {
      "",
      "garbage",
      "$argon2id$v=19$m=19456,t=2,p=1$",
      "$argon2id$v=19$m=19456,t=2,p=1$c2FsdHNhbHRzYWx0$",
      "$2y$10$abcdefghijklmnopqrstuu5P1Hk2XxpnH0eQ5nOyR1vYJw5Vt0Oqu",
      hash->substr(0, hash->size() - 10),
      std::string(*hash).replace(1, 8, "argon2i"),
      tampered,
  };
  for (const std::string& encoded : cases) {
    EXPECT_FALSE(VerifyPassword("correct horse battery staple", encoded)) << encoded;
  }
}

TEST(NeedsRehashTest, WeakerParametersNeedRehash) {
  Result<std::string> hash = HashPassword("correct horse battery staple");
  ASSERT_TRUE(hash.ok());
  auto with = [&](const std::string& from, const std::string& to) {
    std::string changed = *hash;
    std::size_t at = changed.find(from);
    EXPECT_NE(at, std::string::npos) << from;
    return changed.replace(at, from.size(), to);
  };
  EXPECT_TRUE(NeedsRehash(with("m=19456", "m=4096")));
  EXPECT_TRUE(NeedsRehash(with("t=2", "t=1")));
  EXPECT_TRUE(NeedsRehash(with("v=19", "v=16")));
  EXPECT_TRUE(NeedsRehash(with("$argon2id$", "$argon2i$")));
  EXPECT_TRUE(NeedsRehash("$argon2id$v=19$m=19456,t=2,p=1$c2FsdA$aGFzaA"));  // Short salt.
  EXPECT_TRUE(NeedsRehash("garbage"));
  EXPECT_FALSE(NeedsRehash(with("m=19456", "m=65536")));
  EXPECT_FALSE(NeedsRehash(with("t=2", "t=3")));
}

}  // namespace
}  // namespace credd::accounts
