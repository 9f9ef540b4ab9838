"""Helpers for ingestion tests: a running credd on a temp drop root, dropping files the way
staff do (write under .part, then rename), and reading the reports credd writes."""

import json
import os

import harness

HEADER = ("student_id,family_name,given_names,email,personal_email,preferred_locale,"
          "credential_type,credential_title,program,issued_on\n")


def csv_row(i, title="Diploma in Nursing", issued_on="2024-06-14", locale="en"):
    return (f"S{i:07d},Family{i},Given{i},student{i}@college.example,,{locale},"
            f"diploma,{title},Nursing,{issued_on}\n")


class Installation:
    """A config, a migrated database and drop folders for one test."""

    def __init__(self, test, institutions=("test-college",), extra_institution_yaml="",
                 rescan_seconds=1, settle_seconds=1, extra_yaml="", mail_yaml=None,
                 database_base=None, route=None, drop_root=None, database=None, migrate=True):
        """database_base: the server to create the database on (default: the test server);
        database: a database the test made itself (conninfo), used instead;
        migrate: False leaves the database empty (e.g. for another release's credctl);
        route(conninfo) -> the conninfo credd and credctl use (e.g. through a proxy);
        drop_root: a folder the test prepared (e.g. a small mounted filesystem)."""
        self.test = test
        self.dir = harness.make_temp_dir(test)
        self.conninfo = database or harness.create_database(test, database_base)
        self.daemon_conninfo = route(self.conninfo) if route else self.conninfo
        self.drop_root = drop_root or os.path.join(self.dir, "drop")
        self.config = os.path.join(self.dir, "credd.yaml")
        extra = f"rescan_seconds: {rescan_seconds}\nsettle_seconds: {settle_seconds}\n" + extra_yaml
        harness.write_config(self.config, harness.url_database(self.daemon_conninfo), self.drop_root,
                             institutions=institutions, extra=extra, mail_yaml=mail_yaml)
        if extra_institution_yaml:
            with open(self.config, "a", encoding="utf-8") as f:
                f.write(extra_institution_yaml)
        if migrate:
            self.migrate()
        self.daemon = None

    def migrate(self):
        result = harness.run([harness.CREDCTL, "--config", self.config, "migrate"])
        self.test.assertEqual(result.returncode, 0, result.stderr)

    def folder(self, institution, state):
        return os.path.join(self.drop_root, institution, state)

    def start(self, log_path=None):
        self.daemon = harness.Daemon(self.test, self.config, log_path=log_path)
        self.daemon.wait_log("event=daemon.ready", timeout=60)
        return self.daemon

    def drop(self, institution, name, content):
        """Writes content under a .part name, then renames it in: the staff protocol."""
        incoming = self.folder(institution, "incoming")
        os.makedirs(incoming, exist_ok=True)
        part = os.path.join(incoming, name + ".part")
        with open(part, "wb") as f:
            f.write(content if isinstance(content, bytes) else content.encode("utf-8"))
        os.rename(part, os.path.join(incoming, name))

    def drop_file(self, institution, source, name=None):
        with open(source, "rb") as f:
            self.drop(institution, name or os.path.basename(source), f.read())

    def report(self, institution, name, timeout=60):
        """Waits for name's JSON report in done/ or rejected/ and returns (folder, report)."""
        def find():
            for state in ("done", "rejected"):
                path = os.path.join(self.folder(institution, state), name + ".report.json")
                if os.path.exists(path):
                    with open(path, encoding="utf-8") as f:
                        return state, json.load(f)
            return None
        log = self.daemon.log if self.daemon else (lambda: "")
        return harness.wait_for(find, timeout, what=f"a report for {name!r}; log:\n{log()[-3000:]}")

    def text_report(self, institution, state, name):
        with open(os.path.join(self.folder(institution, state), name + ".report.txt"), encoding="utf-8") as f:
            return f.read()

    def sql(self, query):
        return harness.psql(self.conninfo, query)

    def count(self, query):
        return int(self.sql(query))

    def idle(self, institution):
        """True once incoming/ and processing/ hold nothing but hidden names."""
        for state in ("incoming", "processing"):
            folder = self.folder(institution, state)
            if any(not n.startswith(".") for n in os.listdir(folder)):
                return False
        return True


def make_signing_key(directory, name="signing", curve=True):
    """A throwaway CA and a signing certificate it issued (chain in the .crt), for tests.
    Returns (key_path, certificate_path, ca_path)."""
    import subprocess
    def ssl(*args):
        subprocess.run(["openssl", *args], check=True, capture_output=True, cwd=directory)
    ca_key, ca_crt = f"{name}-ca.key", f"{name}-ca.crt"
    key, csr, crt = f"{name}.key", f"{name}.csr", f"{name}.crt"
    ssl("ecparam", "-name", "prime256v1", "-genkey", "-noout", "-out", ca_key)
    ssl("req", "-new", "-x509", "-key", ca_key, "-out", ca_crt, "-days", "3650", "-subj", f"/CN={name} test CA")
    if curve:
        ssl("genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256", "-out", key)
    else:
        ssl("genpkey", "-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:2048", "-out", key)
    os.chmod(os.path.join(directory, key), 0o600)
    ssl("req", "-new", "-key", key, "-out", csr, "-subj", f"/O=Test College/CN={name} registrar")
    with open(os.path.join(directory, "ext.cnf"), "w") as f:
        f.write("basicConstraints=CA:FALSE\nkeyUsage=critical,digitalSignature,nonRepudiation\n")
    ssl("x509", "-req", "-in", csr, "-CA", ca_crt, "-CAkey", ca_key, "-CAcreateserial", "-out", crt,
        "-days", "825", "-extfile", "ext.cnf")
    with open(os.path.join(directory, crt), "a") as out, open(os.path.join(directory, ca_crt)) as ca:
        out.write(ca.read())
    return (os.path.join(directory, key), os.path.join(directory, crt), os.path.join(directory, ca_crt))
