// Tests for ValidateRecord: a table of records, each changed from a valid one, with every
// error it must produce as "file:line: field: message", and a table of accepted values with
// what normalisation makes of them.
#include "records/validate.h"

#include <gtest/gtest.h>

#include <functional>
#include <string>
#include <vector>

namespace credd {
namespace {

CredentialRecord ValidRecord() {
  CredentialRecord record;
  record.line = 7;
  record.student_id = "00123";
  record.family_name = "Lévesque-O'Brien";
  record.given_names = "Zoë";
  record.email = "zoe@uni.example.ca";
  record.credential_type = "diploma";
  record.credential_title = "Bachelor of Science";
  record.issued_on = "2024-06-14";
  return record;
}

std::vector<std::string> Validate(CredentialRecord& record) {
  ValidationOptions options{"2024-06-30"};
  options.default_locale = "fr";
  std::vector<std::string> out;
  for (const RecordError& error : ValidateRecord(record, options)) {
    out.push_back(error.ToString("x.csv"));
  }
  return out;
}

struct BadCase {
  std::string name;
  std::function<void(CredentialRecord&)> change;
  std::vector<std::string> errors;
};

class ValidateBadTest : public testing::TestWithParam<BadCase> {};

TEST_P(ValidateBadTest, ReportsExactErrors) {
  CredentialRecord record = ValidRecord();
  GetParam().change(record);
  EXPECT_EQ(Validate(record), GetParam().errors);
}

INSTANTIATE_TEST_SUITE_P(
    Table, ValidateBadTest,
    testing::Values(
        BadCase{"HeaderInjectionInName",
                [](CredentialRecord& r) { r.family_name = "Doe\r\nBcc: x@example.org"; },
                {"x.csv:7: family_name: must not contain a line break"}},
        BadCase{"HeaderInjectionInGivenNames",
                [](CredentialRecord& r) { r.given_names = "\r\nBcc: x@example.org"; },
                {"x.csv:7: given_names: must not contain a line break"}},
        BadCase{"LineBreakInProgram",
                [](CredentialRecord& r) { r.program = "Nursing\nBcc: x@example.org"; },
                {"x.csv:7: program: must not contain a line break"}},
        BadCase{"LineBreakInStudentId",
                [](CredentialRecord& r) { r.student_id = "001\n23"; },
                {"x.csv:7: student_id: must not contain a line break"}},
        BadCase{"NulByte",
                [](CredentialRecord& r) { r.credential_title = std::string("A\0B", 3); },
                {"x.csv:7: credential_title: must not contain a NUL byte"}},
        BadCase{"ControlCharacter",
                [](CredentialRecord& r) { r.program = "Bio\x1Blogy"; },
                {"x.csv:7: program: must not contain control character 0x1B"}},
        BadCase{"TabInName",
                [](CredentialRecord& r) { r.family_name = "Doe\tSmith"; },
                {"x.csv:7: family_name: must not contain a tab"}},
        BadCase{"TabInEmail",
                [](CredentialRecord& r) { r.email = "a\tb@x.ca"; },
                {"x.csv:7: email: must not contain a tab"}},
        BadCase{"InvalidUtf8",
                [](CredentialRecord& r) { r.family_name = "L\xE9vesque"; },
                {"x.csv:7: family_name: is not valid UTF-8"}},
        BadCase{"EverythingMissing",
                [](CredentialRecord& r) {
                  r = CredentialRecord{};
                  r.line = 7;
                },
                {"x.csv:7: student_id: is required", "x.csv:7: family_name: is required",
                 "x.csv:7: email: is required", "x.csv:7: credential_type: is required",
                 "x.csv:7: credential_title: is required", "x.csv:7: issued_on: is required"}},
        BadCase{"OnlySpacesIsMissing",
                [](CredentialRecord& r) { r.student_id = "   "; },
                {"x.csv:7: student_id: is required"}},
        BadCase{"StudentIdCharacters",
                [](CredentialRecord& r) { r.student_id = "12 34"; },
                {"x.csv:7: student_id: '12 34' may only contain letters A-Z, digits, '.', '_' "
                 "and '-'"}},
        BadCase{"StudentIdTooLong",
                [](CredentialRecord& r) { r.student_id = std::string(65, '1'); },
                {"x.csv:7: student_id: must be at most 64 characters, got 65"}},
        BadCase{"FamilyNameTooLong",
                [](CredentialRecord& r) { r.family_name = std::string(201, 'a'); },
                {"x.csv:7: family_name: must be at most 200 characters, got 201"}},
        BadCase{"GivenNamesTooLongInCodePoints",
                [](CredentialRecord& r) {
                  r.given_names.clear();
                  for (int i = 0; i < 201; ++i) r.given_names += "ë";
                },
                {"x.csv:7: given_names: must be at most 200 characters, got 201"}},
        BadCase{"TitleTooLong",
                [](CredentialRecord& r) { r.credential_title = std::string(301, 't'); },
                {"x.csv:7: credential_title: must be at most 300 characters, got 301"}},
        BadCase{"EmailWithoutDot",
                [](CredentialRecord& r) { r.email = "a@localhost"; },
                {"x.csv:7: email: 'a@localhost' is not a valid email address"}},
        BadCase{"EmailTwoAts",
                [](CredentialRecord& r) { r.email = "a@b@x.ca"; },
                {"x.csv:7: email: 'a@b@x.ca' is not a valid email address"}},
        BadCase{"EmailDoubleDot",
                [](CredentialRecord& r) { r.email = "a..b@x.ca"; },
                {"x.csv:7: email: 'a..b@x.ca' is not a valid email address"}},
        BadCase{"EmailLeadingDot",
                [](CredentialRecord& r) { r.email = ".a@x.ca"; },
                {"x.csv:7: email: '.a@x.ca' is not a valid email address"}},
        BadCase{"EmailEmptyLabel",
                [](CredentialRecord& r) { r.email = "a@x..ca"; },
                {"x.csv:7: email: 'a@x..ca' is not a valid email address"}},
        BadCase{"EmailHyphenLabel",
                [](CredentialRecord& r) { r.email = "a@-x.ca"; },
                {"x.csv:7: email: 'a@-x.ca' is not a valid email address"}},
        BadCase{"EmailInnerSpace",
                [](CredentialRecord& r) { r.email = "a b@x.ca"; },
                {"x.csv:7: email: 'a b@x.ca' is not a valid email address"}},
        BadCase{"EmailQuotedSpace",
                [](CredentialRecord& r) { r.email = "\"a b\"@x.ca"; },
                {"x.csv:7: email: '\"a b\"@x.ca' is not a valid email address"}},
        BadCase{"EmailNonAsciiDomain",
                [](CredentialRecord& r) { r.email = "a@université.ca"; },
                {"x.csv:7: email: 'a@université.ca' is not a valid email address"}},
        BadCase{"EmailTooLong",
                [](CredentialRecord& r) { r.email = "a@" + std::string(245, 'b') + ".example"; },
                {"x.csv:7: email: 'a@" + std::string(245, 'b') +
                 ".example' is not a valid email address"}},
        BadCase{"EmailHeaderInjection",
                [](CredentialRecord& r) { r.email = "a@x.ca\r\nBcc: x@example.org"; },
                {"x.csv:7: email: must not contain a line break"}},
        BadCase{"PersonalEmailSameAsEmail",
                [](CredentialRecord& r) { r.personal_email = "ZOE@UNI.example.ca"; },
                {"x.csv:7: personal_email: must differ from email"}},
        BadCase{"PersonalEmailInvalid",
                [](CredentialRecord& r) { r.personal_email = "zoe"; },
                {"x.csv:7: personal_email: 'zoe' is not a valid email address"}},
        BadCase{"Locale",
                [](CredentialRecord& r) { r.preferred_locale = "de"; },
                {"x.csv:7: preferred_locale: 'de' is not a supported locale (allowed: en, fr, "
                 "en-CA, fr-CA)"}},
        BadCase{"CredentialType",
                [](CredentialRecord& r) { r.credential_type = "badge"; },
                {"x.csv:7: credential_type: 'badge' is not a credential type (allowed: "
                 "transcript, diploma, certificate, attestation)"}},
        BadCase{"NotLeapYear",
                [](CredentialRecord& r) { r.issued_on = "2019-02-29"; },
                {"x.csv:7: issued_on: '2019-02-29' is not a date"}},
        BadCase{"February30",
                [](CredentialRecord& r) { r.issued_on = "2019-02-30"; },
                {"x.csv:7: issued_on: '2019-02-30' is not a date"}},
        BadCase{"Month13",
                [](CredentialRecord& r) { r.issued_on = "2019-13-01"; },
                {"x.csv:7: issued_on: '2019-13-01' is not a date"}},
        BadCase{"SlashDate",
                [](CredentialRecord& r) { r.issued_on = "6/14/2024"; },
                {"x.csv:7: issued_on: '6/14/2024' is not a date in YYYY-MM-DD form"}},
        BadCase{"Future",
                [](CredentialRecord& r) { r.issued_on = "2024-07-01"; },
                {"x.csv:7: issued_on: '2024-07-01' is in the future"}},
        BadCase{"TooOld",
                [](CredentialRecord& r) { r.issued_on = "1899-12-31"; },
                {"x.csv:7: issued_on: '1899-12-31' is before 1900-01-01"}},
        BadCase{"BirthDate",
                [](CredentialRecord& r) { r.birth_date = "2001-02-29"; },
                {"x.csv:7: birth_date: '2001-02-29' is not a date"}},
        BadCase{"AllFailuresReported",
                [](CredentialRecord& r) {
                  r.student_id = "";
                  r.email = "nope";
                  r.credential_type = "Badge";
                  r.issued_on = "2019-02-30";
                },
                {"x.csv:7: student_id: is required",
                 "x.csv:7: email: 'nope' is not a valid email address",
                 "x.csv:7: credential_type: 'Badge' is not a credential type (allowed: "
                 "transcript, diploma, certificate, attestation)",
                 "x.csv:7: issued_on: '2019-02-30' is not a date"}},
        BadCase{"TranscriptCredits",
                [](CredentialRecord& r) {
                  r.transcript.sessions.resize(1);
                  r.transcript.sessions[0].courses.resize(2);
                  r.transcript.sessions[0].courses[0].credits = "3.0";
                  r.transcript.sessions[0].courses[1].credits = "abc";
                  r.transcript.sessions[0].courses[1].title = "Calc\nBcc: x@example.org";
                  r.transcript.sessions[0].gpa.gpa = "3.5.1";
                  r.transcript.cumulative.credits_earned = "-3";
                },
                {"x.csv:7: transcript.sessions[1].courses[2].title: must not contain a line "
                 "break",
                 "x.csv:7: transcript.sessions[1].courses[2].credits: 'abc' is not a decimal "
                 "number",
                 "x.csv:7: transcript.sessions[1].gpa.gpa: '3.5.1' is not a decimal number",
                 "x.csv:7: transcript.cumulative.credits_earned: '-3' is not a decimal number"}},
        BadCase{"TranscriptGradeNul",
                [](CredentialRecord& r) {
                  r.transcript.sessions.resize(1);
                  r.transcript.sessions[0].courses.resize(1);
                  r.transcript.sessions[0].courses[0].grade = std::string("A\0", 2);
                },
                {"x.csv:7: transcript.sessions[1].courses[1].grade: must not contain a NUL "
                 "byte"}}),
    [](const testing::TestParamInfo<BadCase>& param) { return param.param.name; });

struct GoodCase {
  std::string name;
  std::function<void(CredentialRecord&)> change;
  std::function<void(const CredentialRecord&)> expect;
};

class ValidateGoodTest : public testing::TestWithParam<GoodCase> {};

TEST_P(ValidateGoodTest, AcceptsAndNormalises) {
  CredentialRecord record = ValidRecord();
  GetParam().change(record);
  EXPECT_EQ(Validate(record), std::vector<std::string>{});
  GetParam().expect(record);
}

INSTANTIATE_TEST_SUITE_P(
    Table, ValidateGoodTest,
    testing::Values(
        GoodCase{"AccentsAndApostrophe", [](CredentialRecord&) {},
                 [](const CredentialRecord& r) {
                   EXPECT_EQ(r.family_name, "Lévesque-O'Brien");
                   EXPECT_EQ(r.given_names, "Zoë");
                   EXPECT_EQ(r.student_id, "00123");
                 }},
        // SIS exports break long titles on purpose: the break is kept (as LF, whatever the
        // export used, with the blanks around it trimmed) and the document shows it.
        GoodCase{"TitleOnSeveralLines",
                 [](CredentialRecord& r) {
                   r.credential_title =
                       "Diplôme d'études collégiales \r\n  Soins infirmiers\rOption B";
                 },
                 [](const CredentialRecord& r) {
                   EXPECT_EQ(r.credential_title,
                             "Diplôme d'études collégiales\nSoins infirmiers\nOption B");
                 }},
        GoodCase{"Vietnamese",
                 [](CredentialRecord& r) {
                   r.family_name = "Nguyễn";
                   r.given_names = "Thị Hằng";
                 },
                 [](const CredentialRecord& r) {
                   EXPECT_EQ(r.family_name, "Nguyễn");
                   EXPECT_EQ(r.given_names, "Thị Hằng");
                 }},
        GoodCase{"Syllabics", [](CredentialRecord& r) { r.given_names = "ᐊᓂᔭ"; },
                 [](const CredentialRecord& r) { EXPECT_EQ(r.given_names, "ᐊᓂᔭ"); }},
        GoodCase{"DecomposedBecomesNfc",
                 [](CredentialRecord& r) { r.given_names = "  Zoe\u0308\t"; },
                 [](const CredentialRecord& r) { EXPECT_EQ(r.given_names, "Zo\u00EB"); }},
        GoodCase{"TrimmedValues",
                 [](CredentialRecord& r) {
                   r.student_id = " 00123 ";
                   r.family_name = "  Doe ";
                   r.issued_on = " 2020-02-29 ";
                 },
                 [](const CredentialRecord& r) {
                   EXPECT_EQ(r.student_id, "00123");
                   EXPECT_EQ(r.family_name, "Doe");
                   EXPECT_EQ(r.issued_on, "2020-02-29");
                 }},
        GoodCase{"TabAllowedInTitle", [](CredentialRecord& r) { r.credential_title = "A\tB"; },
                 [](const CredentialRecord& r) { EXPECT_EQ(r.credential_title, "A\tB"); }},
        GoodCase{"LimitsInCodePoints",
                 [](CredentialRecord& r) {
                   r.family_name.clear();
                   for (int i = 0; i < 200; ++i) r.family_name += "é";
                   r.student_id = std::string(64, 'A');
                 },
                 [](const CredentialRecord& r) { EXPECT_EQ(r.family_name.size(), 400u); }},
        GoodCase{"DefaultLocale", [](CredentialRecord& r) { r.preferred_locale = ""; },
                 [](const CredentialRecord& r) { EXPECT_EQ(r.preferred_locale, "fr"); }},
        GoodCase{"LocaleFrCa", [](CredentialRecord& r) { r.preferred_locale = "FR-ca"; },
                 [](const CredentialRecord& r) { EXPECT_EQ(r.preferred_locale, "fr"); }},
        GoodCase{"LocaleEnUpper", [](CredentialRecord& r) { r.preferred_locale = "EN"; },
                 [](const CredentialRecord& r) { EXPECT_EQ(r.preferred_locale, "en"); }},
        GoodCase{"CredentialTypeLowered",
                 [](CredentialRecord& r) { r.credential_type = "Diploma"; },
                 [](const CredentialRecord& r) { EXPECT_EQ(r.credential_type, "diploma"); }},
        GoodCase{"EmailDomainLowered",
                 [](CredentialRecord& r) {
                   r.email = "Zoe.Levesque+grad@UNI.Example.CA";
                   r.personal_email = "\"zoe@home\"@Example.org";
                 },
                 [](const CredentialRecord& r) {
                   EXPECT_EQ(r.email, "Zoe.Levesque+grad@uni.example.ca");
                   EXPECT_EQ(r.personal_email, "\"zoe@home\"@example.org");
                 }},
        GoodCase{"IssuedToday", [](CredentialRecord& r) { r.issued_on = "2024-06-30"; },
                 [](const CredentialRecord& r) { EXPECT_EQ(r.issued_on, "2024-06-30"); }},
        GoodCase{"TranscriptDecimals",
                 [](CredentialRecord& r) {
                   r.transcript.sessions.resize(1);
                   r.transcript.sessions[0].courses.resize(3);
                   r.transcript.sessions[0].courses[0].credits = "3";
                   r.transcript.sessions[0].courses[1].credits = "3.00";
                   r.transcript.sessions[0].courses[2].credits = ".5";
                   r.transcript.cumulative.gpa = "3.85";
                 },
                 [](const CredentialRecord& r) {
                   EXPECT_EQ(r.transcript.sessions[0].courses[2].credits, ".5");
                 }}),
    [](const testing::TestParamInfo<GoodCase>& param) { return param.param.name; });

TEST(IsIsoDateTest, Calendar) {
  EXPECT_TRUE(IsIsoDate("2020-02-29"));
  EXPECT_TRUE(IsIsoDate("2000-02-29"));
  EXPECT_FALSE(IsIsoDate("1900-02-29"));
  EXPECT_FALSE(IsIsoDate("2019-02-29"));
  EXPECT_FALSE(IsIsoDate("2019-04-31"));
  EXPECT_TRUE(IsIsoDate("2019-12-31"));
  EXPECT_FALSE(IsIsoDate("2019-00-10"));
  EXPECT_FALSE(IsIsoDate("2019-1-10"));
  EXPECT_FALSE(IsIsoDate("2019-01-10T00:00"));
}

TEST(IsValidEmailTest, EdgeCases) {
  EXPECT_TRUE(IsValidEmail("a@x.ca"));
  EXPECT_TRUE(IsValidEmail("o'brien@x.ca"));
  EXPECT_TRUE(IsValidEmail("\"a\\\"b\"@x.ca"));
  EXPECT_TRUE(IsValidEmail(std::string(64, 'a') + "@x.ca"));
  EXPECT_FALSE(IsValidEmail(std::string(65, 'a') + "@x.ca"));
  EXPECT_FALSE(IsValidEmail("a@x.ca."));
  EXPECT_FALSE(IsValidEmail("a.@x.ca"));
  EXPECT_FALSE(IsValidEmail("@x.ca"));
  EXPECT_FALSE(IsValidEmail("a@"));
  EXPECT_FALSE(IsValidEmail("a@x_y.ca"));
  EXPECT_FALSE(IsValidEmail("a@" + std::string(64, 'b') + ".ca"));
  EXPECT_FALSE(IsValidEmail("zoë@x.ca"));
}

}  // namespace
}  // namespace credd

namespace credd {
namespace {

TEST(CredentialTypeWordTest, EachTypeHasItsFrenchWordAndUnknownOnesStayAsTheyAre) {
  for (std::string_view type : kCredentialTypes) {
    EXPECT_EQ(CredentialTypeWord(type, "en"), type);
    EXPECT_FALSE(CredentialTypeWord(type, "fr").empty());
  }
  EXPECT_EQ(CredentialTypeWord("transcript", "fr"), "relevé de notes");
  EXPECT_EQ(CredentialTypeWord("diploma", "fr"), "diplôme");
  EXPECT_EQ(CredentialTypeWord("diploma", "de"), "diploma");
  EXPECT_EQ(CredentialTypeWord("badge", "fr"), "badge");
}

}  // namespace
}  // namespace credd
