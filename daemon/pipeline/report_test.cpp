// Report writing on real folders: both forms, written whole or not at all, never through a
// planted link, never over someone else's reports, and names past NAME_MAX shortened.
#include "daemon/pipeline/report.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <iterator>
#include <nlohmann/json.hpp>
#include <string>

#include "common/clock.h"

namespace credd {
namespace {

namespace fs = std::filesystem;

std::string Slurp(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

class ReportTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char pattern[] = "/tmp/credd-report-XXXXXX";
    ASSERT_NE(::mkdtemp(pattern), nullptr);
    dir_ = pattern;
  }
  void TearDown() override {
    std::error_code ignored;
    fs::remove_all(dir_, ignored);
  }

  // A rejected file's report, stamped by a clock pinned at 2026-12-01 09:30:00 UTC.
  BatchReport Rejected() const {
    PinnedClock clock(std::chrono::sys_days{std::chrono::year{2026} / 12 / 1} +
                      std::chrono::hours(9) + std::chrono::minutes(30));
    BatchReport report;
    report.file = "grads.csv";
    report.institution_id = "uni";
    report.sha256 = std::string(64, 'a');
    report.format = "csv";
    report.status = BatchStatus::kRejected;
    report.batch_id = 7;
    report.received_at = clock.NowIso8601();
    clock.Advance(std::chrono::seconds(2));
    report.finished_at = clock.NowIso8601();
    report.counts = {3, 2, 1, 0};
    report.errors.push_back(RecordError{4, 2, "family_name", "required field is empty"});
    return report;
  }

  fs::path dir_;
};

TEST_F(ReportTest, BothFormsSayTheSameThing) {
  const BatchReport report = Rejected();
  const nlohmann::json json = ReportJson(report);
  EXPECT_EQ(json["status"], "rejected");
  EXPECT_EQ(json["received_at"], "2026-12-01T09:30:00Z");
  EXPECT_EQ(json["finished_at"], "2026-12-01T09:30:02Z");
  EXPECT_EQ(json["batch"], 7);
  EXPECT_EQ(json["records"]["accepted"], 2);
  ASSERT_EQ(json["errors"].size(), 1u);
  EXPECT_EQ(json["errors"][0]["line"], 4);
  EXPECT_EQ(json["errors"][0]["field"], "family_name");

  const std::string text = ReportText(report);
  EXPECT_NE(text.find("Status:      rejected\n"), std::string::npos) << text;
  EXPECT_NE(text.find("Received:    2026-12-01T09:30:00Z\n"), std::string::npos) << text;
  EXPECT_NE(text.find("grads.csv:4"), std::string::npos) << "errors name file and line\n" << text;
  EXPECT_NE(text.find("family_name"), std::string::npos) << text;
}

TEST_F(ReportTest, WritesBothAndLeavesNoTemporaryFile) {
  const BatchReport report = Rejected();
  ASSERT_TRUE(WriteReports(report, dir_.string(), "grads.csv").ok());
  EXPECT_EQ(nlohmann::json::parse(Slurp(dir_ / "grads.csv.report.json")), ReportJson(report));
  EXPECT_EQ(Slurp(dir_ / "grads.csv.report.txt"), ReportText(report));
  int entries = 0;
  for (const auto& entry : fs::directory_iterator(dir_)) {
    ++entries;
    EXPECT_EQ(entry.path().filename().string().rfind("grads.csv.report.", 0), 0u) << entry.path();
  }
  EXPECT_EQ(entries, 2);
}

TEST_F(ReportTest, ExclusiveNeverWritesOverReportsThatAreThere) {
  BatchReport first = Rejected();
  ASSERT_TRUE(WriteReports(first, dir_.string(), "grads.csv").ok());
  BatchReport second = first;
  second.sha256 = std::string(64, 'b');
  auto written = WriteReports(second, dir_.string(), "grads.csv", /*exclusive=*/true);
  ASSERT_TRUE(written.ok()) << written.error().ToString();
  EXPECT_FALSE(*written);
  EXPECT_EQ(nlohmann::json::parse(Slurp(dir_ / "grads.csv.report.json"))["sha256"], first.sha256);
}

TEST_F(ReportTest, TellsItsOwnReportsFromSomeoneElses) {
  const BatchReport report = Rejected();
  auto slot = ReportsAreFor(dir_.string(), "grads.csv", report);
  ASSERT_TRUE(slot.ok());
  EXPECT_EQ(*slot, ReportSlot::kFree);

  ASSERT_TRUE(WriteReports(report, dir_.string(), "grads.csv").ok());
  EXPECT_EQ(*ReportsAreFor(dir_.string(), "grads.csv", report), ReportSlot::kOurs);
  BatchReport other = report;
  other.sha256 = std::string(64, 'c');
  EXPECT_EQ(*ReportsAreFor(dir_.string(), "grads.csv", other), ReportSlot::kTaken);

  // Interrupted between the two files: the text alone still identifies the file.
  fs::remove(dir_ / "grads.csv.report.json");
  EXPECT_EQ(*ReportsAreFor(dir_.string(), "grads.csv", report), ReportSlot::kOurs);
  EXPECT_EQ(*ReportsAreFor(dir_.string(), "grads.csv", other), ReportSlot::kTaken);
}

TEST_F(ReportTest, APlantedLinkIsNeverReadNorWrittenThrough) {
  const fs::path target = dir_ / "secret";
  std::ofstream(target) << "not a report";
  fs::create_symlink(target, dir_ / "grads.csv.report.json");
  const BatchReport report = Rejected();
  EXPECT_EQ(*ReportsAreFor(dir_.string(), "grads.csv", report), ReportSlot::kTaken);
  // Written over (by rename), the link is replaced, and what it pointed at is untouched.
  ASSERT_TRUE(WriteReports(report, dir_.string(), "grads.csv").ok());
  EXPECT_EQ(Slurp(target), "not a report");
  EXPECT_FALSE(fs::is_symlink(dir_ / "grads.csv.report.json"));
}

TEST_F(ReportTest, ANameTooLongForItsSuffixIsShortenedAndStated) {
  const std::string name = std::string(250, 'x') + ".csv";
  const std::string base = ReportBaseName(name);
  EXPECT_NE(base, name);
  EXPECT_LE(base.size() + std::string(".report.json").size(), 255u);
  EXPECT_EQ(ReportBaseName(name), base) << "the same name, the same base";
  EXPECT_EQ(ReportBaseName("short.csv"), "short.csv");

  BatchReport report = Rejected();
  report.file = name;
  ASSERT_TRUE(WriteReports(report, dir_.string(), name).ok());
  const nlohmann::json json = nlohmann::json::parse(Slurp(dir_ / (base + ".report.json")));
  EXPECT_EQ(json["report_for"], name);
  EXPECT_EQ(*ReportsAreFor(dir_.string(), name, report), ReportSlot::kOurs);
}

// A multi-byte character is never cut in half by the shortening.
TEST_F(ReportTest, ShorteningKeepsUtf8Whole) {
  std::string name;
  while (name.size() < 260) name += "é";  // Two bytes each.
  const std::string base = ReportBaseName(name);
  const size_t tag = base.rfind('~');
  ASSERT_NE(tag, std::string::npos);
  EXPECT_EQ(tag % 2, 0u) << "cut inside a character";
}

// What a process killed between creating a report's temporary file and renaming it leaves:
// the sweep removes such files once they are old enough, and nothing else.
TEST_F(ReportTest, SweepRemovesOnlyOldTemporaryFilesOfItsOwnNaming) {
  auto make = [&](const std::string& name, std::chrono::seconds age) {
    std::ofstream(dir_ / name) << "half a report";
    const auto when = fs::file_time_type::clock::now() - age;
    fs::last_write_time(dir_ / name, when);
  };
  const std::string stale = ".credd-0123456789abcdef.tmp";
  const std::string fresh = ".credd-fedcba9876543210.tmp";
  make(stale, std::chrono::hours(2));
  make(fresh, std::chrono::seconds(5));
  make(".credd-notours.tmp", std::chrono::hours(2));           // Not our naming.
  make(".credd-0123456789ABCDEF.tmp", std::chrono::hours(2));  // Ours is lower case.
  make("grads.csv", std::chrono::hours(2));
  make("grads.csv.report.json", std::chrono::hours(2));
  fs::create_directory(dir_ / ".credd-aaaaaaaaaaaaaaaa.tmp");  // A folder is never removed.
  fs::last_write_time(dir_ / ".credd-aaaaaaaaaaaaaaaa.tmp",
                      fs::file_time_type::clock::now() - std::chrono::hours(2));

  auto removed = RemoveStaleReportTemps(dir_.string(), std::chrono::minutes(10));
  ASSERT_TRUE(removed.ok()) << removed.error().ToString();
  EXPECT_EQ(*removed, std::vector<std::string>{stale});
  EXPECT_FALSE(fs::exists(dir_ / stale));
  for (const char* kept :
       {".credd-fedcba9876543210.tmp", ".credd-notours.tmp", ".credd-0123456789ABCDEF.tmp",
        "grads.csv", "grads.csv.report.json", ".credd-aaaaaaaaaaaaaaaa.tmp"}) {
    EXPECT_TRUE(fs::exists(dir_ / kept)) << kept;
  }
  // The fresh one goes once it is old enough by the age asked for.
  auto again = RemoveStaleReportTemps(dir_.string(), std::chrono::seconds(0));
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(*again, std::vector<std::string>{fresh});
}

TEST_F(ReportTest, SweepOfAMissingFolderNamesIt) {
  auto removed = RemoveStaleReportTemps((dir_ / "gone").string(), std::chrono::minutes(10));
  ASSERT_FALSE(removed.ok());
  EXPECT_EQ(removed.error().code, ErrorCode::kIo);
  EXPECT_NE(removed.error().where.find("gone"), std::string::npos);
}

}  // namespace
}  // namespace credd
