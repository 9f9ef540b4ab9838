#!/usr/bin/python3
"""Without the shared corpus, its tests are not run rather than failed with filesystem
errors, and never passed; under CI (CI=true) they fail (tests/README.md: "The corpus").

Checks the three parts a clone without ../shared meets: scripts/corpus-notice's one line
(which scripts/test prints first), a C++ corpus test (GTEST_SKIP, which ctest lists as not
run through gtest_discover_tests' SKIP_REGULAR_EXPRESSION), and an e2e corpus test (run.py
exits 77, ctest's SKIP_RETURN_CODE for the e2e modules). Needs CORPUS_GTEST (a gtest binary
holding PescCorpusTest.OntarioDemoCollege) and the e2e environment."""

import os
import subprocess
import sys
import tempfile
import unittest

SOURCE_DIR = os.environ["CREDD_SOURCE_DIR"]
GTEST = os.environ["CORPUS_GTEST"]


class CorpusMissingTest(unittest.TestCase):
    def setUp(self):
        self.missing = os.path.join(tempfile.mkdtemp(prefix="credd-no-corpus."), "corpus")
        self.addCleanup(os.rmdir, os.path.dirname(self.missing))

    def run_with(self, args, corpus, ci, cwd=None):
        env = {k: v for k, v in os.environ.items() if k not in ("CI", "CREDD_CORPUS_DIR")}
        env["CREDD_CORPUS_DIR"] = corpus
        if ci:
            env["CI"] = "true"
        return subprocess.run(args, env=env, cwd=cwd, capture_output=True, text=True, timeout=300)

    def test_the_notice_is_one_line_when_missing_and_nothing_when_there(self):
        notice = [os.path.join(SOURCE_DIR, "scripts", "corpus-notice")]
        there = self.run_with(notice, os.path.dirname(self.missing), ci=False)
        self.assertEqual((there.returncode, there.stdout, there.stderr), (0, "", ""))
        away = self.run_with(notice, self.missing, ci=False)
        self.assertEqual(away.returncode, 0)
        self.assertEqual(away.stderr.splitlines(),
                         [f"test: corpus not found at {self.missing} (set CREDD_CORPUS_DIR): "
                          "its tests will be listed as not run"])
        under_ci = self.run_with(notice, self.missing, ci=True)
        self.assertEqual(under_ci.stderr.splitlines(),
                         [f"test: corpus not found at {self.missing} (set CREDD_CORPUS_DIR): "
                          "under CI its tests fail"])

    def test_a_cpp_corpus_test_is_skipped_and_fails_under_ci(self):
        args = [GTEST, "--gtest_filter=PescCorpusTest.OntarioDemoCollege"]
        away = self.run_with(args, self.missing, ci=False)
        self.assertEqual(away.returncode, 0, away.stdout + away.stderr)
        self.assertIn("[  SKIPPED ] PescCorpusTest.OntarioDemoCollege", away.stdout)
        self.assertIn(f"corpus not found at {self.missing}: not run", away.stdout)
        self.assertNotIn("[       OK ]", away.stdout)
        under_ci = self.run_with(args, self.missing, ci=True)
        self.assertNotEqual(under_ci.returncode, 0, under_ci.stdout)
        self.assertIn("[  FAILED  ] PescCorpusTest.OntarioDemoCollege", under_ci.stdout)
        self.assertIn("CI=true: it must be there", under_ci.stdout)

    def test_an_e2e_corpus_test_is_not_run_and_fails_under_ci(self):
        e2e = os.path.join(SOURCE_DIR, "tests", "e2e")
        args = [sys.executable, "run.py", "test_ingest.PescCorpusTest"]
        away = self.run_with(args, self.missing, ci=False, cwd=e2e)
        self.assertEqual(away.returncode, 77, away.stderr)
        self.assertIn(f"1 test(s) not run: corpus not found at {self.missing}", away.stderr)
        under_ci = self.run_with(args, self.missing, ci=True, cwd=e2e)
        self.assertEqual(under_ci.returncode, 1, under_ci.stderr)
        self.assertIn("CI=true: it must be there", under_ci.stderr)


if __name__ == "__main__":
    unittest.main(verbosity=2)
