#!/usr/bin/python3
"""A loopback TCP proxy for the soak suite that breaks connections on command.

Listens on 127.0.0.1 (a port the OS chooses unless --port), forwards each connection to
--target HOST:PORT or --target-unix PATH, and prints the port alone on its first stdout line.
With --postgres it follows the PostgreSQL wire protocol (sslmode=disable, gssencmode=disable
on the client side), so it knows when a connection is inside a transaction and which SQL the
transaction ran. Commands arrive on stdin, one per line; every line it prints after the port
is an event ("ok <command>", "fired <what> <conn>", "held <conn>"), flushed at once.

Commands:
  reset                   reset (RST) every open connection now
  reset-in-txn REGEX      the next time a client sends inside a transaction whose SQL so far
                          matches REGEX (Python re, searched), reset that connection
  ack-lost REGEX          at the next COMMIT of a transaction matching REGEX: forward it, let
                          the server commit, swallow the reply, reset the client: the commit
                          happened and the client cannot know
  hold-ack REGEX          like ack-lost, but hold the reply ("held <conn>") until `release`
  hold-commit REGEX       hold the COMMIT itself, unforwarded ("held <conn>"), until `release`
  release                 reset every held connection
  stall                   stop forwarding in both directions (connections stay open)
  unstall                 forward again, including what arrived while stalled
  refuse / accept         refuse (RST) new connections / accept them again
"""

import argparse
import asyncio
import re
import socket
import struct
import sys

COMMIT = re.compile(rb"^\s*(COMMIT|END)\s*;?\s*$", re.I)


def emit(line):
    sys.stdout.write(line + "\n")
    sys.stdout.flush()


def hard_reset(writer):
    """Closes with RST, not FIN: what a dead peer or a middlebox does to a connection."""
    sock = writer.get_extra_info("socket")
    try:
        if sock is not None and sock.family in (socket.AF_INET, socket.AF_INET6):
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    except OSError:
        pass
    writer.transport.abort()


class Proxy:
    def __init__(self, args):
        self.args = args
        self.conns = {}
        self.next_id = 0
        self.armed = None  # (mode, compiled regex)
        self.stalled = asyncio.Event()
        self.stalled.set()  # Set = flowing.
        self.refusing = False

    # ----- commands -----
    def command(self, line):
        words = line.strip().split(None, 1)
        if not words:
            return
        cmd, arg = words[0], (words[1] if len(words) > 1 else "")
        if cmd == "reset":
            for conn in list(self.conns.values()):
                conn.reset("reset")
        elif cmd in ("reset-in-txn", "ack-lost", "hold-ack", "hold-commit"):
            self.armed = (cmd, re.compile(arg.encode(), re.S) if arg else re.compile(b""))
        elif cmd == "release":
            for conn in list(self.conns.values()):
                if conn.held:
                    conn.reset("release")
        elif cmd == "stall":
            self.stalled.clear()
        elif cmd == "unstall":
            self.stalled.set()
        elif cmd == "refuse":
            self.refusing = True
        elif cmd == "accept":
            self.refusing = False
        else:
            emit(f"error unknown command {cmd}")
            return
        emit(f"ok {cmd}")

    def take_armed(self, mode_set, txn_text):
        if self.armed and self.armed[0] in mode_set and self.armed[1].search(txn_text):
            mode = self.armed[0]
            self.armed = None
            return mode
        return None

    # ----- connections -----
    async def handle(self, reader, writer):
        if self.refusing:
            hard_reset(writer)
            return
        try:
            if self.args.target_unix:
                up_reader, up_writer = await asyncio.open_unix_connection(self.args.target_unix)
            else:
                host, port = self.args.target.rsplit(":", 1)
                up_reader, up_writer = await asyncio.open_connection(host, int(port))
        except OSError:
            hard_reset(writer)  # The server is down: the client sees a reset, as from a dead host.
            return
        self.next_id += 1
        conn = Connection(self, self.next_id, reader, writer, up_reader, up_writer)
        self.conns[conn.id] = conn
        try:
            await conn.run()
        finally:
            self.conns.pop(conn.id, None)


class Connection:
    def __init__(self, proxy, conn_id, reader, writer, up_reader, up_writer):
        self.proxy = proxy
        self.id = conn_id
        self.reader, self.writer = reader, writer
        self.up_reader, self.up_writer = up_reader, up_writer
        self.in_txn = False
        self.txn_text = b""
        self.swallow = None  # "ack-lost" or "hold-ack" once a COMMIT was forwarded for it.
        self.held = False
        self.closed = False

    def reset(self, why):
        if self.closed:
            return
        self.closed = True
        emit(f"fired {why} {self.id}")
        hard_reset(self.writer)
        self.up_writer.transport.abort()

    async def run(self):
        pumps = [asyncio.ensure_future(self.client_to_server()), asyncio.ensure_future(self.server_to_client())]
        await asyncio.wait(pumps, return_when=asyncio.FIRST_COMPLETED)
        for pump in pumps:
            pump.cancel()
        if not self.closed:
            self.closed = True
            self.writer.transport.abort()
            self.up_writer.transport.abort()

    async def send(self, writer, data):
        await self.proxy.stalled.wait()
        if self.closed:
            raise ConnectionError("closed")
        writer.write(data)
        await writer.drain()

    async def raw(self, reader, writer):
        while True:
            data = await reader.read(65536)
            if not data:
                return
            await self.send(writer, data)

    async def client_to_server(self):
        try:
            if not self.proxy.args.postgres:
                return await self.raw(self.reader, self.up_writer)
            # The startup packet has no type byte: int32 length, then the rest.
            head = await self.reader.readexactly(4)
            body = await self.reader.readexactly(struct.unpack("!i", head)[0] - 4)
            await self.send(self.up_writer, head + body)
            while True:
                kind = await self.reader.readexactly(1)
                head = await self.reader.readexactly(4)
                body = await self.reader.readexactly(struct.unpack("!i", head)[0] - 4)
                if kind == b"Q":
                    self.txn_text += body + b"\n"
                elif kind == b"P":  # Parse: statement name \0 query \0 ...
                    self.txn_text += body.split(b"\0")[1] + b"\n"
                if self.in_txn:
                    mode = self.proxy.take_armed({"reset-in-txn"}, self.txn_text)
                    if mode:
                        self.reset(mode)
                        return
                if kind == b"Q" and COMMIT.match(body.rstrip(b"\0")):
                    mode = self.proxy.take_armed({"ack-lost", "hold-ack", "hold-commit"}, self.txn_text)
                    if mode == "hold-commit":
                        self.held = True
                        emit(f"held {self.id}")
                        await asyncio.Event().wait()  # Until `release` resets this connection.
                    self.swallow = mode
                await self.send(self.up_writer, kind + head + body)
        except (asyncio.IncompleteReadError, ConnectionError, OSError):
            return

    async def server_to_client(self):
        try:
            if not self.proxy.args.postgres:
                return await self.raw(self.up_reader, self.writer)
            while True:
                kind = await self.up_reader.readexactly(1)
                head = await self.up_reader.readexactly(4)
                body = await self.up_reader.readexactly(struct.unpack("!i", head)[0] - 4)
                if kind == b"Z":
                    self.in_txn = body[:1] in (b"T", b"E")
                    if not self.in_txn:
                        self.txn_text = b""
                if self.swallow:
                    if kind == b"Z":
                        if self.swallow == "hold-ack":
                            self.held = True
                            emit(f"held {self.id}")
                            await asyncio.Event().wait()
                        self.reset(self.swallow)
                        return
                    continue  # The CommandComplete of the COMMIT never reaches the client.
                await self.send(self.writer, kind + head + body)
        except (asyncio.IncompleteReadError, ConnectionError, OSError):
            return


async def main_async(args):
    proxy = Proxy(args)
    server = await asyncio.start_server(proxy.handle, "127.0.0.1", args.port)
    emit(str(server.sockets[0].getsockname()[1]))
    loop = asyncio.get_running_loop()
    reader = asyncio.StreamReader()
    await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), sys.stdin)
    async with server:
        while True:
            line = await reader.readline()
            if not line:
                return  # The driver went away: so do we.
            proxy.command(line.decode())


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    target = parser.add_mutually_exclusive_group(required=True)
    target.add_argument("--target", metavar="HOST:PORT")
    target.add_argument("--target-unix", metavar="PATH")
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--postgres", action="store_true", help="follow the PostgreSQL protocol")
    asyncio.run(main_async(parser.parse_args()))


if __name__ == "__main__":
    main()
