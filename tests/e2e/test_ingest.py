"""Ingestion end to end: the real credd watching a temp drop root on a real PostgreSQL.
Files go in as staff drop them; the test reads the reports staff would read and checks the
database holds exactly what the reports say was accepted."""

import glob
import os
import signal
import time
import unittest
import zipfile

import harness
from ingest_util import HEADER, Installation, csv_row

CORPUS = harness.CORPUS
INST = "test-college"


class CsvIngestTest(harness.TestCase):
    def setUp(self):
        self.site = Installation(self)
        self.site.start()

    def test_good_bad_and_mixed_files(self):
        good = HEADER + "".join(csv_row(i) for i in range(1, 6))
        mixed = (HEADER + csv_row(10) +
                 "S0000011,Family11,Given11,not-an-email,,en,diploma,Diploma,Nursing,2024-06-14\n" +
                 csv_row(12) +
                 "S0000013,Family13,Given13,s13@college.example,,en,diploma,Diploma,Nursing,2019-02-30\n" +
                 "S0000014,Family14,Given14,s14@college.example,,xx,degree,Diploma,Nursing,2024-06-14\n" +
                 csv_row(10))  # The same credential twice in one file.
        bad = HEADER + "S0000020,,Given20,s20@college.example,,en,diploma,Diploma,Nursing,2024-06-14\n"
        self.site.drop(INST, "good.csv", good)
        self.site.drop(INST, "mixed.csv", mixed)
        self.site.drop(INST, "bad.csv", bad)

        state, report = self.site.report(INST, "good.csv")
        self.assertEqual(state, "done")
        self.assertEqual(report["status"], "done")
        self.assertEqual(report["format"], "csv")
        self.assertEqual(report["records"], {"total": 5, "accepted": 5, "rejected": 0, "duplicates": 0})
        self.assertEqual(len(report["sha256"]), 64)

        state, report = self.site.report(INST, "mixed.csv")
        self.assertEqual(state, "done")
        self.assertEqual(report["records"], {"total": 6, "accepted": 2, "rejected": 4, "duplicates": 0})
        errors = [(e["line"], e["field"]) for e in report["errors"]]
        self.assertIn((3, "email"), errors)
        self.assertIn((5, "issued_on"), errors)
        self.assertIn((6, "preferred_locale"), errors)
        self.assertIn((6, "credential_type"), errors)
        self.assertIn((7, "student_id"), errors)
        dup = [e for e in report["errors"] if e["line"] == 7][0]
        self.assertIn("duplicate of line 2", dup["message"])
        text = self.site.text_report(INST, "done", "mixed.csv")
        self.assertIn("mixed.csv:5: issued_on: '2019-02-30' is not a date", text)

        state, report = self.site.report(INST, "bad.csv")
        self.assertEqual(state, "rejected")
        self.assertEqual(report["records"]["accepted"], 0)
        self.assertEqual(report["errors"][0]["field"], "family_name")

        self.assertEqual(self.site.count("SELECT count(*) FROM credentials"), 7)
        self.assertEqual(self.site.count("SELECT count(*) FROM students"), 7)
        self.assertTrue(self.site.daemon.alive())

    def test_same_content_twice_is_a_duplicate(self):
        content = HEADER + "".join(csv_row(i) for i in range(1, 4))
        self.site.drop(INST, "monday.csv", content)
        self.site.report(INST, "monday.csv")
        rows_before = self.site.sql("SELECT count(*), max(id) FROM credentials")
        self.site.drop(INST, "tuesday.csv", content)
        state, report = self.site.report(INST, "tuesday.csv")
        self.assertEqual(state, "done")
        self.assertEqual(report["status"], "duplicate")
        self.assertEqual(report["records"]["accepted"], 0)
        self.assertIn("monday.csv", report["reason"])
        self.assertEqual(self.site.sql("SELECT count(*), max(id) FROM credentials"), rows_before)
        self.assertEqual(self.site.count("SELECT count(*) FROM batches WHERE status = 'duplicate'"), 1)
        status = harness.run([harness.CREDCTL, "--config", self.site.config, "status", "--json"])
        self.assertIn('"duplicate": 1', status.stdout)

    def test_changed_record_supersedes_and_unchanged_is_skipped(self):
        self.site.drop(INST, "v1.csv", HEADER + csv_row(1) + csv_row(2))
        self.site.report(INST, "v1.csv")
        # Row 1 corrected (issue date), row 2 identical.
        self.site.drop(INST, "v2.csv", HEADER + csv_row(1, issued_on="2024-06-15") + csv_row(2))
        state, report = self.site.report(INST, "v2.csv")
        self.assertEqual(report["records"], {"total": 2, "accepted": 1, "rejected": 0, "duplicates": 1})
        self.assertEqual(self.site.sql(
            "SELECT string_agg(version || ':' || status, ',' ORDER BY version) FROM credentials c "
            "JOIN students s ON s.id = c.student WHERE s.student_id = 'S0000001'"),
            "1:superseded,2:active")
        self.assertEqual(self.site.count(
            "SELECT count(*) FROM audit_events WHERE event = 'credential.superseded'"), 1)

    def test_file_held_open_is_not_taken_before_close(self):
        incoming = self.site.folder(INST, "incoming")
        path = os.path.join(incoming, "slow.csv")
        with open(path, "w", encoding="utf-8") as f:
            f.write(HEADER)
            # Append for two seconds, then hold the file open, idle, for three: longer than
            # the settle time, so only the open-for-writing check keeps credd away.
            for i in range(1, 9):
                f.write(csv_row(i))
                f.flush()
                time.sleep(0.25)  # The writer's pace, not a wait for credd.
            time.sleep(3)
            self.assertTrue(os.path.exists(path), "taken while still open for writing")
            self.assertEqual(os.listdir(self.site.folder(INST, "processing")), [])
        state, report = self.site.report(INST, "slow.csv")
        self.assertEqual(state, "done")
        self.assertEqual(report["records"]["accepted"], 8)


class HostileInputTest(harness.TestCase):
    def setUp(self):
        self.site = Installation(self)
        self.site.start()
        self.outside = os.path.join(self.site.dir, "outside-secret.csv")
        with open(self.outside, "w") as f:
            f.write(HEADER + csv_row(1))

    def expect_rejected(self, name, needle, stored_as=None):
        state, report = self.site.report(INST, stored_as or name)
        self.assertEqual(state, "rejected", report)
        text = (report.get("reason", "") + " " +
                " ".join(e["field"] + ": " + e["message"] for e in report["errors"])).lower()
        self.assertIn(needle.lower(), text, report)
        return report

    def test_every_hostile_input_is_rejected_and_the_daemon_keeps_running(self):
        incoming = self.site.folder(INST, "incoming")
        # Never ready: still being written, or hidden.
        for name in ("pending.csv.part", "pending.csv.tmp", ".hidden.csv"):
            with open(os.path.join(incoming, name), "w") as f:
                f.write(HEADER + csv_row(5))
        os.symlink(self.outside, os.path.join(incoming, "link.csv"))
        os.mkfifo(os.path.join(incoming, "pipe.csv"))
        os.link(self.outside, os.path.join(incoming, "hardlink.csv"))
        self.site.drop(INST, "new\nline.csv", HEADER + csv_row(2))
        self.site.drop(INST, "bomb.xml",
                       '<?xml version="1.0"?>\n<!DOCTYPE lolz [<!ENTITY lol "lol">'
                       '<!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">'
                       '<!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">]>\n'
                       '<CollegeTranscript>&lol3;</CollegeTranscript>\n')
        self.site.drop(INST, "xxe.xml",
                       '<?xml version="1.0"?>\n<!DOCTYPE r [<!ENTITY x SYSTEM "file:///etc/passwd">]>\n'
                       '<CollegeTranscript>&x;</CollegeTranscript>\n')
        self.site.drop(INST, "bigfield.csv", HEADER + "S0000003,Family," + "x" * (2 * 1024 * 1024) +
                       ",s3@college.example,,en,diploma,Diploma,Nursing,2024-06-14\n")
        self.site.drop(INST, "garbage.csv", os.urandom(4096))
        self.site.drop(INST, "empty.csv", b"")
        zip_path = os.path.join(self.site.dir, "escape.zip")
        with zipfile.ZipFile(zip_path, "w") as z:
            z.writestr("manifest.csv", "file,student_id\n")
            z.writestr("../evil.pdf", b"%PDF-1.4\n")
        self.site.drop_file(INST, zip_path)

        self.expect_rejected("link.csv", "symbolic link")
        self.expect_rejected("pipe.csv", "not a regular file")
        self.expect_rejected("hardlink.csv", "hard link")
        self.expect_rejected("new\nline.csv", "control character", stored_as="new_line.csv")
        self.expect_rejected("bomb.xml", "DTD")
        self.expect_rejected("xxe.xml", "DTD")
        self.expect_rejected("bigfield.csv", "given_names")
        self.expect_rejected("garbage.csv", "")
        self.expect_rejected("empty.csv", "empty")
        self.expect_rejected("escape.zip", "..")

        # The link was moved, not its target; nothing outside was read or stored.
        self.assertTrue(os.path.islink(os.path.join(self.site.folder(INST, "rejected"), "link.csv")))
        self.assertTrue(os.path.exists(self.outside))
        self.assertEqual(self.site.count("SELECT count(*) FROM credentials"), 0)
        for report in glob.glob(os.path.join(self.site.folder(INST, "rejected"), "*.report.*")):
            with open(report, encoding="utf-8", errors="replace") as f:
                self.assertNotIn("root:x:", f.read())
        self.assertTrue(self.site.daemon.alive())
        self.assertEqual(sorted(os.listdir(incoming)), [".hidden.csv", "pending.csv.part", "pending.csv.tmp"])
        # And it still imports good files afterwards.
        self.site.drop(INST, "after.csv", HEADER + csv_row(9))
        self.assertEqual(self.site.report(INST, "after.csv")[1]["records"]["accepted"], 1)


class PdfManifestTest(harness.TestCase):
    def test_zip_of_third_party_pdfs_is_stored_byte_for_byte(self):
        harness.require_corpus(self)
        site = Installation(self)
        site.start()
        pdfs = sorted(glob.glob(os.path.join(CORPUS, "pdf", "canpesc-cdl", "*.pdf")))
        self.assertEqual(len(pdfs), 10)
        manifest = ("file,student_id,family_name,given_names,email,personal_email,preferred_locale,"
                    "credential_type,credential_title,issued_on\n")
        for i, pdf in enumerate(pdfs, start=1):
            locale = "fr" if "fr-CA" in pdf else "en"
            manifest += (f"{os.path.basename(pdf)},P{i:04d},Family{i},Given{i},p{i}@college.example,,"
                         f"{locale},transcript,Official Transcript,2023-05-01\n")
        manifest += "missing.pdf,P0099,Family99,Given99,p99@college.example,,en,diploma,Diploma,2023-05-01\n"
        zip_path = os.path.join(site.dir, "rendered.zip")
        with zipfile.ZipFile(zip_path, "w") as z:
            z.writestr("manifest.csv", manifest)
            for pdf in pdfs:
                z.write(pdf, os.path.basename(pdf))
        site.drop_file(INST, zip_path)
        state, report = site.report(INST, "rendered.zip")
        self.assertEqual(state, "done", report)
        self.assertEqual(report["format"], "pdf-manifest")
        self.assertEqual(report["records"], {"total": 11, "accepted": 10, "rejected": 1, "duplicates": 0})
        self.assertEqual([(e["line"], e["field"]) for e in report["errors"]], [(12, "file")])
        import hashlib
        for i, pdf in enumerate(pdfs, start=1):
            with open(pdf, "rb") as f:
                expected = hashlib.sha256(f.read()).hexdigest()
            stored = site.sql("SELECT encode(sha256(c.source_pdf), 'hex') FROM credentials c JOIN students s "
                              f"ON s.id = c.student WHERE s.student_id = 'P{i:04d}'")
            self.assertEqual(stored, expected, pdf)


class PescCorpusTest(harness.TestCase):
    def test_every_corpus_transcript(self):
        harness.require_corpus(self)
        site = Installation(self)
        site.start()
        files = sorted(glob.glob(os.path.join(CORPUS, "pesc-xml", "**", "*.xml"), recursive=True))
        self.assertGreaterEqual(len(files), 18)
        names = {}
        for path in files:
            name = os.path.relpath(path, os.path.join(CORPUS, "pesc-xml")).replace("/", "__").replace(" ", "_")
            names[name] = path
            site.drop_file(INST, path, name)
        reports = {name: site.report(INST, name) for name in names}
        expected_rejections = {
            # High School transcripts: an unsupported document type, at the line of each.
            "bcgov-grad-report__xml_report_sample.xml": "HighSchoolTranscript is not supported",
            "canpesc-cdl__Canada__Nova_Scotia__HighSchool__HighSchoolTranscript.xml": "HighSchoolTranscript is not supported",
            "canpesc-cdl__Canada__Nova_Scotia__HighSchool__HighSchoolTranscript2.xml": "HighSchoolTranscript is not supported",
            "canpesc-cdl__Canada__Nova_Scotia__HighSchool__HighSchoolTranscript3.xml": "HighSchoolTranscript is not supported",
            "canpesc-cdl__Canada__Ontario__HighSchool__HighSchoolTranscript.xml": "HighSchoolTranscript is not supported",
            "pesc-tab__hs-1.7.0-draft__highschool-transcript.xml": "HighSchoolTranscript is not supported",
            "ccctc-college-adaptor__malformed-college-transcript.xml": "TransmissionData is missing",
            # Only a US SSN identifies these students; credd never stores one (docs/decisions.md).
            "ccctc-college-adaptor__college-transcript.xml": "SSN and SIN are never used as a student id",
            "pesc-tab__ct-1.8.0__CollegeTranscriptInstance.xml": "SSN and SIN are never used as a student id",
        }
        accepted_total = 0
        for name, (state, report) in reports.items():
            with self.subTest(file=name):
                if name in expected_rejections:
                    self.assertEqual(state, "rejected", report)
                    text = report.get("reason", "") + " ".join(e["message"] for e in report["errors"])
                    self.assertIn(expected_rejections[name], text)
                    self.assertEqual(report["records"]["accepted"], 0)
                else:
                    self.assertEqual(state, "done", report)
                    self.assertEqual(report["records"]["total"], 1, report)
                    self.assertEqual(report["records"]["rejected"], 0, report)
                    # Two Butte samples carry the same student and transcript: the second
                    # supersedes the first, or is unchanged.
                    self.assertEqual(report["records"]["accepted"] + report["records"]["duplicates"], 1)
                accepted_total += report["records"]["accepted"]
        self.assertEqual(site.count("SELECT count(*) FROM credentials"), accepted_total)
        self.assertEqual(site.count("SELECT count(*) FROM credentials WHERE status = 'active'"),
                         site.count("SELECT count(DISTINCT student) FROM credentials"))
        self.assertEqual(site.sql("SELECT data->'transcript'->'cumulative'->>'gpa' FROM credentials c "
                                  "JOIN students s ON s.id = c.student WHERE s.family_name = 'Potter'"), "2.72")


class CrashTest(harness.TestCase):
    def test_kill_9_five_times_stores_each_record_once(self):
        import random
        site = Installation(self)
        rows = 10000
        content = HEADER + "".join(csv_row(i) for i in range(1, rows + 1))
        daemon = site.start()
        site.drop(INST, "big.csv", content)
        rng = random.Random(20261128)
        kills = 0
        stored_at_kill = []
        while kills < 5:
            # Kill once this run has committed at least one more chunk, at a random moment
            # after that: some, but not all, of the file is stored.
            before = stored_at_kill[-1] if stored_at_kill else 0
            harness.wait_for(lambda: site.count("SELECT count(*) FROM credentials") > before or
                             not daemon.alive(), 60, interval=0.02, what="a committed chunk")
            time.sleep(rng.uniform(0, 0.15))
            if not os.listdir(site.folder(INST, "processing")):
                break  # Finished before we could kill it.
            daemon.signal(signal.SIGKILL)
            daemon.wait()
            kills += 1
            stored_at_kill.append(site.count("SELECT count(*) FROM credentials"))
            daemon = site.start()
        state, report = site.report(INST, "big.csv", timeout=300)
        print(f"records stored when each kill -9 landed: {stored_at_kill}")
        mid_file = [n for n in stored_at_kill if 0 < n < rows]
        self.assertGreaterEqual(len(mid_file), 3, f"too few kills landed mid-file: {stored_at_kill}")
        self.assertEqual(state, "done")
        self.assertEqual(report["records"], {"total": rows, "accepted": rows, "rejected": 0, "duplicates": 0})
        self.assertEqual(site.count("SELECT count(*) FROM credentials"), rows)
        self.assertEqual(site.count("SELECT count(DISTINCT student) FROM credentials"), rows)
        self.assertEqual(site.count("SELECT count(*) FROM students"), rows)
        self.assertEqual(site.count("SELECT count(*) FROM audit_events WHERE event = 'credential.created'"), rows)


class CredctlImportTest(harness.TestCase):
    def test_dry_run_needs_no_database(self):
        d = harness.make_temp_dir(self)
        config = harness.write_config(os.path.join(d, "credd.yaml"),
                                      harness.url_database(f"host={d}/nowhere dbname=x connect_timeout=1"),
                                      os.path.join(d, "drop"))
        path = os.path.join(d, "dry.csv")
        with open(path, "w") as f:
            f.write(HEADER + csv_row(1) + csv_row(2) +
                    "S0000003,Family3,Given3,s3@college.example,,en,diploma,Diploma,Nursing,2024-13-01\n")
        result = harness.run([harness.CREDCTL, "--config", config, "import", "--institution", INST,
                              "--dry-run", "--json", path])
        self.assertEqual(result.returncode, harness.EX_DATAERR, result.stderr)
        import json
        report = json.loads(result.stdout)
        self.assertEqual(report["records"], {"total": 3, "accepted": 2, "rejected": 1, "duplicates": 0})
        self.assertEqual(report["errors"][0]["line"], 4)
        self.assertEqual(report["errors"][0]["field"], "issued_on")
        self.assertTrue(report["dry_run"])

    def test_import_stores_and_second_time_is_duplicate(self):
        site = Installation(self)
        path = os.path.join(site.dir, "import.csv")
        with open(path, "w") as f:
            f.write(HEADER + csv_row(1) + csv_row(2))
        args = [harness.CREDCTL, "--config", site.config, "import", "--institution", INST, "--json", path]
        first = harness.run(args)
        self.assertEqual(first.returncode, 0, first.stderr)
        self.assertIn('"accepted": 2', first.stdout)
        second = harness.run(args)
        self.assertEqual(second.returncode, 0, second.stderr)
        self.assertIn('"status": "duplicate"', second.stdout)
        self.assertEqual(site.count("SELECT count(*) FROM credentials"), 2)
        missing = harness.run(args[:-1] + [path + ".missing"])
        self.assertEqual(missing.returncode, harness.EX_NOINPUT)

    def test_reject_file_policy_stores_nothing(self):
        site = Installation(self, institutions=(), extra_institution_yaml=(
            "  - id: strict-college\n    on_record_error: reject_file\n"))
        path = os.path.join(site.dir, "mixed.csv")
        with open(path, "w") as f:
            f.write(HEADER + csv_row(1) +
                    "S0000002,Family2,Given2,bad-email,,en,diploma,Diploma,Nursing,2024-06-14\n")
        result = harness.run([harness.CREDCTL, "--config", site.config, "import", "--institution",
                              "strict-college", "--json", path])
        self.assertEqual(result.returncode, harness.EX_DATAERR, result.stderr)
        self.assertIn('"status": "rejected"', result.stdout)
        self.assertEqual(site.count("SELECT count(*) FROM credentials"), 0)


if __name__ == "__main__":
    unittest.main()
