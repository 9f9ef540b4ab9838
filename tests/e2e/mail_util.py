"""A scripted SMTP server (tests/smtp_server.py on Debian's aiosmtpd) for end-to-end tests,
and helpers to read what it received with Python's own email parser."""

import email
import email.policy
import json
import os
import subprocess

import harness
from ingest_util import Installation, make_signing_key

SERVER = os.path.join(harness.SOURCE_DIR, "tests", "smtp_server.py")


free_port = harness.free_port


class SmtpServer:
    def __init__(self, test, *args, port=0):
        self.out = os.path.join(harness.make_temp_dir(test), "received.jsonl")
        self.process = subprocess.Popen(["/usr/bin/python3", SERVER, "--out", self.out, "--port", str(port), *args],
                                        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        test.addCleanup(self.stop)
        line = self.process.stdout.readline()
        if not line.strip().isdigit():
            raise AssertionError(f"the SMTP server did not start: {self.process.stderr.read()}")
        self.port = int(line)

    def stop(self):
        if self.process.poll() is None:
            self.process.terminate()
            self.process.wait(timeout=10)
        self.process.stdout.close()
        self.process.stderr.close()

    def records(self):
        if not os.path.exists(self.out):
            return []
        with open(self.out, encoding="utf-8") as f:
            # The server may be writing the last line right now: only whole lines count.
            return [json.loads(line) for line in f if line.endswith("\n") and line.strip()]

    def delivered(self):
        return [r for r in self.records() if r["code"] // 100 == 2 and not r["dropped"]]


def parse(record):
    return email.message_from_string(record["data"], policy=email.policy.default)


def smtp_yaml(port, rate_limits="", retry=1, lease_seconds=None):
    lease = f"  lease_seconds: {lease_seconds}\n" if lease_seconds else ""
    return (f"mail:\n  transport: smtp\n  scheduler_seconds: 1\n  retry_initial_seconds: {retry}\n"
            f"  retry_max_seconds: 2\n{lease}  smtp:\n    host: 127.0.0.1\n    port: {port}\n    tls: none\n"
            f"    timeout_seconds: 5\n{rate_limits}")


def invitations_yaml(days="[mon, tue, wed, thu, fri, sat, sun]", start="00:00", end="23:59",
                     rate_limits=""):
    return ("    invitations:\n"
            "      activation_url: 'https://wallet.example.ca/activate?token={token}'\n"
            "      from_address: registrar@college.example\n"
            "      from_name: 'Registrar / Registraire'\n"
            f"      window:\n        days: {days}\n        start: '{start}'\n        end: '{end}'\n"
            "        time_zone: America/Toronto\n" + rate_limits)


class MailSite(Installation):
    """An installation that signs its documents and sends one institution's invitations
    through the SMTP server on `port`; kwargs go to Installation."""

    def __init__(self, test, port, institution="mail-college", invitations=None, mail_rate_limits="",
                 **kwargs):
        keys = harness.make_temp_dir(test)
        self.key, self.cert, _ = make_signing_key(keys)
        signing = f"signing:\n  key: '{self.key}'\n  certificate: '{self.cert}'\n"
        block = (f"  - id: {institution}\n    name_en: Mail College\n    name_fr: Collège Courriel\n" +
                 (invitations if invitations is not None else invitations_yaml()))
        super().__init__(test, institutions=(), extra_institution_yaml=block,
                         extra_yaml=signing + kwargs.pop("extra_yaml", ""),
                         mail_yaml=smtp_yaml(port, mail_rate_limits), **kwargs)

    def credctl(self, *args):
        return harness.run([harness.CREDCTL, "--config", self.config, *args])

    def status(self):
        result = self.credctl("status", "--json")
        self.test.assertEqual(result.returncode, 0, result.stderr)
        return json.loads(result.stdout)
