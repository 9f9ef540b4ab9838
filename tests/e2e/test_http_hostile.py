"""Hostile HTTP clients against the real daemon: 100 idle connections, a slowloris, a 100 MB
body, a 64 KB header and 1,000 requests in a minute, each from an address of its own
(127.0.0.2 and up), while a well-behaved client on 127.0.0.1 keeps being served and credd
keeps ingesting. Each client gets its limit; nothing else does."""

import select
import socket
import time

import harness
from ingest_util import HEADER, csv_row
from test_documents import EN, Site


def connect(port, source):
    s = socket.create_connection(("127.0.0.1", port), timeout=30, source_address=(source, 0))
    return s


def exchange(port, source, raw, read_limit=1 << 20):
    """Sends raw bytes and returns what the server answered until it closed or went quiet."""
    with connect(port, source) as s:
        s.sendall(raw)
        return read_answer(s, read_limit)


def read_answer(s, read_limit=1 << 20):
    data = b""
    s.settimeout(30)
    try:
        while len(data) < read_limit:
            chunk = s.recv(65536)
            if not chunk:
                break
            data += chunk
            if b"\r\n\r\n" in data:
                head, _, body = data.partition(b"\r\n\r\n")
                length = [int(line.split(b":")[1]) for line in head.split(b"\r\n")
                          if line.lower().startswith(b"content-length:")]
                if length and len(body) >= length[0]:
                    break
    except (socket.timeout, ConnectionResetError):
        pass
    return data


def status_of(answer):
    return int(answer.split(b" ", 2)[1]) if answer.startswith(b"HTTP/1.1 ") else None


def get(port, path, source="127.0.0.1"):
    return status_of(exchange(port, source, f"GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n".encode()))


class HostileClientsTest(harness.TestCase):
    def test_each_hostile_client_gets_its_limit_and_nobody_else_does(self):
        port = harness.free_port()
        site = Site(self, http_yaml=f"http:\n  listen: 127.0.0.1:{port}\n  header_timeout_seconds: 2\n"
                                    "  idle_timeout_seconds: 5\n  requests_per_minute: 600\n"
                                    "  max_connections_per_client: 32\n")
        site.start()
        self.assertEqual(get(port, "/healthz"), 200)

        # 100 idle connections from one address: 32 are kept (until the header deadline),
        # the other 68 closed at once. Counted well inside the 2 s deadline, so it is the
        # per-client limit that closed them, not the timeout.
        idle = [connect(port, "127.0.0.2") for _ in range(100)]
        self.addCleanup(lambda: [s.close() for s in idle])
        opened = time.monotonic()
        closed = set()
        while time.monotonic() - opened < 1.0 and len(closed) < 68:
            readable, _, _ = select.select([s for s in idle if s not in closed], [], [], 0.1)
            for s in readable:
                try:
                    if s.recv(1) == b"":
                        closed.add(s)
                except ConnectionResetError:
                    closed.add(s)
        self.assertEqual(len(closed), 68)
        self.assertEqual(get(port, "/healthz"), 200)
        for s in idle:
            s.close()

        # A slowloris: one header byte a second. It is dropped within the header deadline.
        slow = connect(port, "127.0.0.3")
        started = time.monotonic()
        dropped = False
        for ch in b"GET /verify HTTP/1.1\r\nHost: x\r\nX-Slow: " + b"a" * 60:
            try:
                slow.sendall(bytes([ch]))
            except (BrokenPipeError, ConnectionResetError):
                dropped = True
                break
            slow.settimeout(1.0)
            try:
                if slow.recv(1) == b"":
                    dropped = True
                    break
            except socket.timeout:
                pass
            except ConnectionResetError:
                dropped = True
                break
        self.assertTrue(dropped, "the slowloris was never dropped")
        self.assertLess(time.monotonic() - started, 20)

        # A 100 MB body: refused from its Content-Length, before it is sent.
        with connect(port, "127.0.0.4") as s:
            s.sendall(b"POST /api/v1/verify HTTP/1.1\r\nHost: x\r\nContent-Type: application/pdf\r\n"
                      b"Content-Length: 104857600\r\n\r\n")
            s.sendall(b"%PDF" + b"x" * 65536)
            self.assertEqual(status_of(read_answer(s)), 413)

        # A 64 KB header.
        answer = exchange(port, "127.0.0.5",
                          b"GET /verify HTTP/1.1\r\nHost: x\r\nX-Big: " + b"b" * 65536 + b"\r\n\r\n")
        self.assertEqual(status_of(answer), 431)

        # 1,000 requests in a minute from one address, over keep-alive: 600 answered, then 429
        # with Retry-After. Meanwhile another address and the file drop go on.
        site.drop(EN, "during.csv", HEADER + csv_row(1) + csv_row(2))
        codes = []
        retry_after = []
        with connect(port, "127.0.0.6") as s:
            for _ in range(1000):
                s.sendall(b"GET /verify HTTP/1.1\r\nHost: x\r\n\r\n")
                answer = read_answer(s)
                codes.append(status_of(answer))
                if codes[-1] == 429:
                    retry_after += [line for line in answer.split(b"\r\n") if line.startswith(b"Retry-After:")]
        self.assertEqual(codes.count(200), 600, codes[:5])
        self.assertEqual(codes.count(429), 400)
        self.assertTrue(retry_after)
        self.assertEqual(get(port, "/verify"), 200)
        self.assertEqual(get(port, "/verify", "127.0.0.7"), 200)

        # credd kept ingesting through all of it.
        state, report = site.report(EN, "during.csv", timeout=120)
        self.assertEqual((state, report["records"]["accepted"]), ("done", 2))
        harness.wait_for(lambda: site.count("SELECT count(*) FROM documents") == 2, 120, what="2 documents")
        self.assertTrue(site.daemon.alive())
        self.assertEqual(get(port, "/healthz"), 200)
