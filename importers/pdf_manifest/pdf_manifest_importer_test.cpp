// Tests for the pdf-manifest importer. Fixtures are built here, per test, in a fresh temp
// folder: zips with libzip, PDFs with qpdf, plus the third-party PDFs of the shared corpus.
#include "importers/pdf_manifest/pdf_manifest_importer.h"

#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zip.h>

#include <filesystem>
#include <fstream>
#include <iterator>
#include <optional>
#include <qpdf/QPDF.hh>
#include <qpdf/QPDFWriter.hh>
#include <sstream>

#include "tests/support/corpus.h"

namespace credd {
namespace {

namespace fs = std::filesystem;

const std::string kHeader =
    "file,student_id,family_name,given_names,email,personal_email,preferred_locale,"
    "credential_type,credential_title,issued_on\n";

// A row with the usual student fields, naming `file`.
std::string Row(const std::string& file, const std::string& id = "00123") {
  return file + "," + id + ",Tremblay,Marie,m@uni.ca,,fr,diploma,BSc,2024-06-01\n";
}

// A small valid PDF: one empty page, written by qpdf; with_font gives the page a font in
// an object of its own.
std::string MakePdf(const char* user_password = nullptr, const char* owner_password = nullptr,
                    bool with_font = false) {
  QPDF pdf;
  pdf.emptyPDF();
  QPDFObjectHandle page =
      pdf.makeIndirectObject(QPDFObjectHandle::parse("<< /Type /Page /MediaBox [0 0 612 792] >>"));
  if (with_font) {
    QPDFObjectHandle font = pdf.makeIndirectObject(
        QPDFObjectHandle::parse("<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>"));
    QPDFObjectHandle fonts = QPDFObjectHandle::newDictionary();
    fonts.replaceKey("/F1", font);
    QPDFObjectHandle resources = QPDFObjectHandle::newDictionary();
    resources.replaceKey("/Font", fonts);
    page.replaceKey("/Resources", resources);
  }
  pdf.addPage(page, false);
  QPDFWriter writer(pdf);
  writer.setOutputMemory();
  writer.setStaticID(true);
  if (owner_password != nullptr) {
    writer.setR6EncryptionParameters(user_password, owner_password, true, true, true, true, true,
                                     true, qpdf_r3p_full, true);
  }
  writer.write();
  auto buffer = writer.getBufferSharedPointer();
  return std::string(reinterpret_cast<const char*>(buffer->getBuffer()), buffer->getSize());
}

std::string ReadFile(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

void WriteFile(const fs::path& path, const std::string& bytes) {
  std::ofstream(path, std::ios::binary) << bytes;
}

// One entry of a zip fixture.
struct ZipItem {
  std::string name;
  std::string bytes;
  bool symlink = false;
  bool encrypted = false;
};

void WriteZip(const fs::path& path, const std::vector<ZipItem>& items) {
  int error = 0;
  zip_t* archive = zip_open(path.c_str(), ZIP_CREATE | ZIP_TRUNCATE, &error);
  ASSERT_NE(archive, nullptr) << error;
  for (const ZipItem& item : items) {
    // libzip reads the buffer at zip_close; `items` outlives that.
    zip_source_t* source = zip_source_buffer(archive, item.bytes.data(), item.bytes.size(), 0);
    ASSERT_NE(source, nullptr);
    zip_int64_t index = zip_file_add(archive, item.name.c_str(), source, ZIP_FL_ENC_UTF_8);
    ASSERT_GE(index, 0) << item.name << ": " << zip_strerror(archive);
    auto i = static_cast<zip_uint64_t>(index);
    if (item.symlink) {
      ASSERT_EQ(
          zip_file_set_external_attributes(archive, i, 0, ZIP_OPSYS_UNIX, (S_IFLNK | 0777u) << 16),
          0);
    }
    if (item.encrypted) {
      ASSERT_EQ(zip_file_set_encryption(archive, i, ZIP_EM_AES_256, "secret"), 0)
          << zip_strerror(archive);
    }
  }
  ASSERT_EQ(zip_close(archive), 0) << zip_strerror(archive);
}

// Records what the importer hands over, errors and warnings as report lines.
class RecordingSink : public RecordSink {
 public:
  explicit RecordingSink(std::string file, int stop_after = -1)
      : file_(std::move(file)), stop_after_(stop_after) {}
  bool OnRecord(CredentialRecord record) override {
    records.push_back(std::move(record));
    return stop_after_ < 0 || static_cast<int>(records.size()) < stop_after_;
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
  int stop_after_;
};

class PdfManifestImporterTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string pattern = (fs::temp_directory_path() / "pdfm-test-XXXXXX").string();
    ASSERT_NE(mkdtemp(pattern.data()), nullptr);
    dir_ = pattern;
  }
  void TearDown() override { fs::remove_all(dir_); }

  // Runs the importer on `name` inside the temp folder.
  Status Import(const std::string& name, RecordingSink& sink,
                const PdfManifestLimits& limits = {}) {
    PdfManifestImporter importer(limits);
    return importer.Read(ImportInput{(dir_ / name).string(), name}, sink);
  }

  // The Status error as "where: message", or "ok".
  std::string ImportZip(const std::vector<ZipItem>& items, RecordingSink& sink,
                        const PdfManifestLimits& limits = {}) {
    WriteZip(dir_ / "batch.zip", items);
    Status status = Import("batch.zip", sink, limits);
    return status.ok() ? "ok" : status.error().ToString();
  }

  fs::path dir_;
};

TEST_F(PdfManifestImporterTest, ZipRowsBecomeRecordsWithExactBytes) {
  std::string pdf_a = MakePdf();
  std::string pdf_b = pdf_a + "\n% trailing comment keeps it a different file\n";
  // BOM, CRLF, a quoted comma and a quoted newline, which moves the next row's line.
  std::string manifest = "\xEF\xBB\xBF" + kHeader +
                         "a.pdf,00123,\"Tremblay, Jr\",Marie,"
                         "m@uni.ca,me@home.ca,fr,diploma,\"BSc\r\nHonours\",2024-06-01\r\n"
                         "\r\n" +
                         "pdfs/b.pdf, 00456 ,Roy,Luc,l@uni.ca,,,transcript,Transcript,2024-06-02";
  RecordingSink sink("batch.zip");
  EXPECT_EQ(ImportZip({{"manifest.csv", manifest}, {"a.pdf", pdf_a}, {"pdfs/b.pdf", pdf_b}}, sink),
            "ok");
  EXPECT_TRUE(sink.errors.empty());
  EXPECT_TRUE(sink.warnings.empty());
  ASSERT_EQ(sink.records.size(), 2u);
  const CredentialRecord& a = sink.records[0];
  EXPECT_EQ(a.line, 2);
  EXPECT_EQ(a.pdf_file, "a.pdf");
  EXPECT_EQ(a.pdf_bytes, pdf_a);
  EXPECT_EQ(a.student_id, "00123");
  EXPECT_EQ(a.family_name, "Tremblay, Jr");
  EXPECT_EQ(a.given_names, "Marie");
  EXPECT_EQ(a.email, "m@uni.ca");
  EXPECT_EQ(a.personal_email, "me@home.ca");
  EXPECT_EQ(a.preferred_locale, "fr");
  EXPECT_EQ(a.credential_type, "diploma");
  EXPECT_EQ(a.credential_title, "BSc\r\nHonours");
  EXPECT_EQ(a.issued_on, "2024-06-01");
  const CredentialRecord& b = sink.records[1];
  EXPECT_EQ(b.line, 5);
  EXPECT_EQ(b.pdf_file, "pdfs/b.pdf");
  EXPECT_EQ(b.pdf_bytes, pdf_b);
  EXPECT_EQ(b.student_id, " 00456 ");  // Copied as written; validation trims or rejects.
  EXPECT_EQ(b.personal_email, "");
}

std::vector<fs::path> CorpusPdfs() {
  std::vector<fs::path> paths;
  for (const auto& entry :
       fs::directory_iterator(fs::path(credd::test_corpus::CorpusDir()) / "pdf/canpesc-cdl")) {
    paths.push_back(entry.path());
  }
  std::sort(paths.begin(), paths.end());
  return paths;
}

TEST_F(PdfManifestImporterTest, CorpusPdfsInAZipAreAcceptedUnchanged) {
  CREDD_REQUIRE_CORPUS();
  std::vector<fs::path> pdfs = CorpusPdfs();
  ASSERT_EQ(pdfs.size(), 10u);
  std::vector<ZipItem> items = {{"manifest.csv", kHeader}};
  for (size_t i = 0; i < pdfs.size(); ++i) {
    items[0].bytes += Row(pdfs[i].filename().string(), std::to_string(i));
    items.push_back({pdfs[i].filename().string(), ReadFile(pdfs[i])});
  }
  RecordingSink sink("batch.zip");
  EXPECT_EQ(ImportZip(items, sink), "ok");
  EXPECT_TRUE(sink.errors.empty()) << sink.errors[0];
  EXPECT_TRUE(sink.warnings.empty()) << sink.warnings[0];
  ASSERT_EQ(sink.records.size(), pdfs.size());
  for (size_t i = 0; i < pdfs.size(); ++i) {
    EXPECT_EQ(sink.records[i].line, static_cast<int>(i) + 2);
    EXPECT_EQ(sink.records[i].pdf_bytes, ReadFile(pdfs[i])) << pdfs[i];
  }
}

TEST_F(PdfManifestImporterTest, FolderInputReadsCorpusPdfs) {
  CREDD_REQUIRE_CORPUS();
  fs::create_directory(dir_ / "batch");
  std::string manifest = kHeader;
  for (const fs::path& pdf : CorpusPdfs()) {
    fs::copy_file(pdf, dir_ / "batch" / pdf.filename());
    manifest += Row(pdf.filename().string());
  }
  WriteFile(dir_ / "batch/manifest.csv", manifest);
  RecordingSink sink("batch");
  ASSERT_TRUE(Import("batch", sink).ok());
  EXPECT_TRUE(sink.errors.empty()) << sink.errors[0];
  ASSERT_EQ(sink.records.size(), 10u);
  EXPECT_EQ(sink.records[0].pdf_bytes, ReadFile(CorpusPdfs()[0]));
}

// One bad manifest row and the exact report line it must produce.
struct RowCase {
  std::string row;
  std::string error;
};

TEST_F(PdfManifestImporterTest, BadRowsInAZipAreReportedWithTheirLine) {
  const std::vector<RowCase> cases = {
      {Row("missing.pdf"), "batch.zip:3: file: 'missing.pdf' is not in the archive"},
      {Row("/etc/a.pdf"), "batch.zip:4: file: '/etc/a.pdf' is an absolute path"},
      {Row("x/../a.pdf"), "batch.zip:5: file: 'x/../a.pdf' points outside the archive"},
      {Row("x\\a.pdf"), "batch.zip:6: file: 'x\\a.pdf' contains a backslash"},
      {Row("a\x01.pdf"), "batch.zip:7: file: 'a\\x01.pdf' contains a control character"},
      {Row(""), "batch.zip:8: file: the file column is empty"},
      {Row("garbage.pdf"),
       "batch.zip:9: file: not a valid PDF: unable to find trailer dictionary while "
       "recovering damaged file"},
      {Row("locked.pdf"), "batch.zip:10: file: encrypted PDFs cannot be signed"},
      {Row("owner-only.pdf"), "batch.zip:11: file: encrypted PDFs cannot be signed"},
      {Row("a.pdf", "99999"), "batch.zip:12: file: 'a.pdf' is already named on line 2"},
      {Row("big.pdf"), "batch.zip:13: file: 'big.pdf' is 70000 bytes; the limit is 65536"},
      {"short.pdf,1,2\n", "batch.zip:14: expected 10 fields as in the header, found 3"},
      {Row("empty.pdf"), "batch.zip:15: file: not a valid PDF: it has no pages"},
      {Row("sub/"), "batch.zip:16: file: 'sub/' is a folder"},
  };
  std::string manifest = kHeader + Row("a.pdf");
  std::vector<std::string> expected;
  for (const RowCase& c : cases) {
    manifest += c.row;
    expected.push_back(c.error);
  }
  std::string pdf = MakePdf();
  QPDF no_pages;
  no_pages.emptyPDF();
  QPDFWriter writer(no_pages);
  writer.setOutputMemory();
  writer.write();
  auto buffer = writer.getBufferSharedPointer();
  std::string empty_pdf(reinterpret_cast<const char*>(buffer->getBuffer()), buffer->getSize());
  RecordingSink sink("batch.zip");
  PdfManifestLimits limits;
  limits.max_pdf_bytes = 65536;
  EXPECT_EQ(ImportZip({{"manifest.csv", manifest},
                       {"a.pdf", pdf},
                       {"garbage.pdf", "this is not a PDF at all"},
                       {"locked.pdf", MakePdf("user", "owner")},
                       {"owner-only.pdf", MakePdf("", "owner")},
                       {"big.pdf", pdf + std::string(70000 - pdf.size(), ' ')},
                       {"empty.pdf", empty_pdf},
                       {"sub/", ""}},
                      sink, limits),
            "ok");
  EXPECT_EQ(sink.errors, expected);
  ASSERT_EQ(sink.records.size(), 1u);
  EXPECT_EQ(sink.records[0].pdf_file, "a.pdf");
  EXPECT_TRUE(sink.warnings.empty()) << sink.warnings[0];
}

TEST_F(PdfManifestImporterTest, UnnamedPdfsAreWarningsAndDamagedPdfsAreRejected) {
  std::string pdf = MakePdf();
  // A wrong startxref offset: qpdf rebuilds the cross-reference table and warns.
  std::string damaged = pdf;
  size_t at = damaged.rfind("startxref\n");
  ASSERT_NE(at, std::string::npos);
  damaged.replace(at + 10, damaged.find('\n', at + 10) - (at + 10), "9");
  RecordingSink sink("batch.zip");
  EXPECT_EQ(ImportZip({{"manifest.csv", kHeader + Row("damaged.pdf")},
                       {"damaged.pdf", damaged},
                       {"extra.PDF", pdf},
                       {"notes.txt", "not a PDF, not warned about"}},
                      sink),
            "ok");
  EXPECT_TRUE(sink.records.empty());
  EXPECT_EQ(sink.errors, (std::vector<std::string>{
                             "batch.zip:2: file: 'damaged.pdf' is damaged and cannot be signed "
                             "as it is (qpdf: file is damaged (and 2 more)); export it again "
                             "from the SIS"}));
  EXPECT_EQ(sink.warnings,
            (std::vector<std::string>{
                "batch.zip: file: 'extra.PDF' is in the archive but no manifest row names it"}));
}

// Found by the sign fuzz target: qpdf reads objects lazily, and damage that walking the
// pages does not reach (here the page's font) passed the check, then failed at signing.
TEST_F(PdfManifestImporterTest, DamageOutsideThePageTreeIsFoundToo) {
  std::string damaged = MakePdf(nullptr, nullptr, true);
  const std::string font = "/BaseFont /Helvetica";
  const size_t at = damaged.find(font);
  ASSERT_NE(at, std::string::npos);
  damaged.replace(at, font.size(), "x]" + std::string(font.size() - 2, ' '));  // Offsets hold.
  RecordingSink sink("batch.zip");
  EXPECT_EQ(
      ImportZip({{"manifest.csv", kHeader + Row("damaged.pdf")}, {"damaged.pdf", damaged}}, sink),
      "ok");
  EXPECT_TRUE(sink.records.empty());
  ASSERT_EQ(sink.errors.size(), 1u);
  EXPECT_NE(sink.errors[0].find("'damaged.pdf' is damaged and cannot be signed"), std::string::npos)
      << sink.errors[0];
  RecordingSink whole("batch.zip");
  EXPECT_EQ(ImportZip({{"manifest.csv", kHeader + Row("whole.pdf")},
                       {"whole.pdf", MakePdf(nullptr, nullptr, true)}},
                      whole),
            "ok");
  EXPECT_EQ(whole.records.size(), 1u);
}

// A zip that must be refused as a whole, and the exact Status it must produce.
struct ZipCase {
  std::string label;
  std::vector<ZipItem> items;
  std::string error;
};

TEST_F(PdfManifestImporterTest, UnsafeZipsAreRefusedBeforeAnyRecord) {
  const std::string manifest = kHeader + Row("a.pdf");
  const std::string pdf = MakePdf();
  const std::vector<ZipCase> cases = {
      {"parent",
       {{"manifest.csv", manifest}, {"a.pdf", pdf}, {"../evil.pdf", pdf}},
       "batch.zip: zip entry '../evil.pdf' escapes the archive"},
      {"absolute",
       {{"manifest.csv", manifest}, {"a.pdf", pdf}, {"/tmp/evil.pdf", pdf}},
       "batch.zip: zip entry '/tmp/evil.pdf' escapes the archive"},
      {"backslash",
       {{"manifest.csv", manifest}, {"a.pdf", pdf}, {"..\\evil.pdf", pdf}},
       "batch.zip: zip entry '..\\evil.pdf' contains a backslash"},
      {"control",
       {{"manifest.csv", manifest}, {"a.pdf", pdf}, {"evil\n.pdf", pdf}},
       "batch.zip: zip entry 'evil\\x0a.pdf' contains a control character"},
      {"symlink",
       {{"manifest.csv", manifest}, {"a.pdf", "/etc/passwd", /*symlink=*/true}},
       "batch.zip: zip entry 'a.pdf' is a symbolic link"},
      {"encrypted",
       {{"manifest.csv", manifest}, {"a.pdf", pdf, false, /*encrypted=*/true}},
       "batch.zip: zip entry 'a.pdf' is encrypted"},
      {"bomb",
       {{"manifest.csv", manifest}, {"a.pdf", std::string(11u << 20, '\0')}},
       "batch.zip: zip entry 'a.pdf' expands to 11534336 bytes, more than 200 times its "
       "compressed size (a zip bomb?)"},
      {"no manifest", {{"a.pdf", pdf}}, "batch.zip: manifest.csv is missing"},
      {"nested manifest",
       {{"batch/manifest.csv", manifest}, {"batch/a.pdf", pdf}},
       "batch.zip: manifest.csv is missing (found 'batch/manifest.csv': it must be at the "
       "top level of the zip)"},
  };
  for (const ZipCase& c : cases) {
    RecordingSink sink("batch.zip");
    EXPECT_EQ(ImportZip(c.items, sink), c.error) << c.label;
    EXPECT_TRUE(sink.records.empty() && sink.errors.empty() && sink.warnings.empty()) << c.label;
  }
}

TEST_F(PdfManifestImporterTest, ZipLimitsOnEntriesAndTotalSize) {
  const std::string pdf = MakePdf();
  std::vector<ZipItem> items = {{"manifest.csv", kHeader + Row("a.pdf")}, {"a.pdf", pdf}};
  PdfManifestLimits few;
  few.max_entries = 1;
  RecordingSink sink("batch.zip");
  EXPECT_EQ(ImportZip(items, sink, few), "batch.zip: the zip has 2 entries; the limit is 1");
  PdfManifestLimits small;
  small.max_total_bytes = 100;
  EXPECT_EQ(ImportZip(items, sink, small),
            "batch.zip: the zip's entries expand to more than 100 bytes");
  EXPECT_TRUE(sink.records.empty());
}

TEST_F(PdfManifestImporterTest, NotAZipAndMissingInput) {
  WriteFile(dir_ / "batch.zip", "PK but not really a zip archive");
  RecordingSink sink("batch.zip");
  Status status = Import("batch.zip", sink);
  ASSERT_FALSE(status.ok());
  EXPECT_EQ(status.error().code, ErrorCode::kData);
  EXPECT_EQ(status.error().ToString(), "batch.zip: not a zip archive: Not a zip archive");
  status = Import("absent.zip", sink);
  ASSERT_FALSE(status.ok());
  EXPECT_EQ(status.error().code, ErrorCode::kNoInput);
  EXPECT_EQ(status.error().ToString(), "absent.zip: cannot open: No such file or directory");
}

// A manifest that must be refused as a whole.
struct ManifestCase {
  std::string manifest;
  std::string error;
};

TEST_F(PdfManifestImporterTest, BadManifestsAreFileLevelErrors) {
  const std::vector<ManifestCase> cases = {
      {kHeader + Row("a.pdf") + "a.pdf,caf\xE9,x\n",
       "batch.zip:3: manifest.csv is not valid UTF-8"},
      {"file,student_id,family_name,given_names,credential_type,credential_title\n" + Row("a.pdf"),
       "batch.zip:1: manifest.csv lacks required columns: email, issued_on"},
      {"email," + kHeader, "batch.zip:1: manifest.csv names column 'email' twice"},
      {"", "batch.zip:1: manifest.csv has no header row"},
      {kHeader + Row("a.pdf") + "\"a.pdf,1\n",
       "batch.zip:3: manifest.csv: a quoted field is not closed"},
      {kHeader + "\"a\"b.pdf,1\n",
       "batch.zip:2: manifest.csv: malformed CSV quoting (error parsing data while strict "
       "checking enabled)"},
  };
  for (const ManifestCase& c : cases) {
    RecordingSink sink("batch.zip");
    EXPECT_EQ(ImportZip({{"manifest.csv", c.manifest}, {"a.pdf", MakePdf()}}, sink), c.error);
    EXPECT_TRUE(sink.records.empty() && sink.errors.empty()) << c.error;
  }
}

// libcsv ends a row at a bare CR (old Mac exports), so a bare CR must end a line for the
// line numbers too; found by fuzz/manifest_fuzz.cpp (a data row was reported on line 1).
TEST_F(PdfManifestImporterTest, BareCarriageReturnsEndLinesLikeLibcsvRows) {
  auto cr = [](std::string text) {
    for (char& c : text) c = c == '\n' ? '\r' : c;
    return text;
  };
  struct CrCase {
    std::string manifest;
    std::string status;
    std::vector<std::string> errors;
  };
  const std::vector<CrCase> cases = {
      {cr(kHeader + Row("a.pdf") + "short.pdf,1,2\n"),
       "ok",
       {"batch.zip:3: expected 10 fields as in the header, found 3"}},
      {cr(kHeader) + "\r\n" + cr(Row("a.pdf")) + "x,1\r\n",
       "ok",
       {"batch.zip:4: expected 10 fields as in the header, found 2"}},
      {cr(kHeader + Row("a.pdf")) + "a.pdf,caf\xE9,x\r",
       "batch.zip:3: manifest.csv is not valid UTF-8",
       {}},
      {cr(kHeader + Row("a.pdf")) + "\"a.pdf,1\r",
       "batch.zip:3: manifest.csv: a quoted field is not closed",
       {}},
  };
  for (const CrCase& c : cases) {
    SCOPED_TRACE(c.status);
    RecordingSink sink("batch.zip");
    EXPECT_EQ(ImportZip({{"manifest.csv", c.manifest}, {"a.pdf", MakePdf()}}, sink), c.status);
    EXPECT_EQ(sink.errors, c.errors);
  }
}

TEST_F(PdfManifestImporterTest, UnknownColumnsAreWarnings) {
  std::string manifest = "note," + kHeader + "hello," + Row("a.pdf");
  RecordingSink sink("batch.zip");
  EXPECT_EQ(ImportZip({{"manifest.csv", manifest}, {"a.pdf", MakePdf()}}, sink), "ok");
  EXPECT_EQ(sink.warnings, std::vector<std::string>{
                               "batch.zip:1: manifest.csv column 'note' is not read by credd"});
  ASSERT_EQ(sink.records.size(), 1u);
  EXPECT_EQ(sink.records[0].student_id, "00123");
}

TEST_F(PdfManifestImporterTest, FolderRefusesSymlinksAndSubfolders) {
  fs::path batch = dir_ / "batch";
  fs::create_directories(batch / "sub");
  std::string pdf = MakePdf();
  WriteFile(batch / "a.pdf", pdf);
  WriteFile(batch / "sub/b.pdf", pdf);
  WriteFile(batch / "stray.pdf", pdf);
  fs::create_symlink(batch / "a.pdf", batch / "link.pdf");
  WriteFile(batch / "manifest.csv", kHeader + Row("a.pdf") + Row("link.pdf") + Row("sub/b.pdf") +
                                        Row("missing.pdf") + Row("../a.pdf"));
  RecordingSink sink("batch");
  ASSERT_TRUE(Import("batch", sink).ok());
  ASSERT_EQ(sink.records.size(), 1u);
  EXPECT_EQ(sink.records[0].pdf_bytes, pdf);
  EXPECT_EQ(sink.errors, (std::vector<std::string>{
                             "batch:3: file: 'link.pdf' is a symbolic link",
                             "batch:4: file: 'sub/b.pdf' is not directly in the folder",
                             "batch:5: file: 'missing.pdf' is not in the folder",
                             "batch:6: file: '../a.pdf' points outside the folder",
                         }));
  EXPECT_EQ(sink.warnings,
            std::vector<std::string>{"batch: file: 'stray.pdf' is in the folder but no manifest "
                                     "row names it"});
}

TEST_F(PdfManifestImporterTest, FolderManifestMissingOrSymlinked) {
  fs::create_directory(dir_ / "batch");
  RecordingSink sink("batch");
  Status status = Import("batch", sink);
  ASSERT_FALSE(status.ok());
  EXPECT_EQ(status.error().ToString(), "batch: manifest.csv is missing");
  WriteFile(dir_ / "real.csv", kHeader);
  fs::create_symlink(dir_ / "real.csv", dir_ / "batch/manifest.csv");
  status = Import("batch", sink);
  ASSERT_FALSE(status.ok());
  EXPECT_EQ(status.error().ToString(), "batch: 'manifest.csv' is a symbolic link");
  fs::create_directory_symlink(dir_ / "batch", dir_ / "linked");
  status = Import("linked", sink);
  ASSERT_FALSE(status.ok());
  EXPECT_EQ(status.error().ToString(), "linked: the input is a symbolic link");
}

TEST_F(PdfManifestImporterTest, StopsWhenTheSinkSaysSo) {
  std::string pdf = MakePdf();
  RecordingSink sink("batch.zip", /*stop_after=*/1);
  EXPECT_EQ(
      ImportZip(
          {{"manifest.csv", kHeader + Row("a.pdf") + Row("b.pdf")}, {"a.pdf", pdf}, {"b.pdf", pdf}},
          sink),
      "ok");
  EXPECT_EQ(sink.records.size(), 1u);
}

}  // namespace
}  // namespace credd
