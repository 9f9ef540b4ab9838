"""Backup and restore as docs/operations.md tells registrar IT to do it: a pg_dump of a
populated database taken while credd runs, restored into a new cluster, and credd started on
it. Every document must come back with the same bytes and still verify (credctl verify), the
audit chain must be whole against the anchor taken before the dump, and credd must carry on
from where it was: new drops signed and invited, and no student invited twice."""

import os
import signal
import subprocess
import unittest

import harness
from ingest_util import HEADER, csv_row
from mail_util import MailSite, SmtpServer
from ops_util import audit_verify, documents, verify_every_document, with_database

INST = "mail-college"


class BackupTest(harness.TestCase):
    def test_a_restored_dump_verifies_every_document_and_carries_on(self):
        server = SmtpServer(self)
        site = MailSite(self, server.port, INST)
        daemon = site.start()
        site.drop(INST, "first.csv", HEADER + "".join(csv_row(i) for i in range(1, 9)))
        state, report = site.report(INST, "first.csv")
        self.assertEqual(state, "done", report)
        harness.wait_for(lambda: site.status()["invitations"]["sent"] == 8, 120, what="8 invitations sent")
        harness.wait_for(lambda: len(documents(site.conninfo)) == 8, 120, what="8 documents")
        one = next(iter(documents(site.conninfo)))
        revoked = site.credctl("document", "revoke", one, "--reason", "issued in error")
        self.assertEqual(revoked.returncode, 0, revoked.stderr)
        anchors = os.path.join(site.dir, "audit-anchors")
        anchored = site.credctl("audit", "anchor", "--anchors", anchors)
        self.assertEqual(anchored.returncode, 0, anchored.stderr)
        before = documents(site.conninfo)

        # The backup, online: pg_dump takes one consistent snapshot while credd runs.
        dump = os.path.join(site.dir, "credd.dump")
        dumped = subprocess.run(["pg_dump", "--format=custom", "--file", dump, "-d", site.conninfo],
                                capture_output=True, text=True, timeout=300)
        self.assertEqual(dumped.returncode, 0, dumped.stderr)
        daemon.signal(signal.SIGTERM)
        self.assertEqual(daemon.wait(60), 0)

        # The restore: a new cluster, an empty database, the dump, then credd on it.
        cluster = harness.OwnedCluster(self)
        harness.psql(cluster.url, "CREATE DATABASE credd_restored")
        restored_db = f"{cluster.url} dbname=credd_restored"
        restored = subprocess.run(["pg_restore", "--exit-on-error", "--no-owner", "-d", restored_db, dump],
                                  capture_output=True, text=True, timeout=300)
        self.assertEqual(restored.returncode, 0, restored.stderr)
        config = with_database(site.config, os.path.join(site.dir, "restored.yaml"), restored_db)
        migrated = harness.run([harness.CREDCTL, "--config", config, "migrate"])
        self.assertEqual(migrated.returncode, 0, migrated.stderr)
        self.assertIn("up to date", migrated.stdout)

        after = documents(restored_db)
        self.assertEqual(after, before, "every document, with the same bytes and status")
        self.assertEqual(verify_every_document(self, config, restored_db), {"active": 7, "revoked": 1})
        audit_verify(self, config, "--anchors", anchors)

        daemon = harness.Daemon(self, config)
        daemon.wait_log("event=daemon.ready", timeout=60)
        site.daemon = daemon
        site.drop(INST, "second.csv", HEADER + "".join(csv_row(i) for i in range(9, 12)))
        state, report = site.report(INST, "second.csv")
        self.assertEqual(state, "done", report)

        def sent():
            return int(harness.psql(restored_db, "SELECT count(*) FROM invitations WHERE state = 'sent'"))
        harness.wait_for(lambda: sent() == 11, 120, what="the 3 new students' invitations sent")
        harness.wait_for(lambda: len(documents(restored_db)) == 11, 120, what="11 documents")
        recipients = sorted(r["rcpt_tos"][0] for r in server.delivered())
        self.assertEqual(recipients, sorted(f"student{i}@college.example" for i in range(1, 12)),
                         "each student invited exactly once, before and after the restore")
        audit_verify(self, config, "--anchors", anchors)


if __name__ == "__main__":
    unittest.main()
