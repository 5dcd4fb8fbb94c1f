#!/usr/bin/python3
"""Malformed input on the RPC socket must drop (only) the offending client.

While a python3-libvirt connection stays open and keeps calling the daemon
from a background thread, raw clients send: random bytes, an oversized length
word (> 32 MiB + 4), length words < 28, a truncated packet followed by close,
undecodable XDR payloads, and abrupt connect/close storms. After each case the
healthy connection must still answer, a new connection must work, and the
daemon must still be running.

Reference libvirtd 9.0 behaviour (confirmed with libvirt-ref):
  * length word > 32 MiB + 4, < 28 (incl. 0)  -> connection closed at once
  * random bytes                              -> connection closed
  * truncated packet + client close           -> nothing to answer, client gone
  * valid frame, undecodable payload          -> error reply code 39 domain 7
    "Unable to decode message payload", connection kept
"""
import os
import random
import socket
import struct
import sys
import threading

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402
import rawclient as rc  # noqa: E402
from harness import expect, expect_eq  # noqa: E402

import libvirt  # noqa: E402

libvirt.registerErrorHandler(lambda _ctx, _err: None, None)

MAX = rc.MESSAGE_MAX          # 32 MiB: max of total_len - 4
CLOSE_TIMEOUT = 5.0


class Background(threading.Thread):
    """Keeps a healthy python3-libvirt connection busy during the whole test."""

    def __init__(self, conn):
        super().__init__(daemon=True)
        self.conn, self.calls, self.errors = conn, 0, []
        self.stop = threading.Event()

    def run(self):
        while not self.stop.is_set():
            try:
                if self.conn.getLibVersion() != 9000000:
                    self.errors.append("wrong lib version")
                self.calls += 1
            except libvirt.libvirtError as e:
                self.errors.append(e.get_error_message())
                if len(self.errors) > 20:
                    return
            self.stop.wait(0.005)


def main():
    runner = harness.Runner("test_bad_input")
    target = harness.make_target()
    runner.start(target)
    healthy = target.open()
    bg = Background(healthy)
    bg.start()

    def fresh(handshake=True):
        c = rc.RawClient(target.sock, timeout=CLOSE_TIMEOUT)
        if handshake:
            c.handshake()
        return c

    def all_ok(after):
        expect(target.alive(), "daemon died after %s\n%s" % (after, target.log_tail()))
        expect_eq(healthy.getLibVersion(), 9000000, "healthy connection after " + after)
        healthy.listAllDomains(0)
        c = fresh()
        try:
            expect_eq(c.lib_version(), 9000000, "new connection after " + after)
        finally:
            c.close()
        expect(not bg.errors, "background client saw errors: %r" % bg.errors[:3])

    def expect_dropped(c, what):
        expect(c.wait_closed(CLOSE_TIMEOUT), "%s: server did not close the connection within %.0fs"
               % (what, CLOSE_TIMEOUT))
        c.close(polite=False)

    # -------------------------------------------------------------- cases
    def t_oversized():
        for handshake in (False, True):
            for n in (MAX + 5, MAX + 4096, 0x7FFFFFFF, 0xFFFFFFFF):
                c = fresh(handshake)
                c.send_bytes(struct.pack(">I", n) + b"\0" * 64)
                expect_dropped(c, "length word %d" % n)
        all_ok("oversized length")

    def t_too_short():
        for n in (0, 1, 4, 27):
            c = fresh(handshake=(n == 27))
            c.send_bytes(struct.pack(">I", n) + b"\0" * 32)
            expect_dropped(c, "length word %d" % n)
        all_ok("length < 28")

    def t_random():
        rng = random.Random(20240601)
        for i in range(8):
            c = fresh(handshake=i % 2 == 1)
            data = bytes(rng.getrandbits(8) for _ in range(rng.randint(1, 8192)))
            if i < 4:
                # make the first word an invalid length so the server must act
                # on it without waiting for more data
                data = struct.pack(">I", rng.choice([rng.randint(0, 27),
                                                     rng.randint(MAX + 5, 0xFFFFFFFF)])) + data
            try:
                c.send_bytes(data)
                c.sock.shutdown(socket.SHUT_WR)     # EOF: a partial packet can't complete
            except (BrokenPipeError, ConnectionResetError):
                pass
            expect_dropped(c, "random bytes #%d" % i)
        all_ok("random bytes")

    def t_random_frames():
        # well-framed packets whose header/payload are random: the server may
        # answer with errors or drop, but never crash or hang the others
        rng = random.Random(7)
        for i in range(20):
            c = fresh(handshake=True)
            body = bytes(rng.getrandbits(8) for _ in range(rng.randint(24, 600)))
            try:
                c.send_bytes(struct.pack(">I", len(body) + 4) + body)
                c.sock.shutdown(socket.SHUT_WR)
            except (BrokenPipeError, ConnectionResetError):
                pass
            expect_dropped(c, "random frame #%d" % i)
        all_ok("random frames")

    def t_truncated_close():
        for cut in (2, 4, 20, 27):
            c = fresh(handshake=True)
            c.send_bytes(rc.pack_packet(rc.PROC_CONNECT_GET_LIB_VERSION, serial=c.serial)[:cut])
            c.close(polite=False)
        # a large declared (legal) length, a bit of data, then close
        c = fresh(handshake=True)
        c.send_bytes(struct.pack(">I", MAX + 4) + rc.pack_header(rc.REMOTE_PROGRAM, 1, 11, 0, 9, 0)
                     + b"x" * 100000)
        c.close(polite=False)
        all_ok("truncated packet + close")

    def t_bad_payload():
        # CONNECT_OPEN whose remote_string has an impossible length; and a short payload
        payloads = [rc.xdr_u32(1) + rc.xdr_u32(0xFFFFFFF0),
                    rc.xdr_u32(1) + rc.xdr_u32(4194305) + b"a" * 64,
                    b"\0\0"]
        for pl in payloads:
            c = fresh(handshake=False)
            c.call_ok(rc.PROC_AUTH_LIST)
            try:
                hdr, body = c.call(rc.PROC_CONNECT_OPEN, pl)
            except (EOFError, ConnectionResetError):
                c.close(polite=False)          # dropping the client is acceptable too
                continue
            expect_eq(hdr[5], rc.ERROR, "undecodable CONNECT_OPEN must not succeed")
            e = rc.decode_error(body)
            expect(e.code != 0 and e.message, "error reply %r" % e)
            c.handshake()                       # connection still usable
            expect_eq(c.lib_version(), 9000000, "after error reply")
            c.close()
        all_ok("undecodable payload")

    def t_connect_storm():
        socks = []
        for _ in range(50):
            s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            s.connect(target.sock)
            socks.append(s)
        for i, s in enumerate(socks):
            if i % 2:
                s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            s.close()
        all_ok("connect/close storm")

    runner.check("oversized length word (> 32 MiB + 4)", t_oversized)
    runner.check("length word < 28", t_too_short)
    runner.check("random bytes", t_random)
    runner.check("random well-framed packets", t_random_frames)
    runner.check("truncated packet then close", t_truncated_close)
    runner.check("undecodable XDR payload", t_bad_payload)
    runner.check("connect/close storm", t_connect_storm)

    def t_final():
        bg.stop.set()
        bg.join(5)
        expect(bg.calls > 0, "background client made no calls")
        expect(not bg.errors, "background client errors: %r" % bg.errors[:3])
        all_ok("everything")
        healthy.close()
        print("  background client: %d calls, 0 errors" % bg.calls)
    runner.check("healthy client unaffected, daemon up", t_final)
    runner.finish()


if __name__ == "__main__":
    main()
