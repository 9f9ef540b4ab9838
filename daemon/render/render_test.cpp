// Tests for Renderer: every PESC College Transcript in the corpus rendered in EN and FR and
// read back with pdftotext, checked with qpdf and pdffonts; diplomas; names in Latin,
// Vietnamese and Syllabics; uncovered scripts rejected; determinism; pagination.
#include <gtest/gtest.h>
#include <sys/wait.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <regex>
#include <sstream>
#include <string>
#include <vector>

#include "daemon/render/renderer.h"
#include "importers/pesc/pesc_importer.h"
#include "tests/support/command.h"
#include "tests/support/corpus.h"

namespace credd {
namespace {

namespace fs = std::filesystem;

std::string CorpusRoot() { return credd::test_corpus::CorpusDir() + "/pesc-xml"; }
const std::string kTemplates = CREDD_TEMPLATES_DIR;
constexpr const char* kIssuedAt = "2026-11-28T14:03:00Z";

using test_support::CommandResult;
using test_support::RunCommand;

// Collapses runs of spaces (pdftotext -layout pads columns) and no-break spaces.
std::string Squeeze(const std::string& text) {
  std::string spaced = std::regex_replace(text, std::regex("\xC2\xA0"), " ");
  return std::regex_replace(spaced, std::regex("[ \t]+"), " ");
}

std::vector<std::string> Lines(const std::string& text) {
  std::vector<std::string> lines;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) lines.push_back(Squeeze(line));
  return lines;
}

// True when one line holds every part, in order.
bool LineHas(const std::vector<std::string>& lines, const std::vector<std::string>& parts) {
  for (const auto& line : lines) {
    std::size_t at = 0;
    bool all = true;
    for (const auto& part : parts) {
      at = line.find(part, at);
      if (at == std::string::npos) {
        all = false;
        break;
      }
      at += part.size();
    }
    if (all) return true;
  }
  return false;
}

class CollectingSink : public RecordSink {
 public:
  bool OnRecord(CredentialRecord record) override {
    records.push_back(std::move(record));
    return true;
  }
  bool OnError(RecordError) override { return true; }
  void OnWarning(RecordError) override {}
  std::vector<CredentialRecord> records;
};

Branding TestBranding() {
  Branding branding;
  branding.name_en = "Université Example University";
  branding.name_fr = "Université Example University";
  branding.signatories = {{"Marie-Ève Tremblay", "Registrar", "Registraire"},
                          {"Jonathan Okafor", "President", "Recteur"}};
  branding.grading_legend_en = {"A+ 4.3 · A 4.0 · A- 3.7 · B+ 3.3 · B 3.0 · C 2.0 · D 1.0 · F 0",
                                "P Pass · W Withdrawn · TR Transfer credit"};
  branding.grading_legend_fr = {"A+ 4,3 · A 4,0 · A- 3,7 · B+ 3,3 · B 3,0 · C 2,0 · D 1,0 · F 0",
                                "P Réussite · W Abandon · TR Crédit de transfert"};
  return branding;
}

CredentialRecord Diploma(std::string given, std::string family) {
  CredentialRecord record;
  record.line = 7;
  record.student_id = "00123456";
  record.given_names = std::move(given);
  record.family_name = std::move(family);
  record.credential_type = "diploma";
  record.credential_title = "Bachelor of Science";
  record.program = "Computer Science";
  record.issued_on = "2026-06-01";
  return record;
}

// A transcript long enough for three pages: 8 sessions of 15 courses.
CredentialRecord LongTranscript() {
  CredentialRecord record = Diploma("Zoë", "Lévesque-O'Brien");
  record.credential_type = "transcript";
  record.credential_title = "Official Transcript";
  record.birth_date = "2001-03-14";
  const char* subjects[] = {"MATH", "PHYS", "CHEM", "HIST", "FREN"};
  const char* grades[] = {"A+", "A", "A-", "B+", "B", "C", "P", "W"};
  for (int s = 0; s < 8; ++s) {
    AcademicSession session;
    session.name = (s % 2 == 0 ? "Fall " : "Winter ") + std::to_string(2019 + (s + 1) / 2);
    std::string year = std::to_string(2019 + (s + 1) / 2);
    session.start_date = year + (s % 2 == 0 ? "-09-03" : "-01-06");
    session.end_date = year + (s % 2 == 0 ? "-12-20" : "-04-28");
    for (int c = 0; c < 15; ++c) {
      Course course;
      course.subject = subjects[c % 5];
      course.number = std::to_string(100 + s * 100 + c);
      course.title = c % 4 == 0 ? "Advanced Topics in Something With a Rather Long Course Title "
                                  "That Wraps Onto a Second Line"
                                : "Introduction to Course " + std::to_string(c);
      course.credits = "3.00";
      course.grade = grades[(s + c) % 8];
      session.courses.push_back(course);
    }
    session.gpa = {"45.00", "45.00", "155.10", "3.45"};
    record.transcript.sessions.push_back(session);
  }
  record.transcript.cumulative = {"360.00", "351.00", "1211.40", "3.45"};
  record.transcript.awards.push_back(
      {"Bachelor of Science", "Physics", "2023-05-30", "With Distinction"});
  return record;
}

class RenderTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    auto created = Renderer::Create(kTemplates);
    ASSERT_TRUE(created) << created.error().ToString();
    renderer_ = std::move(created).value().release();
  }
  static void TearDownTestSuite() {
    delete renderer_;
    renderer_ = nullptr;
  }

  void SetUp() override {
    const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
    dir_ = fs::path(::testing::TempDir()) / ("render_" + std::string(info->name()));
    fs::remove_all(dir_);
    fs::create_directories(dir_);
  }

  Result<std::string> Render(const CredentialRecord& record, const std::string& locale,
                             const std::string& ref = "x.csv:7") {
    return renderer_->Render(
        RenderRequest{&record, locale, "DOC-2026-000123", kIssuedAt, &branding_, ref});
  }

  // Writes the PDF, returns its path.
  std::string Save(const std::string& pdf, const std::string& name) {
    std::string path = (dir_ / name).string();
    std::ofstream(path, std::ios::binary) << pdf;
    return path;
  }

  static std::string Text(const std::string& path) {
    return RunCommand("pdftotext -layout '" + path + "' -").output;
  }

  // qpdf finds the file sound, and every font is embedded and is one of ours.
  static void ExpectValidPdf(const std::string& path) {
    CommandResult check = RunCommand("qpdf --check '" + path + "'");
    EXPECT_EQ(check.exit_code, 0) << check.output;
    EXPECT_EQ(check.output.find("WARNING"), std::string::npos) << check.output;
    CommandResult fonts = RunCommand("pdffonts '" + path + "'");
    ASSERT_EQ(fonts.exit_code, 0) << fonts.output;
    std::vector<std::string> rows = Lines(fonts.output);
    ASSERT_GT(rows.size(), 2u) << fonts.output;
    for (std::size_t i = 2; i < rows.size(); ++i) {
      if (rows[i].empty()) continue;
      std::istringstream in(rows[i]);
      std::vector<std::string> cells;
      for (std::string cell; in >> cell;) cells.push_back(cell);
      ASSERT_GE(cells.size(), 7u) << rows[i];
      EXPECT_EQ(cells[cells.size() - 5], "yes") << "not embedded: " << rows[i];
      EXPECT_EQ(cells[cells.size() - 4], "yes") << "not subset: " << rows[i];
      EXPECT_NE(cells[0].find("NotoSans"), std::string::npos) << rows[i];
    }
  }

  static Renderer* renderer_;
  Branding branding_ = TestBranding();
  fs::path dir_;
};

Renderer* RenderTest::renderer_ = nullptr;

TEST_F(RenderTest, EveryCorpusCollegeTranscriptInEnglishAndFrench) {
  CREDD_REQUIRE_CORPUS();
  int rendered = 0;
  for (const auto& entry : fs::recursive_directory_iterator(CorpusRoot())) {
    if (entry.path().extension() != ".xml") continue;
    CollectingSink sink;
    PescImporter importer;
    std::string name = entry.path().filename().string();
    (void)importer.Read(ImportInput{entry.path().string(), name}, sink);
    for (const auto& record : sink.records) {
      for (const std::string locale : {"en", "fr"}) {
        SCOPED_TRACE(entry.path().string() + " " + locale);
        std::string ref = name + ":" + std::to_string(record.line);
        auto pdf = Render(record, locale, ref);
        ASSERT_TRUE(pdf) << pdf.error().ToString();
        std::string path =
            Save(*pdf, name + "." + std::to_string(record.line) + "." + locale + ".pdf");
        std::vector<std::string> lines = Lines(Text(path));
        std::string full_name = record.given_names.empty()
                                    ? record.family_name
                                    : record.given_names + " " + record.family_name;
        EXPECT_TRUE(LineHas(lines, {Squeeze(full_name)})) << full_name;
        EXPECT_TRUE(LineHas(lines, {record.student_id}));
        int courses = 0;
        for (const auto& session : record.transcript.sessions) {
          for (const auto& course : session.courses) {
            std::string code = course.subject.empty()  ? course.number
                               : course.number.empty() ? course.subject
                                                       : course.subject + " " + course.number;
            std::vector<std::string> row = {Squeeze(code)};
            if (!course.credits.empty()) row.push_back(course.credits);
            if (!course.grade.empty()) row.push_back(course.grade);
            EXPECT_TRUE(LineHas(lines, row)) << "row " << code << " " << course.grade;
            ++courses;
          }
        }
        const std::string& gpa = record.transcript.cumulative.gpa;
        if (!gpa.empty()) {
          std::string label = locale == "en" ? "Cumulative GPA" : "Moyenne cumulative";
          EXPECT_TRUE(LineHas(lines, {label, gpa})) << "cumulative GPA " << gpa;
        }
        EXPECT_TRUE(LineHas(lines, {locale == "en" ? "Page 1 of" : "Page 1 de"}));
        EXPECT_TRUE(LineHas(lines, {"DOC-2026-000123"}));
        ExpectValidPdf(path);
        if (locale == "en")
          std::printf("  %s:%d: %d courses, GPA '%s'\n", name.c_str(), record.line, courses,
                      gpa.c_str());
      }
      ++rendered;
    }
  }
  // The corpus README lists nine College Transcripts the importer accepts, several more
  // inside batches; fewer means the importer or the corpus changed under us.
  EXPECT_GE(rendered, 9);
}

TEST_F(RenderTest, IssueDateAndLabelsFollowTheLocale) {
  CredentialRecord record = LongTranscript();
  auto en = Render(record, "en");
  auto fr = Render(record, "fr");
  ASSERT_TRUE(en && fr);
  std::string en_text = Squeeze(Text(Save(*en, "en.pdf")));
  std::string fr_text = Squeeze(Text(Save(*fr, "fr.pdf")));
  for (const char* expected :
       {"Official Transcript", "Issued on: November 28, 2026", "Document ID: DOC-2026-000123",
        "Verify at: https://credentials.example.edu/verify/DOC-2026-000123", "Student ID: 00123456",
        "Cumulative GPA: 3.45", "Awards", "Grading legend", "Date of birth: March 14, 2001"}) {
    EXPECT_NE(en_text.find(expected), std::string::npos) << expected;
  }
  for (const char* expected :
       {"Relevé de notes officiel", "Délivré le : 28 novembre 2026",
        "Identifiant du document : DOC-2026-000123",
        "Vérifier à : https://credentials.example.edu/verify/", "Numéro d'étudiant : 00123456",
        "Moyenne cumulative : 3.45", "Distinctions", "Barème de notation",
        "du 3 septembre 2019 au 20 décembre 2019"}) {
    EXPECT_NE(fr_text.find(expected), std::string::npos) << expected;
  }
}

TEST_F(RenderTest, LongTranscriptFlowsAcrossPagesWithRepeatedHeader) {
  CredentialRecord record = LongTranscript();
  auto pdf = Render(record, "en");
  ASSERT_TRUE(pdf) << pdf.error().ToString();
  std::string path = Save(*pdf, "long.pdf");
  ExpectValidPdf(path);
  std::string text = Text(path);
  std::vector<std::string> pages;
  std::istringstream in(text);
  for (std::string page; std::getline(in, page, '\f');) {
    if (!Squeeze(page).empty() && page.find_first_not_of(" \n") != std::string::npos) {
      pages.push_back(page);
    }
  }
  ASSERT_GE(pages.size(), 3u) << text;
  std::string total = std::to_string(pages.size());
  for (std::size_t i = 0; i < pages.size(); ++i) {
    std::vector<std::string> lines = Lines(pages[i]);
    SCOPED_TRACE("page " + std::to_string(i + 1));
    EXPECT_TRUE(LineHas(lines, {"Page " + std::to_string(i + 1) + " of " + total}));
    EXPECT_TRUE(LineHas(lines, {"Verify at"}));
    bool has_rows = false;
    for (const auto& line : lines)
      has_rows =
          has_rows || std::regex_search(line, std::regex("^ ?(MATH|PHYS|CHEM|HIST|FREN) \\d+"));
    if (has_rows) {
      EXPECT_TRUE(LineHas(lines, {"Course", "Title", "Credits", "Grade"}));
    }
    if (i > 0) {
      EXPECT_TRUE(LineHas(lines, {"Zoë Lévesque-O'Brien", "Student ID: 00123456"}));
    }
  }
  // Every row appears exactly once: none lost, none split or repeated.
  for (const auto& session : record.transcript.sessions) {
    for (const auto& course : session.courses) {
      std::string code = course.subject + " " + course.number + " ";
      std::size_t count = 0;
      for (const auto& line : Lines(text)) count += line.find(code) != std::string::npos;
      EXPECT_EQ(count, 1u) << code;
    }
  }
  EXPECT_NE(Squeeze(text).find("(continued)"), std::string::npos);
}

TEST_F(RenderTest, DiplomasInEnglishAndFrench) {
  CredentialRecord record = Diploma("Zoë", "Lévesque-O'Brien");
  auto en = Render(record, "en");
  auto fr = Render(record, "fr");
  ASSERT_TRUE(en) << en.error().ToString();
  ASSERT_TRUE(fr) << fr.error().ToString();
  std::string en_path = Save(*en, "diploma.en.pdf");
  std::string fr_path = Save(*fr, "diploma.fr.pdf");
  ExpectValidPdf(en_path);
  ExpectValidPdf(fr_path);
  std::string en_text = Squeeze(Text(en_path));
  std::string fr_text = Squeeze(Text(fr_path));
  for (const char* expected :
       {"Zoë Lévesque-O'Brien", "Bachelor of Science", "in Computer Science",
        "Conferred on June 1, 2026", "Marie-Ève Tremblay", "Registrar", "DOC-2026-000123",
        "Verify at: https://credentials.example.edu/verify/DOC-2026-000123"}) {
    EXPECT_NE(en_text.find(expected), std::string::npos) << expected << "\n" << en_text;
  }
  for (const char* expected :
       {"Zoë Lévesque-O'Brien", "Nous certifions que", "Programme : Computer Science",
        "Décerné le 1er juin 2026", "Registraire", "Identifiant du document : DOC-2026-000123"}) {
    EXPECT_NE(fr_text.find(expected), std::string::npos) << expected << "\n" << fr_text;
  }
  EXPECT_EQ(RunCommand("pdfinfo '" + en_path + "' | grep -c 'Page size:.*792 x 612'").output,
            "1\n");
}

// A title the institution wrote on two lines is shown on two lines, in its order; the PDF's
// metadata title, which is one line, joins them.
TEST_F(RenderTest, ATitleWrittenOnTwoLinesIsShownOnTwoLines) {
  CredentialRecord record = Diploma("Zoë", "Lévesque-O'Brien");
  record.credential_title = "Diplôme d'études collégiales\nTechniques de soins infirmiers";
  auto pdf = Render(record, "fr");
  ASSERT_TRUE(pdf) << pdf.error().ToString();
  const std::string path = Save(*pdf, "two-lines.pdf");
  ExpectValidPdf(path);
  std::vector<std::string> lines;
  for (const std::string& line : Lines(Text(path))) {
    const std::string squeezed = Squeeze(line);
    if (squeezed.find("Diplôme d'études") != std::string::npos ||
        squeezed.find("Techniques de soins") != std::string::npos) {
      lines.push_back(squeezed);
    }
  }
  ASSERT_EQ(lines.size(), 2u) << Text(path);
  EXPECT_NE(lines[0].find("Diplôme d'études collégiales"), std::string::npos) << lines[0];
  EXPECT_EQ(lines[0].find("Techniques"), std::string::npos) << lines[0];
  EXPECT_NE(lines[1].find("Techniques de soins infirmiers"), std::string::npos) << lines[1];
  EXPECT_NE(RunCommand("pdfinfo '" + path + "'")
                .output.find("Diplôme d'études collégiales Techniques de soins infirmiers"),
            std::string::npos);
}

TEST_F(RenderTest, CertificateAndAttestationRender) {
  for (const std::string kind : {"certificate", "attestation"}) {
    CredentialRecord record = Diploma("Thị Hằng", "Nguyễn");
    record.credential_type = kind;
    record.credential_title = kind == "certificate" ? "Certificate in Data Analysis" : "";
    auto pdf = Render(record, "fr");
    ASSERT_TRUE(pdf) << pdf.error().ToString();
    std::string path = Save(*pdf, kind + ".pdf");
    ExpectValidPdf(path);
    std::string text = Squeeze(Text(path));
    EXPECT_NE(text.find("Thị Hằng Nguyễn"), std::string::npos) << text;
    EXPECT_NE(
        text.find(kind == "certificate" ? "Certificate in Data Analysis" : "Attestation d'études"),
        std::string::npos)
        << text;
  }
}

TEST_F(RenderTest, LatinVietnameseAndSyllabicNamesComeOutRight) {
  struct Case {
    std::string given, family, expected;
  };
  // The second spells the Vietnamese name decomposed (NFD): the PDF must carry NFC.
  const Case cases[] = {
      {"Zoë", "Lévesque-O'Brien", "Zoë Lévesque-O'Brien"},
      {"Thi\xCC\xA3 Ha\xCC\x86\xCC\x80ng", "Nguye\xCC\x82\xCC\x83n", "Thị Hằng Nguyễn"},
      {"Mary", "ᐊᓂᔭ", "Mary ᐊᓂᔭ"},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.expected);
    CredentialRecord record = LongTranscript();
    record.given_names = c.given;
    record.family_name = c.family;
    for (const std::string kind : {"transcript", "diploma"}) {
      record.credential_type = kind;
      auto pdf = Render(record, "en");
      ASSERT_TRUE(pdf) << pdf.error().ToString();
      std::string path = Save(*pdf, kind + ".pdf");
      EXPECT_NE(Squeeze(Text(path)).find(c.expected), std::string::npos);
      ExpectValidPdf(path);
    }
  }
  CredentialRecord record = Diploma("Mary", "ᐊᓂᔭ");
  std::string fonts = RunCommand("pdffonts '" + Save(*Render(record, "en"), "s.pdf") + "'").output;
  EXPECT_NE(fonts.find("NotoSansCanadianAboriginal"), std::string::npos) << fonts;
}

TEST_F(RenderTest, CharactersNoFontCoversAreRejectedWithTheRecordNamed) {
  CredentialRecord lisu = Diploma("Anna", "ꓮ");
  auto result = Render(lisu, "en", "x.csv:42");
  ASSERT_FALSE(result);
  EXPECT_EQ(result.error().code, ErrorCode::kData);
  EXPECT_EQ(result.error().ToString(),
            "x.csv:42: family_name: 'ꓮ' (U+A4EE) is not covered by the document fonts");

  CredentialRecord cjk = Diploma("漢字", "Li");
  result = Render(cjk, "fr", "x.csv:43");
  ASSERT_FALSE(result);
  EXPECT_EQ(result.error().ToString(),
            "x.csv:43: given_names: '漢' (U+6F22) is not covered by the document fonts");

  CredentialRecord ethiopic = LongTranscript();
  ethiopic.transcript.sessions[1].courses[2].title = "Amharic ሀ";
  result = Render(ethiopic, "en", "t.xml:17");
  ASSERT_FALSE(result);
  EXPECT_EQ(result.error().ToString(),
            "t.xml:17: sessions[1].courses[2].title: 'ሀ' (U+1200) is not covered by the "
            "document fonts");

  CredentialRecord control = Diploma("Bell\x07", "Ringer");
  result = Render(control, "en", "x.csv:44");
  ASSERT_FALSE(result);
  EXPECT_EQ(result.error().ToString(),
            "x.csv:44: given_names: control character U+0007 cannot be printed");

  CredentialRecord broken = Diploma("Bad\xFF", "Bytes");
  result = Render(broken, "en", "x.csv:45");
  ASSERT_FALSE(result);
  EXPECT_EQ(result.error().ToString(), "x.csv:45: given_names: is not valid UTF-8");
}

TEST_F(RenderTest, SameInputGivesTheSameBytes) {
  CredentialRecord record = LongTranscript();
  auto first = Render(record, "fr");
  auto second = Render(record, "fr");
  auto other = Renderer::Create(kTemplates);
  ASSERT_TRUE(first && second && other);
  auto third = (*other)->Render(
      RenderRequest{&record, "fr", "DOC-2026-000123", kIssuedAt, &branding_, "x.csv:7"});
  ASSERT_TRUE(third);
  EXPECT_EQ(*first, *second);
  EXPECT_EQ(*first, *third);
  // The PDF dates are the injected clock's, not the wall clock's (cairo 1.16 leaves out the
  // "D:" prefix; readers accept it).
  EXPECT_TRUE(std::regex_search(*first, std::regex("/CreationDate \\((D:)?20261128140300")));
  EXPECT_TRUE(std::regex_search(*first, std::regex("/ModDate \\((D:)?20261128140300")));

  CredentialRecord diploma = Diploma("Zoë", "Lévesque-O'Brien");
  auto d1 = Render(diploma, "en");
  auto d2 = Render(diploma, "en");
  ASSERT_TRUE(d1 && d2);
  EXPECT_EQ(*d1, *d2);
}

TEST_F(RenderTest, LogoIsDrawnAndABadLogoIsAConfigError) {
  // Any real PNG will do as a logo: pdftoppm makes one from a rendered page.
  CredentialRecord record = Diploma("Zoë", "Lévesque-O'Brien");
  std::string pdf_path = Save(*Render(record, "en"), "seed.pdf");
  ASSERT_EQ(RunCommand("pdftoppm -png -r 8 -singlefile '" + pdf_path + "' '" +
                       (dir_ / "logo").string() + "'")
                .exit_code,
            0);
  branding_.logo_png = (dir_ / "logo.png").string();
  auto with_logo = Render(record, "en");
  ASSERT_TRUE(with_logo) << with_logo.error().ToString();
  ExpectValidPdf(Save(*with_logo, "logo.pdf"));
  record.credential_type = "transcript";
  auto transcript = Render(record, "en");
  ASSERT_TRUE(transcript) << transcript.error().ToString();
  ExpectValidPdf(Save(*transcript, "logo-transcript.pdf"));

  branding_.logo_png = (dir_ / "missing.png").string();
  auto missing = Render(record, "en");
  ASSERT_FALSE(missing);
  EXPECT_EQ(missing.error().code, ErrorCode::kConfig);
  EXPECT_NE(missing.error().ToString().find("missing.png"), std::string::npos);
}

TEST_F(RenderTest, MalformedRequestsAreRefused) {
  CredentialRecord record = Diploma("Zoë", "Lévesque-O'Brien");
  auto bad_locale =
      renderer_->Render(RenderRequest{&record, "de", "DOC-1", kIssuedAt, &branding_, "x.csv:7"});
  ASSERT_FALSE(bad_locale);
  EXPECT_EQ(bad_locale.error().ToString(), "x.csv:7: locale: 'de' is not en or fr");
  auto bad_time =
      renderer_->Render(RenderRequest{&record, "en", "DOC-1", "28/11/2026", &branding_, "x.csv:7"});
  ASSERT_FALSE(bad_time);
  EXPECT_EQ(bad_time.error().code, ErrorCode::kUsage);
  record.credential_type = "badge";
  auto bad_kind = Render(record, "en");
  ASSERT_FALSE(bad_kind);
  EXPECT_EQ(bad_kind.error().ToString(),
            "x.csv:7: credential_type: 'badge' has no template (transcript, diploma, "
            "certificate, attestation)");
  record.credential_type = "diploma";
  branding_.primary_color = "navy";
  auto bad_colour = Render(record, "en");
  ASSERT_FALSE(bad_colour);
  EXPECT_EQ(bad_colour.error().code, ErrorCode::kConfig);
}

// Copies the templates to `templates` and returns the text of the layout at `layout`.
std::string CopyTemplates(const fs::path& templates, const std::string& layout) {
  fs::copy(kTemplates, templates, fs::copy_options::recursive);
  std::ifstream in(layout);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

TEST_F(RenderTest, BrokenTemplatesAreConfigErrorsNamingTheKey) {
  const fs::path templates = dir_ / "templates";
  const std::string path = (templates / "diploma" / "layout.yaml").string();
  const std::string yaml = CopyTemplates(templates, path);
  std::ofstream(path) << std::regex_replace(yaml, std::regex("    intro: "), "    intra: ");
  auto created = Renderer::Create(templates.string());
  ASSERT_FALSE(created);
  EXPECT_EQ(created.error().code, ErrorCode::kConfig);
  EXPECT_EQ(created.error().ToString(), path + ": labels.en.intra: unknown key");

  std::ofstream(path) << std::regex_replace(yaml, std::regex("Nous certifions que"), "ꓮ");
  created = Renderer::Create(templates.string());
  ASSERT_FALSE(created);
  EXPECT_EQ(created.error().ToString(),
            path + ": labels.fr.intro: 'ꓮ' (U+A4EE) is not covered by the document fonts");
}

// Templates are read as strictly as credd.yaml (the same reader): values out of range, wrong
// lists and repeated keys are refused, each naming its key.
TEST_F(RenderTest, LayoutValuesAreCheckedLikeTheConfigs) {
  const fs::path templates = dir_ / "templates";
  const std::string path = (templates / "diploma" / "layout.yaml").string();
  const std::string yaml = CopyTemplates(templates, path);
  struct Case {
    std::string from;
    std::string to;
    std::string error;
  };
  const std::vector<Case> cases = {
      {"  margin_mm: 18", "  margin_mm: 2", "page.margin_mm: must be between 5 and 60, got 2"},
      {"  margin_mm: 18", "  margin_mm: wide", "page.margin_mm: expected a number, got 'wide'"},
      {"  margin_mm: 18", "  margin_mm: 18\n  margin_mm: 20", "page.margin_mm: duplicate key"},
      {"    months: [janvier, ", "    months: [", "labels.fr.months: must list 12 month names"},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.to);
    const size_t at = yaml.find(c.from);
    ASSERT_NE(at, std::string::npos) << c.from;
    std::string changed = yaml;
    changed.replace(at, c.from.size(), c.to);
    std::ofstream(path) << changed;
    auto created = Renderer::Create(templates.string());
    ASSERT_FALSE(created);
    EXPECT_EQ(created.error().code, ErrorCode::kConfig);
    EXPECT_EQ(created.error().ToString(), path + ": " + c.error);
  }
}

}  // namespace
}  // namespace credd
