"""credd's lifecycle against a real PostgreSQL: schema checks, the systemd notify protocol,
SIGHUP reloads (a broken config keeps the old one), SIGTERM, --once and credctl status."""

import json
import os
import signal
import unittest

import harness
from harness import EX_CONFIG, EX_OK, run


class DaemonTest(harness.TestCase):
    def setUp(self):
        self.dir = harness.make_temp_dir(self)
        self.conninfo = harness.create_database(self)
        self.drop_root = os.path.join(self.dir, "drop")
        self.config = harness.write_config(os.path.join(self.dir, "credd.yaml"),
                                           harness.url_database(self.conninfo), self.drop_root)

    def credctl(self, *args):
        return run([harness.CREDCTL, "--config", self.config, *args])

    def migrate(self):
        result = self.credctl("migrate")
        self.assertEqual(result.returncode, EX_OK, result.stderr)
        return result

    def test_refuses_empty_schema(self):
        result = run([harness.CREDD, "--config", self.config, "--once"])
        self.assertEqual(result.returncode, EX_CONFIG, result.stderr)
        self.assertIn("credctl migrate", result.stderr)

    def test_migrate_twice_then_once(self):
        first = self.migrate()
        self.assertIn("migrated from version 0", first.stdout)
        second = self.credctl("migrate", "--json")
        self.assertEqual(second.returncode, EX_OK, second.stderr)
        doc = json.loads(second.stdout)
        self.assertEqual(doc["applied"], [])
        self.assertEqual(doc["from_version"], doc["to_version"])
        result = run([harness.CREDD, "--config", self.config, "--once"])
        self.assertEqual(result.returncode, EX_OK, result.stderr)
        for sub in ("incoming", "processing", "done", "rejected"):
            self.assertTrue(os.path.isdir(os.path.join(self.drop_root, "test-college", sub)))
        self.assertEqual(harness.psql(self.conninfo, "SELECT id FROM institutions"), "test-college")

    def test_start_removes_what_a_killed_report_writer_left(self):
        # A SIGKILL between a report's temporary file and its rename leaves a hidden
        # .credd-<hex>.tmp in done/ or rejected/; credd removes old ones at start (and hourly),
        # and keeps young ones (another credd on the share may be writing it) and every
        # other file.
        self.migrate()
        self.assertEqual(run([harness.CREDD, "--config", self.config, "--once"]).returncode, EX_OK)
        college = os.path.join(self.drop_root, "test-college")
        old = os.path.getmtime(college) - 7200
        planted = {"done/.credd-0123456789abcdef.tmp": old, "rejected/.credd-00000000deadbeef.tmp": old,
                   "done/.credd-fedcba9876543210.tmp": None, "done/.credd-staff.tmp": old,
                   "done/grads.csv": old}
        for name, mtime in planted.items():
            with open(os.path.join(college, name), "w") as f:
                f.write("half a report")
            if mtime:
                os.utime(os.path.join(college, name), (mtime, mtime))
        result = run([harness.CREDD, "--config", self.config, "--once"])
        self.assertEqual(result.returncode, EX_OK, result.stderr)
        removed = sorted(line.split(" file=")[1].split()[0] for line in result.stderr.splitlines()
                         if "event=intake.temp_removed" in line)
        self.assertEqual(removed, ["done/.credd-0123456789abcdef.tmp", "rejected/.credd-00000000deadbeef.tmp"])
        left = sorted(f"{state}/{n}" for state in ("done", "rejected") for n in os.listdir(os.path.join(college, state)))
        self.assertEqual(left, ["done/.credd-fedcba9876543210.tmp", "done/.credd-staff.tmp", "done/grads.csv"])

    def test_refuses_newer_schema(self):
        self.migrate()
        harness.psql(self.conninfo, "INSERT INTO schema_migrations (version, name, sha256) "
                                    "VALUES (9999, 'from_the_future', repeat('0', 64))")
        result = run([harness.CREDD, "--config", self.config, "--once"])
        self.assertEqual(result.returncode, EX_CONFIG, result.stderr)
        self.assertIn("newer", result.stderr)
        self.assertEqual(self.credctl("status").returncode, EX_CONFIG)
        self.assertEqual(self.credctl("migrate").returncode, EX_CONFIG)

    def test_database_unreachable_exits_69(self):
        config = harness.write_config(os.path.join(self.dir, "down.yaml"),
                                      harness.url_database(f"host={self.dir}/nowhere dbname=x connect_timeout=2"),
                                      self.drop_root)
        result = run([harness.CREDD, "--config", config, "--once"])
        self.assertEqual(result.returncode, harness.EX_UNAVAILABLE, result.stderr)
        self.assertEqual(run([harness.CREDCTL, "--config", config, "status"]).returncode, harness.EX_UNAVAILABLE)

    def test_status_json_contract_fields(self):
        self.migrate()
        result = self.credctl("status", "--json")
        self.assertEqual(result.returncode, EX_OK, result.stderr)
        doc = json.loads(result.stdout)
        for state in ("done", "rejected", "duplicate"):
            self.assertEqual(doc["batches"][state], 0)
        for state in ("active", "superseded", "revoked"):
            self.assertEqual(doc["documents"][state], 0)
        for state in ("pending", "sent", "activated", "expired", "bounced", "cancelled"):
            self.assertEqual(doc["invitations"][state], 0)

    def test_notify_reload_and_stop(self):
        self.migrate()
        notify = harness.NotifySocket(self.dir)
        self.addCleanup(notify.close)
        daemon = harness.Daemon(self, self.config, {"NOTIFY_SOCKET": notify.path, "WATCHDOG_USEC": "400000"})
        notify.wait_for("READY=1")
        notify.wait_for("WATCHDOG=1")
        daemon.wait_log("event=daemon.ready")

        # A broken config on SIGHUP: logged, rejected, and the daemon goes on with the old one.
        with open(self.config, encoding="utf-8") as f:
            good = f.read()
        with open(self.config, "w", encoding="utf-8") as f:
            f.write(good + "surprise_key: 1\n")
        daemon.signal(signal.SIGHUP)
        daemon.wait_log("event=config.reload_rejected")
        self.assertIn("path=surprise_key", daemon.log())
        self.assertTrue(daemon.alive())
        notify.wait_for("RELOADING=1")
        notify.wait_for("READY=1", count=2)

        # A good config with a second institution: applied, and its folders appear.
        harness.write_config(self.config, harness.url_database(self.conninfo), self.drop_root,
                             institutions=("test-college", "second-college"))
        daemon.signal(signal.SIGHUP)
        daemon.wait_log("event=config.reloaded")
        notify.wait_for("READY=1", count=3)
        self.assertTrue(os.path.isdir(os.path.join(self.drop_root, "second-college", "incoming")))
        self.assertEqual(harness.psql(self.conninfo, "SELECT count(*) FROM institutions"), "2")

        daemon.signal(signal.SIGTERM)
        self.assertEqual(daemon.wait(), 0)
        notify.wait_for("STOPPING=1")
        self.assertIn("event=daemon.stopped", daemon.log())

    def test_restart_only_change_is_reported_not_applied(self):
        self.migrate()
        daemon = harness.Daemon(self, self.config)
        daemon.wait_log("event=daemon.ready")
        with open(self.config, encoding="utf-8") as f:
            text = f.read()
        with open(self.config, "w", encoding="utf-8") as f:
            f.write(text.replace(self.drop_root, self.drop_root + "-moved"))
        daemon.signal(signal.SIGHUP)
        daemon.wait_log("event=config.reloaded")
        self.assertIn("event=config.restart_needed key=drop_root", daemon.log())
        self.assertFalse(os.path.exists(self.drop_root + "-moved"))
        daemon.signal(signal.SIGINT)
        self.assertEqual(daemon.wait(), 0)


if __name__ == "__main__":
    unittest.main()
