"""Students' accounts, sharing and the staff desk end to end, over real HTTP: the real
daemon, a real SMTP server (tests/smtp_server.py) and real PostgreSQL. The same journeys run
in headless Chromium in test_people_browser.

Covered: the invitation's link and access code, activation (a scanner's GET leaves the
token usable), documents byte-identical to the signed PDF, shares with receipts, cancel and
410, SSO through the trusted proxy only, "Can't sign in?" ending old sessions, a bounced
institutional address resent by the desk to a personal one, a revocation seen by a
share's recipient, and the security rules (CSRF, new session ids, no enumeration, limits,
one student's ids from another's session)."""

import os
import re

import harness
from ingest_util import HEADER, csv_row
from people_util import (EN, FR, PASSWORD, PROXY, SSO, SSO_HEADER, STRANGER, PeopleSite, Web,
                         access_code, link)
from test_documents import check_pdf

DOC_LINK = re.compile(r'href="/documents/([0-9a-f-]{36})"')
SHARE_LINK = re.compile(r"/shares/([0-9a-f-]{36})")


def row(i, locale="en", personal=""):
    """A CSV row whose institutional address is student{i}@college.example."""
    return csv_row(i, locale=locale).replace(f"student{i}@college.example,,",
                                              f"student{i}@college.example,{personal},")


class People:
    """A running site, with helpers for the student's steps."""

    def __init__(self, test, **kwargs):
        self.test = test
        self.site = PeopleSite(test, **kwargs)
        self.site.start()

    def web(self, **kwargs):
        return Web(self.site.port, **kwargs)

    def enrol(self, institution, i, locale="en", personal=""):
        """Drops one student's diploma and returns their invitation email."""
        self.site.drop(institution, f"s{i}.csv", HEADER + row(i, locale, personal))
        self.site.report(institution, f"s{i}.csv")
        return self.site.mail_to(f"student{i}@college.example")[0]

    def activate(self, invitation, web=None, password=PASSWORD):
        web = web or self.web()
        status, _, _ = web.get(link(invitation, "/activate?token="))
        self.test.assertEqual(status, 200, web.last)
        token = link(invitation, "/activate?token=").split("token=", 1)[1]
        status, headers, _ = web.post("/activate", {"token": token, "password": password,
                                                    "password_confirm": password})
        self.test.assertEqual(status, 303, web.last)
        self.test.assertEqual(headers["Location"], "/documents?welcome=1")
        return web

    def document_ids(self, web):
        status, _, _ = web.get("/documents")
        self.test.assertEqual(status, 200, web.last)
        return DOC_LINK.findall(web.last)

    def share(self, web, document_id, recipient):
        web.get("/shares")
        status, headers, _ = web.post("/shares", {"document": document_id, "recipient": recipient,
                                                  "days": "30", "note": "For the job at Acme",
                                                  "recipient_lang": "en"})
        self.test.assertEqual(status, 303, web.last)
        share_id = SHARE_LINK.search(headers["Location"]).group(1)
        email = self.site.mail_to(recipient)[-1]
        return share_id, link(email, "/s/")


class StudentPathTest(harness.TestCase):
    def test_invitation_activation_documents_share_and_cancel_in_english_and_french(self):
        p = People(self)
        out = harness.make_temp_dir(self)
        cases = ((EN, "en", 1, "en", "Activate your account", "Opened by the recipient"),
                 (FR, "fr", 2, "fr-CA,fr;q=0.9", "Activer votre compte", "Ouvert par le destinataire"))
        for institution, locale, i, accept, activate_title, opened in cases:
            with self.subTest(locale=locale):
                invitation = p.enrol(institution, i, locale)
                web = p.web(lang=accept)
                # A mail scanner follows the link first: the page shows, nothing is spent.
                scanner = p.web()
                for _ in range(2):
                    status, _, _ = scanner.get(link(invitation, "/activate?token="))
                    self.assertEqual(status, 200)
                web.get(link(invitation, "/activate?token="))
                self.assertIn(activate_title, web.last)
                p.activate(invitation, web)
                self.assertTrue(web.session())
                self.assertEqual(p.site.sql(
                    f"SELECT i.state FROM invitations i JOIN students s ON s.id = i.student "
                    f"WHERE s.student_id = 'S{i:07d}'"), "activated")
                self.assertTrue(p.site.sql(f"SELECT activated_at IS NOT NULL FROM students "
                                           f"WHERE student_id = 'S{i:07d}'") == "t")

                [doc] = p.document_ids(web)
                status, headers, pdf = web.get(f"/documents/{doc}/download")
                self.assertEqual(status, 200)
                self.assertEqual(headers["Content-Type"], "application/pdf")
                self.assertEqual(pdf, p.site.document_pdf(doc), "not byte-identical to the stored PDF")
                path = os.path.join(out, f"{doc}.pdf")
                with open(path, "wb") as f:
                    f.write(pdf)
                check_pdf(self, path)

                share_id, share_url = p.share(web, doc, f"employer{i}@example.com")
                recipient = p.web()
                status, headers, _ = recipient.get(share_url)
                self.assertEqual(status, 200, recipient.last)
                self.assertIn("noindex", headers["X-Robots-Tag"])
                self.assertEqual(headers["Referrer-Policy"], "no-referrer")
                self.assertIn("Diploma in Nursing", recipient.last)
                download = re.search(r'href="(/s/[^"]+)" download', recipient.last).group(1)
                status, _, shared_pdf = recipient.get(download)
                self.assertEqual((status, shared_pdf), (200, pdf))

                # Opened in the browser: the same bytes, shown inline rather than saved.
                status, headers, inline = web.get(f"/documents/{doc}/pdf")
                self.assertEqual(status, 200)
                self.assertTrue(headers["Content-Disposition"].startswith("inline"))
                self.assertEqual(inline, pdf)

                web.get(f"/documents/{doc}")
                self.assertIn(opened, web.last)
                status, _, _ = web.get(f"/shares/{share_id}")
                self.assertEqual(status, 200)
                status, _, _ = web.post(f"/shares/{share_id}/expiry", {"days": "3"})
                self.assertEqual(status, 303)
                self.assertEqual(p.site.sql(
                    f"SELECT (expires_at - now() BETWEEN interval '71 hours' AND interval '72 hours')"
                    f"::text FROM shares WHERE public_id = '{share_id}'"), "true")
                web.get(f"/documents/{doc}")
                self.assertIn(("Share now expires on " if locale == "en"
                               else "Le partage expire désormais le "), web.last)
                status, _, _ = web.post(f"/shares/{share_id}/cancel", {})
                self.assertEqual(status, 303)
                status, _, _ = recipient.get(share_url)
                self.assertEqual(status, 410)
                status, _, _ = recipient.get(download)
                self.assertEqual(status, 410)

    def test_the_access_code_activates_and_wrong_codes_void_it(self):
        p = People(self)
        first = p.enrol(EN, 3)
        code = access_code(first)
        web = p.web()
        web.get("/activate")
        for _ in range(4):  # accounts.access_code_tries is 5
            status, _, _ = web.post("/activate", {"address": "student3@college.example",
                                                  "code": "AAAAA-AAAAA", "password": PASSWORD,
                                                  "password_confirm": PASSWORD})
            self.assertEqual(status, 400)
        status, headers, _ = web.post("/activate", {"address": "Student3@College.example",
                                                    "code": code.lower().replace("-", " "),
                                                    "password": PASSWORD,
                                                    "password_confirm": PASSWORD})
        self.assertEqual(status, 303, web.last)
        self.assertEqual(p.site.count("SELECT count(*) FROM invitations WHERE state = 'activated'"), 1)

        second = p.enrol(EN, 4)
        web = p.web()
        web.get("/activate")
        for _ in range(5):
            web.post("/activate", {"address": "student4@college.example", "code": "AAAAA-AAAAA",
                                   "password": PASSWORD, "password_confirm": PASSWORD})
        # Five wrong codes: the right one no longer works (the link still does).
        status, _, _ = web.post("/activate", {"address": "student4@college.example",
                                              "code": access_code(second), "password": PASSWORD,
                                              "password_confirm": PASSWORD})
        self.assertEqual(status, 400)
        p.activate(second)


class SsoTest(harness.TestCase):
    def test_sign_in_through_the_trusted_proxy_only(self):
        p = People(self)
        p.site.drop(SSO, "s.csv", HEADER + row(5))
        p.site.report(SSO, "s.csv")
        header = {SSO_HEADER: "Student5@College.example"}
        stranger = Web(p.site.port, source=STRANGER)
        status, _, _ = stranger.get(f"/signin/sso/{SSO}", headers=header)
        self.assertEqual(status, 401)
        self.assertIsNone(stranger.session())
        proxied = Web(p.site.port, source=PROXY)
        status, headers, _ = proxied.get(f"/signin/sso/{SSO}", headers=header)
        self.assertEqual(status, 303, proxied.last)
        self.assertEqual(headers["Location"], "/documents")
        self.assertTrue(proxied.session())
        harness.wait_for(lambda: p.site.count("SELECT count(*) FROM documents") == 1, 60,
                         what="the document")
        self.assertEqual(len(p.document_ids(proxied)), 1)
        # The sign-in page lists the SSO institution.
        status, _, _ = p.web().get("/signin")
        self.assertIn(f"/signin/sso/{SSO}", p.web().get("/signin")[2].decode())


class ResetTest(harness.TestCase):
    def test_reset_sets_a_new_password_and_ends_old_sessions(self):
        p = People(self)
        first = p.activate(p.enrol(EN, 6))
        self.assertEqual(p.web().get("/documents")[0], 303)  # No session, no documents.
        self.assertEqual(first.get("/documents")[0], 200)

        other = p.web()
        other.get("/reset")
        status, _, _ = other.post("/reset", {"address": "student6@college.example"})
        self.assertEqual(status, 200)
        email = p.site.mail_to("student6@college.example", count=2)[-1]
        reset = p.web()
        status, _, _ = reset.get(link(email, "/reset/password?token="))
        self.assertEqual(status, 200, reset.last)
        new = "a completely different passphrase"
        status, headers, _ = reset.post("/reset/password", {
            "token": link(email, "/reset/password?token=").split("token=", 1)[1],
            "password": new, "password_confirm": new})
        self.assertEqual(status, 303, reset.last)
        self.assertEqual(headers["Location"], "/signin?reset=1")

        self.assertEqual(first.get("/documents")[0], 303, "the old session outlived the reset")
        web = p.web()
        web.get("/signin")
        self.assertEqual(web.post("/signin", {"address": "student6@college.example",
                                              "password": PASSWORD})[0], 401)
        self.assertEqual(web.post("/signin", {"address": "student6@college.example",
                                              "password": new})[0], 303)
        self.assertEqual(web.get("/documents")[0], 200)


class DeskTest(harness.TestCase):
    def add_staff(self, p, username, role, password=None):
        args = ["staff", "add", username, "--role", role, "--institution", EN]
        result = p.site.credctl(*args, *([] if password else ["--sso"]),
                                stdin=(password + "\n") if password else None)
        self.assertEqual(result.returncode, 0, result.stderr)

    def desk(self, p, username, password):
        web = p.web()
        web.get("/desk/signin")
        status, headers, _ = web.post("/desk/signin", {"username": username, "password": password})
        self.assertEqual(status, 303, web.last)
        return web

    def test_a_bounced_address_resent_to_a_personal_one_from_the_desk(self):
        # The relay refuses the first recipient: the institutional address.
        p = People(self, smtp_args=("--rcpt-script", "550/5.1.1"))
        p.site.drop(EN, "s.csv", HEADER + row(7))
        p.site.report(EN, "s.csv")
        harness.wait_for(lambda: p.site.sql("SELECT state FROM invitations") == "bounced", 60,
                         what="the invitation to bounce")
        self.add_staff(p, "support1", "support", "support desk passphrase")
        desk = self.desk(p, "support1", "support desk passphrase")
        status, headers, _ = desk.get("/desk/students?q=student7@college.example")
        self.assertEqual(status, 303)
        page = headers["Location"]
        status, _, _ = desk.get(page)
        self.assertEqual(status, 200)
        self.assertIn("550", desk.last)  # The relay's answer is on the desk.
        status, _, _ = desk.post(page + "/emails", {"address": "me7@personal.example", "kind": "personal"})
        self.assertEqual(status, 200, desk.last)
        status, _, _ = desk.post(page + "/resend", {"to": "personal"})
        self.assertEqual(status, 200, desk.last)
        invitation = p.site.mail_to("me7@personal.example")[0]
        p.activate(invitation)
        web = p.web()
        web.get("/signin")
        self.assertEqual(web.post("/signin", {"address": "me7@personal.example",
                                              "password": PASSWORD})[0], 303)
        actors = p.site.sql("SELECT string_agg(DISTINCT actor, ',') FROM audit_events "
                            "WHERE event IN ('invitation.resend', 'student.email_added', 'student.viewed')")
        self.assertEqual(actors, "staff:support1")

    def test_a_revocation_from_the_desk_shows_to_the_recipient_and_in_the_history(self):
        p = People(self)
        web = p.activate(p.enrol(EN, 8))
        [doc] = p.document_ids(web)
        _, share_url = p.share(web, doc, "hr@acme.example")
        self.add_staff(p, "registrar@college.example", "registrar")
        desk = Web(p.site.port, source=PROXY)
        status, _, _ = desk.get("/desk/sso", headers={"X-Test-Staff": "registrar@college.example"})
        self.assertEqual(status, 303, desk.last)
        status, headers, _ = desk.get("/desk/students?q=student8@college.example")
        desk.get(headers["Location"])
        status, headers, _ = desk.post(f"/desk/documents/{doc}/revoke", {"reason": "Issued in error"})
        self.assertEqual(status, 303, desk.last)
        recipient = p.web()
        recipient.get(share_url)
        self.assertIn("revoked", recipient.last)
        self.assertIn("Issued in error", recipient.last)
        web.get(f"/documents/{doc}")
        self.assertIn("Revoked: Issued in error", web.last)

    def test_staff_see_only_their_institutions_and_their_roles(self):
        p = People(self)
        p.site.drop(FR, "s.csv", HEADER + row(9, "fr"))
        p.site.report(FR, "s.csv")
        self.add_staff(p, "viewer1", "viewer", "viewer desk passphrase")
        desk = self.desk(p, "viewer1", "viewer desk passphrase")
        self.assertEqual(desk.get(f"/desk/students/{FR}/S0000009")[0], 404)
        status, _, _ = desk.get("/desk/students?q=student9@college.example")
        self.assertIn("No student of your institutions matches", desk.last)
        doc = p.site.sql("SELECT public_id FROM documents")
        harness.wait_for(lambda: p.site.sql("SELECT public_id FROM documents"), 60, what="a document")
        doc = p.site.sql("SELECT public_id FROM documents")
        desk.get("/desk")
        status, _, _ = desk.post(f"/desk/documents/{doc}/revoke", {"reason": "x"})
        self.assertEqual(status, 403)  # A viewer may not revoke, even their own.
        self.assertEqual(p.site.sql("SELECT status FROM documents"), "active")


class SecurityTest(harness.TestCase):
    def test_csrf_session_ids_enumeration_limits_and_other_students_ids(self):
        p = People(self)
        a = p.activate(p.enrol(EN, 10))
        [doc_a] = p.document_ids(a)
        share_a, _ = p.share(a, doc_a, "x@acme.example")
        b = p.activate(p.enrol(EN, 11))

        with self.subTest("a POST without a CSRF token gets 403"):
            web = p.web()
            web.get("/signin")
            status, _, _ = web.post("/signin", {"address": "student10@college.example",
                                                "password": PASSWORD}, with_csrf=False)
            self.assertEqual(status, 403)
            self.assertEqual(a.post(f"/shares/{share_a}/cancel", {}, with_csrf=False)[0], 403)
            self.assertEqual(p.site.sql("SELECT cancelled_at IS NULL FROM shares"), "t")

        with self.subTest("the session id changes at sign-in"):
            web = p.web()
            web.get("/signin")
            web.post("/signin", {"address": "student10@college.example", "password": PASSWORD})
            first = web.session()
            self.assertTrue(first)
            # Signing in again from the same browser (the cookie still sent) makes a new id,
            # and the old one ends.
            web.get("/signin")
            web.post("/signin", {"address": "student10@college.example", "password": PASSWORD})
            self.assertTrue(web.session())
            self.assertNotEqual(web.session(), first)
            old = p.web()
            old.cookies["__Host-credd_session"] = first
            self.assertEqual(old.get("/documents")[0], 303)
            self.assertEqual(web.get("/documents")[0], 200)

        with self.subTest("known and unknown addresses get the same answers"):
            def answer(path, fields):
                web = p.web()
                web.get(path)
                status, _, body = web.post(path, fields)
                return status, re.sub(r'value="[^"]*"', "", body.decode())
            self.assertEqual(answer("/reset", {"address": "student10@college.example"}),
                             answer("/reset", {"address": "nobody@college.example"}))
            known = answer("/signin", {"address": "student10@college.example", "password": "wrong wrong wrong"})
            unknown = answer("/signin", {"address": "nobody@college.example", "password": "wrong wrong wrong"})
            self.assertEqual(known[0], 401)
            self.assertEqual(known, (unknown[0], unknown[1].replace("nobody@", "student10@")))

        with self.subTest("repeated wrong passwords are limited, known address or not"):
            for address in ("student11@college.example", "ghost@college.example"):
                web = p.web()
                web.get("/signin")
                statuses = [web.post("/signin", {"address": address, "password": "not it at all"})[0]
                            for _ in range(6)]
                self.assertEqual(statuses, [401] * 5 + [429], address)
            # Even the right password waits now.
            self.assertEqual(web.post("/signin", {"address": "student11@college.example",
                                                  "password": PASSWORD})[0], 429)

        with self.subTest("another student's ids answer 404"):
            self.assertEqual(b.get(f"/documents/{doc_a}")[0], 404)
            self.assertEqual(b.get(f"/documents/{doc_a}/download")[0], 404)
            self.assertEqual(b.get(f"/shares/{share_a}")[0], 404)
            self.assertEqual(b.post(f"/shares/{share_a}/cancel", {})[0], 404)
            self.assertEqual(p.site.sql("SELECT cancelled_at IS NULL FROM shares"), "t")
            b.get("/shares")
            self.assertEqual(b.post("/shares", {"document": doc_a, "recipient": "y@acme.example",
                                                "days": "3"})[0], 404)

        with self.subTest("cookies are __Host-, Secure, HttpOnly, SameSite=Lax"):
            web = p.web()
            web.get("/signin")
            _, headers, _ = web.post("/signin", {"address": "student10@college.example", "password": PASSWORD})
            cookie = [c for c in headers.get_all("Set-Cookie") if c.startswith("__Host-credd_session=")][0]
            for part in ("Path=/", "Secure", "HttpOnly", "SameSite=Lax"):
                self.assertIn(part, cookie)
            self.assertNotIn("Domain", cookie)


class ProfileTest(harness.TestCase):
    def test_an_added_address_counts_once_confirmed_and_links_another_institution(self):
        p = People(self)
        web = p.activate(p.enrol(EN, 12))
        # The same person at the French institution, under another institutional address.
        p.site.drop(FR, "other.csv", HEADER + row(13, "fr").replace("student13@college.example",
                                                                     "s12@fr-college.example"))
        p.site.report(FR, "other.csv")
        self.assertEqual(len(p.document_ids(web)), 1)
        status, _, _ = web.get("/profile")
        self.assertEqual(status, 200, web.last)
        status, _, _ = web.post("/profile/emails", {"address": "s12@fr-college.example"})
        self.assertEqual(status, 200, web.last)
        self.assertIn("waiting for confirmation", web.last)
        # Not confirmed yet: it does not sign in, and nothing is linked.
        other = p.web()
        other.get("/signin")
        self.assertEqual(other.post("/signin", {"address": "s12@fr-college.example",
                                                "password": PASSWORD})[0], 401)
        confirm = [m for m in p.site.mail_to("s12@fr-college.example", count=2)
                   if "/profile/confirm" in m.get_body(preferencelist=("plain",)).get_content()][0]
        confirm_url = link(confirm, "/profile/confirm?token=")
        scanner = p.web()
        self.assertEqual(scanner.get(confirm_url)[0], 200)  # A GET confirms nothing.
        self.assertEqual(p.site.sql("SELECT count(*) FROM students WHERE account IS NOT NULL"), "1")
        page = p.web()
        page.get(confirm_url)
        status, _, _ = page.post("/profile/confirm", {"token": confirm_url.split("token=", 1)[1]})
        self.assertEqual(status, 200, page.last)
        self.assertIn("Test College (French)", page.last)  # The linked institution.
        self.assertEqual(p.site.sql("SELECT state FROM invitations i JOIN students s ON s.id = i.student "
                                    "WHERE s.student_id = 'S0000013'"), "activated")
        harness.wait_for(lambda: p.site.count("SELECT count(*) FROM documents") == 2, 60,
                         what="both documents")
        self.assertEqual(len(p.document_ids(web)), 2, web.last)
        self.assertEqual(other.post("/signin", {"address": "s12@fr-college.example",
                                                "password": PASSWORD})[0], 303)
        # The switch on a signed-in page keeps the student's choice.
        web.get("/documents?lang=fr")
        web.get("/documents")
        self.assertIn('<html lang="fr">', web.last)
        self.assertEqual(p.site.sql("SELECT preferred_locale FROM accounts"), "fr")
