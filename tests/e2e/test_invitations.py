"""Invitations end to end: credd, a real PostgreSQL and a real (scripted) SMTP server.
What reaches the server is read with Python's own email parser."""

import hashlib
import json
import os
import re
import signal
import subprocess
import time
import unittest

import harness
from ingest_util import HEADER
from mail_util import MailSite, SmtpServer, free_port, invitations_yaml, parse

INST = "mail-college"
TOKEN = re.compile(r"activate\?token=([A-Za-z0-9_-]{43})")


def row(i, kind="diploma", title="Diploma in Nursing", locale="en", personal="", given=None):
    given = given if given is not None else f"Given{i}"
    return (f"S{i:07d},Family{i},{given},student{i}@college.example,{personal},{locale},"
            f"{kind},{title},Program,2024-06-14\n")


class InvitationTest(harness.TestCase):
    def test_one_email_per_student_in_their_language_with_a_working_token(self):
        server = SmtpServer(self)
        site = MailSite(self, server.port)
        daemon = site.start()
        # 5 credentials for 3 students: one email each.
        site.drop(INST, "batch.csv", HEADER + row(1) + row(1, "certificate", "Certificate A") +
                  row(1, "attestation", "Attestation B") + row(2, locale="fr") + row(3))
        site.report(INST, "batch.csv")
        harness.wait_for(lambda: len(server.delivered()) >= 3, 60, what="3 emails")
        harness.wait_for(lambda: site.status()["invitations"]["sent"] == 3, 30, what="3 sent invitations")
        delivered = server.delivered()
        self.assertEqual(len(delivered), 3)
        self.assertEqual(sorted(r["rcpt_tos"][0] for r in delivered),
                         ["student1@college.example", "student2@college.example", "student3@college.example"])
        dump = subprocess.run(["pg_dump", "--data-only", "-d", site.conninfo], capture_output=True,
                              text=True, timeout=120).stdout
        for record in delivered:
            message = parse(record)
            self.assertEqual(message.get_content_type(), "multipart/alternative")
            parts = {p.get_content_type(): p.get_content() for p in message.iter_parts()}
            self.assertEqual(sorted(parts), ["text/html", "text/plain"])
            french = record["rcpt_tos"][0] == "student2@college.example"
            self.assertIn("Collège Courriel" if french else "Mail College", parts["text/plain"])
            token = TOKEN.search(parts["text/plain"]).group(1)
            self.assertIn(token, parts["text/html"])
            digest = hashlib.sha256(token.encode()).hexdigest()
            stored = site.sql("SELECT encode(token_sha256, 'hex') FROM invitations i JOIN students s "
                              f"ON s.id = i.student WHERE s.student_id = 'S{int(record['rcpt_tos'][0][7]):07d}'")
            self.assertEqual(stored, digest)
            self.assertNotIn(token, dump, "the raw token must not be in the database")
            self.assertNotIn(token, daemon.log(), "the raw token must not be in the logs")
            self.assertEqual(message["Message-ID"].strip("<>").split("@")[1], "college.example")
        student1 = [parse(r) for r in delivered if r["rcpt_tos"][0] == "student1@college.example"][0]
        text = {p.get_content_type(): p.get_content() for p in student1.iter_parts()}["text/plain"]
        for title in ("Diploma in Nursing", "Certificate A", "Attestation B"):
            self.assertIn(title, text)
        self.assertIn("Diploma in Nursing (diploma)", text)
        # The French email names the kind in French (papercut: it printed "(diploma)").
        student2 = [parse(r) for r in delivered if r["rcpt_tos"][0] == "student2@college.example"][0]
        for part in student2.iter_parts():
            self.assertIn("Diploma in Nursing (diplôme)", part.get_content())
            self.assertNotIn("(diploma)", part.get_content())

    def test_451_then_250_is_delivered_once_after_the_backoff(self):
        server = SmtpServer(self, "--script", "451")
        site = MailSite(self, server.port)
        daemon = site.start()
        site.drop(INST, "one.csv", HEADER + row(1))
        harness.wait_for(lambda: len(server.delivered()) == 1, 60, what="the retried email")
        attempts = server.records()
        self.assertEqual([r["code"] for r in attempts], [451, 250])
        self.assertGreaterEqual(attempts[1]["time"] - attempts[0]["time"], 0.9, "retried before the backoff")
        self.assertEqual(parse(attempts[0])["Message-ID"], parse(attempts[1])["Message-ID"])
        self.assertIn("event=mail.deferred", daemon.log())
        harness.wait_for(lambda: site.status()["outbox"]["sent"] == 1, 30, what="outbox sent")

    def test_550_fails_is_not_retried_and_shows_in_status(self):
        # The relay refuses the message (5.7.1), not the mailbox: failed, reported, not
        # retried, and the student's address is not blamed.
        server = SmtpServer(self, "--script", "550,250")
        site = MailSite(self, server.port)
        site.start()
        site.drop(INST, "one.csv", HEADER + row(1))
        harness.wait_for(lambda: site.status()["outbox"]["failed"] == 1, 60, what="a failed email")
        time.sleep(3)  # Three scheduler rounds: a failed email must not be tried again.
        self.assertEqual([r["code"] for r in server.records()], [550])
        found = json.loads(site.credctl("student", "find", "--student-id", "S0000001", "--json").stdout)
        self.assertIn("550", found["invitations"][0]["last_error"])
        self.assertEqual(found["emails"][0]["status"], "active")

    def test_refused_recipient_bounces_the_invitation(self):
        server = SmtpServer(self, "--rcpt-script", "550/5.1.1")
        site = MailSite(self, server.port)
        site.start()
        site.drop(INST, "one.csv", HEADER + row(1))
        harness.wait_for(lambda: site.status()["invitations"]["bounced"] == 1, 60, what="a bounced invitation")
        self.assertEqual(site.status()["outbox"]["failed"], 1)
        found = json.loads(site.credctl("student", "find", "--student-id", "S0000001", "--json").stdout)
        self.assertEqual(found["invitations"][0]["state"], "bounced")
        self.assertEqual(found["emails"][0]["status"], "bounced")

    def test_refused_institutional_address_goes_to_the_personal_one(self):
        server = SmtpServer(self, "--rcpt-script", "550/5.1.1")
        site = MailSite(self, server.port)
        site.start()
        site.drop(INST, "one.csv", HEADER + row(1, personal="me1@personal.example"))
        harness.wait_for(lambda: len(server.delivered()) == 1, 60, what="the email to the personal address")
        self.assertEqual(server.delivered()[0]["rcpt_tos"], ["me1@personal.example"])
        self.assertEqual(len(server.records()), 1, "the refused recipient never reached DATA")

    def test_a_relay_refusing_to_relay_bounces_nobody_and_pauses_sending(self):
        # A misconfigured relay answers every RCPT with a policy refusal: no address is to
        # blame. Five in a row pause the institution until an operator resumes it.
        server = SmtpServer(self, "--rcpt-script", ",".join(["554/5.7.1"] * 5))
        site = MailSite(self, server.port)
        site.start()
        site.drop(INST, "batch.csv", HEADER + "".join(
            row(i, personal=f"me{i}@personal.example") for i in range(1, 8)))
        harness.wait_for(lambda: site.status()["outbox"]["failed"] == 5, 60, what="five failed emails")
        self.assertEqual(site.count("SELECT count(*) FROM student_emails WHERE status = 'bounced'"), 0)
        self.assertEqual(site.status()["invitations"].get("bounced", 0), 0)
        status = harness.wait_for(
            lambda: (lambda s: s if any(c["kind"] == "mail_paused" for c in s["conditions"]) else None)(
                site.status()), 30, what="the pause in credctl status")
        paused = [c for c in status["conditions"] if c["kind"] == "mail_paused"][0]
        self.assertEqual(paused["institution"], INST)
        self.assertIn("5.7.1", paused["detail"])
        self.assertEqual(status["invitations"].get("bounced", 0), 0)
        self.assertEqual(site.count("SELECT count(*) FROM student_emails WHERE status = 'bounced'"), 0)
        self.assertEqual(server.delivered(), [], "nothing was re-routed to personal addresses")
        # While paused, nothing more is tried: the two left stay queued.
        self.assertEqual(site.status()["outbox"]["sent"], 0)
        resumed = site.credctl("mail", "resume", "--institution", INST)
        self.assertEqual(resumed.returncode, 0, resumed.stderr)
        self.assertIn("sending resumed", resumed.stdout)
        harness.wait_for(lambda: len(server.delivered()) == 2, 60, what="the two emails left, after resume")
        self.assertEqual(site.status()["conditions"], [])

    def test_server_down_then_up_delivers_everything_once(self):
        port = free_port()
        site = MailSite(self, port)
        daemon = site.start()
        site.drop(INST, "batch.csv", HEADER + "".join(row(i) for i in range(1, 6)))
        daemon.wait_log("event=mail.deferred", timeout=60)
        server = SmtpServer(self, port=port)
        harness.wait_for(lambda: len(server.delivered()) >= 5, 60, what="5 emails once the server is up")
        time.sleep(2)  # Let any stray retry show itself.
        ids = [parse(r)["Message-ID"] for r in server.delivered()]
        duplicates = len(ids) - len(set(ids))
        self.assertEqual(duplicates, daemon.log().count("event=mail.possible_duplicate"))
        self.assertEqual(len(set(ids)), 5)

    def test_rate_limit_holds_in_every_window(self):
        server = SmtpServer(self)
        limits = "      rate_limits:\n        - messages: 5\n          seconds: 2\n"
        site = MailSite(self, server.port, invitations=invitations_yaml(rate_limits=limits))
        site.start()
        site.drop(INST, "batch.csv", HEADER + "".join(row(i) for i in range(1, 21)))
        harness.wait_for(lambda: len(server.delivered()) == 20, 120, what="20 emails")
        times = sorted(r["time"] for r in server.delivered())
        worst = max(sum(1 for t in times if start <= t < start + 2.0) for start in times)
        print(f"most emails received in any 2-second window: {worst} (limit 5)")
        self.assertLessEqual(worst, 5)

    def test_outside_the_window_waits_until_it_opens(self):
        server = SmtpServer(self)
        # A window that is closed now, whatever the time: a day that is not today.
        today = int(site_today_isodow())
        closed_day = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"][today % 7]
        site = MailSite(self, server.port, invitations=invitations_yaml(days=f"[{closed_day}]"))
        daemon = site.start()
        site.drop(INST, "one.csv", HEADER + row(1))
        site.report(INST, "one.csv")
        time.sleep(3)  # Several scheduler rounds with the window closed.
        self.assertEqual(server.records(), [])
        self.assertEqual(site.status()["invitations"]["pending"], 1)
        with open(site.config, encoding="utf-8") as f:
            text = f.read()
        with open(site.config, "w", encoding="utf-8") as f:
            f.write(text.replace(f"days: [{closed_day}]", "days: [mon, tue, wed, thu, fri, sat, sun]"))
        daemon.signal(signal.SIGHUP)
        harness.wait_for(lambda: len(server.delivered()) == 1, 60, what="the email once the window opens")

    def test_header_injection_never_reaches_the_server(self):
        server = SmtpServer(self)
        site = MailSite(self, server.port)
        site.start()
        site.drop(INST, "evil.csv", HEADER + row(1, given='"Zoë\r\nBcc: x@example.org"') + row(2))
        state, report = site.report(INST, "evil.csv")
        self.assertEqual([(e["line"], e["field"]) for e in report["errors"]], [(2, "given_names")])
        harness.wait_for(lambda: len(server.delivered()) == 1, 60, what="the one good email")
        for record in server.records():
            self.assertNotIn("x@example.org", record["rcpt_tos"])
            self.assertIsNone(parse(record)["Bcc"])
            self.assertNotIn("x@example.org", record["data"])

    def test_resend_issues_a_new_token_and_voids_the_old(self):
        server = SmtpServer(self)
        site = MailSite(self, server.port)
        site.start()
        site.drop(INST, "one.csv", HEADER + row(1, personal="me1@personal.example"))
        harness.wait_for(lambda: len(server.delivered()) == 1, 60, what="the first email")
        first = TOKEN.search(parse(server.delivered()[0]).get_body(("plain",)).get_content()).group(1)
        result = site.credctl("invite", "resend", "--institution", INST, "--student-id", "S0000001",
                              "--to", "personal")
        self.assertEqual(result.returncode, 0, result.stderr)
        harness.wait_for(lambda: len(server.delivered()) == 2, 60, what="the resent email")
        second_record = server.delivered()[1]
        self.assertEqual(second_record["rcpt_tos"], ["me1@personal.example"])
        second = TOKEN.search(parse(second_record).get_body(("plain",)).get_content()).group(1)
        self.assertNotEqual(first, second)
        stored = site.sql("SELECT encode(token_sha256, 'hex') FROM invitations")
        self.assertEqual(stored, hashlib.sha256(second.encode()).hexdigest())


def site_today_isodow():
    """Today's ISO weekday in America/Toronto (the window's zone), 1 = Monday."""
    return subprocess.run(["date", "+%u"], capture_output=True, text=True,
                          env={**os.environ, "TZ": "America/Toronto"}).stdout.strip()


if __name__ == "__main__":
    unittest.main()
