#!/usr/bin/python3
"""The fault-injection suite (issue 8): real credd processes against real PostgreSQL, SMTP
and folders, with faults injected from outside (kill -9, PostgreSQL crashes, connection
resets, SMTP outages and stalls, a full disk, two daemons, inotify overflow, a folder
inotify cannot see, hostile names). Everything is counted from the real outputs: the
database (psql), the SMTP server's log of what it received and the drop folders.

  /usr/bin/python3 tests/soak/soak.py --form short|long [--only NAME,...]

Exit status: 1 when any scenario lost or duplicated anything (or failed a check), else 0.
Needs root (mounts, sysctl) and CREDD_TEST_DATABASE_URL (scripts/soak and scripts/test set it).
"""

import argparse
import collections
import ctypes
import hashlib
import json
import os
import random
import re
import select
import signal
import struct
import subprocess
import sys
import time
import traceback
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "e2e"))

import harness  # noqa: E402
from ingest_util import HEADER, Installation, make_signing_key  # noqa: E402
from mail_util import SmtpServer, free_port, invitations_yaml, parse, smtp_yaml  # noqa: E402

INST = "soak-college"
PROXY = os.path.join(HERE, "tcp_proxy.py")

FORMS = {
    "short": dict(kill_records=1000, kills=5, pg_records=200, mail_students=12, two_files=3,
                  two_records=60, overflow_files=300, poll_files=12, real_lease_wait=True,
                  # A short mail lease (mail.lease_seconds) so that a take-over after a crash
                  # happens in seconds, not the default 300.
                  mail_lease=15),
    "long": dict(kill_records=10000, kills=20, pg_records=3000, mail_students=60, two_files=8,
                 two_records=250, overflow_files=2000, poll_files=60, real_lease_wait=True,
                 mail_lease=None),
}
HIGH_LIMITS = "      rate_limits:\n        - messages: 100000\n          seconds: 60\n"


def row(i, title="Diploma in Nursing"):
    return (f"S{i:07d},Family{i},Given{i},student{i}@college.example,,en,diploma,{title},Nursing,"
            "2024-06-14\n")


class Context(unittest.TestCase):
    """Gives the e2e helpers what they expect of a test: addCleanup and the assertions."""

    def runTest(self):
        pass


class Scenario:
    """One scenario's installation, servers, what was dropped and the faults injected."""

    def __init__(self, name, form):
        self.name = name
        self.form = form
        self.ctx = Context()
        self.site = None
        self.smtp = None
        self.daemons = []
        self.files = {}  # sha256 -> name (bytes) of every file dropped
        self.students = set()  # student ids dropped
        self.records_in = 0
        self.faults = 0
        self.notes = []
        self.failures = []
        self.mail_expected = False
        self.documents_expected = False
        self.refused_mail = set()  # recipients the scripted relay refused with 5xx (not lost)

    # ----- set-up -----
    def make_site(self, signing=False, mail=False, smtp_port=None, mail_rate_limits="",
                  institution_limits=HIGH_LIMITS, **kwargs):
        extra = kwargs.pop("extra_yaml", "")
        if signing:
            key, cert, _ = make_signing_key(harness.make_temp_dir(self.ctx))
            extra += f"signing:\n  key: '{key}'\n  certificate: '{cert}'\n"
            self.documents_expected = True
        institution = f"  - id: {INST}\n    name_en: Soak College\n    name_fr: Collège Soak\n"
        mail_yaml = None
        if mail:
            institution += invitations_yaml(rate_limits=institution_limits)
            mail_yaml = smtp_yaml(smtp_port, mail_rate_limits,
                                  lease_seconds=self.form["mail_lease"])
            self.mail_expected = True
        self.site = Installation(self.ctx, institutions=(), extra_institution_yaml=institution,
                                 extra_yaml=extra, mail_yaml=mail_yaml, **kwargs)
        return self.site

    def start(self, config=None):
        log = os.path.join(self.site.dir, f"credd-{len(self.daemons) + 1}.log")
        daemon = harness.Daemon(self.ctx, config or self.site.config, log_path=log)
        self.daemons.append(daemon)
        daemon.wait_log("event=daemon.ready", timeout=120)
        return daemon

    def logs(self):
        return "\n".join(d.log() for d in self.daemons)

    def folder(self, state):
        return os.path.join(self.site.drop_root, INST, state)

    # ----- drops -----
    def content(self, first, count):
        for i in range(first, first + count):
            self.students.add(f"S{i:07d}")
        self.records_in += count
        return (HEADER + "".join(row(i) for i in range(first, first + count))).encode()

    def drop(self, name, data, incoming=None):
        """The staff protocol: write under .part, then rename into incoming/."""
        incoming = incoming or self.folder("incoming")
        os.makedirs(incoming, exist_ok=True)
        bname = name if isinstance(name, bytes) else name.encode()
        part = os.path.join(incoming.encode(), bname + b".part")
        with open(part, "wb") as f:
            f.write(data)
        os.rename(part, os.path.join(incoming.encode(), bname))
        self.files[hashlib.sha256(data).hexdigest()] = bname

    # ----- counting, from the real outputs -----
    def reports(self):
        """Every JSON report in done/ and rejected/: [(state, file name bytes, report)]."""
        found = []
        for state in ("done", "rejected"):
            folder = self.folder(state).encode()
            if not os.path.isdir(folder):
                continue
            for name in os.listdir(folder):
                if name.endswith(b".report.json"):
                    try:
                        with open(os.path.join(folder, name), encoding="utf-8") as f:
                            found.append((state, name, json.load(f)))
                    except (OSError, ValueError):
                        pass  # Half written: not a report yet.
        return found

    def outputs_by_content(self):
        """sha256 -> [state] for every non-report file in done/ and rejected/."""
        where = collections.defaultdict(list)
        for state in ("done", "rejected"):
            folder = self.folder(state).encode()
            if not os.path.isdir(folder):
                continue
            for name in os.listdir(folder):
                if b".report." in name:
                    continue
                path = os.path.join(folder, name)
                if os.path.isfile(path) and not os.path.islink(path):
                    with open(path, "rb") as f:
                        where[hashlib.sha256(f.read()).hexdigest()].append(state)
        return where

    def unreported(self):
        reported = {r.get("sha256") for _, _, r in self.reports()}
        return [n for sha, n in self.files.items() if sha not in reported]

    def received(self):
        """What the relay accepted (2xx) or took in full before dropping the connection."""
        if not self.smtp:
            return []
        return [r for r in self.smtp.records() if r["dropped"] or r["code"] // 100 == 2]

    def sql_int(self, query):
        return int(self.site.sql(query) or 0)

    def progress(self):
        """A number that grows whenever credd gets work done: credentials, documents, emails
        accepted by the relay, and files reported."""
        return (self.sql_int("SELECT count(*) FROM credentials") +
                self.sql_int("SELECT count(*) FROM documents") + len(self.received()) +
                len(self.files) - len(self.unreported()))

    def mail_settled(self):
        # Nothing more will go out: no email waits in the outbox, and every invitation has one.
        return self.sql_int("SELECT count(*) FROM mail_outbox WHERE status IN ('queued', 'sending', 'deferred')") == 0 \
            and self.sql_int("SELECT count(*) FROM invitations i WHERE NOT EXISTS "
                             "(SELECT 1 FROM mail_outbox o WHERE o.invitation = i.id)") == 0

    def complete(self):
        """True once every file is reported and, where expected, every active credential has
        its document and every student's email went out (or was refused by the relay)."""
        if self.unreported():
            return False
        if self.documents_expected and self.sql_int(
                "SELECT count(*) FROM credentials c WHERE c.status = 'active' AND NOT EXISTS "
                "(SELECT 1 FROM documents d WHERE d.credential = c.id)"):
            return False
        if self.mail_expected:
            got = {r["rcpt_tos"][0].split("@")[0] for r in self.received()} | self.refused_mail
            wanted = {f"student{int(s[1:])}" for s in self.stored_students()}
            if not wanted <= got or not self.mail_settled():
                return False
        return True

    def stored_students(self):
        text = self.site.sql("SELECT string_agg(DISTINCT s.student_id, ',') FROM credentials c "
                             "JOIN students s ON s.id = c.student")
        return set(text.split(",")) if text else set()

    def tally(self):
        t = collections.OrderedDict(scenario=self.name, runs=len(self.daemons), faults=self.faults,
                                    records_in=self.records_in)
        lost = dup = 0
        if self.site is None:
            t.update(records_stored=0, documents=0, emails=0, lost=self.records_in, duplicated=0,
                     possible_dups=0)
            return t
        stored = self.sql_int("SELECT count(DISTINCT (student, credential_key)) FROM credentials")
        rows = self.sql_int("SELECT count(*) FROM credentials")
        t["records_stored"] = stored
        lost += max(0, self.records_in - stored)
        if rows > stored:
            dup += rows - stored
            self.failures.append(f"{rows - stored} credentials stored twice")
        unreported = self.unreported()
        if unreported:
            lost += len(unreported)
            self.failures.append(f"{len(unreported)} files never reported: {unreported[:3]!r}")
        for sha, states in self.outputs_by_content().items():
            if len(states) > 1:
                dup += len(states) - 1
                self.failures.append(f"file {self.files.get(sha, sha[:12])!r} is {len(states)} times in {states}")
        twice = self.sql_int("SELECT count(*) FROM (SELECT sha256 FROM batches WHERE status = 'done' "
                             "GROUP BY institution_id, sha256 HAVING count(*) > 1) x")
        if twice:
            dup += twice
            self.failures.append(f"{twice} files imported twice (batches)")
        docs = self.sql_int("SELECT count(*) FROM documents")
        t["documents"] = docs
        if self.documents_expected:
            signed_twice = self.sql_int(
                "SELECT coalesce(sum(n - 1), 0) FROM (SELECT count(*) AS n FROM documents d "
                "JOIN credentials c ON c.id = d.credential WHERE c.status = 'active' "
                "GROUP BY d.credential) x")
            missing = self.sql_int("SELECT count(*) FROM credentials c WHERE c.status = 'active' AND NOT "
                                   "EXISTS (SELECT 1 FROM documents d WHERE d.credential = c.id)")
            if signed_twice:
                dup += signed_twice
                self.failures.append(f"{signed_twice} credentials signed twice (extra documents)")
            if missing:
                lost += missing
                self.failures.append(f"{missing} active credentials without a document")
        received = self.received()
        t["emails"] = len(received)
        possible = 0
        if self.mail_expected:
            logs = self.logs()
            per_student = collections.defaultdict(list)
            for r in received:
                per_student[r["rcpt_tos"][0]].append(parse(r)["Message-ID"])
            for rcpt, ids in per_student.items():
                for extra in range(1, len(ids)):
                    logged = ids[extra].strip("<>") in logs and "mail.possible_duplicate" in logs and any(
                        "mail.possible_duplicate" in line and ids[extra].strip("<>") in line
                        for line in logs.splitlines())
                    if logged:
                        possible += 1
                    else:
                        dup += 1
                        self.failures.append(f"{rcpt} got {len(ids)} emails, not logged as possible duplicates")
            if possible > max(self.faults, 0):
                self.failures.append(f"{possible} possible duplicates for {self.faults} faults")
            got = {r.split("@")[0] for r in per_student} | self.refused_mail
            unsent = {s for s in self.stored_students() if f"student{int(s[1:])}" not in got}
            if unsent:
                lost += len(unsent)
                self.failures.append(f"{len(unsent)} students never emailed (e.g. {sorted(unsent)[:3]})")
        t.update(lost=lost, duplicated=dup, possible_dups=possible)
        return t


# ----------------------------------------------------------------------------------------
# Servers the scenarios own: a PostgreSQL cluster (to crash), a proxy (to reset), SMTP.

class OwnedCluster(harness.OwnedCluster):
    """A PostgreSQL cluster this suite may crash: its commits are durable."""

    def __init__(self, ctx):
        super().__init__(ctx, durable=True)


class Proxy:
    """tests/soak/tcp_proxy.py as a child; commands on its stdin, events read back."""

    def __init__(self, ctx, *args):
        self.process = subprocess.Popen(["/usr/bin/python3", PROXY, *args], stdin=subprocess.PIPE,
                                        stdout=subprocess.PIPE, text=True, bufsize=1)
        ctx.addCleanup(self.stop)
        self.port = int(self.process.stdout.readline())
        os.set_blocking(self.process.stdout.fileno(), False)
        self.events = []
        self._buffer = ""

    def poll(self):
        try:
            chunk = self.process.stdout.read()
        except (BlockingIOError, TypeError):
            chunk = None
        if chunk:
            self._buffer += chunk
            *lines, self._buffer = self._buffer.split("\n")
            self.events += lines
        return self.events

    def command(self, line):
        self.process.stdin.write(line + "\n")
        self.process.stdin.flush()
        harness.wait_for(lambda: f"ok {line.split()[0]}" in self.poll(), 10, what=f"proxy ack of {line!r}")

    def fired(self, prefix, timeout):
        return harness.wait_for(lambda: [e for e in self.poll() if e.startswith(prefix)], timeout,
                                what=f"proxy event {prefix!r}; events {self.events}")

    def stop(self):
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait(timeout=10)


def through_proxy(port):
    def route(conninfo):
        dbname = re.findall(r"dbname=(\S+)", conninfo)[-1]  # The last one wins in libpq.
        return (f"host=127.0.0.1 port={port} user=credd_test dbname={dbname} sslmode=disable "
                "gssencmode=disable connect_timeout=5")
    return route


def wait_complete(sc, stall):
    """Waits for everything to be done for as long as credd keeps getting work done: fails
    only when nothing moved for `stall` seconds. A loaded machine is slow, not stuck, and the
    long form's work does not fit a fixed deadline."""
    last, moved = None, time.monotonic()
    while not sc.complete():
        now = sc.progress()
        if now != last:
            last, moved = now, time.monotonic()
        elif time.monotonic() - moved > stall:
            log = sc.daemons[-1].log()[-3000:] if sc.daemons else ""
            raise AssertionError(f"no progress for {stall}s (at {now}) waiting for every file "
                                 f"reported, document signed and email sent; last log:\n{log}")
        time.sleep(0.5)


def mount(ctx, fstype, source, target, options):
    os.makedirs(target, exist_ok=True)
    subprocess.run(["mount", "-t", fstype, "-o", options, source, target], check=True, capture_output=True)
    ctx.addCleanup(lambda: subprocess.run(["umount", "-l", target], capture_output=True))


# ----------------------------------------------------------------------------------------
# Scenarios. Each raises AssertionError (a bounded wait that timed out, or a check) on
# failure; the counts are taken whatever happened.

def kill9(sc, f):
    sc.smtp = SmtpServer(sc.ctx)
    sc.make_site(signing=True, mail=True, smtp_port=sc.smtp.port)
    daemon = sc.start()
    n = f["kill_records"]
    sc.drop("big.csv", sc.content(1, n))
    rng = random.Random(8)
    progress = sc.progress
    landed = []
    while sc.faults < f["kills"]:
        before = progress()
        harness.wait_for(lambda: progress() > before or sc.complete(), 300, interval=0.1,
                         what="progress since the last kill")
        if sc.complete():
            break
        # A random moment, not a wait for credd; short, as the short form's work now takes
        # only a few seconds.
        time.sleep(rng.uniform(0, 0.4))
        daemon.signal(signal.SIGKILL)
        daemon.wait()
        sc.faults += 1
        landed.append(progress())
        daemon = sc.start()
    sc.notes.append(f"progress (credentials+documents+emails) at each kill: {landed}")
    if sc.faults < f["kills"]:
        sc.failures.append(f"only {sc.faults} of {f['kills']} kills landed before the work was done")
    wait_complete(sc, 900)
    in_done = os.listdir(sc.folder("done"))
    # A kill between a report's temporary file and its rename leaves a hidden
    # .credd-<16 hex>.tmp; credd sweeps those once 10 minutes old (test_daemon shows it), so
    # one may still be here, and it is only noted.
    temps = [n for n in in_done if re.fullmatch(r"\.credd-[0-9a-f]{16}\.tmp", n)]
    if temps:
        sc.notes.append(f"a killed report writer's temporary files, left for credd's sweep: {temps}")
    if sorted(set(in_done) - set(temps)) != ["big.csv", "big.csv.report.json", "big.csv.report.txt"]:
        sc.failures.append(f"done/ holds {sorted(in_done)}")
    invitations = sc.sql_int("SELECT count(*) FROM invitations")
    if invitations != len(sc.students):
        sc.failures.append(f"{invitations} invitations for {len(sc.students)} students")


def pg_setup(sc, f, cluster, students, signing=True):
    proxy = Proxy(sc.ctx, "--postgres", "--target-unix", cluster.socket)
    sc.smtp = SmtpServer(sc.ctx)
    sc.make_site(signing=signing, mail=True, smtp_port=sc.smtp.port, database_base=cluster.url,
                 route=through_proxy(proxy.port))
    daemon = sc.start()
    return proxy, daemon


OUTAGE = re.compile(r"event=(database\.unavailable|intake\.error|intake\.failed|mail\.round_failed|"
                    r"document\.failed|documents\.pending|mail\.institution_failed)")


def outage_seen(daemon):
    return len(OUTAGE.findall(daemon.log()))


def restart_after_outage(sc, cluster, daemon, since):
    """credd must notice the outage before the server comes back; then it must resume."""
    harness.wait_for(lambda: outage_seen(daemon) > since or not daemon.alive(), 120,
                     what=f"credd to notice PostgreSQL is down; log:\n{daemon.log()[-2000:]}")
    cluster.start()


def pg_crash_batch(sc, f, cluster):
    proxy, daemon = pg_setup(sc, f, cluster, f["pg_records"])
    sc.drop("batch.csv", sc.content(1, f["pg_records"]))
    harness.wait_for(lambda: sc.sql_int("SELECT count(*) FROM credentials") > 0, 300, interval=0.05,
                     what="a first committed chunk")
    seen = outage_seen(daemon)
    cluster.crash()
    sc.faults += 1
    restart_after_outage(sc, cluster, daemon, seen)
    wait_complete(sc, 600)
    if not daemon.alive():
        sc.failures.append(f"credd exited on the outage (status {daemon.process.returncode})")


def pg_crash_at_commit(sc, f, cluster):
    proxy, daemon = pg_setup(sc, f, cluster, f["pg_records"])
    # First the COMMIT reaches the server and its reply is lost with the crash; then (second
    # file) the COMMIT itself is lost.
    for mode, first in (("hold-ack", 1), ("hold-commit", 100001)):
        proxy.command(f"{mode} credd_store_chunk")
        sc.drop(f"{mode}.csv", sc.content(first, f["pg_records"]))
        proxy.fired("held", 300)
        seen = outage_seen(daemon)
        cluster.crash()
        proxy.command("release")
        sc.faults += 1
        restart_after_outage(sc, cluster, daemon, seen)
        proxy.events.clear()
    wait_complete(sc, 600)
    if not daemon.alive():
        sc.failures.append(f"credd exited on the outage (status {daemon.process.returncode})")


def proxy_resets(sc, f, cluster):
    proxy, daemon = pg_setup(sc, f, cluster, f["pg_records"])
    sc.drop("batch.csv", sc.content(1, f["pg_records"]))
    for command in ("reset-in-txn credd_store_chunk", "ack-lost credd_store_chunk",
                    "reset-in-txn INSERT INTO documents"):
        proxy.command(command)
        proxy.fired("fired", 300)
        proxy.events.clear()
        sc.faults += 1
    wait_complete(sc, 600)
    if not daemon.alive():
        sc.failures.append(f"credd exited on a reset (status {daemon.process.returncode})")


def mail_commit_lost(sc, f, cluster):
    proxy, daemon = pg_setup(sc, f, cluster, f["mail_students"])
    # The state change "sent" is committed, but credd never hears so: once through a reset,
    # once through a crash of the server.
    # Recording a delivery is one statement (credd_mail_sent, migration 8).
    proxy.command("ack-lost credd_mail_sent")
    sc.drop("batch.csv", sc.content(1, f["mail_students"]))
    proxy.fired("fired", 300)
    sc.faults += 1
    proxy.events.clear()
    proxy.command("hold-ack credd_mail_sent")
    sc.drop("batch2.csv", sc.content(1001, f["mail_students"]))
    proxy.fired("held", 300)
    seen = outage_seen(daemon)
    cluster.crash()
    proxy.command("release")
    sc.faults += 1
    restart_after_outage(sc, cluster, daemon, seen)
    wait_complete(sc, 600)


def smtp_outage(sc, f):
    port = free_port()
    sc.make_site(signing=True, mail=True, smtp_port=port)
    daemon = sc.start()
    sc.drop("batch.csv", sc.content(1, f["mail_students"]))
    harness.wait_for(lambda: daemon.log().count("event=mail.deferred") >= 3, 300,
                     what="three deferrals while the relay is down")
    sc.faults += 1
    sc.smtp = SmtpServer(sc.ctx, port=port)
    wait_complete(sc, 300)


def smtp_mix(sc, f):
    n = f["mail_students"]
    codes = [451, 550, 421, 250, 452, 554, 250, 451, 250, 250, 553, 250]
    sc.smtp = SmtpServer(sc.ctx, "--script", ",".join(map(str, codes)))
    sc.make_site(signing=True, mail=True, smtp_port=sc.smtp.port)
    sc.start()
    sc.drop("batch.csv", sc.content(1, n))
    sc.faults += sum(1 for c in codes if c // 100 != 2)

    def refused():
        records = sc.smtp.records()
        sc.refused_mail = {r["rcpt_tos"][0].split("@")[0] for r in records if r["code"] // 100 == 5}
        return sc.complete()
    harness.wait_for(refused, 300, interval=0.5, what="every email delivered or refused")
    failed = sc.sql_int("SELECT count(*) FROM mail_outbox WHERE status = 'failed'")
    if failed != len(sc.refused_mail):
        sc.failures.append(f"{len(sc.refused_mail)} refused with 5xx but {failed} outbox rows failed")
    retried = [r for r in sc.received() if r["rcpt_tos"][0].split("@")[0] in sc.refused_mail]
    if retried:
        sc.failures.append(f"{len(retried)} emails refused with 5xx were sent again")


def smtp_drop_after_data(sc, f):
    sc.smtp = SmtpServer(sc.ctx, "--drop-after-data", "3")
    sc.make_site(signing=True, mail=True, smtp_port=sc.smtp.port)
    sc.start()
    sc.drop("batch.csv", sc.content(1, f["mail_students"]))
    sc.faults += 1
    wait_complete(sc, 300)


def smtp_stall(sc, f):
    sc.smtp = SmtpServer(sc.ctx)
    proxy = Proxy(sc.ctx, "--target", f"127.0.0.1:{sc.smtp.port}")
    # One email a second, so mail is still going out when the relay stalls: unlimited, a
    # round now sends every email in milliseconds, before the stall could land.
    sc.make_site(signing=True, mail=True, smtp_port=proxy.port,
                 institution_limits="      rate_limits:\n        - messages: 1\n          seconds: 1\n")
    daemon = sc.start()
    sc.drop("batch.csv", sc.content(1, f["mail_students"]))
    harness.wait_for(lambda: len(sc.received()) >= 1, 300, what="a first email")
    proxy.command("stall")
    stalled_at = time.monotonic()
    sc.faults += 1
    harness.wait_for(lambda: re.search(r"mail\.(deferred|possible_duplicate)|smtp_connect_failed|mail\.round_failed",
                                       daemon.log()), 120, what="credd to give up on the stalled relay")
    waited = time.monotonic() - stalled_at
    sc.notes.append(f"credd gave up on the stalled relay after {waited:.1f} s (timeout_seconds 5)")
    if waited > 5 * 3 + 10:
        sc.failures.append(f"the 5 s SMTP timeout did not hold: {waited:.1f} s")
    proxy.command("unstall")
    wait_complete(sc, 300)
    if not daemon.alive():
        sc.failures.append("credd exited")


def disk_full(sc, f):
    ctx = Context()  # The mount must outlive the installation's folders: cleaned up last.
    sc.ctx.addCleanup(ctx.doCleanups)
    root = harness.make_temp_dir(ctx)
    mount(ctx, "tmpfs", "tmpfs", root, "size=2m,mode=0755")
    sc.make_site(drop_root=os.path.join(root, "drop"))
    daemon = sc.start()
    staging = os.path.join(root, "staging")
    os.makedirs(staging)
    data = sc.content(1, 200)
    sc.drop("full.csv", data, incoming=staging)  # Written while there is room ...
    filler = os.path.join(root, "filler")
    fd = os.open(filler, os.O_WRONLY | os.O_CREAT, 0o600)
    try:
        while os.write(fd, b"\0" * 4096):
            pass
    except OSError:
        pass  # ENOSPC: the volume is full.
    finally:
        os.close(fd)
    os.rename(os.path.join(staging, "full.csv"), os.path.join(sc.folder("incoming"), "full.csv"))  # ... then in.
    sc.faults += 1
    harness.wait_for(lambda: not os.path.exists(os.path.join(sc.folder("incoming"), "full.csv")) or
                     re.search(r"No space|ENOSPC|intake\.(error|failed)", daemon.log()), 120,
                     what="credd to meet the full disk")
    harness.wait_for(lambda: re.search(r"No space|ENOSPC|intake\.(error|failed)|batch\.finished|intake\.reported",
                                       daemon.log()), 120, what="credd to try and write its report")
    sc.notes.append("where full.csv was with the disk full: " + ", ".join(
        s for s in ("incoming", "processing", "done", "rejected") if os.path.exists(os.path.join(sc.folder(s), "full.csv"))))
    if not daemon.alive():
        sc.failures.append(f"credd exited on the full disk (status {daemon.process.returncode})")
    os.unlink(filler)
    wait_complete(sc, 120)
    if not daemon.alive():
        sc.failures.append("credd exited")


def two_daemons(sc, f):
    # The relay holds its answer to the fifth email, so the first daemon is caught mid-send,
    # holding leases, however fast it sends: a look for a lease held for milliseconds failed
    # once in a clean clone.
    release = os.path.join(harness.make_temp_dir(sc.ctx), "release")
    sc.smtp = SmtpServer(sc.ctx, "--hold-data", "5", release)
    limit_n, limit_s = 10, 3
    sc.make_site(signing=True, mail=True, smtp_port=sc.smtp.port,
                 mail_rate_limits=f"  rate_limits:\n    - messages: {limit_n}\n      seconds: {limit_s}\n")
    second = sc.site.config.replace(".yaml", "-2.yaml")
    harness.copy_config(sc.site.config, second)
    # The first daemon starts alone, so it is the one the relay holds up.
    a = sc.start()
    for k in range(f["two_files"]):
        sc.drop(f"file{k}.csv", sc.content(1 + k * 10000, f["two_records"]))
    owner_a = f"%:{a.process.pid}"
    harness.wait_for(lambda: os.path.exists(release + ".held"), 600, interval=0.02,
                     what="the relay to hold the first daemon's fifth email")
    a.signal(signal.SIGSTOP)
    held = sc.site.sql(f"SELECT string_agg(id::text, ',') FROM mail_outbox WHERE status = 'sending' "
                       f"AND lease_owner LIKE '{owner_a}'")
    # The relay answers now; the stopped daemon reads the answer when it wakes, late.
    open(release, "w").close()
    if not held:
        sc.failures.append("the first daemon, waiting for the relay's answer, held no mail lease")
        a.signal(signal.SIGCONT)
        return
    sc.faults += 1
    b = sc.start(second)
    if f["real_lease_wait"]:
        harness.wait_for(lambda: sc.sql_int(f"SELECT count(*) FROM mail_outbox WHERE id IN ({held}) "
                                            "AND lease_until > now()") == 0, 420, interval=1,
                         what="the stopped daemon's leases to expire")
    else:
        # The short form moves the leases' end into the past instead of waiting 300 s for it.
        sc.site.sql(f"SET lock_timeout = '20s'; UPDATE mail_outbox SET lease_until = now() - interval '1 second' WHERE id IN ({held}) "
                    "AND status = 'sending'")
    harness.wait_for(lambda: sc.sql_int(f"SELECT count(*) FROM mail_outbox WHERE id IN ({held}) "
                                        "AND lease_owner LIKE '{}'".format(f"%:{b.process.pid}")) > 0 or
                     sc.sql_int(f"SELECT count(*) FROM mail_outbox WHERE id IN ({held}) AND status = 'sent'"), 120,
                     what="the other daemon to take over the expired leases")
    a.signal(signal.SIGCONT)
    wait_complete(sc, 900)
    late = [line for line in a.log().splitlines() if "lease_lost" in line or "late=true" in line]
    sc.notes.append(f"stopped daemon held outbox rows {held}; its late completions logged: {len(late)}")
    received = sc.received()
    times = sorted(r["time"] for r in received)
    worst = max((sum(1 for t in times if s <= t < s + limit_s - 0.2) for s in times), default=0)
    # A worker frozen mid-send may finish that send when it wakes, after another took the
    # row over and sent it too (RFC 5321 cannot prevent it; credd logs it, and the generic
    # count checks that every such email was logged). Those second copies of one Message-ID
    # are the only excess the limit may show.
    ids = [parse(r)["Message-ID"] for r in received]
    again = len(ids) - len(set(ids))
    sc.notes.append(f"most emails in any {limit_s}-s window: {worst} (limit {limit_n}, "
                    f"emails sent twice {again})")
    if worst > limit_n + again:
        sc.failures.append(f"global rate limit broken: {worst} emails in {limit_s} s (limit {limit_n})")
    batches = sc.sql_int("SELECT count(*) FROM batches")
    if batches != len(sc.files):
        rows = sc.site.sql("SELECT id, file_name, status, coalesce(duplicate_of::text, '-'), "
                           "records_processed FROM batches ORDER BY id").replace("\n", "; ")
        sc.failures.append(f"{batches} batches for {len(sc.files)} files: {rows}")


class Inotify:
    """Just enough inotify (ctypes) to check that a folder's events really are not seen."""
    IN_ALL = 0x00000FFF

    def __init__(self, path):
        self.libc = ctypes.CDLL("libc.so.6", use_errno=True)
        self.fd = self.libc.inotify_init1(os.O_NONBLOCK)
        if self.libc.inotify_add_watch(self.fd, path.encode(), self.IN_ALL) < 0:
            raise OSError(ctypes.get_errno(), "inotify_add_watch " + path)

    def names(self, timeout):
        """The names that events reported within timeout seconds (a bounded wait)."""
        ready, _, _ = select.select([self.fd], [], [], timeout)
        data = os.read(self.fd, 65536) if ready else b""
        names, offset = [], 0
        while offset + 16 <= len(data):
            _, _, _, length = struct.unpack_from("iIII", data, offset)
            names.append(data[offset + 16:offset + 16 + length].rstrip(b"\0").decode())
            offset += 16 + length
        return names

    def close(self):
        os.close(self.fd)


def inotify_overflow(sc, f):
    sc.make_site()
    path = "/proc/sys/fs/inotify/max_queued_events"
    with open(path) as fh:
        saved = fh.read().strip()
    restore = lambda: open(path, "w").write(saved)  # noqa: E731
    sc.ctx.addCleanup(restore)
    staging = os.path.join(sc.site.drop_root, INST, "staging")
    os.makedirs(staging, exist_ok=True)
    for k in range(f["overflow_files"]):
        sc.drop(f"f{k:05d}.csv", sc.content(1 + k, 1), incoming=staging)
    # credd's inotify instance takes its queue size when created, at start: only then is the
    # limit low, for as short a time as we can.
    with open(path, "w") as fh:
        fh.write("16")
    try:
        daemon = sc.start()
        # daemon.ready comes before the watches: the limit must hold until they exist (CI
        # once restored it first, and the queue never overflowed).
        daemon.wait_log("event=watch.started", timeout=120)
    finally:
        restore()
    incoming = sc.folder("incoming")
    # Stopped, credd reads nothing while the files arrive, so its queue of 16 must overflow
    # however fast it would have kept up (CI once did: the scenario never happened).
    daemon.signal(signal.SIGSTOP)
    try:
        for name in sorted(os.listdir(staging)):
            os.rename(os.path.join(staging, name), os.path.join(incoming, name))
    finally:
        daemon.signal(signal.SIGCONT)
    sc.faults += 1
    wait_complete(sc, 600)
    overflows = daemon.log().count("event=watch.overflow")
    sc.notes.append(f"watch.overflow logged {overflows} times")
    if not overflows:
        sc.failures.append("no IN_Q_OVERFLOW: credd never logged watch.overflow (the scenario did not happen)")


def polling_only(sc, f):
    # The institution's folder is an overlayfs mount whose upper layer the "file server" (this
    # test) writes to directly. inotify watches inodes of the overlay, and changes made in the
    # upper layer never pass through the overlay, so no event reaches a watch on the mount:
    # like a share written by another machine. Checked below with our own watch.
    ctx = Context()
    sc.ctx.addCleanup(ctx.doCleanups)
    base = harness.make_temp_dir(ctx)
    mount(ctx, "tmpfs", "tmpfs", base, "size=64m,mode=0755")
    for d in ("lower", "upper", "work"):
        os.makedirs(os.path.join(base, d))
    for state in ("incoming", "processing", "done", "rejected"):
        os.makedirs(os.path.join(base, "upper", state))
    drop_root = harness.make_temp_dir(ctx)
    merged = os.path.join(drop_root, INST)
    mount(ctx, "overlay", "overlay", merged,
          f"lowerdir={base}/lower,upperdir={base}/upper,workdir={base}/work")
    upper_incoming = os.path.join(base, "upper", "incoming")
    probe = Inotify(os.path.join(merged, "incoming"))
    try:
        with open(os.path.join(upper_incoming, "probe-upper"), "w") as fh:
            fh.write("x")
        unseen = probe.names(1.0)
        with open(os.path.join(merged, "incoming", "probe-merged"), "w") as fh:
            fh.write("x")
        seen = probe.names(5.0)
    finally:
        probe.close()
    for name in ("probe-upper", "probe-merged"):
        os.unlink(os.path.join(merged, "incoming", name))
    if "probe-upper" in unseen or "probe-merged" not in seen:
        raise AssertionError(f"the overlay trick does not hide events here (upper: {unseen!r}, merged: {seen!r})")
    sc.notes.append("checked: a write in the upper layer raised no inotify event on the mount")
    sc.make_site(drop_root=drop_root, settle_seconds=2)
    sc.start()
    started = time.monotonic()
    for k in range(f["poll_files"]):
        sc.drop(f"share{k:03d}.csv", sc.content(1 + k * 10, 3), incoming=upper_incoming)
    wait_complete(sc, 300)
    sc.notes.append(f"all {f['poll_files']} taken by rescans within {time.monotonic() - started:.1f} s")


def hostile_names(sc, f):
    sc.make_site()
    daemon = sc.start()
    long_name = "long-" + "x" * 240 + ".csv"  # 249 bytes: + ".report.json" is over 255.
    names = [b"r\xe9sultats.csv", "café.csv".encode(), "cafe\u0301.csv".encode(), b"-rf.csv",
             b"--help.csv", b"Notes.csv", b"notes.csv", b"NOTES.CSV", long_name.encode()]
    for k, name in enumerate(names):
        sc.drop(name, sc.content(1 + k, 1))
    sc.faults += len(names)
    try:
        wait_complete(sc, 120)
    finally:
        reports = sc.reports()
        longs = [(n, r) for _, n, r in reports if r.get("file") == long_name]
        if not longs:
            sc.failures.append("no report states the long name in full")
        else:
            report_name = longs[0][0]
            if len(report_name) > 255 or not report_name.startswith(b"long-xxxx"):
                sc.failures.append(f"the long name's report is named {report_name!r}")
        sc.notes.append("reports: " + "; ".join(f"{s}/{n.decode(errors='backslashreplace')[:40]}"
                                                for s, n, _ in reports))
    after = sc.content(500, 1)
    sc.drop("after.csv", after)
    wait_complete(sc, 60)
    if not daemon.alive():
        sc.failures.append("credd exited")


SCENARIOS = [
    ("kill9", kill9, False), ("pg_crash_batch", pg_crash_batch, True),
    ("pg_crash_at_commit", pg_crash_at_commit, True), ("proxy_resets", proxy_resets, True),
    ("mail_commit_lost", mail_commit_lost, True), ("smtp_outage", smtp_outage, False),
    ("smtp_4xx_5xx_mix", smtp_mix, False), ("smtp_drop_after_data", smtp_drop_after_data, False),
    ("smtp_stall", smtp_stall, False), ("disk_full", disk_full, False),
    ("two_daemons", two_daemons, False), ("inotify_overflow", inotify_overflow, False),
    ("polling_only", polling_only, False), ("hostile_names", hostile_names, False),
]

COLUMNS = [("scenario", "scenario"), ("runs", "runs"), ("faults", "faults"), ("records_in", "records in"),
           ("records_stored", "records stored"), ("documents", "documents"), ("emails", "emails"),
           ("lost", "lost"), ("duplicated", "duplicated"), ("possible_dups", "possible duplicates (logged)"),
           ("result", "result")]


def print_table(rows, out):
    widths = [max(len(title), *(len(str(r.get(key, ""))) for r in rows)) for key, title in COLUMNS]
    line = lambda cells: " | ".join(str(c).ljust(w) for c, w in zip(cells, widths))  # noqa: E731
    out.write(line(t for _, t in COLUMNS) + "\n")
    out.write("-+-".join("-" * w for w in widths) + "\n")
    for r in rows:
        out.write(line(r.get(k, "") for k, _ in COLUMNS) + "\n")
    out.flush()


def main():
    parser = argparse.ArgumentParser(description="credd's fault-injection suite")
    parser.add_argument("--form", choices=sorted(FORMS), default="short")
    parser.add_argument("--only", default="", help="comma-separated scenario names")
    parser.add_argument("--json", help="also write the rows to this file")
    args = parser.parse_args()
    if os.geteuid() != 0:
        print("soak: needs root (tmpfs/overlay mounts, fs.inotify sysctl)", file=sys.stderr)
        return 2
    harness.test_database_url()
    form = FORMS[args.form]
    only = set(filter(None, args.only.split(",")))
    unknown = only - {name for name, _, _ in SCENARIOS}
    if unknown:
        print(f"soak: unknown scenarios {sorted(unknown)}", file=sys.stderr)
        return 64
    rows = []
    shared = Context()  # The PostgreSQL cluster the crash scenarios own, started once.
    cluster = None
    try:
        for name, fn, owns_cluster in SCENARIOS:
            if only and name not in only:
                continue
            sc = Scenario(name, form)
            started = time.monotonic()
            print(f"soak: {name} ...", file=sys.stderr, flush=True)
            try:
                if owns_cluster:
                    cluster = cluster or OwnedCluster(shared)
                    cluster.start()  # Up again if a failed scenario left it crashed.
                    fn(sc, form, cluster)
                else:
                    fn(sc, form)
            except Exception as error:  # A timed-out wait or a failed check: counted below.
                message = str(error).split("\n")[0]
                sc.failures.append(f"{type(error).__name__}: {message}")
                if not isinstance(error, AssertionError):
                    traceback.print_exc()
            try:
                t = sc.tally()
            except Exception as error:
                t = collections.OrderedDict(scenario=name, runs=len(sc.daemons), records_in=sc.records_in)
                sc.failures.append(f"counting failed: {error}")
            bad = sc.failures or t.get("lost", 1) or t.get("duplicated", 1)
            t["result"] = "FAIL" if bad else "ok"
            t["seconds"] = round(time.monotonic() - started)
            t["failures"], t["notes"] = sc.failures, sc.notes
            rows.append(t)
            print(f"soak: {name}: {t['result']} in {t['seconds']} s", file=sys.stderr)
            for line in sc.failures:
                print(f"soak:   FAIL {line}", file=sys.stderr)
            for line in sc.notes:
                print(f"soak:   note {line}", file=sys.stderr)
            if bad:
                for daemon in sc.daemons[-1:]:
                    print(f"soak:   last credd log lines:\n{daemon.log()[-1500:]}", file=sys.stderr)
            sys.stderr.flush()
            sc.ctx.doCleanups()
    finally:
        shared.doCleanups()
    print(f"\nsoak ({args.form} form):")
    print_table(rows, sys.stdout)
    for r in rows:
        for line in r["failures"]:
            print(f"  {r['scenario']}: {line}")
    if args.json:
        with open(args.json, "w") as out:
            json.dump(rows, out, indent=2)
    return 1 if any(r["result"] != "ok" for r in rows) else 0


if __name__ == "__main__":
    sys.exit(main())
