"""Helpers for ingestion tests: a running credd on a temp drop root, dropping files the way
staff do (write under .part, then rename), and reading the reports credd writes."""

import glob
import json
import os
import shutil

import harness

HEADER = ("student_id,family_name,given_names,email,personal_email,preferred_locale,"
          "credential_type,credential_title,program,issued_on\n")


def csv_row(i, title="Diploma in Nursing", issued_on="2024-06-14", locale="en"):
    return (f"S{i:07d},Family{i},Given{i},student{i}@college.example,,{locale},"
            f"diploma,{title},Nursing,{issued_on}\n")


class Installation:
    """A config, a migrated database and drop folders for one test."""

    def __init__(self, test, institutions=("test-college",), extra_institution_yaml="",
                 rescan_seconds=1, settle_seconds=1):
        self.test = test
        self.dir = harness.make_temp_dir(test)
        self.conninfo = harness.create_database(test)
        self.drop_root = os.path.join(self.dir, "drop")
        self.config = os.path.join(self.dir, "credd.yaml")
        extra = f"rescan_seconds: {rescan_seconds}\nsettle_seconds: {settle_seconds}\n"
        harness.write_config(self.config, harness.url_database(self.conninfo), self.drop_root,
                             institutions=institutions, extra=extra)
        if extra_institution_yaml:
            with open(self.config, "a", encoding="utf-8") as f:
                f.write(extra_institution_yaml)
        result = harness.run([harness.CREDCTL, "--config", self.config, "migrate"])
        test.assertEqual(result.returncode, 0, result.stderr)
        self.daemon = None

    def folder(self, institution, state):
        return os.path.join(self.drop_root, institution, state)

    def start(self):
        self.daemon = harness.Daemon(self.test, self.config)
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
