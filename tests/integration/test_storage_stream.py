#!/usr/bin/python3
"""Storage volume streams via python3-libvirt 9.0 (vol.upload / vol.download)
against the storage target (our virtstoraged; SV_TARGET=ref: the reference
libvirtd 9.0 via storage:///system).

    /usr/bin/python3 tests/integration/test_storage_stream.py
    SV_TARGET=ref /usr/bin/python3 tests/integration/test_storage_stream.py

* 8 MiB random upload / download (sendAll / recvAll), byte-exact, also with
  offset/length windows;
* sparse streams (VIR_STORAGE_VOL_{DOWNLOAD,UPLOAD}_SPARSE_STREAM):
  a 1 GiB volume with three 64 KiB data extents downloads as holes (far
  faster than 1 GiB of data would take, measured against a 64 MiB non-sparse
  download) and lands sparse again; a sparse upload keeps the volume sparse;
* a client that aborts mid-upload: the reference keeps the volume (capacity
  and file size unchanged) with whatever prefix reached the disk, the rest
  untouched (zero); the volume is not locked: a later upload succeeds;
* a client that aborts mid-download and one that disconnects mid-upload
  leave the daemon healthy.
Features our daemon answers with VIR_ERR_NO_SUPPORT (or INVALID_ARG
"unsupported flags") are SKIPped (never on the reference).
"""
import os
import shutil
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402
from harness import Skip, expect, expect_eq  # noqa: E402

import libvirt  # noqa: E402

libvirt.registerErrorHandler(lambda *_a: None, None)

TAG = "%06x" % (os.getpid() & 0xffffff)
POOL = "svstrm" + TAG
MiB = 1 << 20
GiB = 1 << 30
ERR_NO_SUPPORT, ERR_INVALID_ARG = 3, 8

VXML = ("<volume><name>%s</name><capacity>%d</capacity><allocation>0</allocation>"
        "<target><format type='raw'/></target></volume>")


def no_support_skip(what):
    """Context: turn NO_SUPPORT from our daemon into a SKIP."""
    class _C:
        def __enter__(self):
            return self

        def __exit__(self, typ, e, _tb):
            if typ is not None and issubclass(typ, libvirt.libvirtError) \
                    and not harness.target_is_reference() \
                    and (e.get_error_code() == ERR_NO_SUPPORT
                         or (e.get_error_code() == ERR_INVALID_ARG
                             and "unsupported flags" in (e.get_error_message() or ""))):
                raise Skip("%s: not supported yet (%s)" % (what, e.get_error_message()))
            return False
    return _C()


class Ctx:
    def __init__(self, target):
        self.t = target
        root = getattr(target, "root", None)
        self.own_root = root is None
        self.root = root or tempfile.mkdtemp(prefix="svss", dir="/tmp")
        self.area = os.path.join(self.root, "area-" + TAG)
        self.scratch = os.path.join(self.root, "scratch-" + TAG)
        os.makedirs(self.area)
        os.makedirs(self.scratch)
        self.conn = target.open()
        self.pool = None

    def setup_pool(self):
        xml = "<pool type='dir'><name>%s</name><target><path>%s</path></target></pool>" % (
            POOL, os.path.join(self.area, POOL))
        self.pool = self.conn.storagePoolDefineXML(xml, 0)
        self.pool.build(0)
        self.pool.create(0)

    def vol(self, name, capacity):
        return self.pool.createXML(VXML % (name, capacity), 0)

    def s(self, name):
        return os.path.join(self.scratch, name)

    def cleanup(self):
        try:
            p = self.conn.storagePoolLookupByName(POOL)
            if p.isActive():
                p.destroy()
            p.undefine()
        except Exception:
            pass
        try:
            self.conn.close()
        except Exception:
            pass
        if self.own_root:
            shutil.rmtree(self.root, ignore_errors=True)
        else:
            shutil.rmtree(self.area, ignore_errors=True)
            shutil.rmtree(self.scratch, ignore_errors=True)


# ------------------------------------------------------------------ helpers
def upload_bytes(conn, vol, data, offset=0, length=0, flags=0):
    st = conn.newStream(0)
    vol.upload(st, offset, length, flags)
    pos = [0]

    def src(_s, nbytes, _o):
        chunk = data[pos[0]:pos[0] + nbytes]
        pos[0] += len(chunk)
        return chunk
    st.sendAll(src, None)
    st.finish()


def download_bytes(conn, vol, offset=0, length=0, flags=0):
    st = conn.newStream(0)
    vol.download(st, offset, length, flags)
    buf = []
    st.recvAll(lambda _s, b, _o: buf.append(b) or len(b), None)
    st.finish()
    return b"".join(buf)


def data_extents(path):
    """[(start, end)] of the data extents of a file (SEEK_DATA/SEEK_HOLE)."""
    out = []
    fd = os.open(path, os.O_RDONLY)
    try:
        size = os.fstat(fd).st_size
        pos = 0
        while pos < size:
            try:
                d = os.lseek(fd, pos, os.SEEK_DATA)
            except OSError:
                break
            h = os.lseek(fd, d, os.SEEK_HOLE)
            out.append((d, h))
            pos = h
    finally:
        os.close(fd)
    return out


def allocated(path):
    return os.stat(path).st_blocks * 512


# ------------------------------------------------------------------ checks
def t_roundtrip(c):
    v = c.vol("rt", 8 * MiB)
    data = os.urandom(8 * MiB)
    upload_bytes(c.conn, v, data)
    with open(v.path(), "rb") as f:
        expect(f.read() == data, "volume file differs from the uploaded data")
    got = download_bytes(c.conn, v)
    expect_eq(len(got), 8 * MiB, "downloaded length")
    expect(got == data, "downloaded data differs")
    expect_eq(v.info(), [0, 8 * MiB, 8 * MiB], "info after upload")
    # upload larger than the volume? no: same size again, different data, in 1 MiB pieces
    data2 = os.urandom(8 * MiB)
    st = c.conn.newStream(0)
    v.upload(st, 0, 0, 0)
    for i in range(8):
        st.send(data2[i * MiB:(i + 1) * MiB])
    st.finish()
    expect(download_bytes(c.conn, v) == data2, "second round trip differs")


def t_window(c):
    v = c.vol("win", 4 * MiB)
    upload_bytes(c.conn, v, b"A" * 4096, offset=MiB, length=4096)
    with open(v.path(), "rb") as f:
        d = f.read()
    expect_eq(len(d), 4 * MiB, "file size after a windowed upload")
    expect_eq((d.count(b"A"), d.index(b"A")), (4096, MiB), "'A's written")
    expect_eq(download_bytes(c.conn, v, offset=MiB - 10, length=20), bytes(10) + b"A" * 10,
              "windowed download")
    expect_eq(len(download_bytes(c.conn, v, offset=3 * MiB)), MiB, "download from an offset to EOF")


def t_sparse_download(c):
    v = c.vol("big", GiB)
    path = v.path()
    expect_eq(allocated(path), 0, "fresh 1 GiB volume allocation")
    chunks = {}
    with open(path, "r+b") as f:
        for off in (0, 300 * MiB, GiB - 65536):
            chunks[off] = os.urandom(65536)
            f.seek(off)
            f.write(chunks[off])
    c.pool.refresh(0)
    v = c.pool.storageVolLookupByName("big")
    # non-sparse reference rate on 64 MiB of the same volume
    t0 = time.monotonic()
    plain = download_bytes(c.conn, v, offset=0, length=64 * MiB)
    t_plain = time.monotonic() - t0
    expect_eq(len(plain), 64 * MiB, "non-sparse 64 MiB download length")
    expect(plain[:65536] == chunks[0] and plain[65536:] == bytes(64 * MiB - 65536),
           "non-sparse download content")
    est_full = t_plain * 16
    out = c.s("big.out")
    fd = os.open(out, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    stats = {"data": 0, "holes": 0, "hole_bytes": 0}

    def recv(_s, buf, fd):
        stats["data"] += len(buf)
        return os.write(fd, buf)

    def hole(_s, length, fd):
        stats["holes"] += 1
        stats["hole_bytes"] += length
        os.lseek(fd, length, os.SEEK_CUR)
        return 0
    try:
        t0 = time.monotonic()
        with no_support_skip("sparse download"):
            st = c.conn.newStream(0)
            v.download(st, 0, 0, libvirt.VIR_STORAGE_VOL_DOWNLOAD_SPARSE_STREAM)
            st.sparseRecvAll(recv, hole, fd)
            st.finish()
        t_sparse = time.monotonic() - t0
        os.ftruncate(fd, os.lseek(fd, 0, os.SEEK_CUR))
    finally:
        os.close(fd)
    print("  note: sparse 1 GiB download %.3fs (%d data bytes, %d holes); non-sparse 64 MiB %.3fs"
          " (1 GiB est. %.2fs)" % (t_sparse, stats["data"], stats["holes"], t_plain, est_full))
    expect_eq(os.path.getsize(out), GiB, "downloaded file size")
    expect(stats["holes"] >= 2, "no holes in the sparse stream: %r" % stats)
    expect(stats["data"] <= 4 * MiB, "%d data bytes for 192 KiB of data" % stats["data"])
    expect_eq(stats["data"] + stats["hole_bytes"], GiB, "data + hole bytes")
    expect(t_sparse < max(est_full / 4, 0.05), "sparse download %.2fs, not well under %.2fs"
           % (t_sparse, est_full))
    expect(allocated(out) <= 4 * MiB, "downloaded file not sparse: %d bytes allocated"
           % allocated(out))
    with open(out, "rb") as f:
        for off, data in chunks.items():
            f.seek(off)
            expect(f.read(len(data)) == data, "data at offset %d differs" % off)
    for s, e in data_extents(out):
        with open(out, "rb") as f:
            f.seek(s)
            blob = f.read(e - s)
        nz = [off for off in chunks if s <= off < e]
        for off in nz:
            blob = blob[:off - s] + bytes(65536) + blob[off - s + 65536:]
        expect(blob == bytes(len(blob)), "unexpected data in extent %d-%d" % (s, e))


def t_sparse_upload(c):
    src = c.s("sparse.src")
    with open(src, "wb") as f:
        f.truncate(64 * MiB)
        f.write(os.urandom(MiB))
        f.seek(31 * MiB)
        f.write(os.urandom(MiB))
    v = c.vol("su", 64 * MiB)
    fd = os.open(src, os.O_RDONLY)
    size = os.fstat(fd).st_size
    holes = [0]

    def in_data(_s, fd):
        cur = os.lseek(fd, 0, os.SEEK_CUR)
        if cur >= size:
            return [True, 0]
        try:
            d = os.lseek(fd, cur, os.SEEK_DATA)
        except OSError:
            d = size
        if d > cur:
            os.lseek(fd, cur, os.SEEK_SET)
            holes[0] += 1
            return [False, d - cur]
        h = os.lseek(fd, cur, os.SEEK_HOLE)
        os.lseek(fd, cur, os.SEEK_SET)
        return [True, h - cur]
    try:
        with no_support_skip("sparse upload"):
            st = c.conn.newStream(0)
            v.upload(st, 0, 0, libvirt.VIR_STORAGE_VOL_UPLOAD_SPARSE_STREAM)
            st.sparseSendAll(lambda _s, n, fd: os.read(fd, n), in_data,
                             lambda _s, n, fd: os.lseek(fd, n, os.SEEK_CUR), fd)
            st.finish()
    finally:
        os.close(fd)
    expect(holes[0] >= 2, "the client sent no holes")
    expect_eq(os.path.getsize(v.path()), 64 * MiB, "volume size")
    p = subprocess.run(["cmp", src, v.path()], capture_output=True, text=True)
    expect(p.returncode == 0, "uploaded content differs: " + p.stdout + p.stderr)
    expect(allocated(v.path()) <= 3 * MiB, "volume not sparse after a sparse upload: %d bytes"
           % allocated(v.path()))


def t_abort_upload(c):
    v = c.vol("ab", 8 * MiB)
    data = os.urandom(4 * MiB)
    st = c.conn.newStream(0)
    v.upload(st, 0, 0, 0)
    st.send(data[:MiB])
    st.send(data[MiB:2 * MiB])
    st.abort()
    # the reference: the volume stays, capacity/size unchanged, content = a
    # prefix (<= what was sent) of the data, the rest untouched (zero)
    time.sleep(0.2)
    names = [x.name() for x in c.pool.listAllVolumes(0)]
    expect("ab" in names, "volume gone after an aborted upload: %r" % names)
    v = c.pool.storageVolLookupByName("ab")
    expect_eq(v.info()[:2], [0, 8 * MiB], "type/capacity after abort")
    expect_eq(os.path.getsize(v.path()), 8 * MiB, "file size after abort")
    with open(v.path(), "rb") as f:
        got = f.read()
    k = 0
    while k < 2 * MiB and got[k] == data[k]:
        k += 1
    expect(got[k:] == bytes(len(got) - k), "data beyond the %d-byte prefix that was sent" % k)
    print("  note: %d of %d sent bytes reached the volume before the abort" % (k, 2 * MiB))
    # not locked: a complete upload now works
    new = os.urandom(8 * MiB)
    upload_bytes(c.conn, v, new)
    expect(download_bytes(c.conn, v) == new, "upload after an abort")
    v.delete(0)
    expect(not os.path.exists(os.path.join(c.area, POOL, "ab")), "file left after delete")


def t_abort_download(c):
    v = c.vol("abd", 32 * MiB)
    upload_bytes(c.conn, v, os.urandom(32 * MiB))
    st = c.conn.newStream(0)
    v.download(st, 0, 0, 0)
    got = st.recv(256 * 1024)
    expect(isinstance(got, bytes) and len(got) > 0, "no data before the abort: %r" % (got,))
    st.abort()
    expect_eq(v.info()[1], 32 * MiB, "capacity after an aborted download")
    expect_eq(len(download_bytes(c.conn, v, length=MiB)), MiB, "download after an abort")
    v.delete(0)


def t_disconnect_mid_upload(c):
    """A client process that dies in the middle of an upload."""
    v = c.vol("dc", 16 * MiB)
    code = r"""
import libvirt, os, sys
c = libvirt.open(sys.argv[1])
v = c.storagePoolLookupByName(sys.argv[2]).storageVolLookupByName("dc")
st = c.newStream(0)
v.upload(st, 0, 0, 0)
st.send(b"\x77" * (3 << 20))
os._exit(0)
"""
    p = subprocess.run([harness.PY, "-c", code, c.t.uri, POOL], capture_output=True, text=True,
                       timeout=60)
    expect(p.returncode == 0, "helper client: " + p.stderr)
    harness.wait_for(lambda: c.t.alive(), timeout=2, what="daemon alive")
    # the daemon finishes with the dead client; afterwards the volume is usable
    new = os.urandom(16 * MiB)
    deadline = time.monotonic() + 10
    while True:
        try:
            upload_bytes(c.conn, v, new)
            break
        except libvirt.libvirtError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.1)
    expect(download_bytes(c.conn, v) == new, "upload after a client died mid-upload")
    expect_eq(v.info()[1], 16 * MiB, "capacity")
    v.delete(0)


def t_area(c):
    expect_eq(os.listdir(c.area), [POOL], "entries in " + c.area)


def main():
    runner = harness.Runner("test_storage_stream")
    try:
        target = harness.make_target(kind="storage")
    except RuntimeError as e:        # our binary not built yet
        print("SKIP: %s" % e)
        print("0 passed, 0 failed, 1 skipped")
        sys.exit(0)
    runner.start(target)
    c = Ctx(target)
    try:
        if runner.check("pool setup", c.setup_pool):
            for name, fn in [
                ("upload/download 8 MiB round trip (sendAll/recvAll)", t_roundtrip),
                ("upload/download with offset/length", t_window),
                ("sparse download of a 1 GiB volume", t_sparse_download),
                ("sparse upload keeps the volume sparse", t_sparse_upload),
                ("client aborts mid-upload", t_abort_upload),
                ("client aborts mid-download", t_abort_download),
                ("client dies mid-upload", t_disconnect_mid_upload),
            ]:
                runner.check(name, fn, c)
        runner.check("daemon still running", lambda: expect(target.alive(), target.log_tail()))
        runner.check("nothing outside the pool dir", t_area, c)
    finally:
        c.cleanup()
    runner.finish()


if __name__ == "__main__":
    main()
