"""rawclient - a tiny raw libvirt remote-protocol client (protocol.md section 1-2).

Used by the integration tests for what python3-libvirt cannot do: calling an
arbitrary procedure number, and sending malformed packets.

    c = RawClient(sock_path)
    c.handshake()                       # AUTH_LIST + CONNECT_OPEN
    hdr, body = c.call(157)             # CONNECT_GET_LIB_VERSION
    err = c.call_error(9999)            # -> RemoteError or None
"""
import socket
import struct

REMOTE_PROGRAM = 0x20008086
KEEPALIVE_PROGRAM = 0x6B656570
PROTOCOL_VERSION = 1

# message types / status
CALL, REPLY, MESSAGE, STREAM = 0, 1, 2, 3
OK, ERROR, CONTINUE = 0, 1, 2

# a few REMOTE procedure numbers
PROC_CONNECT_OPEN = 1
PROC_CONNECT_CLOSE = 2
PROC_CONNECT_GET_TYPE = 3
PROC_CONNECT_SUPPORTS_FEATURE = 60
PROC_AUTH_LIST = 66
PROC_CONNECT_GET_LIB_VERSION = 157
PROC_DOMAIN_SCREENSHOT = 211

MESSAGE_MAX = 32 * 1024 * 1024       # VIR_NET_MESSAGE_MAX (header + payload)
HEADER_LEN = 28                       # length word + 24-byte header


class ProtocolError(Exception):
    pass


class RemoteError(Exception):
    """A decoded remote_error (protocol.md 2.1)."""

    def __init__(self, code, domain, message, level, str1, str2, str3, int1, int2):
        super().__init__(message)
        self.code, self.domain, self.message, self.level = code, domain, message, level
        self.str1, self.str2, self.str3, self.int1, self.int2 = str1, str2, str3, int1, int2

    def __repr__(self):
        return "RemoteError(code=%d, domain=%d, message=%r)" % (self.code, self.domain, self.message)


# ---------------------------------------------------------------- XDR helpers
def xdr_u32(v):
    return struct.pack(">I", v & 0xFFFFFFFF)


def xdr_i32(v):
    return struct.pack(">i", v)


def xdr_string(s):
    b = s.encode() if isinstance(s, str) else s
    return struct.pack(">I", len(b)) + b + b"\0" * ((4 - len(b) % 4) % 4)


def xdr_opt_string(s):
    return xdr_u32(0) if s is None else xdr_u32(1) + xdr_string(s)


def xdr_nonnull_domain(name, uuid16=b"\0" * 16, dom_id=-1):
    return xdr_string(name) + uuid16 + xdr_i32(dom_id)


class Reader:
    def __init__(self, data):
        self.d, self.o = data, 0

    def _take(self, n):
        if self.o + n > len(self.d):
            raise ProtocolError("short payload")
        b = self.d[self.o:self.o + n]
        self.o += n
        return b

    def u32(self):
        return struct.unpack(">I", self._take(4))[0]

    def i32(self):
        return struct.unpack(">i", self._take(4))[0]

    def u64(self):
        return struct.unpack(">Q", self._take(8))[0]

    def string(self):
        n = self.u32()
        b = self._take(n)
        self._take((4 - n % 4) % 4)
        return b.decode(errors="replace")

    def opt_string(self):
        return self.string() if self.u32() else None


def decode_error(body):
    r = Reader(body)
    code, domain = r.i32(), r.i32()
    message = r.opt_string()
    level = r.i32()
    if r.u32():                      # dom (remote_domain *)
        r.string(); r._take(16); r.i32()
    str1, str2, str3 = r.opt_string(), r.opt_string(), r.opt_string()
    int1, int2 = r.i32(), r.i32()
    return RemoteError(code, domain, message, level, str1, str2, str3, int1, int2)


def pack_header(prog, vers, proc, mtype, serial, status):
    return struct.pack(">IIiiIi", prog, vers, proc, mtype, serial, status)


def pack_packet(proc, payload=b"", serial=0, prog=REMOTE_PROGRAM, vers=PROTOCOL_VERSION,
                mtype=CALL, status=OK):
    body = pack_header(prog, vers, proc, mtype, serial, status) + payload
    return struct.pack(">I", len(body) + 4) + body


class RawClient:
    def __init__(self, path, timeout=10.0):
        self.path = path
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.settimeout(timeout)
        self.sock.connect(path)
        self.serial = 0

    # -- low level
    def send_bytes(self, data):
        self.sock.sendall(data)

    def _recv_exact(self, n):
        buf = b""
        while len(buf) < n:
            chunk = self.sock.recv(n - len(buf))
            if not chunk:
                raise EOFError("connection closed by peer")
            buf += chunk
        return buf

    def recv_packet(self):
        """-> (header tuple (prog, vers, proc, type, serial, status), payload)."""
        (length,) = struct.unpack(">I", self._recv_exact(4))
        if length < HEADER_LEN or length > MESSAGE_MAX + 4:
            raise ProtocolError("bad length word %d from server" % length)
        rest = self._recv_exact(length - 4)
        return struct.unpack(">IIiiIi", rest[:24]), rest[24:]

    def recv_reply(self, serial):
        """Next REPLY for `serial`; answers keepalive PINGs, skips events."""
        while True:
            hdr, body = self.recv_packet()
            prog, vers, proc, mtype, ser, status = hdr
            if prog == KEEPALIVE_PROGRAM:
                if proc == 1:                                   # PING -> PONG
                    self.send_bytes(pack_packet(2, prog=KEEPALIVE_PROGRAM, mtype=MESSAGE))
                continue
            if mtype == MESSAGE:
                continue
            if mtype == REPLY and ser == serial:
                return hdr, body
            raise ProtocolError("unexpected packet %r" % (hdr,))

    def wait_closed(self, timeout=5.0):
        """True if the server closes the connection (EOF / reset) within timeout.
        Any packets received meanwhile (error replies) are discarded."""
        self.sock.settimeout(timeout)
        try:
            while True:
                if not self.sock.recv(65536):
                    return True
        except (ConnectionResetError, BrokenPipeError):
            return True
        except socket.timeout:
            return False

    # -- calls
    def call(self, proc, payload=b"", prog=REMOTE_PROGRAM):
        """-> (header, body); body is the ret struct (status OK) or a remote_error."""
        serial = self.serial
        self.serial += 1
        self.send_bytes(pack_packet(proc, payload, serial, prog=prog))
        hdr, body = self.recv_reply(serial)
        if hdr[2] != proc:
            raise ProtocolError("reply proc %d for call proc %d" % (hdr[2], proc))
        return hdr, body

    def call_ok(self, proc, payload=b""):
        hdr, body = self.call(proc, payload)
        if hdr[5] != OK:
            raise decode_error(body)
        return body

    def call_error(self, proc, payload=b""):
        """-> RemoteError if the call failed, None if it succeeded."""
        hdr, body = self.call(proc, payload)
        return decode_error(body) if hdr[5] == ERROR else None

    def handshake(self, uri="qemu:///system", flags=0):
        body = self.call_ok(PROC_AUTH_LIST)
        r = Reader(body)
        types = [r.i32() for _ in range(r.u32())]
        if types and 0 not in types:
            raise ProtocolError("server wants auth %r" % types)
        self.call_ok(PROC_CONNECT_OPEN, xdr_opt_string(uri) + xdr_u32(flags))

    def lib_version(self):
        return Reader(self.call_ok(PROC_CONNECT_GET_LIB_VERSION)).u64()

    def close(self, polite=True):
        try:
            if polite:
                self.call(PROC_CONNECT_CLOSE)
        except Exception:
            pass
        try:
            self.sock.close()
        except OSError:
            pass
