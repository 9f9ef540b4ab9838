"""credctl audit verify and anchor on a real database: a clean chain is whole, and each way a
superuser can rewrite history (one altered row, a recomputed tail, a truncated tail) is named,
the last two only through the anchor taken before."""

import json
import os
import unittest

import harness
from ingest_util import HEADER, Installation, csv_row

INST = "test-college"


class AuditTest(harness.TestCase):
    def setUp(self):
        self.site = Installation(self)
        self.anchors = os.path.join(self.site.dir, "audit-anchors")
        source = os.path.join(self.site.dir, "batch.csv")
        with open(source, "w", encoding="utf-8") as f:
            f.write(HEADER + "".join(csv_row(i) for i in range(1, 6)))
        imported = self.credctl("import", "--institution", INST, source)
        self.assertEqual(imported.returncode, 0, imported.stdout + imported.stderr)
        self.assertGreaterEqual(self.site.count("SELECT count(*) FROM audit_events"), 2)

    def credctl(self, *args):
        return harness.run([harness.CREDCTL, "--config", self.site.config, *args])

    def verify(self, *args):
        result = self.credctl("audit", "verify", "--json", *args)
        return result.returncode, json.loads(result.stdout) if result.stdout else None, result.stderr

    def tamper(self, sql):
        """What a superuser can do: the append-only triggers off, the change, back on."""
        self.site.sql(f"ALTER TABLE audit_events DISABLE TRIGGER USER; {sql}; "
                      "ALTER TABLE audit_events ENABLE TRIGGER USER")

    def seqs(self):
        return [int(s) for s in self.site.sql("SELECT string_agg(seq::text, ',' ORDER BY seq) "
                                              "FROM audit_events").split(",")]

    def anchor(self):
        result = self.credctl("audit", "anchor", "--anchors", self.anchors)
        self.assertEqual(result.returncode, 0, result.stderr)
        self.assertTrue(result.stdout.startswith("credd-audit-anchor "), result.stdout)

    def test_a_clean_chain_is_whole_with_and_without_its_anchor(self):
        code, report, _ = self.verify()
        self.assertEqual(code, 0)
        self.assertTrue(report["whole"])
        self.assertEqual(report["events"], len(self.seqs()))
        self.anchor()
        code, report, _ = self.verify("--anchors", self.anchors)
        self.assertEqual(code, 0)
        self.assertEqual(report["anchor"]["seq"], self.seqs()[-1])
        human = self.credctl("audit", "verify", "--anchors", self.anchors)
        self.assertEqual(human.returncode, 0)
        self.assertIn("whole", human.stdout)

    def test_one_altered_row_is_named(self):
        target = self.seqs()[1]
        event = self.site.sql(f"SELECT event FROM audit_events WHERE seq = {target}")
        self.tamper(f"UPDATE audit_events SET actor = 'someone-else' WHERE seq = {target}")
        code, report, stderr = self.verify()
        self.assertEqual(code, 65)
        self.assertFalse(report["whole"])
        self.assertEqual([(b["seq"], b["event"]) for b in report["breaks"]], [(target, event)])
        self.assertIn(f"broken at event {target}", stderr)
        # Another institution's view has no break of its own here.
        code, _, _ = self.verify("--institution", "nowhere")
        self.assertEqual(code, 64, "an unknown institution is a usage error")

    def test_a_recomputed_tail_is_named_through_the_anchor(self):
        self.anchor()
        first, last = self.seqs()[1], self.seqs()[-1]
        self.tamper(f"UPDATE audit_events SET details = '{{\"rewritten\": true}}' WHERE seq = {first}; "
                    "DO $$ DECLARE r record; prev bytea; BEGIN "
                    f"SELECT hash INTO prev FROM audit_events WHERE seq < {first} ORDER BY seq DESC LIMIT 1; "
                    f"FOR r IN SELECT * FROM audit_events WHERE seq >= {first} ORDER BY seq LOOP "
                    "UPDATE audit_events SET prev_hash = prev, hash = audit_event_hash(prev, r.seq, "
                    "r.occurred_at, r.actor, r.institution_id, r.event, r.subject, r.details) "
                    "WHERE seq = r.seq RETURNING hash INTO prev; END LOOP; END $$")
        code, _, _ = self.verify()
        self.assertEqual(code, 0, "recomputed, the chain is consistent in itself")
        code, report, _ = self.verify("--anchors", self.anchors)
        self.assertEqual(code, 65)
        self.assertEqual([b["seq"] for b in report["breaks"]], [last])
        self.assertIn("recomputed", report["breaks"][0]["reason"])

    def test_a_truncated_tail_is_named_through_the_anchor(self):
        self.anchor()
        seqs = self.seqs()
        self.tamper(f"DELETE FROM audit_events WHERE seq >= {seqs[-1]}")
        code, _, _ = self.verify()
        self.assertEqual(code, 0)
        code, report, _ = self.verify("--anchors", self.anchors)
        self.assertEqual(code, 65)
        self.assertEqual([b["seq"] for b in report["breaks"]], [seqs[-1]])
        self.assertIn("tail was cut", report["breaks"][0]["reason"])

    def test_show_gives_one_students_history(self):
        result = self.credctl("audit", "show", "--institution", INST, "--student-id", "S0000002", "--json")
        self.assertEqual(result.returncode, 0, result.stderr)
        shown = json.loads(result.stdout)
        credential = self.site.sql("SELECT c.id FROM credentials c JOIN students s ON s.id = c.student "
                                   "WHERE s.student_id = 'S0000002'")
        self.assertIn(("credential.created", f"credential:{credential}"),
                      [(e["event"], e["subject"]) for e in shown["events"]])
        self.assertTrue(all(e["details"].get("student_id", "S0000002") == "S0000002" for e in shown["events"]))
        human = self.credctl("audit", "show", "--institution", INST, "--student-id", "S0000002")
        self.assertIn("credential.created", human.stdout)
        unknown = self.credctl("audit", "show", "--institution", INST, "--student-id", "S9999999")
        self.assertEqual(unknown.returncode, 66)
        self.assertIn("S9999999", unknown.stderr)

    def test_an_unreadable_or_empty_anchors_file_is_refused_by_name(self):
        missing = os.path.join(self.site.dir, "no-such-file")
        result = self.credctl("audit", "verify", "--anchors", missing)
        self.assertEqual(result.returncode, 66)
        self.assertIn(missing, result.stderr)
        empty = os.path.join(self.site.dir, "empty")
        open(empty, "w").close()
        result = self.credctl("audit", "verify", "--anchors", empty)
        self.assertEqual(result.returncode, 65)
        self.assertIn("holds no anchor line", result.stderr)


if __name__ == "__main__":
    unittest.main()
