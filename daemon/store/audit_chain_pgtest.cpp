// The audit chain's check against what a superuser can do to the table: alter one row,
// remove one, recompute the tail after an edit, or cut the tail off. The first two break
// the chain itself; the last two leave a consistent chain that only an anchor taken before
// them can catch.
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

#include "daemon/store/audit_chain.h"
#include "daemon/store/migrations.h"
#include "daemon/store/pgtest_util.h"

namespace credd {
namespace {

class AuditChainTest : public testing::MigratedStoreTest {
 protected:
  void SetUp() override {
    MigratedStoreTest::SetUp();
    if (HasFatalFailure()) return;
    // Five events, the third about the college.
    for (int i = 1; i <= 5; ++i) {
      Exec(std::string("INSERT INTO audit_events (actor, institution_id, event, subject, "
                       "details) VALUES ('test', '") +
           (i == 3 ? "col" : "uni") + "', 'batch.done', 'batch:" + std::to_string(i) +
           "', '{\"n\": " + std::to_string(i) + "}')");
    }
    for (int i = 0; i < 5; ++i) {
      seq_[i] = Count("SELECT seq FROM audit_events ORDER BY seq OFFSET " + std::to_string(i) +
                      " LIMIT 1");
    }
  }

  // What a superuser can do: the append-only triggers off, the change, the triggers on.
  void Tamper(const std::string& sql) {
    Exec("ALTER TABLE audit_events DISABLE TRIGGER USER; " + sql +
         "; ALTER TABLE audit_events ENABLE TRIGGER USER");
  }
  // Recomputes every hash from the event `from` on, as someone covering an edit would.
  void Recompute(int64_t from) {
    Tamper(
        "DO $$ DECLARE r record; prev bytea; BEGIN "
        "SELECT hash INTO prev FROM audit_events WHERE seq < " +
        std::to_string(from) +
        " ORDER BY seq DESC LIMIT 1; "
        "FOR r IN SELECT * FROM audit_events WHERE seq >= " +
        std::to_string(from) +
        " ORDER BY seq LOOP "
        "UPDATE audit_events SET prev_hash = prev, hash = audit_event_hash(prev, r.seq, "
        "r.occurred_at, r.actor, r.institution_id, r.event, r.subject, r.details) "
        "WHERE seq = r.seq RETURNING hash INTO prev; END LOOP; END $$");
  }
  AuditChainReport Verify(const std::optional<AuditAnchor>& anchor = std::nullopt,
                          const std::string& institution = "") {
    Result<AuditChainReport> report = VerifyAuditChain(*conn_, anchor, institution);
    EXPECT_TRUE(report.ok()) << report.error().ToString();
    return report.ok() ? *report : AuditChainReport{};
  }

  int64_t seq_[5] = {};
};

TEST_F(AuditChainTest, AWholeChainHasNoBreaksAndItsHeadIsTheLastEvent) {
  const AuditChainReport report = Verify();
  EXPECT_TRUE(report.breaks.empty());
  EXPECT_EQ(report.events, 5);
  EXPECT_EQ(report.head.seq, seq_[4]);
  Result<AuditAnchor> head = AuditHead(*conn_);
  ASSERT_TRUE(head.ok());
  EXPECT_EQ(head->seq, seq_[4]);
  EXPECT_EQ(head->hash, report.head.hash);
  EXPECT_EQ(head->events, 5);
  EXPECT_TRUE(Verify(*head).breaks.empty()) << "the anchor just taken holds";
}

TEST_F(AuditChainTest, AnAlteredRowIsNamed) {
  Tamper("UPDATE audit_events SET details = '{\"n\": 99}' WHERE seq = " + std::to_string(seq_[1]));
  const AuditChainReport report = Verify();
  ASSERT_EQ(report.breaks.size(), 1u);
  EXPECT_EQ(report.breaks[0].seq, seq_[1]);
  EXPECT_EQ(report.breaks[0].event, "batch.done");
  EXPECT_NE(report.breaks[0].reason.find("altered"), std::string::npos);
}

TEST_F(AuditChainTest, ARemovedRowBreaksTheLinkOfTheNext) {
  Tamper("DELETE FROM audit_events WHERE seq = " + std::to_string(seq_[2]));
  const AuditChainReport report = Verify();
  ASSERT_EQ(report.breaks.size(), 1u);
  EXPECT_EQ(report.breaks[0].seq, seq_[3]);
  EXPECT_NE(report.breaks[0].reason.find("removed or replaced"), std::string::npos);
  Tamper("DELETE FROM audit_events WHERE seq = " + std::to_string(seq_[0]));
  EXPECT_EQ(Verify().breaks.size(), 2u) << "the first event gone: the start is missing too";
}

TEST_F(AuditChainTest, ARecomputedTailIsCaughtOnlyByTheAnchor) {
  Result<AuditAnchor> anchor = AuditHead(*conn_);
  ASSERT_TRUE(anchor.ok());
  Tamper("UPDATE audit_events SET details = '{\"n\": 99}' WHERE seq = " + std::to_string(seq_[1]));
  Recompute(seq_[1]);
  EXPECT_TRUE(Verify().breaks.empty()) << "a recomputed chain is consistent in itself";
  const AuditChainReport report = Verify(*anchor);
  ASSERT_EQ(report.breaks.size(), 1u);
  EXPECT_EQ(report.breaks[0].seq, seq_[4]);
  EXPECT_NE(report.breaks[0].reason.find("recomputed"), std::string::npos);
}

TEST_F(AuditChainTest, ATruncatedTailIsCaughtOnlyByTheAnchor) {
  Result<AuditAnchor> anchor = AuditHead(*conn_);
  ASSERT_TRUE(anchor.ok());
  Tamper("DELETE FROM audit_events WHERE seq >= " + std::to_string(seq_[3]));
  EXPECT_TRUE(Verify().breaks.empty());
  const AuditChainReport report = Verify(*anchor);
  ASSERT_EQ(report.breaks.size(), 1u);
  EXPECT_EQ(report.breaks[0].seq, seq_[4]);
  EXPECT_NE(report.breaks[0].reason.find("tail was cut"), std::string::npos);
  EXPECT_EQ(Verify(*anchor, "col").breaks.size(), 1u) << "the anchor's break is everyone's";
}

TEST_F(AuditChainTest, AnInstitutionSeesOnlyItsOwnBreaks) {
  Tamper("UPDATE audit_events SET actor = 'x' WHERE seq = " + std::to_string(seq_[2]));
  EXPECT_TRUE(Verify(std::nullopt, "uni").breaks.empty());
  ASSERT_EQ(Verify(std::nullopt, "col").breaks.size(), 1u);
  EXPECT_EQ(Verify(std::nullopt, "col").breaks[0].institution_id, "col");
}

TEST_F(AuditChainTest, AStudentsHistoryHoldsTheirOwnSubjectsInTheirInstitution) {
  Exec("INSERT INTO institutions (id) VALUES ('uni'), ('col')");
  Exec(
      "INSERT INTO students (institution_id, student_id, family_name) VALUES "
      "('uni', 'S1', 'A'), ('uni', 'S2', 'B'), ('col', 'S1', 'C')");
  Exec(
      "INSERT INTO batches (institution_id, sha256, file_name, format, status) VALUES "
      "('uni', repeat('a', 64), 'x.csv', 'csv', 'done')");
  const int64_t credential = Count(
      "INSERT INTO credentials (student, batch, kind, credential_key, title, content_sha256) "
      "SELECT s.id, 1, 'diploma', 'diploma:bsc', 'BSc', repeat('1', 64) FROM students s "
      "WHERE s.institution_id = 'uni' AND s.student_id = 'S1' RETURNING id");
  auto event = [&](const std::string& institution, const std::string& name,
                   const std::string& subject) {
    Exec("INSERT INTO audit_events (actor, institution_id, event, subject) VALUES ('t', '" +
         institution + "', '" + name + "', '" + subject + "')");
  };
  event("uni", "credential.created", "credential:" + std::to_string(credential));
  event("uni", "student.email_added", "student:S1");
  event("uni", "student.email_added", "student:S2");  // Another student.
  event("col", "student.viewed", "student:S1");       // The same id at another institution.
  Result<std::vector<AuditEntry>> history = StudentAuditHistory(*conn_, "uni", "S1");
  ASSERT_TRUE(history.ok()) << history.error().ToString();
  std::vector<std::string> seen;
  for (const AuditEntry& e : *history) seen.push_back(e.event + " " + e.subject);
  EXPECT_EQ(seen,
            (std::vector<std::string>{"credential.created credential:" + std::to_string(credential),
                                      "student.email_added student:S1"}));
  Result<std::vector<AuditEntry>> unknown = StudentAuditHistory(*conn_, "uni", "S9");
  ASSERT_FALSE(unknown.ok());
  EXPECT_EQ(unknown.error().code, ErrorCode::kNoInput);
}

TEST(AuditAnchorTest, TheLastGoodLineIsTheAnchor) {
  const AuditAnchor a{"2026-12-01T00:00:00Z", 12, std::string(64, 'a'), 12};
  const AuditAnchor b{"2026-12-02T00:00:00Z", 40, std::string(64, 'b'), 39};
  const std::string text = AnchorLine(a) + "\n" + AnchorLine(b) + "\n" +
                           "credd-audit-anchor at=x seq=notanumber hash=" + std::string(64, 'c') +
                           "\nsomething else\n";
  std::optional<AuditAnchor> last = LastAnchor(text);
  ASSERT_TRUE(last.has_value());
  EXPECT_EQ(last->seq, 40);
  EXPECT_EQ(last->hash, b.hash);
  EXPECT_EQ(last->at, b.at);
  EXPECT_EQ(last->events, 39);
  EXPECT_FALSE(LastAnchor("").has_value());
}

// A fresh folder per test for an anchors file, removed afterwards.
class AnchorsFileTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string pattern =
        (std::filesystem::temp_directory_path() / "credd-anchors-XXXXXX").string();
    ASSERT_NE(::mkdtemp(pattern.data()), nullptr);
    dir = pattern;
    path = (dir / "audit-anchors").string();
  }
  void TearDown() override { std::filesystem::remove_all(dir); }
  std::filesystem::path dir;
  std::string path;
};

TEST_F(AnchorsFileTest, TheAnchorsFileIsAppendedAndItsLastLineRead) {
  Result<std::optional<AuditAnchor>> none = ReadAnchorsFile(path);
  ASSERT_TRUE(none.ok()) << none.error().ToString();
  EXPECT_FALSE(none->has_value()) << "no file yet: none taken";

  const AuditAnchor a{"2026-12-01T00:00:00Z", 12, std::string(64, 'a'), 12};
  const AuditAnchor b{"2026-12-02T00:00:00Z", 40, std::string(64, 'b'), 39};
  ASSERT_TRUE(AppendAnchor(path, a).ok());
  ASSERT_TRUE(AppendAnchor(path, b).ok());
  EXPECT_EQ(std::filesystem::status(path).permissions() & std::filesystem::perms::all,
            std::filesystem::perms::owner_read | std::filesystem::perms::owner_write |
                std::filesystem::perms::group_read)
      << "0640: the anchors are credd's and its group's";
  Result<std::optional<AuditAnchor>> last = ReadAnchorsFile(path);
  ASSERT_TRUE(last.ok() && last->has_value());
  EXPECT_EQ((*last)->seq, 40);
  EXPECT_EQ((*last)->hash, b.hash);

  // An emptied file is a finding, not a fresh start; a folder in its place cannot be read.
  std::filesystem::resize_file(path, 0);
  Result<std::optional<AuditAnchor>> emptied = ReadAnchorsFile(path);
  ASSERT_FALSE(emptied.ok());
  EXPECT_EQ(emptied.error().code, ErrorCode::kData);
  EXPECT_EQ(emptied.error().where, path);
  const std::string folder = (dir / "a-folder").string();
  std::filesystem::create_directories(folder);
  Result<std::optional<AuditAnchor>> read_folder = ReadAnchorsFile(folder);
  ASSERT_FALSE(read_folder.ok());
  EXPECT_EQ(read_folder.error().code, ErrorCode::kNoInput);
  Status appended = AppendAnchor(folder, a);
  ASSERT_FALSE(appended.ok());
  EXPECT_EQ(appended.error().code, ErrorCode::kIo);
  EXPECT_EQ(appended.error().where, folder);
}

TEST_F(AnchorsFileTest, ALineTornByAFailedWriteIsEndedBeforeTheNext) {
  {
    std::ofstream torn(path, std::ios::binary);
    torn << "credd-audit-anchor at=2026-12-01T00:00:00Z seq=1";  // No end of line.
  }
  const AuditAnchor b{"2026-12-02T00:00:00Z", 40, std::string(64, 'b'), 39};
  ASSERT_TRUE(AppendAnchor(path, b).ok());
  Result<std::optional<AuditAnchor>> last = ReadAnchorsFile(path);
  ASSERT_TRUE(last.ok() && last->has_value()) << "the new line stands alone";
  EXPECT_EQ((*last)->seq, 40);
}

}  // namespace
}  // namespace credd
