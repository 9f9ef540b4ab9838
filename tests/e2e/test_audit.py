"""credctl audit verify and anchor on a real database: a clean chain is whole, and each way a
superuser can rewrite history (one altered row, a recomputed tail, a truncated tail) is named,
the last two only through the anchor taken before."""

import json
import os
import signal
import time
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



class DaemonAnchorTest(harness.TestCase):
    """credd takes the anchor itself: at start, then every audit.anchor_hours, into the log
    and audit.anchors_file, which credctl audit verify then checks without being told."""

    def anchor_lines(self, path):
        if not os.path.exists(path):
            return []
        with open(path, encoding="utf-8") as f:
            return [line.rstrip("\n") for line in f if line.startswith("credd-audit-anchor ")]

    def test_credd_anchors_at_start_then_when_due_and_verify_uses_the_file(self):
        site = Installation(self, extra_yaml="audit:\n  anchors_file: state/audit-anchors\n  anchor_hours: 24\n")
        path = os.path.join(site.dir, "state", "audit-anchors")
        os.makedirs(os.path.dirname(path))
        source = os.path.join(site.dir, "batch.csv")
        with open(source, "w", encoding="utf-8") as f:
            f.write(HEADER + "".join(csv_row(i) for i in range(1, 4)))
        ctl = [harness.CREDCTL, "--config", site.config]
        self.assertEqual(harness.run([*ctl, "import", "--institution", INST, source]).returncode, 0)

        daemon = site.start()
        line = harness.wait_for(lambda: self.anchor_lines(path), 60, what=f"an anchor in {path}")
        self.assertEqual(len(line), 1, daemon.log())
        self.assertIn(line[0], daemon.log(), "the log holds the same anchor line")
        head = site.sql("SELECT max(seq) FROM audit_events")
        self.assertIn(f" seq={head} ", line[0] + " ")
        verified = harness.run([*ctl, "audit", "verify", "--json"])
        self.assertEqual(verified.returncode, 0, verified.stderr)
        report = json.loads(verified.stdout)
        self.assertEqual((report["anchor"]["seq"], report["anchor"]["file"]), (int(head), path))

        # A restart within the day takes none: the file's last change says when the last was.
        daemon.signal(signal.SIGTERM)
        self.assertEqual(daemon.wait(60), 0)
        again = site.start(log_path=site.config + ".2.log")
        again.wait_log("event=audit.anchor_next")
        self.assertEqual(len(self.anchor_lines(path)), 1)
        again.signal(signal.SIGTERM)
        self.assertEqual(again.wait(60), 0)
        # A day later (the file aged by a day), credd --once takes the next one.
        aged = time.time() - 25 * 3600
        os.utime(path, (aged, aged))
        once = harness.run([harness.CREDD, "--config", site.config, "--once"])
        self.assertEqual(once.returncode, 0, once.stdout + once.stderr)
        self.assertEqual(len(self.anchor_lines(path)), 2)

        # An emptied file is a finding: credd says so and never appends to it.
        lines = self.anchor_lines(path)
        open(path, "w").close()
        os.utime(path, (aged, aged))
        emptied = harness.run([harness.CREDD, "--config", site.config, "--once"])
        self.assertIn("event=audit.anchor_failed", emptied.stdout + emptied.stderr)
        self.assertIn("holds no anchor line", emptied.stdout + emptied.stderr)
        self.assertEqual(self.anchor_lines(path), [])
        with open(path, "w", encoding="utf-8") as f:
            f.write("\n".join(lines) + "\n")

        # The history cut after the anchor: verify, told nothing, names the anchored event.
        anchored = int(self.anchor_lines(path)[-1].split(" seq=")[1].split()[0])
        site.sql("ALTER TABLE audit_events DISABLE TRIGGER USER; "
                 f"DELETE FROM audit_events WHERE seq >= {anchored}; "
                 "ALTER TABLE audit_events ENABLE TRIGGER USER")
        cut = harness.run([*ctl, "audit", "verify"])
        self.assertEqual(cut.returncode, 65, cut.stdout)
        self.assertIn(f"broken: event {anchored}", cut.stdout)


if __name__ == "__main__":
    unittest.main()
