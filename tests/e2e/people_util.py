"""Helpers for the people tests (students' accounts, sharing, the staff desk): an
installation with an English, a French and an SSO institution whose invitations lead to
credd's own pages, a scripted SMTP server, and a small HTTP client that keeps cookies the
way a browser does (by name; __Host- cookies are Secure, which Python's cookie jar would
keep back over plain HTTP on loopback)."""

import http.client
import re
import urllib.parse

import harness
import mail_util
from ingest_util import Installation, make_signing_key

EN, FR, SSO = "college-en", "college-fr", "college-sso"
SSO_HEADER = "X-Test-Verified-Email"
PROXY = "127.0.0.3"       # The trusted proxy's address (the SSO header is believed from it).
STRANGER = "127.0.0.4"    # Anybody else.
PASSWORD = "correct horse battery staple"


def invitations(from_address="registrar@college.example"):
    return ("    invitations:\n"
            f"      from_address: {from_address}\n"
            "      from_name: 'Registrar / Registraire'\n"
            "      expiry_days: 30\n"
            "      window:\n        days: [mon, tue, wed, thu, fri, sat, sun]\n"
            "        start: '00:00'\n        end: '23:59'\n        time_zone: America/Toronto\n")


class PeopleSite(Installation):
    def __init__(self, test, smtp_args=(), accounts_yaml=""):
        self.smtp = mail_util.SmtpServer(test, *smtp_args)
        self.port = harness.free_port()
        keys = harness.make_temp_dir(test)
        self.key, self.cert, _ = make_signing_key(keys, "signing")
        origin = f"http://127.0.0.1:{self.port}"
        extra = (f"signing:\n  key: '{self.key}'\n  certificate: '{self.cert}'\n"
                 f"http:\n  listen: 127.0.0.1:{self.port}\n  public_url: {origin}\n"
                 f"  trusted_proxies: [{PROXY}]\n"
                 "accounts:\n  sign_in_failures: 5\n  sign_in_per_client_per_minute: 100000\n"
                 + accounts_yaml +
                 "staff:\n  sso_header: X-Test-Staff\n")
        institutions = (
            f"  - id: {EN}\n    name_en: Test College\n    name_fr: Collège Test\n"
            f"    contact_email: registrar@college.example\n{invitations()}"
            f"  - id: {FR}\n    name_en: Test College (French)\n    name_fr: Collège Test français\n"
            f"    default_locale: fr\n{invitations()}"
            f"  - id: {SSO}\n    name_en: SSO University\n    name_fr: Université SSO\n"
            f"    login_method: sso\n    sso_header: {SSO_HEADER}\n{invitations()}")
        super().__init__(test, institutions=(), extra_institution_yaml=institutions,
                         extra_yaml=extra, mail_yaml=mail_util.smtp_yaml(self.smtp.port))
        self.origin = origin

    def credctl(self, *args, stdin=None):
        import subprocess
        return subprocess.run([harness.CREDCTL, "--config", self.config, *args], input=stdin,
                              capture_output=True, text=True, timeout=120)

    def mail_to(self, address, count=1, timeout=60):
        """The emails delivered to `address`, once there are `count` of them."""
        def found():
            got = [r for r in self.smtp.delivered() if address in r["rcpt_tos"]]
            return got if len(got) >= count else None
        got = harness.wait_for(found, timeout, what=f"{count} email(s) to {address}")
        return [mail_util.parse(r) for r in got]

    def document_pdf(self, public_id):
        hexed = self.sql(f"SELECT encode(pdf, 'hex') FROM documents WHERE public_id = '{public_id}'")
        return bytes.fromhex(hexed)


def text_of(message):
    part = message.get_body(preferencelist=("plain",))
    return part.get_content()


def link(message, path):
    """The first link in the email's text part whose path starts with `path`."""
    m = re.search(r"(https?://[^\s<>\"]+" + re.escape(path) + r"[^\s<>\"]*)", text_of(message))
    if not m:
        raise AssertionError(f"no {path} link in:\n{text_of(message)}")
    return m.group(1)


def access_code(message):
    m = re.search(r"\b([A-Z2-9]{5}-[A-Z2-9]{5})\b", text_of(message))
    if not m:
        raise AssertionError(f"no access code in:\n{text_of(message)}")
    return m.group(1)


class Web:
    """One browser's worth of cookies, talking to credd from `source`."""

    def __init__(self, port, source="127.0.0.1", lang=None):
        self.port, self.source, self.lang = port, source, lang
        self.cookies = {}
        self.last = ""

    def request(self, method, target, form=None, headers=None):
        if target.startswith("http"):
            parsed = urllib.parse.urlsplit(target)
            target = parsed.path + ("?" + parsed.query if parsed.query else "")
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=60,
                                          source_address=(self.source, 0))
        sent = {}
        if self.cookies:
            sent["Cookie"] = "; ".join(f"{k}={v}" for k, v in self.cookies.items())
        if self.lang:
            sent["Accept-Language"] = self.lang
        body = None
        if form is not None:
            body = urllib.parse.urlencode(form, doseq=True)
            sent["Content-Type"] = "application/x-www-form-urlencoded"
        sent.update(headers or {})
        try:
            conn.request(method, target, body=body, headers=sent)
            response = conn.getresponse()
            data = response.read()
            for value in response.headers.get_all("Set-Cookie") or []:
                name, _, rest = value.partition("=")
                cookie_value = rest.split(";", 1)[0]
                if "Max-Age=0" in value:
                    self.cookies.pop(name, None)
                else:
                    self.cookies[name] = cookie_value
            if response.headers.get("Content-Type", "").startswith("text/html"):
                self.last = data.decode("utf-8")
            return response.status, response.headers, data
        finally:
            conn.close()

    def get(self, target, headers=None):
        return self.request("GET", target, headers=headers)

    def csrf(self):
        m = re.search(r'name="csrf" value="([^"]+)"', self.last)
        if not m:
            raise AssertionError("no CSRF token on the last page:\n" + self.last[:2000])
        return m.group(1)

    def post(self, target, fields, with_csrf=True, headers=None):
        form = dict(fields)
        if with_csrf:
            form["csrf"] = self.csrf()
        return self.request("POST", target, form=form, headers=headers)

    def session(self):
        return self.cookies.get("__Host-credd_session")
