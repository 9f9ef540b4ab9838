#!/usr/bin/python3
"""A test RFC 3161 Time-Stamp Authority: `openssl ts -reply` behind http.server.

Used by daemon/sign/tsa_client_test. Listens on 127.0.0.1 with a port the OS chooses and
prints that port on stdout, alone on the first line, once it accepts connections. Standard
library only, so Debian's /usr/bin/python3 runs it without extra packages.

POST paths:
  /          a reply from the [tsa1] section of --config (the config's default_tsa)
  /reject    a real rejection: the reply from the config's [tsa_reject] section, which
             the test configures to refuse SHA-256 (badAlg)
  /fail500   HTTP 500 and no reply
  /wrongtype HTTP 200 with Content-Type text/plain
  /replay    the last reply that / gave, so its nonce and imprint do not match
  /tamper    a reply from [tsa1] with its last byte (in the token's signature) flipped
  /slow      no answer for --slow-seconds, to test the client's deadline

With --tls-cert and --tls-key it serves HTTPS instead of HTTP.
"""

import argparse
import http.server
import os
import ssl
import subprocess
import sys
import tempfile
import threading
import time

REPLY_TYPE = "application/timestamp-reply"
QUERY_TYPE = "application/timestamp-query"


class TsaHandler(http.server.BaseHTTPRequestHandler):
    server_version = "credd-test-tsa"

    def log_message(self, format, *args):  # noqa: A002 - the base class's signature.
        sys.stderr.write("tsa_server: " + (format % args) + "\n")

    def send_body(self, status, content_type, body):
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def run_openssl_reply(self, query, section):
        """The DER TimeStampResp openssl ts makes for the query, or None (logged)."""
        with tempfile.TemporaryDirectory() as work:
            query_path = os.path.join(work, "query.tsq")
            reply_path = os.path.join(work, "reply.tsr")
            with open(query_path, "wb") as out:
                out.write(query)
            command = ["openssl", "ts", "-reply", "-config", self.server.config,
                       "-queryfile", query_path, "-out", reply_path]
            if section:
                command[3:3] = ["-section", section]
            # openssl ts shares the serial file between requests; one at a time.
            with self.server.openssl_lock:
                done = subprocess.run(command, capture_output=True, check=False)
            if done.returncode != 0:
                self.log_message("openssl ts -reply failed: %s", done.stderr.decode())
                return None
            with open(reply_path, "rb") as reply:
                return reply.read()

    def do_POST(self):  # noqa: N802 - http.server's naming.
        length = int(self.headers.get("Content-Length", "0"))
        query = self.rfile.read(length)
        path = self.path.split("?", 1)[0]
        if path == "/fail500":
            self.send_body(500, "text/plain", b"the test TSA was told to fail\n")
            return
        if path == "/wrongtype":
            self.send_body(200, "text/plain", b"not a timestamp reply\n")
            return
        if path == "/slow":
            time.sleep(self.server.slow_seconds)
            self.send_body(503, "text/plain", b"too late\n")
            return
        if path == "/replay":
            if self.server.last_reply is None:
                self.send_body(409, "text/plain", b"nothing to replay yet\n")
            else:
                self.send_body(200, REPLY_TYPE, self.server.last_reply)
            return
        if path not in ("/", "/reject", "/tamper"):
            self.send_body(404, "text/plain", b"unknown path\n")
            return
        if self.headers.get("Content-Type") != QUERY_TYPE:
            self.send_body(415, "text/plain", b"expected " + QUERY_TYPE.encode() + b"\n")
            return
        reply = self.run_openssl_reply(query, "tsa_reject" if path == "/reject" else None)
        if reply is None:
            self.send_body(500, "text/plain", b"openssl ts -reply failed\n")
            return
        if path == "/":
            self.server.last_reply = reply
        if path == "/tamper":
            reply = reply[:-1] + bytes([reply[-1] ^ 0x01])
        self.send_body(200, REPLY_TYPE, reply)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--config", required=True, help="openssl ts configuration file")
    parser.add_argument("--tls-cert", help="PEM certificate chain: serve HTTPS")
    parser.add_argument("--tls-key", help="PEM key for --tls-cert")
    parser.add_argument("--slow-seconds", type=float, default=30.0)
    args = parser.parse_args()

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), TsaHandler)
    server.daemon_threads = True
    server.config = args.config
    server.slow_seconds = args.slow_seconds
    server.openssl_lock = threading.Lock()
    server.last_reply = None
    if args.tls_cert:
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(args.tls_cert, args.tls_key)
        server.socket = context.wrap_socket(server.socket, server_side=True)
    print(server.server_address[1], flush=True)
    server.serve_forever()


if __name__ == "__main__":
    main()
