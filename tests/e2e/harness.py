"""Shared helpers for credd's end-to-end tests: they run the real credd and credctl
binaries against real folders and a real PostgreSQL server started by scripts/test.

Every wait is bounded and polls a condition; nothing sleeps blindly.
"""

import os
import re
import shutil
import signal
import socket
import subprocess
import tempfile
import time
import unittest
import uuid

SOURCE_DIR = os.environ.get("CREDD_SOURCE_DIR", os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "..")))
CREDD = os.environ.get("CREDD_BIN", os.path.join(SOURCE_DIR, "build", "daemon", "credd"))
CREDCTL = os.environ.get("CREDCTL_BIN", os.path.join(SOURCE_DIR, "build", "credctl", "credctl"))
EX_OK, EX_USAGE, EX_DATAERR, EX_NOINPUT, EX_UNAVAILABLE, EX_CONFIG = 0, 64, 65, 66, 69, 78


# The shared sample corpus: CREDD_CORPUS_DIR, else ../shared/corpus beside the repository.
CORPUS = os.environ.get("CREDD_CORPUS_DIR") or os.path.join(SOURCE_DIR, "..", "shared", "corpus")
CORPUS_MISSING = "corpus not found at "


def require_corpus(test):
    """A test that reads the corpus starts here: without it the test is skipped (run.py then
    exits 77, which ctest lists as not run); under CI (CI=true) it fails."""
    if os.path.isdir(CORPUS):
        return
    if os.environ.get("CI") == "true":
        test.fail(f"{CORPUS_MISSING}{CORPUS} (CI=true: it must be there)")
    test.skipTest(f"{CORPUS_MISSING}{CORPUS}: not run (set CREDD_CORPUS_DIR)")


def wait_for(condition, timeout=30.0, interval=0.05, what="condition"):
    """Polls condition() until it returns a truthy value or timeout seconds pass."""
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}")
        time.sleep(interval)


def make_temp_dir(test):
    """A fresh folder per test, removed afterwards. Traversable by other users because, when
    the tests run as root, the embedded PostgreSQL server runs as an unprivileged user."""
    path = tempfile.mkdtemp(prefix="credd-e2e-")
    os.chmod(path, 0o755)
    test.addCleanup(shutil.rmtree, path, True)
    return path


def test_database_url():
    url = os.environ.get("CREDD_TEST_DATABASE_URL")
    if not url:
        raise AssertionError("CREDD_TEST_DATABASE_URL is not set: run the tests through scripts/test")
    return url


def psql(conninfo, sql):
    """Runs SQL with psql; returns stdout (tuples only, unaligned)."""
    result = subprocess.run(["psql", "-X", "-q", "-A", "-t", "-v", "ON_ERROR_STOP=1", "-d", conninfo, "-c", sql],
                            capture_output=True, text=True, timeout=60)
    if result.returncode != 0:
        raise AssertionError(f"psql failed: {result.stderr}")
    return result.stdout.strip()


def create_database(test, base=None):
    """Creates a throwaway database on the test server (or on the server whose conninfo is
    `base`, e.g. a cluster a soak scenario owns); returns its conninfo."""
    base = base or test_database_url()
    name = "credd_e2e_" + uuid.uuid4().hex[:12]
    psql(base, f"CREATE DATABASE {name}")
    test.addCleanup(psql, base, f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
    return f"{base} dbname={name}"


def yaml_quote(value):
    return "'" + str(value).replace("'", "''") + "'"


def write_config(path, database, drop_root, institutions=("test-college",), extra="", mail_yaml=None):
    """Writes a minimal valid config. `database` is a YAML fragment (indented two spaces);
    `extra` holds top-level keys; the institutions list comes last, so more entries can be
    appended to the file."""
    lines = ["database:", database, f"drop_root: {yaml_quote(drop_root)}"]
    if mail_yaml is None:
        lines += ["mail:", "  transport: maildir",
                  f"  maildir: {yaml_quote(os.path.join(os.path.dirname(path), 'mail'))}"]
    else:
        lines += mail_yaml.rstrip("\n").splitlines()
    lines += extra.splitlines()
    if not re.search(r"^http:", extra, re.M):
        # Every daemon serves HTTP; each test's on a port of its own.
        lines += ["http:", f"  listen: 127.0.0.1:{free_port()}"]
    lines.append("institutions:")
    for inst in institutions:
        lines += [f"  - id: {inst}", f"    name_en: {yaml_quote(inst + ' (EN)')}", f"    name_fr: {yaml_quote(inst + ' (FR)')}"]
    text = "\n".join(lines) + "\n"
    with open(path, "w", encoding="utf-8") as f:
        f.write(text)
    return path


def free_port():
    """A port nothing listens on now (the kernel's choice), for a server a test starts."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


HTTP_LISTEN = re.compile(r"^  listen: 127\.0\.0\.1:(\d+)$", re.M)


def http_port(config_path):
    """The port a config written by write_config has credd serve HTTP on."""
    with open(config_path, encoding="utf-8") as f:
        return int(HTTP_LISTEN.search(f.read()).group(1))


def copy_config(source, target):
    """A copy of a config for a second credd on the same machine: the same, but its own HTTP
    port."""
    with open(source, encoding="utf-8") as f:
        text = f.read()
    with open(target, "w", encoding="utf-8") as f:
        f.write(HTTP_LISTEN.sub(f"  listen: 127.0.0.1:{free_port()}", text, count=1))
    return target


def url_database(conninfo):
    return "  url: " + yaml_quote(conninfo)


def run(args, timeout=120, env=None):
    return subprocess.run(args, capture_output=True, text=True, timeout=timeout, env=env)


PG_SERVER = os.path.join(SOURCE_DIR, "scripts", "pg-test-server")


class OwnedCluster:
    """A PostgreSQL cluster of the test's own (scripts/pg-test-server), to stop, crash and
    start again without disturbing the other tests' server. durable: acknowledged commits
    survive a crash. directory: a folder already holding pg/data (e.g. a base backup), to
    start rather than initialise."""

    def __init__(self, ctx, durable=False, directory=None):
        self.dir = directory or make_temp_dir(ctx)
        self.env = dict(os.environ, CREDD_PG_DURABLE="1") if durable else dict(os.environ)
        self.start()
        ctx.addCleanup(self.stop)

    def start(self):
        out = subprocess.run([PG_SERVER, "start", os.path.join(self.dir, "pg")], capture_output=True,
                             text=True, env=self.env, timeout=180)
        if out.returncode != 0:
            raise AssertionError(f"pg-test-server start failed: {out.stderr}")
        self.url = out.stdout.strip().split("=", 1)[1]
        self.socket = os.path.join(self.dir, "pg", "sock", ".s.PGSQL.5432")

    def crash(self):
        subprocess.run([PG_SERVER, "crash", os.path.join(self.dir, "pg")], capture_output=True,
                       env=self.env, timeout=120, check=True)

    def stop(self):
        subprocess.run([PG_SERVER, "stop", os.path.join(self.dir, "pg")], capture_output=True,
                       env=self.env, timeout=120)


class NotifySocket:
    """A unix datagram socket standing in for systemd's notify socket."""

    def __init__(self, directory):
        self.path = os.path.join(directory, "notify.sock")
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.sock.bind(self.path)
        self.messages = []

    def close(self):
        self.sock.close()

    def wait_for(self, needle, count=1, timeout=30.0):
        """Returns once `count` datagrams containing the line `needle` have arrived."""
        deadline = time.monotonic() + timeout
        while self.count(needle) < count:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise AssertionError(f"fewer than {count} {needle!r} on the notify socket within {timeout}s; "
                                     f"got {self.messages!r}")
            self.sock.settimeout(min(remaining, 0.5))
            try:
                self.messages.append(self.sock.recv(4096).decode())
            except socket.timeout:
                pass
        return [m for m in self.messages if needle in m.split("\n")][-1]

    def count(self, needle):
        return sum(1 for m in self.messages if needle in m.split("\n"))


class Daemon:
    """A running credd with its stderr captured to a file (config_path + ".log" unless
    log_path says otherwise, e.g. one log per restart)."""

    def __init__(self, test, config_path, env_extra=None, args=(), log_path=None):
        self.log_path = log_path or config_path + ".log"
        self.log_file = open(self.log_path, "w")
        env = dict(os.environ)
        env.update(env_extra or {})
        self.process = subprocess.Popen([CREDD, "--config", config_path, *args], stdout=self.log_file,
                                        stderr=subprocess.STDOUT, env=env)
        test.addCleanup(self.kill)

    def log(self):
        with open(self.log_path, encoding="utf-8", errors="replace") as f:
            return f.read()

    def wait_log(self, needle, timeout=30.0):
        return wait_for(lambda: needle in self.log(), timeout, what=f"{needle!r} in the credd log:\n{self.log()}")

    def alive(self):
        return self.process.poll() is None

    def signal(self, sig):
        self.process.send_signal(sig)

    def wait(self, timeout=30.0):
        return self.process.wait(timeout=timeout)

    def kill(self):
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGKILL)
            self.process.wait(timeout=30)
        self.log_file.close()


class TestCase(unittest.TestCase):
    maxDiff = None
