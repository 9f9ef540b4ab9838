// BatchProcessor and FileIntake on the real PostgreSQL and real folders, with a pinned
// clock: what a file becomes (stored records, rejected lines named by line and field,
// duplicates, whole-file rejection), which folder it ends in, and the reports beside it.
#include <gtest/gtest.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>

#include "common/clock.h"
#include "common/log.h"
#include "common/sha256.h"
#include "daemon/config/config.h"
#include "daemon/pipeline/batch_processor.h"
#include "daemon/pipeline/file_intake.h"
#include "daemon/store/batch_store.h"
#include "daemon/store/database.h"
#include "daemon/store/institutions.h"
#include "daemon/store/migrations.h"
#include "daemon/store/status_query.h"
#include "daemon/store/test_database.h"
#include "daemon/watch/drop_folders.h"

namespace credd {
namespace {

namespace fs = std::filesystem;
using std::chrono::hours;

constexpr const char* kHeader =
    "student_id,family_name,given_names,email,personal_email,preferred_locale,"
    "credential_type,credential_title,program,issued_on\n";

std::string Row(const std::string& id, const std::string& family,
                const std::string& issued_on = "2024-06-14") {
  return id + "," + family + ",Ann," + id + "@uni.example,,en,diploma,Diploma in Nursing,Nursing," +
         issued_on + "\n";
}

std::string Slurp(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

// 2025-03-01 12:00 UTC.
Clock::WallTime Pinned() {
  return std::chrono::sys_days{std::chrono::year{2025} / 3 / 1} + hours(12);
}

class IntakeTest : public ::testing::Test {
 protected:
  IntakeTest() : log_(log_text_, LogLevel::kDebug), clock_(Pinned()) {}

  void SetUp() override {
    ASSERT_TRUE(db_.ok());
    char pattern[] = "/tmp/credd-intake-XXXXXX";
    ASSERT_NE(::mkdtemp(pattern), nullptr);
    dir_ = pattern;
    const std::string yaml = "database:\n  url: " + db_.YamlUrl() + "\ndrop_root: '" +
                             (dir_ / "drop").string() +
                             "'\ninstitutions:\n  - id: uni\n    name_en: University\n"
                             "    name_fr: Université\n";
    std::vector<ConfigProblem> problems;
    auto config = ParseConfig(yaml, dir_.string(), &problems);
    ASSERT_TRUE(config.ok()) << config.error().ToString();
    config_ = *config;
    database_ = db_.OpenPrepared(log_, config_.institutions, &store_);
    ASSERT_NE(database_, nullptr);
    drop_ = config_.DropDirFor(Uni());
    ASSERT_TRUE(EnsureDropFolders(drop_).ok());
  }
  void TearDown() override {
    std::error_code ignored;
    fs::remove_all(dir_, ignored);
  }

  const InstitutionConfig& Uni() const { return config_.institutions.front(); }

  ProcessOptions Options() {
    ProcessOptions options;
    options.clock = &clock_;
    options.chunk_size = 2;  // Several chunks from a few rows.
    return options;
  }

  // Writes `content` as a file and processes it as the daemon would (by path).
  Result<BatchReport> Process(BatchProcessor& processor, const std::string& name,
                              const std::string& content, bool resuming = false,
                              const InstitutionConfig* institution = nullptr) {
    const fs::path path = dir_ / name;
    std::ofstream(path, std::ios::binary) << content;
    ProcessInput input;
    input.institution = institution != nullptr ? institution : &Uni();
    input.path = path.string();
    input.display_name = name;
    input.format = Format::kCsv;
    input.sha256 = Sha256Hex(content);
    input.resuming = resuming;
    return processor.Process(input);
  }

  nlohmann::json ReportIn(const std::string& folder, const std::string& name) const {
    const fs::path path = fs::path(drop_) / folder / (name + ".report.json");
    EXPECT_TRUE(fs::exists(path)) << path;
    return nlohmann::json::parse(Slurp(path), nullptr, false);
  }

  int64_t Batches(const std::string& status) {
    auto counts = ReadStatusCounts(*store_);
    EXPECT_TRUE(counts.ok());
    return counts.ok() ? counts->batches[status] : -1;
  }

  testing::TestDatabase db_;
  std::ostringstream log_text_;
  Logger log_;
  PinnedClock clock_;
  fs::path dir_;
  std::string drop_;
  Config config_;
  std::unique_ptr<Database> database_;
  std::unique_ptr<Store> store_;
};

TEST_F(IntakeTest, StoresTheGoodRecordsAndNamesEachBadOneByLineAndField) {
  BatchProcessor processor(database_.get(), log_, Options());
  const std::string csv = std::string(kHeader) + Row("S1", "Roy") + Row("S2", "") +
                          Row("S3", "Tremblay") + Row("S4", "Gagnon") + Row("S5", "Côté");
  auto report = Process(processor, "grads.csv", csv);
  ASSERT_TRUE(report.ok()) << report.error().ToString() << "\n" << log_text_.str();
  EXPECT_EQ(report->status, BatchStatus::kDone);
  EXPECT_EQ(report->counts.total, 5);
  EXPECT_EQ(report->counts.accepted, 4);
  EXPECT_EQ(report->counts.rejected, 1);
  ASSERT_EQ(report->errors.size(), 1u);
  EXPECT_EQ(report->errors[0].line, 3);
  EXPECT_EQ(report->errors[0].field, "family_name");
  EXPECT_EQ(report->received_at, "2025-03-01T12:00:00Z") << "stamped by the pinned clock";
  EXPECT_EQ(report->finished_at, "2025-03-01T12:00:00Z");

  auto batch = LoadBatch(*store_, report->batch_id);
  ASSERT_TRUE(batch.ok());
  EXPECT_EQ(batch->status, BatchStatus::kDone);
  EXPECT_EQ(batch->counts.accepted, 4);
  EXPECT_EQ(batch->records_processed, 5) << "every chunk committed";
}

// The daemon runs for days: "in the future" is judged by the clock when each file arrives,
// not when the processor was made.
TEST_F(IntakeTest, IssuedOnIsJudgedByTheClockWhenEachFileArrives) {
  BatchProcessor processor(database_.get(), log_, Options());
  auto early =
      Process(processor, "june.csv", std::string(kHeader) + Row("S1", "Roy", "2025-06-14"));
  ASSERT_TRUE(early.ok()) << early.error().ToString();
  EXPECT_EQ(early->counts.rejected, 1);
  ASSERT_EQ(early->errors.size(), 1u);
  EXPECT_EQ(early->errors[0].field, "issued_on");
  EXPECT_NE(early->errors[0].message.find("in the future"), std::string::npos)
      << early->errors[0].message;
  EXPECT_EQ(early->status, BatchStatus::kRejected) << "no record could be accepted";

  clock_.Advance(hours(24 * 120));  // Now 2025-06-29.
  auto later =
      Process(processor, "june-again.csv", std::string(kHeader) + Row("S2", "Roy", "2025-06-14"));
  ASSERT_TRUE(later.ok()) << later.error().ToString();
  EXPECT_EQ(later->counts.accepted, 1);
  EXPECT_EQ(later->status, BatchStatus::kDone);
  EXPECT_EQ(later->received_at, "2025-06-29T12:00:00Z");
}

TEST_F(IntakeTest, TheSameBytesTwiceAreADuplicateThatStoresNothing) {
  BatchProcessor processor(database_.get(), log_, Options());
  const std::string csv = std::string(kHeader) + Row("S1", "Roy") + Row("S2", "Gagnon");
  auto first = Process(processor, "grads.csv", csv);
  ASSERT_TRUE(first.ok()) << first.error().ToString();
  auto second = Process(processor, "grads-copy.csv", csv);
  ASSERT_TRUE(second.ok()) << second.error().ToString();
  EXPECT_EQ(second->status, BatchStatus::kDuplicate);
  EXPECT_EQ(second->duplicate_of, first->batch_id);
  EXPECT_NE(second->reason.find("grads.csv"), std::string::npos) << second->reason;
  EXPECT_EQ(Batches("done"), 1);
  EXPECT_EQ(Batches("duplicate"), 1);

  // Found again in processing/ after a crash, a finished batch is simply finished.
  auto resumed = Process(processor, "grads.csv", csv, /*resuming=*/true);
  ASSERT_TRUE(resumed.ok()) << resumed.error().ToString();
  EXPECT_EQ(resumed->status, BatchStatus::kDone);
  EXPECT_EQ(resumed->batch_id, first->batch_id);
  EXPECT_EQ(Batches("duplicate"), 1);
}

TEST_F(IntakeTest, RejectFileStoresNothingWhenOneRecordIsBad) {
  InstitutionConfig strict = Uni();
  strict.on_record_error = RecordErrorPolicy::kRejectFile;
  BatchProcessor processor(database_.get(), log_, Options());
  auto report = Process(processor, "grads.csv",
                        std::string(kHeader) + Row("S1", "Roy") + Row("S2", "") + Row("S3", "Roy"),
                        false, &strict);
  ASSERT_TRUE(report.ok()) << report.error().ToString();
  EXPECT_EQ(report->status, BatchStatus::kRejected);
  EXPECT_FALSE(report->reason.empty());
  ASSERT_EQ(report->errors.size(), 1u);
  EXPECT_EQ(report->errors[0].line, 3);
  auto batch = LoadBatch(*store_, report->batch_id);
  ASSERT_TRUE(batch.ok());
  EXPECT_EQ(batch->counts.accepted, 0) << "not one record of the file was stored";
}

TEST_F(IntakeTest, ADryRunStoresNothing) {
  BatchProcessor processor(nullptr, log_, Options());
  const fs::path path = dir_ / "grads.csv";
  std::ofstream(path) << kHeader << Row("S1", "Roy") << Row("S2", "");
  ProcessInput input;
  input.institution = &Uni();
  input.path = path.string();
  input.display_name = "grads.csv";
  input.format = Format::kCsv;
  auto report = processor.DryRun(input);
  ASSERT_TRUE(report.ok()) << report.error().ToString();
  EXPECT_TRUE(report->dry_run);
  EXPECT_EQ(report->batch_id, 0);
  EXPECT_EQ(report->counts.accepted, 1);
  EXPECT_EQ(report->counts.rejected, 1);
  EXPECT_EQ(Batches("done") + Batches("rejected") + Batches("processing"), 0);
}

TEST_F(IntakeTest, ADroppedFileEndsInDoneWithBothReportsBesideIt) {
  FileIntake intake(*database_, log_, Options());
  std::ofstream(fs::path(drop_) / "incoming" / "grads.csv")
      << kHeader << Row("S1", "Roy") << Row("S2", "");
  ASSERT_TRUE(intake.TakeIncoming(config_, Uni(), "grads.csv").ok()) << log_text_.str();
  EXPECT_TRUE(fs::exists(fs::path(drop_) / "done" / "grads.csv"));
  EXPECT_FALSE(fs::exists(fs::path(drop_) / "incoming" / "grads.csv"));
  EXPECT_TRUE(fs::is_empty(fs::path(drop_) / "processing"));
  EXPECT_TRUE(fs::exists(fs::path(drop_) / "done" / "grads.csv.report.txt"));
  const nlohmann::json report = ReportIn("done", "grads.csv");
  EXPECT_EQ(report["status"], "done");
  EXPECT_EQ(report["received_at"], "2025-03-01T12:00:00Z");
  EXPECT_EQ(report["records"]["accepted"], 1);
  ASSERT_EQ(report["errors"].size(), 1u);
  EXPECT_EQ(report["errors"][0]["line"], 3);
  EXPECT_EQ(report["errors"][0]["field"], "family_name");
}

TEST_F(IntakeTest, AFileCreddCannotReadGoesToRejectedWithTheReason) {
  FileIntake intake(*database_, log_, Options());
  std::ofstream(fs::path(drop_) / "incoming" / "notes.docx") << "not an export";
  ASSERT_TRUE(intake.TakeIncoming(config_, Uni(), "notes.docx").ok()) << log_text_.str();
  EXPECT_TRUE(fs::exists(fs::path(drop_) / "rejected" / "notes.docx"));
  const nlohmann::json report = ReportIn("rejected", "notes.docx");
  EXPECT_EQ(report["status"], "rejected");
  EXPECT_FALSE(report.value("reason", "").empty()) << report.dump();
  EXPECT_EQ(Slurp(fs::path(drop_) / "rejected" / "notes.docx"), "not an export")
      << "the file is kept as it came";
}

TEST_F(IntakeTest, ALinkDroppedInIncomingIsRefusedAndStaysALink) {
  FileIntake intake(*database_, log_, Options());
  const fs::path target = dir_ / "elsewhere.csv";
  std::ofstream(target) << kHeader << Row("S1", "Roy");
  fs::create_symlink(target, fs::path(drop_) / "incoming" / "link.csv");
  ASSERT_TRUE(intake.TakeIncoming(config_, Uni(), "link.csv").ok()) << log_text_.str();
  EXPECT_TRUE(fs::is_symlink(fs::path(drop_) / "rejected" / "link.csv"));
  EXPECT_EQ(ReportIn("rejected", "link.csv")["status"], "rejected");
  EXPECT_EQ(Batches("done"), 0) << "what a link points at is never read";
}

TEST_F(IntakeTest, AFileLeftInProcessingIsResumedAtStart) {
  FileIntake intake(*database_, log_, Options());
  std::ofstream(fs::path(drop_) / "processing" / "grads.csv")
      << kHeader << Row("S1", "Roy") << Row("S2", "Gagnon") << Row("S3", "Côté");
  ASSERT_TRUE(intake.ResumeProcessing(config_, Uni()).ok()) << log_text_.str();
  EXPECT_TRUE(fs::exists(fs::path(drop_) / "done" / "grads.csv"));
  EXPECT_TRUE(fs::is_empty(fs::path(drop_) / "processing"));
  EXPECT_EQ(ReportIn("done", "grads.csv")["records"]["accepted"], 3);
}

}  // namespace
}  // namespace credd
