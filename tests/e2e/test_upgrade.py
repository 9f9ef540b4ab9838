"""The upgrade from the previous release (scripts/test-upgrade builds its credd and credctl
from the tag and runs this module; it is not in ctest). The previous release's own programs
make the database: its migrations, documents signed, one revoked, invitations sent and others
still queued. The current credctl then migrates it, and everything must still hold: every
document the same bytes and verifying (those exported by the old credctl too), the audit chain
whole, the queued invitations sent by the current credd, nobody invited twice, and new drops
issued and invited as before."""

import email
import email.policy
import email.utils
import glob
import os
import unittest

import harness
from ingest_util import HEADER, Installation, csv_row, make_signing_key
from mail_util import invitations_yaml
from ops_util import audit_verify, documents, verify_every_document

INST = "upgrade-college"
PREVIOUS_CREDD = os.environ.get("CREDD_PREVIOUS_CREDD", "")
PREVIOUS_CREDCTL = os.environ.get("CREDD_PREVIOUS_CREDCTL", "")


class UpgradeTest(harness.TestCase):
    def setUp(self):
        for program in (PREVIOUS_CREDD, PREVIOUS_CREDCTL):
            self.assertTrue(program and os.access(program, os.X_OK),
                            "CREDD_PREVIOUS_CREDD and CREDD_PREVIOUS_CREDCTL must name the previous "
                            "release's programs: run scripts/test-upgrade")

    def run_ok(self, *args):
        result = harness.run(list(args), timeout=300)
        self.assertEqual(result.returncode, 0, f"{' '.join(args)}: {result.stdout}{result.stderr}")
        return result.stdout

    def mailed(self, site):
        """The recipients of every message in the maildir."""
        found = []
        for path in sorted(glob.glob(os.path.join(site.dir, "mail", "new", "*"))):
            with open(path, "rb") as f:
                message = email.message_from_binary_file(f, policy=email.policy.default)
            found += [address for _, address in email.utils.getaddresses(message.get_all("To", []))]
        return sorted(found)

    def test_the_previous_release_s_database_upgrades_and_everything_still_verifies_and_sends(self):
        keys = harness.make_temp_dir(self)
        key, cert, _ = make_signing_key(keys)
        # A config both releases read: only keys the previous release knew.
        institution = (f"  - id: {INST}\n    name_en: Upgrade College\n    name_fr: Collège Mise à jour\n"
                       + invitations_yaml())
        site = Installation(self, institutions=(), extra_institution_yaml=institution, migrate=False,
                            extra_yaml=f"signing:\n  key: '{key}'\n  certificate: '{cert}'\n")
        old_ctl = [PREVIOUS_CREDCTL, "--config", site.config]
        new_ctl = [harness.CREDCTL, "--config", site.config]

        # The previous release makes its database.
        self.assertIn("to 4", self.run_ok(*old_ctl, "migrate"))
        site.drop(INST, "first.csv", HEADER + "".join(csv_row(i) for i in range(1, 5)))
        self.run_ok(PREVIOUS_CREDD, "--config", site.config, "--once")
        self.assertTrue(os.path.exists(os.path.join(site.folder(INST, "done"), "first.csv.report.json")))
        self.assertEqual(self.mailed(site), [f"student{i}@college.example" for i in range(1, 5)])
        # Two more students imported, their invitations queued but not yet sent.
        second = os.path.join(site.dir, "second.csv")
        with open(second, "w", encoding="utf-8") as f:
            f.write(HEADER + "".join(csv_row(i) for i in range(5, 7)))
        old_exports = harness.make_temp_dir(self)
        self.run_ok(*old_ctl, "import", "--institution", INST, "--out", old_exports, second)
        first_document = next(iter(documents(site.conninfo)))
        self.run_ok(*old_ctl, "document", "revoke", first_document, "--reason", "issued in error")
        before = documents(site.conninfo)
        self.assertEqual(len(before), 6)
        for public_id in before:
            self.run_ok(*old_ctl, "document", "export", public_id, "--out",
                        os.path.join(old_exports, f"exported-{public_id}.pdf"))
        queued = harness.psql(site.conninfo, "SELECT count(*) FROM invitations WHERE state = 'pending'")
        self.assertEqual(queued, "2", "the second import's invitations wait for credd")

        # The upgrade: the current credctl migrates the previous release's schema.
        migrated = self.run_ok(*new_ctl, "migrate")
        self.assertNotIn("up to date", migrated)
        self.assertIn("up to date", self.run_ok(*new_ctl, "migrate"))
        self.run_ok(*new_ctl, "check-config")

        after = documents(site.conninfo)
        self.assertEqual(after, before, "every document, with the same bytes and status")
        self.assertEqual(verify_every_document(self, site.config, site.conninfo), {"active": 5, "revoked": 1})
        for path in sorted(glob.glob(os.path.join(old_exports, "*.pdf"))):
            revoked = first_document in os.path.basename(path)
            verdict = harness.run([*new_ctl, "verify", path])
            self.assertEqual(verdict.returncode, 2 if revoked else 0, f"{path}: {verdict.stdout}{verdict.stderr}")
        audit_verify(self, site.config)

        # The current credd sends what was queued and carries on with new drops.
        site.drop(INST, "third.csv", HEADER + "".join(csv_row(i) for i in range(7, 9)))
        self.run_ok(harness.CREDD, "--config", site.config, "--once")
        self.assertTrue(os.path.exists(os.path.join(site.folder(INST, "done"), "third.csv.report.json")))
        self.assertEqual(len(documents(site.conninfo)), 8)
        self.assertEqual(self.mailed(site), sorted(f"student{i}@college.example" for i in range(1, 9)),
                         "the queued and the new invitations sent, nobody invited twice")
        self.assertEqual(verify_every_document(self, site.config, site.conninfo), {"active": 7, "revoked": 1})
        audit_verify(self, site.config)


if __name__ == "__main__":
    unittest.main()
