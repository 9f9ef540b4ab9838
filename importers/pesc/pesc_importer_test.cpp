// Tests for PescImporter: every sample in ../shared/corpus/pesc-xml with its expected
// outcome, then hostile and broken inputs, each with the exact message it must produce.
#include "importers/pesc/pesc_importer.h"

#include <gtest/gtest.h>
#include <sys/resource.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "importers/pesc/xml_element.h"
#include "tests/support/corpus.h"

namespace credd {
namespace {

namespace fs = std::filesystem;

std::string CorpusRoot() { return credd::test_corpus::CorpusDir() + "/pesc-xml/"; }
const std::string kUnsupported =
    " is not supported: credd imports College Transcripts (PESC CollegeTranscript 1.3-1.9)";

// Keeps everything the importer hands over, as values and as report lines.
class CollectingSink : public RecordSink {
 public:
  explicit CollectingSink(std::string file, int stop_after_records = -1)
      : file_(std::move(file)), stop_after_records_(stop_after_records) {}
  bool OnRecord(CredentialRecord record) override {
    records.push_back(std::move(record));
    return stop_after_records_ < 0 || static_cast<int>(records.size()) < stop_after_records_;
  }
  bool OnError(RecordError error) override {
    errors.push_back(error.ToString(file_));
    return true;
  }
  void OnWarning(RecordError warning) override { warnings.push_back(warning.ToString(file_)); }

  std::vector<CredentialRecord> records;
  std::vector<std::string> errors;
  std::vector<std::string> warnings;

 private:
  std::string file_;
  int stop_after_records_;
};

struct Outcome {
  Status status;
  CollectingSink sink;
  std::string Describe() const {
    std::ostringstream out;
    out << "status: " << (status.ok() ? "ok" : status.error().ToString()) << "\n";
    for (const auto& e : sink.errors) out << "error: " << e << "\n";
    for (const auto& w : sink.warnings) out << "warning: " << w << "\n";
    return out.str();
  }
};

Outcome ReadPath(const std::string& path, int stop_after_records = -1,
                 const PescLimits& limits = PescLimits()) {
  std::string display = fs::path(path).filename().string();
  Outcome outcome{Status::Ok(), CollectingSink(display, stop_after_records)};
  PescImporter importer(limits);
  outcome.status = importer.Read(ImportInput{path, display}, outcome.sink);
  return outcome;
}

Outcome ReadCorpus(const std::string& relative) { return ReadPath(CorpusRoot() + relative); }

// A fresh folder per test, so runs never see each other's files.
class PescImporterTest : public ::testing::Test {
 protected:
  void SetUp() override {
    const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
    dir_ = fs::path(::testing::TempDir()) / ("pesc_" + std::string(info->name()));
    fs::remove_all(dir_);
    fs::create_directories(dir_);
  }
  void TearDown() override { fs::remove_all(dir_); }

  std::string Write(const std::string& name, const std::string& bytes) {
    std::string path = (dir_ / name).string();
    std::ofstream(path, std::ios::binary) << bytes;
    return path;
  }
  Outcome ReadText(const std::string& name, const std::string& bytes, int stop_after_records = -1) {
    return ReadPath(Write(name, bytes), stop_after_records);
  }

  fs::path dir_;
};

// A minimal valid transcript; `person_extra` and `record_body` fill in the interesting part.
std::string Transcript(const std::string& id, const std::string& family,
                       const std::string& person_extra = "", const std::string& record_body = "") {
  return "<CollegeTranscript>\n"
         "<TransmissionData><DocumentID>DOC-" +
         id +
         "</DocumentID>"
         "<CreatedDateTime>2024-05-06T10:00:00</CreatedDateTime>"
         "<Source><Organization><OrganizationName>Test U</OrganizationName></Organization>"
         "</Source></TransmissionData>\n"
         "<Student><Person><SchoolAssignedPersonID>" +
         id +
         "</SchoolAssignedPersonID>"
         "<Name><FirstName>Ann</FirstName><LastName>" +
         family + "</LastName></Name>" + person_extra + "</Person>\n<AcademicRecord>" +
         record_body + "</AcademicRecord></Student>\n</CollegeTranscript>\n";
}

std::string Utf16(const std::string& ascii, bool little_endian) {
  std::string out;
  for (char c : ascii) {
    out += little_endian ? std::string{c, '\0'} : std::string{'\0', c};
  }
  return out;
}

std::size_t CourseCount(const CredentialRecord& record) {
  std::size_t count = 0;
  for (const auto& session : record.transcript.sessions) count += session.courses.size();
  return count;
}

// ---- Corpus: one test per file, and a guard that no file goes untested. ----

const std::set<std::string> kCoveredCorpusFiles = {
    "bcgov-grad-report/xml_report_sample.xml",
    "canpesc-cdl/Canada/Nova_Scotia/HighSchool/HighSchoolTranscript.xml",
    "canpesc-cdl/Canada/Nova_Scotia/HighSchool/HighSchoolTranscript2.xml",
    "canpesc-cdl/Canada/Nova_Scotia/HighSchool/HighSchoolTranscript3.xml",
    "canpesc-cdl/Canada/Nova_Scotia/University/UniversityTranscript1.xml",
    "canpesc-cdl/Canada/Nova_Scotia/University/UniversityTranscript2.xml",
    "canpesc-cdl/Canada/Ontario/College/CollegeTranscript.xml",
    "canpesc-cdl/Canada/Ontario/HighSchool/HighSchoolTranscript.xml",
    "canpesc-cdl/Canada/Ontario/University/UniversityTranscript.xml",
    "canpesc-cdl/Canada/Ontario/University/UniversityTranscript2.xml",
    "ccctc-college-adaptor/college-transcript.xml",
    "ccctc-college-adaptor/malformed-college-transcript.xml",
    "pesc-tab/ct-1.6.0/college-transcript.xml",
    "pesc-tab/ct-1.8.0/CollegeTranscriptInstance.xml",
    "pesc-tab/ct-1.9.0-draft/Mount Royal transcript.xml",
    "pesc-tab/ct-1.9.0-draft/ULeth transcript 1.xml",
    "pesc-tab/ct-1.9.0-draft/ULeth transcript 2.xml",
    "pesc-tab/ct-1.9.0-draft/college-transcript.xml",
    "pesc-tab/hs-1.7.0-draft/highschool-transcript.xml",
};

TEST(PescCorpusTest, EveryCorpusFileHasATest) {
  CREDD_REQUIRE_CORPUS();
  std::set<std::string> found;
  for (const auto& entry : fs::recursive_directory_iterator(CorpusRoot())) {
    if (entry.is_regular_file()) {
      found.insert(fs::relative(entry.path(), CorpusRoot()).generic_string());
    }
  }
  EXPECT_EQ(found, kCoveredCorpusFiles);
}

// High School transcripts, bare or batched: one unsupported-type error each, no record.
struct HighSchoolCase {
  std::string file;
  int line;  // Line of the HighSchoolTranscript start tag.
};

TEST(PescCorpusTest, HighSchoolTranscriptsAreUnsupported) {
  CREDD_REQUIRE_CORPUS();
  const std::vector<HighSchoolCase> cases = {
      {"bcgov-grad-report/xml_report_sample.xml", 6},  // Batch 1.0, wrong xsi URI.
      {"canpesc-cdl/Canada/Nova_Scotia/HighSchool/HighSchoolTranscript.xml", 3},    // UTF-16BE.
      {"canpesc-cdl/Canada/Nova_Scotia/HighSchool/HighSchoolTranscript2.xml", 27},  // Batch 2.1.
      {"canpesc-cdl/Canada/Nova_Scotia/HighSchool/HighSchoolTranscript3.xml", 1},
      {"canpesc-cdl/Canada/Ontario/HighSchool/HighSchoolTranscript.xml", 1},
      {"pesc-tab/hs-1.7.0-draft/highschool-transcript.xml", 3},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.file);
    Outcome outcome = ReadCorpus(c.file);
    ASSERT_TRUE(outcome.status.ok()) << outcome.Describe();
    EXPECT_TRUE(outcome.sink.records.empty());
    const std::string name = fs::path(c.file).filename().string();
    EXPECT_EQ(outcome.sink.errors,
              std::vector<std::string>{name + ":" + std::to_string(c.line) +
                                       ": HighSchoolTranscript" + kUnsupported});
  }
}

TEST(PescCorpusTest, MalformedSampleWithoutTransmissionDataIsRejected) {
  CREDD_REQUIRE_CORPUS();
  Outcome outcome = ReadCorpus("ccctc-college-adaptor/malformed-college-transcript.xml");
  ASSERT_TRUE(outcome.status.ok()) << outcome.Describe();
  EXPECT_TRUE(outcome.sink.records.empty());
  EXPECT_EQ(outcome.sink.errors,
            std::vector<std::string>{
                "malformed-college-transcript.xml:1: source_document_id: TransmissionData is "
                "missing (a transcript needs TransmissionData/DocumentID); student_id: no "
                "Student/Person/SchoolAssignedPersonID, AgencyAssignedID or RecipientAssignedID "
                "(SSN and SIN are never used as a student id)"});
}

// The UT Austin SPEEDE sample identifies the student by SSN only, which credd refuses.
TEST(PescCorpusTest, SsnOnlyTranscriptsAreRejected) {
  CREDD_REQUIRE_CORPUS();
  for (const std::string file : {"ccctc-college-adaptor/college-transcript.xml",
                                 "pesc-tab/ct-1.8.0/CollegeTranscriptInstance.xml"}) {
    SCOPED_TRACE(file);
    Outcome outcome = ReadCorpus(file);
    ASSERT_TRUE(outcome.status.ok()) << outcome.Describe();
    EXPECT_TRUE(outcome.sink.records.empty());
    const int line = file.find("1.8.0") != std::string::npos ? 4 : 1;
    EXPECT_EQ(
        outcome.sink.errors,
        std::vector<std::string>{fs::path(file).filename().string() + ":" + std::to_string(line) +
                                 ": student_id: no Student/Person/SchoolAssignedPersonID, "
                                 "AgencyAssignedID or RecipientAssignedID (SSN and SIN are "
                                 "never used as a student id)"});
  }
}

TEST(PescCorpusTest, NovaScotiaAtlanticSchoolOfTheology) {
  CREDD_REQUIRE_CORPUS();
  Outcome outcome =
      ReadCorpus("canpesc-cdl/Canada/Nova_Scotia/University/UniversityTranscript1.xml");
  ASSERT_TRUE(outcome.status.ok()) << outcome.Describe();
  ASSERT_EQ(outcome.sink.records.size(), 1u) << outcome.Describe();
  EXPECT_TRUE(outcome.sink.errors.empty());
  // Birthdate (wrong case) is read, with a warning; GeoCode is never read, so no warning.
  EXPECT_EQ(outcome.sink.warnings,
            std::vector<std::string>{"UniversityTranscript1.xml:46: element <Birthdate> should be "
                                     "spelled <BirthDate>; read it anyway"});
  const CredentialRecord& r = outcome.sink.records[0];
  EXPECT_EQ(r.line, 1);
  EXPECT_EQ(r.credential_type, "transcript");
  EXPECT_EQ(r.credential_title, "Official Transcript");
  EXPECT_EQ(r.student_id, "20080039");
  EXPECT_EQ(r.family_name, "Abman");
  EXPECT_EQ(r.given_names, "Sarah Emma");
  EXPECT_EQ(r.birth_date, "1978-08-31");
  EXPECT_EQ(r.source_document_id, "CNS120020002018091100001");
  EXPECT_EQ(r.issued_on, "2019-10-11");
  EXPECT_EQ(r.program, "MA (Theology and Religious Studies)");
  EXPECT_EQ(r.transcript.institution_name, "Atlantic School of Theology");
  ASSERT_EQ(r.transcript.sessions.size(), 8u);
  EXPECT_EQ(CourseCount(r), 18u);
  const AcademicSession& fall2008 = r.transcript.sessions[1];
  EXPECT_EQ(fall2008.name, "2008FALL");
  EXPECT_EQ(fall2008.start_date, "2008-09-08");
  EXPECT_EQ(fall2008.end_date, "2008-12-16");
  ASSERT_EQ(fall2008.courses.size(), 4u);
  EXPECT_EQ(fall2008.courses[0].number, "BF 1001");
  EXPECT_EQ(fall2008.courses[0].title, "Biblical Foundations: Hebrew Bible");
  EXPECT_EQ(fall2008.courses[0].grade, "A-");
  EXPECT_EQ(fall2008.courses[0].credits, "1.0");
  EXPECT_EQ(r.transcript.sessions[0].courses[0].remark, "Equivalence");
  ASSERT_EQ(r.transcript.awards.size(), 1u);
  EXPECT_EQ(r.transcript.awards[0].title, "MA (Theology and Religious Studies)");
  EXPECT_EQ(r.transcript.awards[0].date, "2012-05-05");
  EXPECT_TRUE(r.transcript.cumulative.empty());
}

TEST(PescCorpusTest, NovaScotiaMountSaintVincentWithUtf8Bom) {
  CREDD_REQUIRE_CORPUS();
  Outcome outcome =
      ReadCorpus("canpesc-cdl/Canada/Nova_Scotia/University/UniversityTranscript2.xml");
  ASSERT_TRUE(outcome.status.ok()) << outcome.Describe();
  ASSERT_EQ(outcome.sink.records.size(), 1u) << outcome.Describe();
  EXPECT_TRUE(outcome.sink.errors.empty());
  EXPECT_TRUE(outcome.sink.warnings.empty()) << outcome.Describe();
  const CredentialRecord& r = outcome.sink.records[0];
  EXPECT_EQ(r.line, 2);
  EXPECT_EQ(r.student_id, "0455739");  // The leading zero stays.
  EXPECT_EQ(r.family_name, "White");
  EXPECT_EQ(r.given_names, "Bradley James");
  EXPECT_EQ(r.birth_date, "1974-01-18");
  EXPECT_EQ(r.issued_on, "2019-07-11");
  EXPECT_EQ(r.transcript.institution_name, "Mount Saint Vincent University");
  ASSERT_EQ(r.transcript.sessions.size(), 2u);
  EXPECT_EQ(CourseCount(r), 16u);
  const Course& first = r.transcript.sessions[0].courses[0];
  EXPECT_EQ(first.subject + " " + first.number, "EDUC 5321");
  EXPECT_EQ(first.grade, "A+");
  EXPECT_EQ(first.credits, "0.50");
  EXPECT_EQ(r.transcript.sessions[0].gpa.gpa, "4.075");
  EXPECT_EQ(r.transcript.sessions[0].gpa.quality_points, "16.300");
  EXPECT_EQ(r.transcript.sessions[0].gpa.credits_attempted, "5.00");
  ASSERT_EQ(r.transcript.awards.size(), 1u);
  EXPECT_EQ(r.transcript.awards[0].program, "SECON - Secondary Education");
  EXPECT_EQ(r.program, "SECON - Secondary Education");
  // Its "All" summary has no GPA, and no session gives a cumulative one.
  EXPECT_TRUE(r.transcript.cumulative.empty());
}

TEST(PescCorpusTest, OntarioDemoCollege) {
  CREDD_REQUIRE_CORPUS();
  Outcome outcome = ReadCorpus("canpesc-cdl/Canada/Ontario/College/CollegeTranscript.xml");
  ASSERT_TRUE(outcome.status.ok()) << outcome.Describe();
  ASSERT_EQ(outcome.sink.records.size(), 1u) << outcome.Describe();
  const CredentialRecord& r = outcome.sink.records[0];
  EXPECT_EQ(r.student_id, "1111111111");
  EXPECT_EQ(r.family_name, "Learner");
  EXPECT_EQ(r.given_names, "Test");
  EXPECT_EQ(r.source_document_id, "123456789123456789");
  EXPECT_EQ(r.transcript.institution_name, "Demo College");
  // Nine sessions, plus the unnamed one holding the course outside any session.
  ASSERT_EQ(r.transcript.sessions.size(), 10u);
  EXPECT_EQ(CourseCount(r), 58u);
  EXPECT_EQ(r.transcript.sessions[9].name, "");
  EXPECT_EQ(r.transcript.sessions[9].courses.size(), 1u);
  const Course& first = r.transcript.sessions[0].courses[0];
  EXPECT_EQ(r.transcript.sessions[0].name, "2014 Fall Term");
  EXPECT_EQ(first.subject + " " + first.number + " " + first.grade + " " + first.credits,
            "CANS 100 C 0.0");
  EXPECT_EQ(r.transcript.awards.size(), 3u);
  EXPECT_EQ(r.program, "General Arts and Science");
}

TEST(PescCorpusTest, OntarioTorontoBatch) {
  CREDD_REQUIRE_CORPUS();
  Outcome outcome = ReadCorpus("canpesc-cdl/Canada/Ontario/University/UniversityTranscript.xml");
  ASSERT_TRUE(outcome.status.ok()) << outcome.Describe();
  ASSERT_EQ(outcome.sink.records.size(), 1u) << outcome.Describe();
  EXPECT_TRUE(outcome.sink.errors.empty());
  const CredentialRecord& r = outcome.sink.records[0];
  EXPECT_EQ(r.line, 21);
  EXPECT_EQ(r.student_id, "123456789");
  EXPECT_EQ(r.family_name, "Potter");
  EXPECT_EQ(r.given_names, "Harry");
  EXPECT_EQ(r.birth_date, "");
  EXPECT_EQ(r.source_document_id, "T4712626");
  EXPECT_EQ(r.issued_on, "2020-08-06");
  EXPECT_EQ(r.transcript.institution_name, "University of Toronto");
  ASSERT_EQ(r.transcript.sessions.size(), 21u);
  EXPECT_EQ(CourseCount(r), 55u);
  const Course& first = r.transcript.sessions[0].courses[0];
  EXPECT_EQ(first.subject + " " + first.number + " " + first.grade + " " + first.credits,
            "AST 101H1 60 0.50");
  // Session GPA is the sessional figure, not the running cumulative one after it.
  EXPECT_EQ(r.transcript.sessions[0].gpa.gpa, "1.70");
  EXPECT_EQ(r.transcript.sessions[1].gpa.gpa, "1.34");
  // Record level: UserDefined (sessional, annual) figures are skipped for Cumulative.
  EXPECT_EQ(r.transcript.cumulative.gpa, "2.72");
  ASSERT_EQ(r.transcript.awards.size(), 2u);
  EXPECT_EQ(r.transcript.awards[0].title, "Honours Bachelor of Arts");
  EXPECT_EQ(r.transcript.awards[0].program, "Anthropology");
}

TEST(PescCorpusTest, OntarioOttawa) {
  CREDD_REQUIRE_CORPUS();
  Outcome outcome = ReadCorpus("canpesc-cdl/Canada/Ontario/University/UniversityTranscript2.xml");
  ASSERT_TRUE(outcome.status.ok()) << outcome.Describe();
  ASSERT_EQ(outcome.sink.records.size(), 1u) << outcome.Describe();
  const CredentialRecord& r = outcome.sink.records[0];
  EXPECT_EQ(r.line, 2);
  EXPECT_EQ(r.student_id, "999999999");
  EXPECT_EQ(r.family_name, "Granger");
  EXPECT_EQ(r.given_names, "Hermione");
  EXPECT_EQ(r.source_document_id, "O2241161");
  EXPECT_EQ(r.transcript.institution_name, "University of Ottawa");
  ASSERT_EQ(r.transcript.sessions.size(), 9u);
  EXPECT_EQ(CourseCount(r), 40u);
  const Course& first = r.transcript.sessions[0].courses[0];
  EXPECT_EQ(first.subject + " " + first.number + " " + first.grade + " " + first.credits,
            "ANP 1505 C 3");
  EXPECT_EQ(r.transcript.sessions[1].gpa.gpa, "7.6");
  // No record-level summary: the last session's Cumulative summary stands in.
  EXPECT_EQ(r.transcript.cumulative.gpa, "8.49");
}

TEST(PescCorpusTest, MountRoyal) {
  CREDD_REQUIRE_CORPUS();
  Outcome outcome = ReadCorpus("pesc-tab/ct-1.9.0-draft/Mount Royal transcript.xml");
  ASSERT_TRUE(outcome.status.ok()) << outcome.Describe();
  ASSERT_EQ(outcome.sink.records.size(), 1u) << outcome.Describe();
  const CredentialRecord& r = outcome.sink.records[0];
  EXPECT_EQ(r.line, 2);
  EXPECT_EQ(r.student_id, "999999999");
  EXPECT_EQ(r.family_name, "Doe");
  EXPECT_EQ(r.given_names, "Jane");
  EXPECT_EQ(r.source_document_id, "CA000152022-12-08T14:23:06.91");
  EXPECT_EQ(r.issued_on, "2022-12-08");
  EXPECT_EQ(r.transcript.institution_name, "Board of Gov of Mt Royal Univ");
  ASSERT_EQ(r.transcript.sessions.size(), 13u);
  EXPECT_EQ(CourseCount(r), 41u);
  const Course& first = r.transcript.sessions[0].courses[0];
  EXPECT_EQ(first.subject + " " + first.number + " " + first.grade + " " + first.credits,
            "ECON 1101 A- 3");
  // "All" outranks the SenderOnly summary of the second AcademicRecord.
  EXPECT_EQ(r.transcript.cumulative.gpa, "3.81");
  ASSERT_EQ(r.transcript.awards.size(), 1u);
  EXPECT_EQ(r.transcript.awards[0].title, "Bachelor of Science - General Science");
  EXPECT_EQ(r.transcript.awards[0].program, "Bachelor of Science");
}

TEST(PescCorpusTest, LethbridgeOne) {
  CREDD_REQUIRE_CORPUS();
  Outcome outcome = ReadCorpus("pesc-tab/ct-1.9.0-draft/ULeth transcript 1.xml");
  ASSERT_TRUE(outcome.status.ok()) << outcome.Describe();
  ASSERT_EQ(outcome.sink.records.size(), 1u) << outcome.Describe();
  const CredentialRecord& r = outcome.sink.records[0];
  EXPECT_EQ(r.student_id, "888888888");
  EXPECT_EQ(r.family_name, "Doe");
  EXPECT_EQ(r.given_names, "John James");
  EXPECT_EQ(r.source_document_id, "001185279-DIGI-20230223105242");
  EXPECT_EQ(r.issued_on, "2023-02-23");
  ASSERT_EQ(r.transcript.sessions.size(), 25u);
  EXPECT_EQ(CourseCount(r), 53u);
  // The transfer block has no SessionName: its designator names it.
  EXPECT_EQ(r.transcript.sessions[0].name, "2015-09");
  const Course& first = r.transcript.sessions[1].courses[0];
  EXPECT_EQ(first.subject + " " + first.number + " " + first.grade + " " + first.credits,
            "BIOL 1010 A- 3");
  // Two untyped record-level summaries (Undergraduate, Graduate): the first wins.
  EXPECT_EQ(r.transcript.cumulative.gpa, "3.79");
  EXPECT_EQ(r.transcript.cumulative.quality_points, "420.3");
  ASSERT_EQ(r.transcript.awards.size(), 2u);
  EXPECT_EQ(r.transcript.awards[0].honors, "Great Distinction");
  EXPECT_EQ(r.transcript.awards[0].program, "BSc Biochemistry");
  EXPECT_EQ(r.program, "BSc Biochemistry");
}

TEST(PescCorpusTest, LethbridgeTwo) {
  CREDD_REQUIRE_CORPUS();
  Outcome outcome = ReadCorpus("pesc-tab/ct-1.9.0-draft/ULeth transcript 2.xml");
  ASSERT_TRUE(outcome.status.ok()) << outcome.Describe();
  ASSERT_EQ(outcome.sink.records.size(), 1u) << outcome.Describe();
  const CredentialRecord& r = outcome.sink.records[0];
  EXPECT_EQ(r.student_id, "777777777");
  EXPECT_EQ(r.family_name, "Mouse");
  EXPECT_EQ(r.given_names, "Mickey Donald");
  ASSERT_EQ(r.transcript.sessions.size(), 20u);
  EXPECT_EQ(CourseCount(r), 51u);
  const Course& first = r.transcript.sessions[0].courses[0];
  EXPECT_EQ(first.subject + " " + first.number + " " + first.grade + " " + first.credits,
            "BIOL 1010 A 3");
  EXPECT_EQ(r.transcript.cumulative.gpa, "3.57");
  EXPECT_EQ(r.transcript.awards[0].honors, "Distinction");
}

// Butte College, in 1.6 and 1.9: BirthDate "1995-01-01Z" is an xs:date with a zone.
TEST(PescCorpusTest, ButteCollegeBothVersions) {
  CREDD_REQUIRE_CORPUS();
  for (const std::string file : {"pesc-tab/ct-1.6.0/college-transcript.xml",
                                 "pesc-tab/ct-1.9.0-draft/college-transcript.xml"}) {
    SCOPED_TRACE(file);
    Outcome outcome = ReadCorpus(file);
    ASSERT_TRUE(outcome.status.ok()) << outcome.Describe();
    ASSERT_EQ(outcome.sink.records.size(), 1u) << outcome.Describe();
    const CredentialRecord& r = outcome.sink.records[0];
    EXPECT_EQ(r.line, 1);
    EXPECT_EQ(r.student_id, "0");
    EXPECT_EQ(r.family_name, "Doe");
    EXPECT_EQ(r.given_names, "John");
    EXPECT_EQ(r.birth_date, "1995-01-01");
    EXPECT_EQ(r.email, "john.doe@edexchange.edu");
    EXPECT_EQ(r.personal_email, "");
    EXPECT_EQ(r.source_document_id, "418");
    EXPECT_EQ(r.issued_on, "2017-06-05");
    EXPECT_EQ(r.transcript.institution_name, "Butte College");
    ASSERT_EQ(r.transcript.sessions.size(), 2u);
    EXPECT_EQ(CourseCount(r), 7u);
    EXPECT_EQ(r.transcript.sessions[0].name, "Fall Semester 2015");
    const Course& first = r.transcript.sessions[0].courses[0];
    EXPECT_EQ(first.subject + " " + first.number + " " + first.grade + " " + first.credits,
              "CISC 360 A 4.0");
    EXPECT_EQ(r.transcript.sessions[0].gpa.gpa, "4.00");
    EXPECT_EQ(r.transcript.sessions[0].gpa.credits_attempted, "13.0");
  }
}

// ---- Built inputs: structure, leniency, streaming. ----

TEST_F(PescImporterTest, BatchStreamsEachTranscriptBeforeLaterDamage) {
  // The batch breaks after two transcripts: both must already be handed over.
  std::string xml = "<AcademicRecordBatch><BatchContent>\n" + Transcript("001", "One") +
                    "<HighSchoolTranscript><x/></HighSchoolTranscript>\n" +
                    Transcript("002", "Two") + "<broken";
  Outcome outcome = ReadText("batch.xml", xml);
  ASSERT_FALSE(outcome.status.ok());
  EXPECT_EQ(outcome.status.error().ToString(), "batch.xml:13:1: unclosed token");
  ASSERT_EQ(outcome.sink.records.size(), 2u);
  EXPECT_EQ(outcome.sink.records[0].student_id, "001");
  EXPECT_EQ(outcome.sink.records[0].line, 2);
  EXPECT_EQ(outcome.sink.records[1].student_id, "002");
  EXPECT_EQ(outcome.sink.records[1].line, 8);
  EXPECT_EQ(outcome.sink.errors,
            std::vector<std::string>{"batch.xml:7: HighSchoolTranscript" + kUnsupported});
}

TEST_F(PescImporterTest, SinkCanStopEarly) {
  std::string xml = "<AcademicRecordBatch>" + Transcript("1", "A") + Transcript("2", "B") +
                    Transcript("3", "C") + "</AcademicRecordBatch>";
  Outcome outcome = ReadText("stop.xml", xml, 2);
  ASSERT_TRUE(outcome.status.ok()) << outcome.Describe();
  EXPECT_EQ(outcome.sink.records.size(), 2u);
}

TEST_F(PescImporterTest, MissingFamilyNameIsRejectedAndReadingGoesOn) {
  std::string xml = "<AcademicRecordBatch>\n" + Transcript("1", "") + Transcript("2", "B") +
                    "</AcademicRecordBatch>";
  Outcome outcome = ReadText("names.xml", xml);
  ASSERT_TRUE(outcome.status.ok()) << outcome.Describe();
  EXPECT_EQ(outcome.sink.errors,
            std::vector<std::string>{
                "names.xml:2: family_name: Student/Person/Name/LastName is missing or empty"});
  ASSERT_EQ(outcome.sink.records.size(), 1u);
  EXPECT_EQ(outcome.sink.records[0].student_id, "2");
}

TEST_F(PescImporterTest, IdPrecedenceEntitiesDatesLocaleAndEmails) {
  std::string xml =
      "<ns:CollegeTranscript xmlns:ns='urn:x'>"
      "<TransmissionData><DocumentID> D&amp;1 </DocumentID><DocumentOfficialCode>Unofficial"
      "</DocumentOfficialCode></TransmissionData>\n"
      "<Student><Person><RecipientAssignedID>R9</RecipientAssignedID>"
      "<AgencyAssignedID>007</AgencyAssignedID>"
      "<Birth><BirthDate>--08-31</BirthDate></Birth>\n"
      "<Name><FirstName>Zo&#233;</FirstName><MiddleName/><LastName><![CDATA[O'Brien & Co]]>"
      "</LastName></Name>"
      "<Contacts><Email><EmailAddress>a@u.ca</EmailAddress></Email></Contacts>"
      "<Contacts><Email><EmailAddress>b@home.ca</EmailAddress></Email></Contacts>"
      "<Language><LanguageCode>FRE</LanguageCode></Language></Person>\n"
      "<AcademicRecord><Course><CourseNumber>X1</CourseNumber><CourseCreditValue>3.00"
      "</CourseCreditValue><CourseAcademicGrade>P</CourseAcademicGrade></Course>"
      "</AcademicRecord></Student></ns:CollegeTranscript>";
  Outcome outcome = ReadText("misc.xml", xml);
  ASSERT_TRUE(outcome.status.ok()) << outcome.Describe();
  ASSERT_EQ(outcome.sink.records.size(), 1u) << outcome.Describe();
  const CredentialRecord& r = outcome.sink.records[0];
  EXPECT_EQ(r.student_id, "007");  // AgencyAssignedID before RecipientAssignedID.
  EXPECT_EQ(r.source_document_id, "D&1");
  EXPECT_EQ(r.credential_title, "Unofficial Transcript");
  EXPECT_EQ(r.given_names, "Zo\xC3\xA9");
  EXPECT_EQ(r.family_name, "O'Brien & Co");
  EXPECT_EQ(r.birth_date, "");
  EXPECT_EQ(r.email, "a@u.ca");
  EXPECT_EQ(r.personal_email, "b@home.ca");
  EXPECT_EQ(r.preferred_locale, "fr");
  ASSERT_EQ(r.transcript.sessions.size(), 1u);
  EXPECT_EQ(r.transcript.sessions[0].courses[0].credits, "3.00");
  EXPECT_EQ(outcome.sink.warnings,
            (std::vector<std::string>{
                "misc.xml:1: issued_on: TransmissionData/CreatedDateTime is missing",
                "misc.xml:1: TransmissionData/Source/Organization/OrganizationName is missing",
                "misc.xml:2: birth_date: <BirthDate> '--08-31' is not a full date (YYYY-MM-DD); "
                "left empty"}));
}

TEST_F(PescImporterTest, WrongCaseRootIsAcceptedWithAWarning) {
  std::string xml = Transcript("5", "Case");
  xml.replace(xml.find("<CollegeTranscript>"), 19, "<collegetranscript>");
  xml.replace(xml.rfind("</CollegeTranscript>"), 20, "</collegetranscript>");
  Outcome outcome = ReadText("case.xml", xml);
  ASSERT_TRUE(outcome.status.ok()) << outcome.Describe();
  EXPECT_EQ(outcome.sink.records.size(), 1u);
  EXPECT_EQ(outcome.sink.warnings,
            std::vector<std::string>{"case.xml:1: element <collegetranscript> should be spelled "
                                     "<CollegeTranscript>; read it anyway"});
}

// ---- Hostile and broken inputs: the exact file-level error each must produce. ----

// A DTD is reported where expat has read the DOCTYPE name (the column after it).
struct BadCase {
  std::string name;
  std::string bytes;
  std::string expected;  // Error::ToString(): "where: message".
};

TEST_F(PescImporterTest, BadFilesAreRejectedWithExactLocation) {
  const std::string tiny = Transcript("1", "A");
  const std::vector<BadCase> cases = {
      {"empty.xml", "", "empty.xml: the file is empty"},
      {"doctype.xml", "<?xml version=\"1.0\"?>\n<!DOCTYPE CollegeTranscript>\n" + tiny,
       "doctype.xml:2:28: DTDs are not allowed"},
      {"param.xml", "<!DOCTYPE x [\n<!ENTITY % p SYSTEM \"file:///etc/passwd\">\n%p;\n]>\n<x/>",
       "param.xml:1:13: DTDs are not allowed"},
      {"truncated.xml", tiny.substr(0, 200), "truncated.xml:2:168: unclosed token"},
      {"garbage.xml", std::string("\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR", 16),
       "garbage.xml:1:1: not well-formed (invalid token)"},
      {"undeclared.xml", "<CollegeTranscript>&xxe;</CollegeTranscript>",
       "undeclared.xml:1:20: undefined entity"},
      {"root.xml", "<?xml version=\"1.0\"?>\n  <Transcript/>",
       "root.xml:2:3: root element <Transcript> is not a PESC CollegeTranscript or "
       "AcademicRecordBatch"},
      {"two-roots.xml", tiny + tiny, "two-roots.xml:6:1: junk after document element"},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.name);
    Outcome outcome = ReadText(c.name, c.bytes);
    ASSERT_FALSE(outcome.status.ok()) << outcome.Describe();
    EXPECT_EQ(outcome.status.error().code, ErrorCode::kData);
    EXPECT_EQ(outcome.status.error().ToString(), c.expected);
  }
}

long PeakRssKb() {
  rusage usage{};
  getrusage(RUSAGE_SELF, &usage);
  return usage.ru_maxrss;
}

TEST_F(PescImporterTest, BillionLaughsIsRejectedFastInLittleMemory) {
  std::string xml = "<?xml version=\"1.0\"?>\n<!DOCTYPE lolz [\n<!ENTITY lol \"lol\">\n";
  for (int i = 1; i <= 9; ++i) {
    std::string prev = i == 1 ? "lol" : "lol" + std::to_string(i - 1);
    xml += "<!ENTITY lol" + std::to_string(i) + " \"";
    for (int j = 0; j < 10; ++j) xml += "&" + prev + ";";
    xml += "\">\n";
  }
  xml += "]>\n<CollegeTranscript>&lol9;</CollegeTranscript>\n";
  std::string path = Write("lolz.xml", xml);
  const long rss_before = PeakRssKb();
  const auto start = std::chrono::steady_clock::now();
  Outcome outcome = ReadPath(path);
  const auto elapsed = std::chrono::steady_clock::now() - start;
  const long rss_growth_kb = PeakRssKb() - rss_before;
  // Printed, not asserted: timing assertions flake on shared machines.
  std::printf("billion laughs rejected in %.3f ms; peak RSS grew by %ld KiB\n",
              std::chrono::duration<double, std::milli>(elapsed).count(), rss_growth_kb);
  ASSERT_FALSE(outcome.status.ok());
  EXPECT_EQ(outcome.status.error().ToString(), "lolz.xml:2:16: DTDs are not allowed");
  EXPECT_TRUE(outcome.sink.records.empty());
  EXPECT_LT(rss_growth_kb, 64 * 1024);
}

TEST_F(PescImporterTest, ExternalEntityToLocalFileIsRefusedAndNeverRead) {
  std::string xml =
      "<?xml version=\"1.0\"?>\n<!DOCTYPE CollegeTranscript [\n"
      "<!ENTITY xxe SYSTEM \"file:///etc/passwd\">\n]>\n" +
      Transcript("1", "&xxe;");
  Outcome outcome = ReadText("xxe.xml", xml);
  ASSERT_FALSE(outcome.status.ok());
  EXPECT_EQ(outcome.status.error().ToString(), "xxe.xml:2:29: DTDs are not allowed");
  EXPECT_TRUE(outcome.sink.records.empty());
  const std::string everything = outcome.Describe();
  EXPECT_EQ(everything.find("root:"), std::string::npos) << everything;
}

TEST_F(PescImporterTest, HugeTextNodeIsRefused) {
  std::string note(2 * 1024 * 1024, 'x');
  std::string xml = Transcript("1", "A", "<NoteMessage>" + note + "</NoteMessage>");
  Outcome outcome = ReadText("huge.xml", xml);
  ASSERT_FALSE(outcome.status.ok());
  EXPECT_EQ(outcome.status.error().ToString(),
            "huge.xml:3:1048346: text of <NoteMessage> is longer than 1048576 bytes");
  EXPECT_TRUE(outcome.sink.records.empty());
}

// ---- Limits (importers/pesc/pesc_limits.h): each refused with the file, and the line and
// column where the offending element or token starts. ----

struct LimitCase {
  std::string name;
  std::string bytes;
  PescLimits limits;
  std::string expected;  // Error::ToString().
};

PescLimits SmallLimits() {
  PescLimits limits;
  limits.max_file_bytes = 4u << 20;
  limits.max_token_bytes = 256u << 10;
  limits.max_depth = 16;
  return limits;
}

TEST_F(PescImporterTest, InputsOverALimitAreRefusedWithTheirLocation) {
  const std::string head = "<?xml version=\"1.0\"?>\n<CollegeTranscript>\n";
  std::string deep = head;
  for (int i = 0; i < 20; ++i) deep += "<a>";
  std::string deep_in_skipped = "<AcademicRecordBatch>\n<HighSchoolTranscript>";
  for (int i = 0; i < 20; ++i) deep_in_skipped += "<b>";
  PescLimits exact_depth = SmallLimits();
  exact_depth.max_depth = 21;  // The root plus 20 <a>: allowed, so the file ends unclosed.
  const std::vector<LimitCase> cases = {
      // An unterminated comment, attribute or processing instruction: expat would buffer it
      // whole; it is refused once the unfinished token passes max_token_bytes.
      {"comment.xml", head + "<!-- " + std::string(1u << 20, 'c'), SmallLimits(),
       "comment.xml:3:1: a single markup token (comment, tag or attribute) is longer than "
       "262144 bytes"},
      {"attribute.xml", head + "<Note text='" + std::string(1u << 20, 'v'), SmallLimits(),
       "attribute.xml:3:1: a single markup token (comment, tag or attribute) is longer than "
       "262144 bytes"},
      {"pi.xml", "<?pi " + std::string(1u << 20, 'p'), SmallLimits(),
       "pi.xml:1:1: a single markup token (comment, tag or attribute) is longer than 262144 "
       "bytes"},
      // A complete but huge attribute is one start tag: the same limit.
      {"closed-attribute.xml", head + "<Note text='" + std::string(1u << 20, 'v') + "'/>",
       SmallLimits(),
       "closed-attribute.xml:3:1: a single markup token (comment, tag or attribute) is longer "
       "than 262144 bytes"},
      {"deep.xml", deep, SmallLimits(), "deep.xml:3:46: elements are nested more than 16 deep"},
      {"deep-skipped.xml", deep_in_skipped, SmallLimits(),
       "deep-skipped.xml:2:65: elements are nested more than 16 deep"},
      {"deep-ok.xml", deep, exact_depth, "deep-ok.xml:3:61: no element found"},
      {"big.xml", head + std::string(5u << 20, ' '), SmallLimits(),
       "big.xml: the file is larger than the limit of 4194304 bytes"},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.name);
    Outcome outcome = ReadPath(Write(c.name, c.bytes), -1, c.limits);
    ASSERT_FALSE(outcome.status.ok()) << outcome.Describe();
    EXPECT_EQ(outcome.status.error().code, ErrorCode::kData);
    EXPECT_EQ(outcome.status.error().ToString(), c.expected);
    EXPECT_TRUE(outcome.sink.records.empty());
  }
}

TEST_F(PescImporterTest, TwoMillionDeepDocumentIsRefusedAtTheDefaultDepthLimit) {
  std::string xml = "<CollegeTranscript>";
  xml.reserve(xml.size() + 2000000 * 3);
  for (int i = 0; i < 2000000; ++i) xml += "<a>";
  std::string path = Write("deep.xml", xml);
  const long rss_before = PeakRssKb();
  Outcome outcome = ReadPath(path);
  const long rss_growth_kb = PeakRssKb() - rss_before;
  ASSERT_FALSE(outcome.status.ok());
  EXPECT_EQ(outcome.status.error().ToString(),
            "deep.xml:1:785: elements are nested more than 256 deep");
  EXPECT_LT(rss_growth_kb, 64 * 1024);
}

TEST_F(PescImporterTest, UnterminatedHugeCommentIsRefusedAtTheDefaultTokenLimit) {
  // 20 MiB of comment that never ends: refused after 16 MiB, without holding the rest.
  std::string xml = Transcript("1", "A");
  xml.insert(xml.find("<Student>"), "<!-- " + std::string(20u << 20, 'x'));
  std::string path = Write("comment.xml", xml);
  const long rss_before = PeakRssKb();
  Outcome outcome = ReadPath(path);
  const long rss_growth_kb = PeakRssKb() - rss_before;
  ASSERT_FALSE(outcome.status.ok());
  EXPECT_EQ(outcome.status.error().ToString(),
            "comment.xml:3:1: a single markup token (comment, tag or attribute) is longer than "
            "16777216 bytes");
  EXPECT_LT(rss_growth_kb, 96 * 1024);
}

TEST_F(PescImporterTest, FileOverTheDefaultSizeLimitIsRefusedBeforeParsing) {
  // Sparse: 257 MiB on paper, nothing on disk; the size alone refuses it.
  std::string path = Write("huge.xml", Transcript("1", "A"));
  ASSERT_EQ(::truncate(path.c_str(), (256 << 20) + 1), 0);
  Outcome outcome = ReadPath(path);
  ASSERT_FALSE(outcome.status.ok());
  EXPECT_EQ(outcome.status.error().ToString(),
            "huge.xml: the file is larger than the limit of 268435456 bytes");
  EXPECT_TRUE(outcome.sink.records.empty());
}

TEST(XmlElementTest, DeepTreeIsDestroyedWithoutRecursion) {
  // Recursive destruction needs a stack frame per level: a million levels overflow an
  // 8 MiB stack even at -O2 (and far fewer do under AddressSanitizer or on a thread stack).
  auto root = std::make_unique<pesc::XmlElement>();
  pesc::XmlElement* at = root.get();
  for (int i = 0; i < 1000000; ++i) {
    at->children.push_back(std::make_unique<pesc::XmlElement>());
    at = at->children.back().get();
  }
  root.reset();
  SUCCEED();
}

TEST_F(PescImporterTest, Utf16WithoutBomButDeclaredIsReadWithAWarning) {
  std::string xml = "<?xml version=\"1.0\" encoding=\"UTF-16\"?>\n" + Transcript("42", "Lee");
  Outcome outcome = ReadText("utf16.xml", Utf16(xml, true));
  ASSERT_TRUE(outcome.status.ok()) << outcome.Describe();
  ASSERT_EQ(outcome.sink.records.size(), 1u);
  EXPECT_EQ(outcome.sink.records[0].student_id, "42");
  EXPECT_EQ(outcome.sink.records[0].line, 2);
  EXPECT_EQ(outcome.sink.warnings,
            std::vector<std::string>{"utf16.xml:1: UTF-16 without a byte order mark; encoding "
                                     "detected from the first bytes"});
}

TEST_F(PescImporterTest, Utf16BigEndianBomOverridesUtf8Declaration) {
  std::string xml = "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n" + Transcript("43", "Kim");
  Outcome outcome = ReadText("be.xml", "\xFE\xFF" + Utf16(xml, false));
  ASSERT_TRUE(outcome.status.ok()) << outcome.Describe();
  ASSERT_EQ(outcome.sink.records.size(), 1u);
  EXPECT_EQ(outcome.sink.records[0].family_name, "Kim");
  EXPECT_TRUE(outcome.sink.warnings.empty());
}

TEST_F(PescImporterTest, MissingFileIsNoInput) {
  PescImporter importer;
  CollectingSink sink("nope.xml");
  Status status = importer.Read(ImportInput{(dir_ / "nope.xml").string(), "nope.xml"}, sink);
  ASSERT_FALSE(status.ok());
  EXPECT_EQ(status.error().code, ErrorCode::kNoInput);
  EXPECT_EQ(status.error().ToString(), "nope.xml: cannot open: No such file or directory");
}

}  // namespace
}  // namespace credd
