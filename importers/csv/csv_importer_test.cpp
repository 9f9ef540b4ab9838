// Tests for CsvImporter: a table of small inputs, each with the exact events it must produce,
// then the fixtures in testdata/, large and chunk-boundary inputs built here, and the SIS
// extracts in the shared corpus.
#include "importers/csv/csv_importer.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "tests/support/corpus.h"

namespace credd {
namespace {

using namespace std::string_literals;

const std::string kHeader =
    "student_id,family_name,given_names,email,personal_email,preferred_locale,credential_type,"
    "credential_title,program,issued_on\n";
const std::string kRow = "1,Doe,Jane,jane@x.ca,,,diploma,BSc,,2024-06-14\n";

// Records every event as one line of text, so a test compares a whole run at once.
class EventSink : public RecordSink {
 public:
  explicit EventSink(std::string file, int stop_after = -1)
      : file_(std::move(file)), stop_after_(stop_after) {}
  bool OnRecord(CredentialRecord record) override {
    events.push_back("record " + std::to_string(record.line) + " " + record.student_id);
    records.push_back(std::move(record));
    return --stop_after_ != 0;
  }
  bool OnError(RecordError error) override {
    events.push_back("error " + error.ToString(file_));
    return --stop_after_ != 0;
  }
  void OnWarning(RecordError warning) override {
    events.push_back("warning " + warning.ToString(file_));
  }
  std::vector<std::string> events;
  std::vector<CredentialRecord> records;

 private:
  std::string file_;
  int stop_after_;
};

// A file in a fresh temporary directory, removed when the test ends.
class TempFile {
 public:
  explicit TempFile(const std::string& content) {
    std::string dir_template = (std::filesystem::temp_directory_path() / "csvtest.XXXXXX");
    dir_ = mkdtemp(dir_template.data());
    path_ = dir_ + "/in.csv";
    std::ofstream(path_, std::ios::binary) << content;
  }
  ~TempFile() { std::filesystem::remove_all(dir_); }
  const std::string& path() const { return path_; }

 private:
  std::string dir_;
  std::string path_;
};

struct RunResult {
  std::string status;  // "ok" or the Error's ToString().
  std::vector<std::string> events;
  std::vector<CredentialRecord> records;
};

RunResult ReadPath(const std::string& path, const ImportOptions& options,
                   const std::string& name = "x.csv", int stop_after = -1) {
  EventSink sink(name, stop_after);
  CsvImporter importer(options.csv);
  Status status = importer.Read({path, name}, sink);
  return {status.ok() ? "ok" : status.error().ToString(), sink.events, sink.records};
}

RunResult ReadText(const std::string& content, const ImportOptions& options = {}) {
  TempFile file(content);
  return ReadPath(file.path(), options);
}

struct Case {
  std::string name;
  std::string content;
  std::string status;
  std::vector<std::string> events;
};

class CsvCaseTest : public testing::TestWithParam<Case> {};

TEST_P(CsvCaseTest, ProducesExactEvents) {
  const Case& c = GetParam();
  RunResult result = ReadText(c.content);
  EXPECT_EQ(result.status, c.status);
  EXPECT_EQ(result.events, c.events);
}

const std::string kShortHeader =
    "student_id,family_name,given_names,email,credential_type,credential_title,issued_on\n";

INSTANTIATE_TEST_SUITE_P(
    Table, CsvCaseTest,
    testing::Values(
        Case{"OneRow", kHeader + kRow, "ok", {"record 2 1"}},
        Case{"FinalRowWithoutNewline",
             kHeader + kRow + "2,B,B,b@x.ca,,,diploma,T,,2024-06-14",
             "ok",
             {"record 2 1", "record 3 2"}},
        Case{"BlankAndSpaceLinesIgnored",
             "\n" + kHeader + "\n  \n" + kRow + "\r\n\r\n" + kRow,
             "ok",
             {"record 5 1", "record 8 1"}},
        Case{"CrLf",
             "student_id,family_name,given_names,email,credential_type,credential_title,"
             "issued_on\r\n1,A,B,a@x.ca,diploma,T,2024-01-01\r\n",
             "ok",
             {"record 2 1"}},
        Case{"LoneCrEndsLines",
             "student_id,family_name,given_names,email,credential_type,"
             "credential_title,issued_on\r1,A,B,a@x.ca,diploma,T,2024\r"
             "2,A,B,a@x.ca,diploma,T,2024\r",
             "ok",
             {"record 2 1", "record 3 2"}},
        Case{"QuotedNewlineCountsTwoLines",
             kHeader + "1,\"Two\nLines\",A,a@x.ca,,,diploma,T,,2024\n" + kRow,
             "ok",
             {"record 2 1", "record 4 1"}},
        Case{"ExtraColumnsWarned",
             "ssn," + kHeader.substr(0, kHeader.size() - 1) + ",NOTE\n" + "999," +
                 kRow.substr(0, kRow.size() - 1) + ",hello\n",
             "ok",
             {"warning x.csv:1: ignoring columns credd does not use: 'ssn', 'NOTE'", "record 2 1"}},
        Case{"HeaderCaseAndSpaces",
             " Student_ID , FAMILY_NAME,given_names,email,credential_type,credential_title,"
             "issued_on\n1,A,B,a@x.ca,diploma,T,2024\n",
             "ok",
             {"record 2 1"}},
        Case{"TooFewFields",
             kHeader + "1,Doe,Jane,jane@x.ca,,,diploma,BSc,2024-06-14\n" + kRow,
             "ok",
             {"error x.csv:2: expected 10 fields, found 9", "record 3 1"}},
        Case{"TooManyFields",
             kHeader + "1,Doe,Jane,jane@x.ca,,,diploma,BSc,,2024-06-14,\n",
             "ok",
             {"error x.csv:2: expected 10 fields, found 11"}},
        Case{"InvalidUtf8NamesLineByteAndField",
             kHeader + kRow + "2,L\xE9vesque,Zo\xC3\xAB,z@x.ca,,,diploma,T,,2024\n" + kRow,
             "ok",
             {"record 2 1",
              "error x.csv:3:4: family_name: invalid UTF-8 byte 0xE9 at byte 4 of the line",
              "record 4 1"}},
        Case{"OverlongSlash",
             kHeader + "1,A\xC0\xAF,B,b@x.ca,,,diploma,T,,2024\n",
             "ok",
             {"error x.csv:2:4: family_name: invalid UTF-8 byte 0xC0 at byte 4 of the line"}},
        Case{"Surrogate",
             kHeader + "1,A,\xED\xA0\x80,b@x.ca,,,diploma,T,,2024\n",
             "ok",
             {"error x.csv:2:5: given_names: invalid UTF-8 byte 0xED at byte 5 of the line"}},
        Case{"AboveU10FFFF",
             kHeader + "\xF4\x90\x80\x80,A,B,b@x.ca,,,diploma,T,,2024\n",
             "ok",
             {"error x.csv:2:1: student_id: invalid UTF-8 byte 0xF4 at byte 1 of the line"}},
        Case{"StrayContinuationByte",
             kHeader + "1,A,B,b@x.ca,,,diploma,T\x80,,2024\n",
             "ok",
             {"error x.csv:2:25: credential_title: invalid UTF-8 byte 0x80 at byte 25 of the "
              "line"}},
        Case{"TruncatedAtEndOfFile",
             kHeader + "1,A,B,b@x.ca,,,diploma,T,,2024\xE2\x82",
             "ok",
             {"error x.csv:2:31: issued_on: invalid UTF-8 byte 0xE2 at byte 31 of the line"}},
        Case{"BadByteOnSecondLineOfQuotedField",
             kHeader + "1,\"A\nB\xFF\",B,b@x.ca,,,diploma,T,,2024\n" + kRow,
             "ok",
             {"error x.csv:3:2: family_name: invalid UTF-8 byte 0xFF at byte 2 of the line",
              "record 4 1"}},
        Case{"LineOfOnlyABadByte",
             kHeader + "\xFF\n" + kRow,
             "ok",
             {"error x.csv:2:1: student_id: invalid UTF-8 byte 0xFF at byte 1 of the line",
              "record 3 1"}},
        Case{"NulByte",
             kHeader + "1,A,B\0,b@x.ca,,,diploma,T,,2024\n"s + kRow,
             "ok",
             {"error x.csv:2:6: given_names: NUL byte at byte 6 of the line", "record 3 1"}},
        Case{"QuoteInsideUnquotedField",
             kHeader + "1,O\"Brien,B,b@x.ca,,,diploma,T,,2024\n" + kRow,
             "ok",
             {"error x.csv:2:4: family_name: unexpected double quote in an unquoted field (a "
              "field containing quotes must be quoted, with its quotes doubled)",
              "record 3 1"}},
        Case{"TextAfterClosingQuote",
             kHeader + "1,\"Smith\" Jr,B,b@x.ca,,,diploma,T,,2024\n" + kRow,
             "ok",
             {"error x.csv:2:10: family_name: unexpected character after a closing double quote "
              "(a quote inside a quoted field must be doubled)",
              "record 3 1"}},
        Case{"UnclosedQuoteAtEnd",
             kHeader + kRow + "2,\"Never closed,B\n\n",
             "ok",
             {"record 2 1",
              "error x.csv:3: family_name: a quoted field is not closed before the end of the "
              "file"}},
        Case{"EmptyFile", "", "x.csv: the file is empty", {}},
        Case{"OnlyBomAndBlankLines", "\xEF\xBB\xBF\r\n\n  \n", "x.csv: the file is empty", {}},
        Case{"HeaderOnly", kHeader, "ok", {}},
        Case{"MissingRequiredColumns",
             "student_id,family_name,given_names,credential_type,credential_title\n" + kRow,
             "x.csv:1: missing required columns: email (looked for a column named 'email'), "
             "issued_on (looked for a column named 'issued_on')",
             {}},
        Case{"RepeatedHeader",
             "email," + kHeader,
             "x.csv:1: the header names column 'email' "
             "twice (columns 1 and 5)",
             {}},
        Case{"InvalidUtf8InHeader",
             "student_\xE9id\n",
             "x.csv:1:9: header: invalid UTF-8 byte 0xE9 at byte 9 of the line",
             {}},
        Case{"BinaryGarbage",
             "\x7F\x45\x4C\x46\x02\x01\x01\x00\x00\x00\xFE\xFF,\n\x01\x02"s,
             "x.csv:1:8: header: NUL byte at byte 8 of the line",
             {}}),
    [](const testing::TestParamInfo<Case>& param) { return param.param.name; });

std::string Fixture(const std::string& name) {
  return std::string(CREDD_CSV_TESTDATA) + "/" + name;
}

TEST(CsvFixtureTest, GoodFileKeepsValuesAsTheyAre) {
  RunResult result = ReadPath(Fixture("good.csv"), {}, "good.csv");
  ASSERT_EQ(result.status, "ok");
  ASSERT_EQ(result.events,
            (std::vector<std::string>{"record 2 00123", "record 3 00124", "record 4 00125"}));
  const CredentialRecord& first = result.records[0];
  EXPECT_EQ(first.family_name, "Lévesque-O'Brien");
  EXPECT_EQ(first.given_names, "Zoë");
  EXPECT_EQ(first.preferred_locale, "fr");
  EXPECT_EQ(first.credential_title, "Baccalauréat en sciences");
  EXPECT_EQ(result.records[1].family_name, "Nguyễn");
  EXPECT_EQ(result.records[1].personal_email, "hang@example.org");
  EXPECT_EQ(result.records[2].family_name, "Smith, Jr.");
  EXPECT_EQ(result.records[2].given_names, "John \"JJ\"");
}

TEST(CsvFixtureTest, CrLfMatchesLf) {
  RunResult lf = ReadPath(Fixture("good.csv"), {});
  RunResult crlf = ReadPath(Fixture("crlf.csv"), {});
  ASSERT_EQ(crlf.status, "ok");
  EXPECT_EQ(crlf.events, lf.events);
  ASSERT_EQ(crlf.records.size(), 3u);
  EXPECT_EQ(crlf.records[2].issued_on, "2024-06-14");
}

TEST(CsvFixtureTest, BomIsSkippedAndLastRowNeedsNoNewline) {
  RunResult result = ReadPath(Fixture("bom.csv"), {});
  ASSERT_EQ(result.status, "ok");
  ASSERT_EQ(result.events, std::vector<std::string>{"record 2 00123"});
  EXPECT_EQ(result.records[0].issued_on, "2024-06-14");
}

TEST(CsvFixtureTest, EmbeddedNewlinesKeepPhysicalLineNumbers) {
  RunResult result = ReadPath(Fixture("embedded_newlines.csv"), {});
  ASSERT_EQ(result.status, "ok");
  ASSERT_EQ(result.events, (std::vector<std::string>{"record 2 1", "record 4 2", "record 8 3"}));
  EXPECT_EQ(result.records[0].family_name, "Two\nLines");
  EXPECT_EQ(result.records[1].credential_title, "Three\r\nline\r\ntitle");
}

TEST(CsvFixtureTest, WrongFieldCountRejectsOnlyThatRow) {
  RunResult result = ReadPath(Fixture("wrong_field_count.csv"), {}, "wrong_field_count.csv");
  ASSERT_EQ(result.status, "ok");
  EXPECT_EQ(result.events,
            (std::vector<std::string>{
                "record 2 1", "error wrong_field_count.csv:3: expected 10 fields, found 9",
                "error wrong_field_count.csv:4: expected 10 fields, found 11", "record 5 4"}));
}

TEST(CsvFixtureTest, InvalidUtf8NamesLineAndOffset) {
  RunResult result = ReadPath(Fixture("invalid_utf8.csv"), {}, "invalid_utf8.csv");
  ASSERT_EQ(result.status, "ok");
  EXPECT_EQ(result.events,
            (std::vector<std::string>{
                "record 2 1",
                "error invalid_utf8.csv:3:4: family_name: invalid UTF-8 byte 0xE9 at byte 4 of "
                "the line",
                "record 4 3"}));
}

TEST(CsvFixtureTest, Windows1252IsConvertedAndUndefinedBytesRejected) {
  ImportOptions options;
  options.csv.encoding = "windows-1252";
  options.csv.delimiter = ";";
  RunResult result = ReadPath(Fixture("windows1252.csv"), options, "windows1252.csv");
  ASSERT_EQ(result.status, "ok");
  ASSERT_EQ(result.events,
            (std::vector<std::string>{"record 2 1",
                                      "error windows1252.csv:3:6: family_name: byte 0x81 is not "
                                      "defined in windows-1252 (at byte 6 of the line)"}));
  EXPECT_EQ(result.records[0].family_name, "Lévesque");
  EXPECT_EQ(result.records[0].credential_title, "Diplôme d’études collégiales – DEC");
}

TEST(CsvEncodingTest, Iso88591MapsEveryByte) {
  ImportOptions options;
  options.csv.encoding = "iso-8859-1";
  RunResult result =
      ReadText(kShortHeader + "1,L\xE9vesque,Zo\xEB,z@x.ca,diploma,T\x81,2024\n", options);
  ASSERT_EQ(result.status, "ok");
  ASSERT_EQ(result.records.size(), 1u);
  EXPECT_EQ(result.records[0].family_name, "Lévesque");
  EXPECT_EQ(result.records[0].given_names, "Zoë");
  EXPECT_EQ(result.records[0].credential_title, "T\xC2\x81");
}

TEST(CsvEncodingTest, Utf8BomInALegacyFileIsAConfigurationMistake) {
  ImportOptions options;
  options.csv.encoding = "windows-1252";
  RunResult result = ReadText("\xEF\xBB\xBF" + kHeader + kRow, options);
  EXPECT_EQ(result.status,
            "x.csv:1: the file starts with a UTF-8 byte order mark but csv.encoding is "
            "windows-1252; set csv.encoding to utf-8");
}

TEST(CsvMappingTest, ColumnsAreRenamedAndDelimiterConfigured) {
  ImportOptions options;
  options.csv.delimiter = "\t";
  options.csv.columns = {{"student_id", "SPRIDEN_ID"}, {"email", "Courriel"}};
  RunResult result = ReadText(
      "SPRIDEN_ID\tfamily_name\tgiven_names\tcourriel\tcredential_type\tcredential_title\tissued_"
      "on\n00042\t Doe \tJ, R\tj@x.ca\tdiploma\tT\t2024\n",
      options);
  ASSERT_EQ(result.status, "ok");
  ASSERT_EQ(result.records.size(), 1u);
  EXPECT_EQ(result.records[0].student_id, "00042");
  EXPECT_EQ(result.records[0].family_name, " Doe ");  // Validation trims, not the importer.
  EXPECT_EQ(result.records[0].given_names, "J, R");
  EXPECT_EQ(result.records[0].email, "j@x.ca");
}

TEST(CsvMappingTest, MissingMappedColumnNamesTheHeaderLookedFor) {
  ImportOptions options;
  options.csv.columns = {{"student_id", "SPRIDEN_ID"}};
  RunResult result = ReadText(kHeader + kRow, options);
  EXPECT_EQ(result.status,
            "x.csv:1: missing required column: student_id (looked for a column named "
            "'SPRIDEN_ID')");
  EXPECT_EQ(result.events, std::vector<std::string>{});
}

TEST(CsvStopTest, SinkReturningFalseStopsReading) {
  TempFile file(kHeader + kRow + kRow + kRow);
  RunResult result = ReadPath(file.path(), {}, "x.csv", /*stop_after=*/1);
  EXPECT_EQ(result.status, "ok");
  EXPECT_EQ(result.events, std::vector<std::string>{"record 2 1"});
}

TEST(CsvLimitTest, TwoMegabyteFieldRejectsOnlyItsRow) {
  std::string big(2 * 1024 * 1024, 'x');
  for (const std::string& quoted : {std::string("0"), std::string("1")}) {
    std::string field = quoted == "1" ? "\"" + big + "\"\"a,\nb\"" : big;
    RunResult result = ReadText(kHeader + kRow + "2,A,B,b@x.ca,,,diploma," + field + ",,2024\n" +
                                "3,C,C,c@x.ca,,,diploma,T,,2024\n");
    ASSERT_EQ(result.status, "ok") << quoted;
    EXPECT_EQ(result.events,
              (std::vector<std::string>{
                  "record 2 1", "error x.csv:3: credential_title: field is longer than 65536 bytes",
                  quoted == "1" ? "record 5 3" : "record 4 3"}))
        << quoted;
  }
}

TEST(CsvLimitTest, FieldOfExactlyTheLimitIsAccepted) {
  std::string field(CsvImporter::kMaxFieldBytes, 'y');
  RunResult result = ReadText(kHeader + "1,A,B,b@x.ca,,,diploma,\"" + field + "\",,2024\n" +
                              "2,A,B,b@x.ca,,,diploma," + field + "z,,2024\n");
  ASSERT_EQ(result.status, "ok");
  EXPECT_EQ(
      result.events,
      (std::vector<std::string>{
          "record 2 1", "error x.csv:3: credential_title: field is longer than 65536 bytes"}));
  ASSERT_EQ(result.records.size(), 1u);
  EXPECT_EQ(result.records[0].credential_title.size(), CsvImporter::kMaxFieldBytes);
}

// Puts the start of a multi-byte sequence at every offset around the first chunk boundary.
TEST(CsvChunkTest, SequencesAcrossChunkBoundaries) {
  for (std::size_t shift = 0; shift < 5; ++shift) {
    std::string prefix = kHeader + "1,A,B,b@x.ca,,,diploma,";
    std::string padding(CsvImporter::kChunkBytes - prefix.size() - shift, 'p');
    std::string good = prefix + padding + "\xF0\x9F\x98\x80\xC3\xA9,,2024\n";
    RunResult ok = ReadText(good + kRow);
    ASSERT_EQ(ok.status, "ok");
    EXPECT_EQ(ok.events, (std::vector<std::string>{"record 2 1", "record 3 1"})) << shift;
    ASSERT_EQ(ok.records.size(), 2u);
    EXPECT_EQ(ok.records[0].credential_title, padding + "\xF0\x9F\x98\x80\xC3\xA9");

    // A sequence truncated by a following ASCII byte, straddling the boundary.
    std::string bad = prefix + padding + "\xF0\x9F\x98,,2024\n";
    int column = static_cast<int>(prefix.size() - kHeader.size() + padding.size() + 1);
    RunResult rejected = ReadText(bad + kRow);
    ASSERT_EQ(rejected.status, "ok");
    EXPECT_EQ(rejected.events,
              (std::vector<std::string>{"error x.csv:2:" + std::to_string(column) +
                                            ": credential_title: invalid UTF-8 byte 0xF0 at byte " +
                                            std::to_string(column) + " of the line",
                                        "record 3 1"}))
        << shift;
  }
}

TEST(CsvGarbageTest, RandomBytesNeverCrash) {
  std::string garbage;
  unsigned state = 12345;
  for (int i = 0; i < 300000; ++i) {
    state = state * 1103515245u + 12345u;
    garbage.push_back(static_cast<char>(state >> 16));
  }
  RunResult result = ReadText(kHeader + garbage);
  EXPECT_EQ(result.status, "ok");
  EXPECT_FALSE(result.events.empty());
  for (const std::string& event : result.events) EXPECT_EQ(event.rfind("error x.csv:", 0), 0u);
}

TEST(CsvInputTest, MissingFileIsNoInput) {
  EventSink sink("nope.csv");
  CsvImporter importer;
  Status status = importer.Read({"/nonexistent/nope.csv", "nope.csv"}, sink);
  ASSERT_FALSE(status.ok());
  EXPECT_EQ(status.error().code, ErrorCode::kNoInput);
  EXPECT_EQ(status.error().ToString(), "nope.csv: cannot open: No such file or directory");
}

// The SIS extracts in the shared corpus were written by others; see its README.
std::string Corpus(const std::string& name) {
  return credd::test_corpus::CorpusDir() + "/sis-csv/" + name;
}

TEST(CsvCorpusTest, BannerExtractStreamsWithExpectedLines) {
  CREDD_REQUIRE_CORPUS();
  ASSERT_TRUE(std::filesystem::exists(Corpus("utValidateR/student_unit_test.csv")))
      << "corpus not found under " << credd::test_corpus::CorpusDir();
  // The extract has no email, credential or award-date columns: map what is closest.
  ImportOptions options;
  options.csv.columns = {{"family_name", "last_name"},
                         {"given_names", "first_name"},
                         {"email", "ssid"},
                         {"credential_type", "primary_degree_id"},
                         {"credential_title", "primary_major_desc"},
                         {"program", "primary_major_college_desc"},
                         {"issued_on", "high_school_graduation_date"}};
  RunResult result =
      ReadPath(Corpus("utValidateR/student_unit_test.csv"), options, "student_unit_test.csv");
  ASSERT_EQ(result.status, "ok");
  ASSERT_EQ(result.records.size(), 66u);  // Lines 2-67, CRLF, no embedded newlines.
  EXPECT_EQ(result.events.front(),
            "warning student_unit_test.csv:1: ignoring columns credd does not use: 'USHE "
            "element', 'USHE rule', 'Expected value', 'ssn', 'middle_name', 'previous_last_name', "
            "'name_suffix', 'previous_first_name', 'preferred_first_name', "
            "'preferred_middle_name', 'local_address_zip_code', 'mailing_address_zip_code', "
            "'us_citizenship_code', 'first_admit_county_code', 'first_admit_state_code', "
            "'first_admit_country_code', 'residential_housing_code', 'previous_student_id', "
            "'birth_date', 'gender_code', 'is_hispanic_latino_ethnicity', 'is_asian', "
            "'is_black', 'is_american_indian_alaskan', 'is_hawaiian_pacific_islander', "
            "'is_white', 'is_international', 'is_other_race', 'primary_major_cip_code', "
            "'student_type_code', 'primary_level_class_id', "
            "'institutional_cumulative_credits_earned', 'institutional_cumulative_gpa', "
            "'full_time_part_time_code', 'transfer_cumulative_credits_earned', "
            "'secondary_major_cip_code', 'act_composite_score', 'act_english_score', "
            "'act_math_score', 'act_reading_score', 'act_science_score', 'is_pell_eligible', "
            "'is_pell_awarded', 'is_bia', 'primary_major_college_id', "
            "'secondary_major_college_id', 'secondary_major_college_desc', 'level_id', "
            "'term_id', 'sgbstdn_activity_date', 'spriden_activity_date', "
            "'sabsupl_activity_date', 'ipeds_award_level', 'secondary_major_desc'");
  const CredentialRecord& first = result.records.front();
  EXPECT_EQ(first.line, 2);
  EXPECT_EQ(first.student_id, "712652");
  EXPECT_EQ(first.family_name, "Daniel");
  EXPECT_EQ(first.program, "Coll of Sci, Engr & Tech");  // A quoted comma.
  EXPECT_EQ(result.records[21].line, 23);
  EXPECT_EQ(result.records[21].student_id, "909034");
  EXPECT_EQ(result.records[21].given_names, "Jesus");
  EXPECT_EQ(result.records.back().line, 67);
}

TEST(CsvCorpusTest, LapExtractsLackCreddColumns) {
  CREDD_REQUIRE_CORPUS();
  ASSERT_TRUE(std::filesystem::exists(Corpus("apereo-lap/personal.csv")))
      << "corpus not found under " << credd::test_corpus::CorpusDir();
  ImportOptions options;
  options.csv.columns = {{"student_id", "ALTERNATIVE_ID"}};
  for (const char* name : {"personal.csv", "enrollment.csv", "course.csv"}) {
    RunResult result = ReadPath(Corpus(std::string("apereo-lap/") + name), options, name);
    EXPECT_EQ(result.status.rfind(std::string(name) + ":1: missing required columns: ", 0), 0u)
        << result.status;
    EXPECT_TRUE(result.events.empty());
  }
  options.csv.columns = {{"student_id", "ALTERNATIVE_ID"},   {"family_name", "COURSE_ID"},
                         {"given_names", "COURSE_ID"},       {"email", "COURSE_ID"},
                         {"credential_type", "FINAL_GRADE"}, {"credential_title", "COURSE_ID"},
                         {"issued_on", "WITHDRAWAL_DATE"}};
  RunResult enrollment = ReadPath(Corpus("apereo-lap/enrollment.csv"), options, "enrollment.csv");
  ASSERT_EQ(enrollment.status, "ok");
  ASSERT_EQ(enrollment.records.size(), 29u);
  EXPECT_EQ(enrollment.records[2].line, 4);
  EXPECT_EQ(enrollment.records[2].student_id, "STUDENT3");
  EXPECT_EQ(enrollment.records[2].credential_type, "A-");
}

}  // namespace
}  // namespace credd
