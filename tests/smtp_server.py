#!/usr/bin/python3
"""A scripted SMTP server for tests and benchmarks, on Debian's aiosmtpd.

Used by daemon/mail/mail_transport_test and bench/mail_bench_run. Listens on 127.0.0.1 with a
port the OS chooses and prints that port on stdout, alone on the first line, once it accepts
connections. Run it with Debian's /usr/bin/python3, which sees python3-aiosmtpd.

Options:
  --script "451,250"     reply with these codes to successive messages (after their final
                         dot), then 250
  --rcpt-script "550"    the same for successive RCPT TO commands; "550/5.1.1" gives that
                         enhanced status code (by default 5xx replies say 5.7.1)
  --drop-after-data N    close the connection after the N-th message's final dot, unanswered
  --close-after-data N   answer the N-th message, then close the connection (as a relay
                         does with idle connections)
  --hold-data N FILE     record the N-th message once its final dot arrives, create FILE.held,
                         and answer it only once FILE exists (a relay slow to answer, so a
                         test can catch the client mid-send, holding its lease)
  --starttls CERT KEY    offer STARTTLS with this certificate (PEM) and key
  --implicit-tls CERT KEY  TLS from the first byte (like port 465)
  --auth USER:PASS       require AUTH (PLAIN or LOGIN) with these credentials
  --out FILE.jsonl       append one JSON object per message received: time, mail_from,
                         rcpt_tos, data (the bytes as text, dot-stuffing removed), session
                         (one number per connection), peer, tls, code (the reply sent) and
                         dropped (true when --drop-after-data closed instead of replying)
"""

import argparse
import asyncio
import json
import logging
import os
import ssl
import sys
import time

from aiosmtpd.smtp import SMTP, AuthResult, LoginPassword

TEXTS = {2: "2.0.0 OK (scripted)", 4: "4.3.0 Try again later (scripted)",
         5: "5.7.1 Rejected (scripted)"}


def parse_script(text):
    """"451, 250, 550/5.1.1" -> [(451, None), (250, None), (550, "5.1.1")]: a reply code,
    optionally with the enhanced status code to give; anything else is an error."""
    codes = []
    for item in (text or "").split(","):
        item = item.strip()
        if not item:
            continue
        code, _, enhanced = item.partition("/")
        if not (code.isdigit() and len(code) == 3 and code[0] in "2345"):
            raise argparse.ArgumentTypeError("not an SMTP reply code: %r" % item)
        parts = enhanced.split(".") if enhanced else []
        if enhanced and (len(parts) != 3 or not all(p.isdigit() for p in parts)):
            raise argparse.ArgumentTypeError("not an enhanced status code: %r" % item)
        codes.append((int(code), enhanced or None))
    return codes


def reply_for(entry):
    code, enhanced = entry if isinstance(entry, tuple) else (entry, None)
    if enhanced:
        return "%d %s Scripted reply" % (code, enhanced)
    return "%d %s" % (code, TEXTS.get(code // 100, "Scripted reply"))


class ScriptedHandler:
    def __init__(self, args):
        self.data_script = list(args.script)
        self.rcpt_script = list(args.rcpt_script)
        self.drop_after_data = args.drop_after_data
        self.close_after_data = args.close_after_data
        self.hold_at, self.hold_file = (int(args.hold_data[0]), args.hold_data[1]) if args.hold_data else (0, None)
        self.out_path = args.out
        self.messages = 0
        self.sessions = 0

    def session_id(self, session):
        # One number per connection, so tests can count how many connections carried mail.
        if getattr(session, "credd_id", None) is None:
            self.sessions += 1
            session.credd_id = self.sessions
        return session.credd_id

    def record(self, server, session, envelope, code, dropped):
        if not self.out_path:
            return
        content = envelope.original_content or b""
        transport = getattr(server, "transport", None)
        tls = bool(transport and transport.get_extra_info("ssl_object") is not None)
        line = {
            "time": time.time(),
            "mail_from": envelope.mail_from,
            "rcpt_tos": list(envelope.rcpt_tos),
            "data": content.decode("utf-8", errors="replace"),
            "session": self.session_id(session),
            "peer": list(session.peer) if isinstance(session.peer, tuple) else str(session.peer),
            "tls": tls,
            "authenticated": bool(getattr(session, "authenticated", False)),
            "code": code,
            "dropped": dropped,
        }
        with open(self.out_path, "a", encoding="utf-8") as out:
            out.write(json.dumps(line) + "\n")
            out.flush()

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        try:
            self.session_id(session)
            entry = self.rcpt_script.pop(0) if self.rcpt_script else (250, None)
            if entry[0] // 100 == 2:
                envelope.rcpt_tos.append(address)
            return reply_for(entry)
        except Exception as error:  # Never let a test server bug kill the connection oddly.
            print("smtp_server: RCPT: %r" % error, file=sys.stderr)
            return "451 4.3.0 test server error"

    async def handle_DATA(self, server, session, envelope):
        try:
            self.messages += 1
            if self.drop_after_data and self.messages == self.drop_after_data:
                self.record(server, session, envelope, 0, True)
                # abort(), not close(): close() would still flush the reply aiosmtpd pushes.
                server.transport.abort()
                return "250 never seen by the client"
            entry = self.data_script.pop(0) if self.data_script else (250, None)
            code = entry[0]
            self.record(server, session, envelope, code, False)
            if self.hold_at and self.messages == self.hold_at:
                open(self.hold_file + ".held", "w").close()
                while not os.path.exists(self.hold_file):  # Other connections go on meanwhile.
                    await asyncio.sleep(0.01)
            if self.close_after_data and self.messages == self.close_after_data:
                # Runs after aiosmtpd has pushed the reply below, so the client gets it.
                asyncio.get_running_loop().call_soon(server.transport.close)
            return reply_for(entry)
        except Exception as error:
            print("smtp_server: DATA: %r" % error, file=sys.stderr)
            return "451 4.3.0 test server error"


def make_authenticator(credentials):
    user, _, password = credentials.partition(":")

    def authenticate(server, session, envelope, mechanism, auth_data):
        ok = (isinstance(auth_data, LoginPassword) and auth_data.login == user.encode()
              and auth_data.password == password.encode())
        return AuthResult(success=ok, handled=False)

    return authenticate


def tls_context(cert, key):
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert, key)
    return context


async def serve(args):
    handler = ScriptedHandler(args)
    options = {"hostname": "smtp-test.invalid", "ident": "credd test SMTP"}
    if args.starttls:
        options["tls_context"] = tls_context(*args.starttls)
        options["require_starttls"] = True
    if args.auth:
        options["authenticator"] = make_authenticator(args.auth)
        options["auth_required"] = True
        # AUTH over a plain connection is only for tests that ask for it without TLS.
        options["auth_require_tls"] = bool(args.starttls)
    implicit = tls_context(*args.implicit_tls) if args.implicit_tls else None
    loop = asyncio.get_running_loop()
    server = await loop.create_server(lambda: SMTP(handler, **options), host="127.0.0.1",
                                      port=args.port, ssl=implicit)
    print(server.sockets[0].getsockname()[1], flush=True)
    async with server:
        await server.serve_forever()


def main():
    # aiosmtpd 1.4 logs a warning about its own use of Session.login_data on every AUTH.
    logging.getLogger("mail.log").setLevel(logging.ERROR)
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--script", type=parse_script, default=[])
    parser.add_argument("--rcpt-script", type=parse_script, default=[])
    parser.add_argument("--drop-after-data", type=int, default=0)
    parser.add_argument("--close-after-data", type=int, default=0)
    parser.add_argument("--hold-data", nargs=2, metavar=("N", "FILE"))
    parser.add_argument("--starttls", nargs=2, metavar=("CERT", "KEY"))
    parser.add_argument("--implicit-tls", nargs=2, metavar=("CERT", "KEY"))
    parser.add_argument("--auth", metavar="USER:PASS")
    parser.add_argument("--out", metavar="FILE.jsonl")
    parser.add_argument("--port", type=int, default=0, help="fixed port (default: any free one)")
    args = parser.parse_args()
    try:
        asyncio.run(serve(args))
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    main()
