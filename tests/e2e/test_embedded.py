"""The embedded default: credd and credctl start a private PostgreSQL cluster under
database.embedded.data_dir, share it, stop it when the last of them exits, and recover from
a run that was killed."""

import json
import os
import signal
import subprocess
import unittest

import harness
from harness import EX_OK, run


def server_running(data_dir):
    return os.path.exists(os.path.join(data_dir, "pgdata", "postmaster.pid"))


class EmbeddedTest(harness.TestCase):
    def setUp(self):
        self.dir = harness.make_temp_dir(self)
        self.data_dir = os.path.join(self.dir, "pg")
        self.config = harness.write_config(os.path.join(self.dir, "credd.yaml"),
                                           "  embedded:\n    data_dir: " + harness.yaml_quote(self.data_dir),
                                           os.path.join(self.dir, "drop"))
        self.addCleanup(self.stop_leftover_server)

    def stop_leftover_server(self):
        pgdata = os.path.join(self.data_dir, "pgdata")
        if server_running(self.data_dir):
            bindir = subprocess.run(["pg_config", "--bindir"], capture_output=True, text=True).stdout.strip()
            cmd = [os.path.join(bindir, "pg_ctl"), "-D", pgdata, "-m", "immediate", "-w", "stop"]
            if os.geteuid() == 0:
                cmd = ["runuser", "-u", "postgres", "--"] + cmd
            subprocess.run(cmd, capture_output=True)

    def credctl(self, *args):
        return run([harness.CREDCTL, "--config", self.config, *args])

    def test_first_run_creates_then_reuses(self):
        result = self.credctl("migrate")
        self.assertEqual(result.returncode, EX_OK, result.stderr)
        self.assertFalse(server_running(self.data_dir), "credctl must stop the server it started")
        # Second run: the cluster exists and is reused; the schema is already there.
        result = self.credctl("migrate")
        self.assertEqual(result.returncode, EX_OK, result.stderr)
        self.assertIn("up to date", result.stdout)
        status = self.credctl("status", "--json")
        self.assertEqual(status.returncode, EX_OK, status.stderr)
        self.assertIn("batches", json.loads(status.stdout))
        result = run([harness.CREDD, "--config", self.config, "--once"])
        self.assertEqual(result.returncode, EX_OK, result.stderr)
        self.assertFalse(server_running(self.data_dir))

    def test_shared_by_daemon_and_credctl_and_survives_kill(self):
        self.assertEqual(self.credctl("migrate").returncode, EX_OK)
        daemon = harness.Daemon(self, self.config)
        daemon.wait_log("event=daemon.ready", timeout=60)
        # credctl while the daemon runs: it must leave the daemon's server running.
        self.assertEqual(self.credctl("status").returncode, EX_OK)
        self.assertTrue(server_running(self.data_dir))
        self.assertEqual(self.credctl("status").returncode, EX_OK)

        # kill -9: the server stays up, orphaned; the next user adopts it and, being the last
        # one out, stops it.
        daemon.signal(signal.SIGKILL)
        daemon.wait()
        self.assertTrue(server_running(self.data_dir))
        result = self.credctl("status", "--json")
        self.assertEqual(result.returncode, EX_OK, result.stderr)
        harness.wait_for(lambda: not server_running(self.data_dir), what="the adopted server to stop")

        # A clean SIGTERM stops the server the daemon started.
        daemon = harness.Daemon(self, self.config)
        daemon.wait_log("event=daemon.ready", timeout=60)
        daemon.signal(signal.SIGTERM)
        self.assertEqual(daemon.wait(), 0)
        self.assertFalse(server_running(self.data_dir))

    def test_credd_restarts_its_own_server_when_it_dies(self):
        # With the embedded default credd owns its server: when it dies (here stopped with
        # -m immediate, as a crash or the OOM killer would), credd starts it again and the
        # file dropped meanwhile is imported, not left in processing/ until a person acts.
        self.assertEqual(self.credctl("migrate").returncode, EX_OK)
        daemon = harness.Daemon(self, self.config)
        daemon.wait_log("event=daemon.ready", timeout=60)
        self.stop_leftover_server()
        harness.wait_for(lambda: not server_running(self.data_dir), what="the server to be gone")
        incoming = os.path.join(self.dir, "drop", "test-college", "incoming")
        with open(os.path.join(incoming, "after-crash.csv.part"), "w") as f:
            f.write("student_id,family_name,given_names,email,personal_email,preferred_locale,"
                    "credential_type,credential_title,program,issued_on\n"
                    "S0000001,Family,Given,s1@college.example,,en,diploma,Diploma,Nursing,2024-06-14\n")
        os.rename(os.path.join(incoming, "after-crash.csv.part"), os.path.join(incoming, "after-crash.csv"))
        report = os.path.join(self.dir, "drop", "test-college", "done", "after-crash.csv.report.json")
        harness.wait_for(lambda: os.path.exists(report), 120,
                         what="the file imported after the restart; log:\n" + daemon.log()[-3000:])
        self.assertIn("event=embedded_pg.restart", daemon.log())
        self.assertTrue(server_running(self.data_dir))
        result = self.credctl("status", "--json")
        self.assertEqual(json.loads(result.stdout)["batches"]["done"], 1, result.stderr)
        daemon.signal(signal.SIGTERM)
        self.assertEqual(daemon.wait(), 0)


if __name__ == "__main__":
    unittest.main()
