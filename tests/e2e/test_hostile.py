"""Hostile drops and faults at the drop folders, each a defect found by hand on an earlier
build: names that are not UTF-8, FIFOs and odd entries in processing/, links planted where
credd writes reports, folders credd cannot move files into, files there at start, and the
state a crash between writing a report and moving its file leaves. After each, credd is
still running and a good file dropped next is processed normally."""

import ctypes
import hashlib
import json
import os
import select
import signal
import struct
import subprocess
import unittest

import harness
from ingest_util import HEADER, Installation, csv_row

INST = "test-college"
SHIM = os.environ.get("CREDD_NO_RENAME_NOREPLACE_SHIM", "")


def folder(site, state):
    return os.fsencode(site.folder(INST, state))


def wait_report(site, name, timeout=60):
    """Waits for the JSON report of `name` (bytes or str) in done/ or rejected/."""
    name = os.fsencode(name)

    def find():
        for state in ("done", "rejected"):
            path = os.path.join(folder(site, state), name + b".report.json")
            if os.path.exists(path):
                with open(path, "rb") as f:
                    return state, json.loads(f.read().decode("utf-8"))
        return None
    log = site.daemon.log if site.daemon else (lambda: "")
    return harness.wait_for(find, timeout, what=f"a report for {name!r}; log:\n{log()[-3000:]}")


def drop_bytes(site, name, content):
    """The staff protocol, with a name that may not be UTF-8."""
    incoming = folder(site, "incoming")
    part = os.path.join(incoming, os.fsencode(name) + b".part")
    with open(part, "wb") as f:
        f.write(content.encode("utf-8") if isinstance(content, str) else content)
    os.rename(part, os.path.join(incoming, os.fsencode(name)))


class Inotify:
    """The kernel's inotify through libc: the moment a name is moved into a folder."""
    IN_MOVED_TO = 0x80

    def __init__(self, test, path):
        self.libc = ctypes.CDLL(None, use_errno=True)
        self.fd = self.libc.inotify_init1(os.O_NONBLOCK)
        test.assertGreaterEqual(self.fd, 0)
        test.addCleanup(os.close, self.fd)
        test.assertGreaterEqual(self.libc.inotify_add_watch(self.fd, os.fsencode(path), self.IN_MOVED_TO), 0)

    def names(self, timeout):
        """Names moved in since the last call, waiting up to timeout for the first."""
        if not select.select([self.fd], [], [], timeout)[0]:
            return []
        data = os.read(self.fd, 65536)
        names, offset = [], 0
        while offset < len(data):
            _, _, _, length = struct.unpack_from("iIII", data, offset)
            names.append(data[offset + 16:offset + 16 + length].rstrip(b"\0"))
            offset += 16 + length
        return names


def make_folders(site):
    for state in ("incoming", "processing", "done", "rejected"):
        os.makedirs(site.folder(INST, state), exist_ok=True)


class HostileTestCase(harness.TestCase):
    def assert_still_serving(self, site, name="after.csv"):
        """The daemon is alive and takes the next good file as usual."""
        self.assertTrue(site.daemon.alive(), site.daemon.log()[-3000:])
        site.drop(INST, name, HEADER + csv_row(900))
        state, report = wait_report(site, name)
        self.assertEqual((state, report["status"]), ("done", "done"), report)


class NamesTest(HostileTestCase):
    def setUp(self):
        self.site = Installation(self)
        self.site.start()

    def test_a_link_whose_name_is_not_utf8_is_refused_and_credd_lives(self):
        # Used to kill credd: the refusal report's JSON dump threw on the name.
        os.symlink(b"x", os.path.join(folder(self.site, "incoming"), b"\xe9.csv"))
        state, report = wait_report(self.site, b"\xe9.csv")
        self.assertEqual(state, "rejected")
        self.assertEqual(report["file"], "\\xe9.csv")
        self.assertIn("symbolic link", report["reason"])
        self.assertTrue(os.path.islink(os.path.join(folder(self.site, "rejected"), b"\xe9.csv")))
        self.assert_still_serving(self.site)

    def test_a_file_whose_name_is_not_utf8_is_imported_under_an_escaped_name(self):
        # Used to wedge in processing/: the batch INSERT failed with SQLSTATE 22021.
        name = b"r\xe9sultats.csv"
        drop_bytes(self.site, name, HEADER + csv_row(1))
        state, report = wait_report(self.site, name)
        self.assertEqual((state, report["status"]), ("done", "done"), report)
        self.assertEqual(report["file"], "r\\xe9sultats.csv")
        self.assertTrue(os.path.exists(os.path.join(folder(self.site, "done"), name)))
        self.assertEqual(self.site.sql("SELECT file_name FROM batches"), "r\\xe9sultats.csv")
        with open(os.path.join(folder(self.site, "done"), name + b".report.txt"), "rb") as f:
            self.assertIn(b"File:        r\\xe9sultats.csv\n", f.read())
        self.assert_still_serving(self.site)

    def test_a_name_too_long_for_the_report_suffix_gets_a_shortened_report_name(self):
        name = "n" * 246 + ".csv"  # 250 bytes: ".report.json" would pass 255.
        self.site.drop(INST, name, HEADER + csv_row(2))
        tag = hashlib.sha256(name.encode()).hexdigest()[:8]
        short = name[:255 - len(".report.json") - 9] + "~" + tag
        state, report = wait_report(self.site, short)
        self.assertEqual((state, report["status"]), ("done", "done"), report)
        self.assertEqual(report["file"], name)
        self.assertEqual(report["report_for"], name)
        self.assertTrue(os.path.exists(os.path.join(self.site.folder(INST, "done"), name)))
        self.assert_still_serving(self.site)

    def test_links_planted_where_reports_are_written_are_never_written_through(self):
        done = self.site.folder(INST, "done")
        victim = os.path.join(self.site.dir, "victim.txt")
        with open(victim, "w") as f:
            f.write("precious\n")
        # Under the report's own name, and under the temporary name earlier builds used.
        os.symlink(victim, os.path.join(done, "x.csv.report.txt"))
        os.symlink(victim, os.path.join(done, ".x.csv.report.txt.tmp"))
        os.symlink(victim, os.path.join(done, ".x.csv.report.json.tmp"))
        self.site.drop(INST, "x.csv", HEADER + csv_row(3))
        state, report = wait_report(self.site, "x~2.csv")
        self.assertEqual((state, report["status"], report["stored_as"]), ("done", "done", "x~2.csv"))
        with open(victim) as f:
            self.assertEqual(f.read(), "precious\n")
        self.assertTrue(os.path.islink(os.path.join(done, "x.csv.report.txt")))
        self.assert_still_serving(self.site)


class StartTest(HostileTestCase):
    def test_files_present_at_start_are_taken_at_once(self):
        # With an hour between rescans, only taking what is there at start imports it.
        site = Installation(self, rescan_seconds=3600, settle_seconds=5)
        make_folders(site)
        with open(os.path.join(site.folder(INST, "incoming"), "waiting.csv"), "w") as f:
            f.write(HEADER + csv_row(4))
        site.start()
        state, report = wait_report(site, "waiting.csv", timeout=60)
        self.assertEqual((state, report["status"]), ("done", "done"), report)

    def test_odd_entries_in_processing_neither_block_nor_stop_the_resume(self):
        site = Installation(self)
        make_folders(site)
        processing = folder(site, "processing")
        # Sorted: the FIFO and the non-UTF-8 name come before z.csv, which must be resumed too.
        os.mkfifo(os.path.join(processing, b"a-pipe.csv"))
        with open(os.path.join(processing, b"\xe9t\xe9.csv"), "w") as f:
            f.write(HEADER + csv_row(5))
        with open(os.path.join(processing, b"z.csv"), "w") as f:
            f.write(HEADER + csv_row(6))
        site.start()
        state, report = wait_report(site, b"a-pipe.csv")
        self.assertEqual(state, "rejected")
        self.assertIn("not a regular file", report["reason"])
        for name in (b"\xe9t\xe9.csv", b"z.csv"):
            state, report = wait_report(site, name)
            self.assertEqual((state, report["status"]), ("done", "done"), report)
        self.assert_still_serving(site)
        site.daemon.signal(signal.SIGTERM)
        self.assertEqual(site.daemon.wait(timeout=60), 0)

    def test_reports_left_by_a_crash_before_the_move_are_taken_over(self):
        # A kill between writing a file's reports and moving it leaves both behind: the
        # file in processing/, its reports in done/. The resume finishes the move under the
        # same name instead of leaving a report without a file and a second copy.
        site = Installation(self)
        make_folders(site)
        content = HEADER + csv_row(7)
        sha = hashlib.sha256(content.encode()).hexdigest()
        with open(os.path.join(site.folder(INST, "processing"), "x.csv"), "w") as f:
            f.write(content)
        done = site.folder(INST, "done")
        with open(os.path.join(done, "x.csv.report.json"), "w") as f:
            json.dump({"file": "x.csv", "sha256": sha, "institution": INST, "status": "done"}, f)
        with open(os.path.join(done, "x.csv.report.txt"), "w") as f:
            f.write("credd import report\n\nFile:        x.csv\n")
        site.start()
        harness.wait_for(lambda: os.path.exists(os.path.join(done, "x.csv")), 60,
                         what="x.csv moved to done/")
        harness.wait_for(lambda: "batch" in wait_report(site, "x.csv")[1], 60,
                         what="the report written over by the resumed run")
        state, report = wait_report(site, "x.csv")
        self.assertEqual((state, report["status"], report["records"]["accepted"]), ("done", "done", 1))
        self.assertFalse(os.path.exists(os.path.join(done, "x~2.csv")))
        self.assertEqual(sorted(os.listdir(site.folder(INST, "processing"))), [])


class ReportBeforeMoveTest(HostileTestCase):
    def test_a_file_is_never_in_done_without_its_report(self):
        # A kill between the move and the report used to leave a file reported never. The
        # report now comes first: at the instant each file lands in done/, it is there.
        site = Installation(self)
        make_folders(site)
        watch = Inotify(self, site.folder(INST, "done"))
        site.start()
        names = [f"f{i:02d}.csv" for i in range(20)]
        for i, name in enumerate(names):
            site.drop(INST, name, HEADER + csv_row(100 + i))
        landed, missing = set(), []
        deadline = 120
        while len(landed) < len(names) and deadline > 0:
            for moved in watch.names(timeout=1):
                if moved.endswith(b".csv"):
                    if not os.path.exists(os.path.join(folder(site, "done"), moved + b".report.json")):
                        missing.append(moved)
                    landed.add(moved)
            deadline -= 1
        self.assertEqual(len(landed), len(names), site.daemon.log()[-3000:])
        self.assertEqual(missing, [], "files seen in done/ before their report")


class FoldersTest(HostileTestCase):
    def test_a_folder_credd_cannot_move_into_is_reported_not_ignored(self):
        # processing/ on another filesystem: every claim's rename fails with EXDEV. That used
        # to be taken for "someone else took the file", at debug level.
        if os.geteuid() != 0:
            self.fail("this test mounts a tmpfs and must run as root (scripts/test does)")
        site = Installation(self)
        make_folders(site)
        processing = site.folder(INST, "processing")
        subprocess.run(["mount", "-t", "tmpfs", "-o", "size=1m", "credd-test", processing], check=True)
        mounted = [True]

        def unmount():
            if mounted[0]:
                subprocess.run(["umount", processing], check=True)
                mounted[0] = False
        self.addCleanup(unmount)
        site.start()
        site.drop(INST, "stuck.csv", HEADER + csv_row(8))
        site.daemon.wait_log("event=intake.folder_failed", timeout=60)
        self.assertIn("processing", site.daemon.log())
        status = harness.wait_for(
            lambda: (lambda s: s if s["conditions"] else None)(json.loads(harness.run(
                [harness.CREDCTL, "--config", site.config, "status", "--json"]).stdout)),
            30, what="the folder problem in credctl status")
        self.assertEqual([(c["institution"], c["kind"]) for c in status["conditions"]],
                         [(INST, "drop_folder")])
        self.assertIn("Invalid cross-device link", status["conditions"][0]["detail"])
        self.assertTrue(os.path.exists(os.path.join(site.folder(INST, "incoming"), "stuck.csv")))
        unmount()
        state, report = wait_report(site, "stuck.csv")
        self.assertEqual((state, report["status"]), ("done", "done"), report)
        harness.wait_for(lambda: json.loads(harness.run(
            [harness.CREDCTL, "--config", site.config, "status", "--json"]).stdout)["conditions"] == [],
            30, what="the condition cleared")
        self.assert_still_serving(site)

    def test_without_rename_noreplace_an_earlier_file_is_never_replaced(self):
        # NFS and CIFS answer RENAME_NOREPLACE with EINVAL; a preloaded shim makes this
        # filesystem do the same. The fallback must still never replace a file.
        if not SHIM:
            self.fail("CREDD_NO_RENAME_NOREPLACE_SHIM is not set: run the tests through ctest")
        site = Installation(self)
        make_folders(site)
        done = site.folder(INST, "done")
        with open(os.path.join(done, "same.csv"), "w") as f:
            f.write("yesterday's file\n")
        site.daemon = harness.Daemon(self, site.config, env_extra={"LD_PRELOAD": SHIM})
        site.daemon.wait_log("event=daemon.ready", timeout=60)
        site.drop(INST, "same.csv", HEADER + csv_row(9))
        state, report = wait_report(site, "same~2.csv")
        self.assertEqual((state, report["status"]), ("done", "done"), report)
        with open(os.path.join(done, "same.csv")) as f:
            self.assertEqual(f.read(), "yesterday's file\n")
        self.assertIn("event=intake.claimed", site.daemon.log())
        self.assert_still_serving(site)


if __name__ == "__main__":
    unittest.main()
