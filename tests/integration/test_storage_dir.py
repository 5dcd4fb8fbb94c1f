#!/usr/bin/python3
"""dir storage pools and volumes: stock virsh 9.0 and python3-libvirt 9.0
against the storage target (our virtstoraged; SV_TARGET=ref: the reference
libvirtd 9.0 via storage:///system).

    /usr/bin/python3 tests/integration/test_storage_dir.py               # our virtstoraged
    SV_TARGET=ref /usr/bin/python3 tests/integration/test_storage_dir.py # the reference
    SV_TARGET=ref ... --capture-ref    re-capture tests/golden/storage/ref/*.txt (developer only)

Part 1 (virsh): the whole life of a dir pool, each virsh step compared (rc,
stdout, stderr) with the reference's output in tests/golden/storage/ref/
after replacing per-run values by placeholders (@AREA@ = the directory that
holds the pool dir, @P@ = pool name, @UUID@) and normalizing host facts (see
normalize()).  Files are checked directly (qemu-img info, content, sizes).
Part 2 (python3-libvirt): error codes / domains / messages of the reference.
Everything lives in AREA = <target root>/area-<pid>; at the end AREA must
hold nothing but the pool directories the test asked for.
"""
import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402
from harness import expect, expect_eq  # noqa: E402

GOLDEN = os.path.join(harness.SOURCE_DIR, "tests", "golden", "storage", "ref")
CAPTURE_REF = "--capture-ref" in sys.argv
TAG = "%06x" % (os.getpid() & 0xffffff)   # fixed width: virsh tables align on names
POOL = "svdir" + TAG          # the virsh pool (part 1)
EPOOL = "sverr" + TAG         # the python error pool (part 2)
MiB = 1 << 20
AREA_LEN = 48

# python3-libvirt constants (numbers: protocol.md appendix B)
ERR_SYSTEM_ERROR, ERR_OVERFLOW, ERR_XML_ERROR, ERR_XML_DETAIL = 38, 82, 27, 35
ERR_OPERATION_FAILED, ERR_OPERATION_INVALID, ERR_OPERATION_DENIED = 9, 55, 29
ERR_CONFIG_UNSUPPORTED, ERR_NO_STORAGE_POOL, ERR_NO_STORAGE_VOL, ERR_VOL_EXIST = 67, 49, 50, 90
ERR_INVALID_ARG = 8
FROM_NONE, FROM_STORAGE = 0, 18


# ------------------------------------------------------------------ golden
def normalize(text):
    """Per-host / per-run values (not per implementation):
    N1 pool capacity/allocation/available: the host file system's statvfs.
    N2 volume timestamps: file times.
    N3 uuids: generated at define time."""
    text = re.sub(r"(<(?:capacity|allocation|available) unit='bytes'>)\d+(</)", r"\1<N>\2", text) \
        if "<pool" in text else text                                                       # N1
    text = re.sub(r"^(Capacity|Allocation|Available):( +)[\d.]+ \S+$", r"\1:\2<N>", text,
                  flags=re.M) if "State:" in text else text                                # N1
    text = re.sub(r"<([amcb]time)>[\d.]+</", r"<\1><T></", text)                            # N2
    text = re.sub(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}", "@UUID@",
                  text)                                                                    # N3
    return text


def diff(a, b):
    import difflib
    d = list(difflib.unified_diff(a.splitlines(), b.splitlines(), "expected", "actual",
                                  lineterm="", n=1))
    return "\n".join(d[:40]) + ("\n..." if len(d) > 40 else "")


class Ctx:
    def __init__(self, target):
        self.t = target
        root = getattr(target, "root", None)
        self.own_area_root = root is None            # External target: our own temp dir
        if root is None:
            root = tempfile.mkdtemp(prefix="svst", dir="/tmp")
        self.root = root
        # fixed-length AREA (padded) so virsh's column widths do not depend on
        # the length of the target's temp root
        self.area = os.path.join(root, "area-" + TAG)
        if len(self.area) < AREA_LEN:
            self.area += "-" + "x" * (AREA_LEN - len(self.area) - 1)
        os.makedirs(self.area)
        self.pdir = os.path.join(self.area, POOL)
        self.scratch = os.path.join(root, "scratch-" + TAG)   # client-side files
        os.makedirs(self.scratch)
        self.expected_in_area = {POOL}
        self._conn = None
        self.diffs = []       # golden mismatches of the current step (reported at its end)

    def conn(self):
        if self._conn is None:
            import libvirt
            libvirt.registerErrorHandler(lambda *_a: None, None)
            self._conn = self.t.open()
        return self._conn

    def templatize(self, text):
        text = text.replace(self.scratch, "@SCRATCH@").replace(self.area, "@AREA@")
        return text.replace(POOL, "@P@").replace(EPOOL, "@E@")

    def virsh(self, case, *args, rc=0, golden=True, ro=False):
        """Run virsh ARGS; check rc; compare with the golden CASE (or capture it)."""
        r, out, err = self.t.virsh(*args, ro=ro, cwd=self.scratch)
        if golden:
            path = os.path.join(GOLDEN, case + ".txt")
            got = "rc: %d\n--- stdout\n%s--- stderr\n%s" % (r, out, err)
            got = normalize(self.templatize(got))
            if CAPTURE_REF:
                os.makedirs(GOLDEN, exist_ok=True)
                with open(path, "w") as f:
                    f.write("# virsh %s\n%s" % (self.templatize(" ".join(map(str, args))), got))
            else:
                with open(path) as f:
                    want = f.read().split("\n", 1)[1]
                if want != got:
                    self.diffs.append("virsh %s differs from the reference:\n%s"
                                      % (" ".join(map(str, args)), diff(want, got)))
                    if r != rc:     # the state diverged: no point going on with this step
                        raise AssertionError("\n".join(self.diffs))
        expect(r == rc, "virsh %s: rc %d (want %d)\n%s%s" % (" ".join(map(str, args)), r, rc,
                                                            out, err))
        return out

    def soft(self, cond, msg):
        """A divergence that does not invalidate the rest of the step."""
        if not cond:
            self.diffs.append(msg)

    def f(self, name):
        return os.path.join(self.pdir, name)

    def cleanup(self):
        """Best effort: leave no pool behind on a daemon we do not own."""
        try:
            import libvirt
            c = self.conn()
            for name in (POOL, EPOOL, EPOOL + "rel", EPOOL + "d", EPOOL + "t"):
                try:
                    p = c.storagePoolLookupByName(name)
                except libvirt.libvirtError:
                    continue
                try:
                    if p.isActive():
                        p.destroy()
                    p.undefine()
                except libvirt.libvirtError:
                    pass
        except Exception:
            pass
        if self.own_area_root:
            shutil.rmtree(self.root, ignore_errors=True)
        else:
            shutil.rmtree(self.area, ignore_errors=True)
            shutil.rmtree(self.scratch, ignore_errors=True)


def qemu_img_info(path):
    out = subprocess.run(["qemu-img", "info", "--output=json", "-U", path], capture_output=True,
                         text=True, timeout=30, check=True).stdout
    return json.loads(out)


def sha(path):
    with open(path, "rb") as f:
        return hashlib.sha256(f.read()).hexdigest()


# ------------------------------------------------------------------ part 1: virsh
def t_define(c):
    c.virsh("pool-define-as", "pool-define-as", POOL, "dir", "--target", c.pdir)
    expect(not os.path.exists(c.pdir), "pool-define-as created the target directory")
    if c.t.defs_dir:
        expect(os.path.isfile(os.path.join(c.t.defs_dir, POOL + ".xml")),
               "no %s.xml in %s" % (POOL, c.t.defs_dir))
    c.virsh("pool-list-defined", "pool-list", "--all")
    c.virsh("pool-info-defined", "pool-info", POOL)


def t_build_start(c):
    c.virsh("pool-build", "pool-build", POOL)
    expect(os.path.isdir(c.pdir), "pool-build did not create " + c.pdir)
    expect_eq(oct(os.stat(c.pdir).st_mode & 0o7777), "0o711", "mode of the built pool dir")
    expect_eq(os.listdir(c.pdir), [], "pool dir content after build")
    c.virsh("pool-start", "pool-start", POOL)
    c.virsh("pool-info", "pool-info", POOL)
    c.virsh("pool-list", "pool-list", "--all")
    c.virsh("pool-dumpxml", "pool-dumpxml", POOL)


def t_vol_create(c):
    c.virsh("vol-create-as-raw", "vol-create-as", POOL, "raw1", "10M", "--format", "raw")
    c.virsh("vol-create-as-qcow2", "vol-create-as", POOL, "q1", "10M", "--format", "qcow2")
    c.virsh("vol-create-as-sparse", "vol-create-as", POOL, "s1", "10M", "--allocation", "0")
    expect_eq(os.path.getsize(c.f("raw1")), 10 * MiB, "raw1 file size")
    c.soft(os.stat(c.f("raw1")).st_blocks * 512 >= 10 * MiB, "raw1 not fully allocated "
           "(reference: allocation defaults to capacity)")
    expect_eq(os.path.getsize(c.f("s1")), 10 * MiB, "s1 file size")
    expect_eq(os.stat(c.f("s1")).st_blocks, 0, "s1 (allocation 0) has blocks")
    info = qemu_img_info(c.f("q1"))
    expect_eq(info["format"], "qcow2", "q1 format")
    expect_eq(info["virtual-size"], 10 * MiB, "q1 virtual size")
    c.soft(info["format-specific"]["data"]["compat"] == "0.10", "q1 qcow2 compat %s, the "
           "reference creates 0.10" % info["format-specific"]["data"]["compat"])
    expect_eq(qemu_img_info(c.f("raw1"))["format"], "raw", "raw1 format")
    for v in ("raw1", "q1", "s1"):
        expect_eq(oct(os.stat(c.f(v)).st_mode & 0o7777), "0o600", "mode of " + v)


def t_vol_query(c):
    c.virsh("vol-list", "vol-list", POOL)
    c.virsh("vol-list-details", "vol-list", POOL, "--details")
    for v in ("raw1", "q1", "s1"):
        c.virsh("vol-info-" + v, "vol-info", v, "--pool", POOL)
    expect_eq(c.virsh("vol-path", "vol-path", "q1", "--pool", POOL), c.f("q1") + "\n\n",
              "vol-path")
    expect_eq(c.virsh("vol-key", "vol-key", "q1", "--pool", POOL), c.f("q1") + "\n\n", "vol-key")
    c.virsh("vol-dumpxml-raw1", "vol-dumpxml", "raw1", "--pool", POOL)
    c.virsh("vol-dumpxml-q1", "vol-dumpxml", "q1", "--pool", POOL)
    # a volume given by path (no --pool): LOOKUP_BY_KEY
    c.virsh("vol-info-by-path", "vol-info", c.f("raw1"))


def t_vol_clone(c):
    # recognisable content in raw1 (written behind the daemon's back; size unchanged)
    with open(c.f("raw1"), "r+b") as f:
        f.write(b"\xa5" * 4096)
        f.seek(5 * MiB)
        f.write(os.urandom(MiB))
    c.virsh("vol-clone-raw", "vol-clone", "raw1", "raw1c", "--pool", POOL)
    c.virsh("vol-clone-qcow2", "vol-clone", "q1", "q1c", "--pool", POOL)
    expect_eq(sha(c.f("raw1c")), sha(c.f("raw1")), "raw1c content")
    info = qemu_img_info(c.f("q1c"))
    expect_eq((info["format"], info["virtual-size"]), ("qcow2", 10 * MiB), "q1c format/size")
    xml = os.path.join(c.scratch, "r2q.xml")
    with open(xml, "w") as f:
        f.write("<volume>\n  <name>r2q</name>\n  <capacity>10485760</capacity>\n"
                "  <target>\n    <format type='qcow2'/>\n  </target>\n</volume>\n")
    c.virsh("vol-create-from-qcow2", "vol-create-from", POOL, xml, "raw1", "--inputpool", POOL)
    info = qemu_img_info(c.f("r2q"))
    expect_eq((info["format"], info["virtual-size"]), ("qcow2", 10 * MiB), "r2q format/size")
    p = subprocess.run(["qemu-img", "compare", "-U", "-f", "raw", "-F", "qcow2", c.f("raw1"),
                        c.f("r2q")], capture_output=True, text=True, timeout=60)
    expect(p.returncode == 0, "qemu-img compare raw1 r2q: %s%s" % (p.stdout, p.stderr))
    c.virsh("vol-info-r2q", "vol-info", "r2q", "--pool", POOL)
    c.virsh("vol-clone-exists", "vol-clone", "raw1", "q1", "--pool", POOL, rc=1)


def t_vol_resize(c):
    c.virsh("vol-resize-grow-sparse", "vol-resize", "s1", "20M", "--pool", POOL)
    expect_eq(os.path.getsize(c.f("s1")), 20 * MiB, "s1 size after grow")
    c.virsh("vol-resize-shrink-noflag", "vol-resize", "s1", "5M", "--pool", POOL, rc=1)
    expect_eq(os.path.getsize(c.f("s1")), 20 * MiB, "s1 size after refused shrink")
    c.virsh("vol-resize-shrink", "vol-resize", "s1", "5M", "--pool", POOL, "--shrink")
    expect_eq(os.path.getsize(c.f("s1")), 5 * MiB, "s1 size after shrink")
    c.virsh("vol-info-s1-shrunk", "vol-info", "s1", "--pool", POOL)
    # fully allocated raw: the reference refuses below the allocation even with --shrink
    c.virsh("vol-resize-grow-raw", "vol-resize", "raw1", "20M", "--pool", POOL)
    expect_eq(os.path.getsize(c.f("raw1")), 20 * MiB, "raw1 size after grow")
    c.virsh("vol-resize-shrink-alloc", "vol-resize", "raw1", "5M", "--pool", POOL, "--shrink", rc=1)
    expect_eq(os.path.getsize(c.f("raw1")), 20 * MiB, "raw1 size after refused shrink")
    c.virsh("vol-resize-grow-qcow2", "vol-resize", "q1", "20M", "--pool", POOL)
    expect_eq(qemu_img_info(c.f("q1"))["virtual-size"], 20 * MiB, "q1 virtual size after grow")
    c.virsh("vol-resize-shrink-qcow2-noflag", "vol-resize", "q1", "5M", "--pool", POOL, rc=1)
    expect_eq(qemu_img_info(c.f("q1"))["virtual-size"], 20 * MiB, "q1 after refused shrink")
    c.virsh("vol-resize-shrink-qcow2", "vol-resize", "q1", "5M", "--pool", POOL, "--shrink")
    expect_eq(qemu_img_info(c.f("q1"))["virtual-size"], 5 * MiB, "q1 after shrink")
    c.virsh("vol-info-q1-shrunk", "vol-info", "q1", "--pool", POOL)


def t_upload_download(c):
    c.virsh("vol-create-as-up", "vol-create-as", POOL, "up", "8M", "--format", "raw",
            "--allocation", "0")
    src = os.path.join(c.scratch, "up.src")
    with open(src, "wb") as f:
        f.write(os.urandom(8 * MiB))
    c.virsh("vol-upload", "vol-upload", "up", src, "--pool", POOL)
    expect_eq(sha(c.f("up")), sha(src), "volume file content after vol-upload")
    dst = os.path.join(c.scratch, "up.dst")
    c.virsh("vol-download", "vol-download", "up", dst, "--pool", POOL)
    expect_eq(os.path.getsize(dst), 8 * MiB, "downloaded size")
    expect_eq(sha(dst), sha(src), "downloaded content")
    c.virsh("vol-info-up", "vol-info", "up", "--pool", POOL)


def t_wipe(c):
    c.virsh("vol-wipe", "vol-wipe", "up", "--pool", POOL)
    expect_eq(os.path.getsize(c.f("up")), 8 * MiB, "size after wipe")
    with open(c.f("up"), "rb") as f:
        expect(f.read() == bytes(8 * MiB), "volume not zeroed by vol-wipe")


def t_delete(c):
    c.virsh("vol-delete", "vol-delete", "raw1c", "--pool", POOL)
    expect(not os.path.exists(c.f("raw1c")), "raw1c still on disk")
    c.virsh("vol-info-deleted", "vol-info", "raw1c", "--pool", POOL, rc=1)
    c.virsh("vol-delete-missing", "vol-delete", "raw1c", "--pool", POOL, rc=1)
    c.virsh("vol-list-after-delete", "vol-list", POOL)


def t_refresh(c):
    with open(c.f("behind"), "wb") as f:
        f.truncate(MiB)
    subprocess.run(["qemu-img", "create", "-q", "-f", "qcow2", c.f("behindq"), "3M"], check=True,
                   timeout=30)
    os.chmod(c.f("behind"), 0o644)
    os.chmod(c.f("behindq"), 0o644)
    c.virsh("vol-list-before-refresh", "vol-list", POOL)
    c.virsh("pool-refresh", "pool-refresh", POOL)
    c.virsh("vol-list-after-refresh", "vol-list", POOL, "--details")
    c.virsh("vol-dumpxml-behindq", "vol-dumpxml", "behindq", "--pool", POOL)


def t_destroy_undefine(c):
    files = sorted(os.listdir(c.pdir))
    c.virsh("pool-destroy", "pool-destroy", POOL)
    c.virsh("pool-list-destroyed", "pool-list", "--all")
    c.virsh("vol-list-inactive", "vol-list", POOL, rc=1)
    c.virsh("pool-info-inactive", "pool-info", POOL)
    expect_eq(sorted(os.listdir(c.pdir)), files, "pool dir after pool-destroy")
    c.virsh("pool-undefine", "pool-undefine", POOL)
    if c.t.defs_dir:
        expect(not os.path.exists(os.path.join(c.t.defs_dir, POOL + ".xml")),
               "config file left after pool-undefine")
    # libvirt leaves the target directory and every file in it
    expect_eq(sorted(os.listdir(c.pdir)), files, "pool dir after pool-undefine")
    expect_eq(sorted(files), ["behind", "behindq", "q1", "q1c", "r2q", "raw1", "s1", "up"],
              "files left")
    c.virsh("pool-info-undefined", "pool-info", POOL, rc=1)
    c.virsh("pool-list-undefined", "pool-list", "--all")


# ------------------------------------------------------------------ part 2: python errors
def expect_error(fn, code, dom, msg):
    """msg: exact text, or a compiled regex that must match the whole message."""
    import libvirt
    try:
        fn()
    except libvirt.libvirtError as e:
        got = (e.get_error_code(), e.get_error_domain(), e.get_error_message())
        ok_msg = msg.fullmatch(got[2]) if hasattr(msg, "fullmatch") else got[2] == msg
        if got[0] != code or got[1] != dom or not ok_msg:
            raise AssertionError("expected (%d, %d, %r), got %r"
                                 % (code, dom, getattr(msg, "pattern", msg), got))
        return
    raise AssertionError("no error (expected code %d: %s)" % (code, getattr(msg, "pattern", msg)))


PXML = "<pool type='dir'><name>%s</name><target><path>%s</path></target></pool>"
VXML = ("<volume><name>%s</name><capacity>%s</capacity>"
        "<target><format type='%s'/></target></volume>")


def epool(c):
    import libvirt
    try:
        return c.conn().storagePoolLookupByName(EPOOL)
    except libvirt.libvirtError:
        pass
    c.expected_in_area.add(EPOOL)
    p = c.conn().storagePoolDefineXML(PXML % (EPOOL, os.path.join(c.area, EPOOL)), 0)
    p.build(0)
    p.create(0)
    return p


def t_err_relative_target(c):
    """9.0 accepts a relative target path at define time; start fails (no
    directory relative to the daemon's cwd).  Never built (would create it
    relative to the daemon's cwd)."""
    conn = c.conn()
    name = EPOOL + "rel"
    p = conn.storagePoolDefineXML(PXML % (name, "relative/dir" + TAG), 0)
    try:
        expect_error(lambda: p.create(0), ERR_SYSTEM_ERROR, FROM_NONE,
                     "cannot open directory 'relative/dir%s': No such file or directory" % TAG)
        expect(not p.isActive(), "pool with a relative target is active")
    finally:
        p.undefine()
    expect_error(lambda: conn.storagePoolCreateXML(PXML % (name, "relative/dir" + TAG), 0),
                 ERR_SYSTEM_ERROR, FROM_NONE,
                 "cannot open directory 'relative/dir%s': No such file or directory" % TAG)
    expect_error(lambda: conn.storagePoolLookupByName(name), ERR_NO_STORAGE_POOL, FROM_STORAGE,
                 "Storage pool not found: no storage pool with matching name '%s'" % name)


def t_err_vol_names(c):
    p = epool(c)
    d = os.path.join(c.area, EPOOL)
    expect_error(lambda: p.createXML(VXML % ("a/b", MiB, "raw"), 0), ERR_OPERATION_INVALID,
                 FROM_STORAGE, "Requested operation is not valid: volume name 'a/b' cannot "
                 "contain '/'")
    expect_error(lambda: p.createXML(VXML % ("..", MiB, "raw"), 0), ERR_OPERATION_INVALID,
                 FROM_STORAGE, "Requested operation is not valid: volume target path '%s/..' "
                 "already exists" % d)
    expect_error(lambda: p.createXML(VXML % (".", MiB, "raw"), 0), ERR_OPERATION_INVALID,
                 FROM_STORAGE, "Requested operation is not valid: volume target path '%s/.' "
                 "already exists" % d)
    expect_error(lambda: p.createXML(VXML % ("", MiB, "raw"), 0), ERR_XML_ERROR, FROM_STORAGE,
                 "XML error: missing volume name element")
    expect_eq(os.listdir(d), [], "files in the pool dir after refused names")


def t_err_capacity(c):
    p = epool(c)
    for fmt in ("raw", "qcow2"):
        expect_error(lambda: p.createXML(VXML % ("neg" + fmt, -MiB, fmt), 0), ERR_XML_ERROR,
                     FROM_STORAGE, "XML error: malformed capacity element")
        expect_error(lambda: p.createXML(VXML % ("huge" + fmt, 10 << 60, fmt), 0), ERR_OVERFLOW,
                     FROM_NONE, "numerical overflow: value too large: 11529215046068469760")
    expect_error(lambda: p.createXML("<volume><name>hu</name><capacity unit='EiB'>10</capacity>"
                                     "</volume>", 0),
                 ERR_OVERFLOW, FROM_NONE, "numerical overflow: value too large: 10EiB")
    expect_error(lambda: p.createXML("<volume><name>nocap</name></volume>", 0), ERR_XML_ERROR,
                 FROM_STORAGE, "XML error: missing capacity element")
    expect_error(lambda: p.createXML("<volume><name>x</name>", 0), ERR_XML_DETAIL, FROM_STORAGE,
                 re.compile(r"\(storage_volume_definition\):1: .*", re.S))
    expect_eq(os.listdir(os.path.join(c.area, EPOOL)), [], "files after refused capacities")


def t_err_format(c):
    p = epool(c)
    expect_error(lambda: p.createXML(VXML % ("bf", MiB, "nosuchfmt"), 0), ERR_CONFIG_UNSUPPORTED,
                 FROM_STORAGE, "unsupported configuration: unknown volume format type nosuchfmt")
    expect_eq(os.listdir(os.path.join(c.area, EPOOL)), [], "files after unknown format")


def t_err_duplicate(c):
    p = epool(c)
    v = p.createXML(VXML % ("dup", MiB, "raw"), 0)
    before = sha(v.path())
    for fmt in ("raw", "qcow2"):
        expect_error(lambda: p.createXML(VXML % ("dup", 2 * MiB, fmt), 0), ERR_VOL_EXIST,
                     FROM_STORAGE, "storage volume 'dup' exists already")
    expect_eq((os.path.getsize(v.path()), sha(v.path())), (MiB, before), "dup after refusals")
    expect_eq(sorted(x.name() for x in p.listAllVolumes(0)), ["dup"], "volumes")
    # a file made behind the daemon's back with the name of a new volume
    with open(os.path.join(c.area, EPOOL, "sneaky"), "wb") as f:
        f.write(b"keep")
    expect_error(lambda: p.createXML(VXML % ("sneaky", MiB, "raw"), 0), ERR_OPERATION_INVALID,
                 FROM_STORAGE, "Requested operation is not valid: volume target path '%s' "
                 "already exists" % os.path.join(c.area, EPOOL, "sneaky"))
    with open(os.path.join(c.area, EPOOL, "sneaky"), "rb") as f:
        expect_eq(f.read(), b"keep", "file clobbered by a refused create")
    os.unlink(os.path.join(c.area, EPOOL, "sneaky"))
    v.delete(0)
    expect_error(lambda: v.info(), ERR_NO_STORAGE_VOL, FROM_STORAGE,
                 "Storage volume not found: no storage vol with matching name 'dup'")


def t_err_lookup(c):
    conn = c.conn()
    p = epool(c)
    expect_error(lambda: conn.storagePoolLookupByName("nosuch" + TAG), ERR_NO_STORAGE_POOL,
                 FROM_STORAGE, "Storage pool not found: no storage pool with matching name "
                 "'nosuch%s'" % TAG)
    u = "11111111-2222-3333-4444-555555555555"
    expect_error(lambda: conn.storagePoolLookupByUUIDString(u), ERR_NO_STORAGE_POOL,
                 FROM_STORAGE, "Storage pool not found: no storage pool with matching uuid '%s'" % u)
    expect_error(lambda: p.storageVolLookupByName("nosuchvol"), ERR_NO_STORAGE_VOL, FROM_STORAGE,
                 "Storage volume not found: no storage vol with matching name 'nosuchvol'")
    path = os.path.join(c.area, EPOOL, "nosuchvol")
    expect_error(lambda: conn.storageVolLookupByPath(path), ERR_NO_STORAGE_VOL, FROM_STORAGE,
                 "Storage volume not found: no storage vol with matching path '%s'" % path)
    expect_error(lambda: conn.storageVolLookupByKey(path), ERR_NO_STORAGE_VOL, FROM_STORAGE,
                 "Storage volume not found: no storage vol with matching key %s" % path)


def t_err_pool_state(c):
    conn = c.conn()
    p = epool(c)
    expect_error(lambda: p.create(0), ERR_OPERATION_INVALID, FROM_STORAGE,
                 "Requested operation is not valid: storage pool '%s' is already active" % EPOOL)
    expect_error(lambda: p.build(0), ERR_OPERATION_INVALID, FROM_STORAGE,
                 "Requested operation is not valid: storage pool '%s' is already active" % EPOOL)
    expect_error(lambda: p.undefine(), ERR_OPERATION_INVALID, FROM_STORAGE,
                 "Requested operation is not valid: storage pool '%s' is still active" % EPOOL)
    expect_error(lambda: conn.storagePoolDefineXML(PXML % (EPOOL, c.area + "/other"), 0),
                 ERR_OPERATION_FAILED, FROM_STORAGE,
                 "operation failed: pool '%s' already exists with uuid %s" % (EPOOL, p.UUIDString()))
    expect_error(lambda: conn.storagePoolDefineXML(PXML % (EPOOL + "t",
                                                            os.path.join(c.area, EPOOL)), 0),
                 ERR_OPERATION_FAILED, FROM_STORAGE,
                 "operation failed: Storage source conflict with pool: '%s'" % EPOOL)
    # an inactive pool
    name = EPOOL + "d"
    c.expected_in_area.add(name)
    q = conn.storagePoolDefineXML(PXML % (name, os.path.join(c.area, name)), 0)
    try:
        q.build(0)
        expect_error(lambda: q.createXML(VXML % ("v", MiB, "raw"), 0), ERR_OPERATION_INVALID,
                     FROM_STORAGE,
                     "Requested operation is not valid: storage pool '%s' is not active" % name)
        expect_error(lambda: q.listAllVolumes(0), ERR_OPERATION_INVALID, FROM_STORAGE,
                     "Requested operation is not valid: storage pool '%s' is not active" % name)
        expect_error(lambda: q.destroy(), ERR_OPERATION_INVALID, FROM_STORAGE,
                     "Requested operation is not valid: storage pool '%s' is not active" % name)
        expect_eq(os.listdir(os.path.join(c.area, name)), [], "inactive pool dir")
    finally:
        q.undefine()


def t_err_readonly(c):
    p = epool(c)
    ro = c.t.open(ro=True)
    name = EPOOL + "ro"
    expect_error(lambda: ro.storagePoolDefineXML(PXML % (name, os.path.join(c.area, name)), 0),
                 ERR_OPERATION_DENIED, FROM_STORAGE,
                 "operation forbidden: read only access prevents virStoragePoolDefineXML")
    rop = ro.storagePoolLookupByName(EPOOL)
    expect_error(lambda: rop.createXML(VXML % ("rov", MiB, "raw"), 0), ERR_OPERATION_DENIED,
                 FROM_STORAGE, "operation forbidden: read only access prevents "
                 "virStorageVolCreateXML")
    expect_error(lambda: rop.destroy(), ERR_OPERATION_DENIED, FROM_STORAGE,
                 "operation forbidden: read only access prevents virStoragePoolDestroy")
    # reading is fine
    expect_eq(rop.isActive(), 1, "ro isActive")
    expect_eq(sorted(x.name() for x in rop.listAllVolumes(0)),
              sorted(x.name() for x in p.listAllVolumes(0)), "ro listAllVolumes")
    expect(name not in [x.name() for x in c.conn().listAllStoragePools(0)], "ro define took")
    expect(not os.path.exists(os.path.join(c.area, name)), "ro define created a dir")
    ro.close()
    c.virsh("ro-pool-define-as", "pool-define-as", name, "dir", "--target",
            os.path.join(c.area, name), ro=True, rc=1)


def t_err_teardown(c):
    p = epool(c)
    p.destroy()
    p.undefine()


def t_area_untouched(c):
    """Nothing outside the pool dirs: AREA holds exactly the pool directories."""
    expect_eq(sorted(os.listdir(c.area)), sorted(c.expected_in_area), "entries in " + c.area)
    for name in os.listdir(c.area):
        expect(os.path.isdir(os.path.join(c.area, name)), name + " is not a directory")
    # nothing appeared next to AREA in the root either, except what the daemon owns
    extra = [n for n in os.listdir(c.root)
             if n.startswith(("area", "scratch"))
             and n not in (os.path.basename(c.area), "scratch-" + TAG)]
    expect_eq(extra, [], "unexpected entries in the target root")
    pid = c.t.pid
    if pid:
        cwd = os.readlink("/proc/%d/cwd" % pid)
        expect(not os.path.exists(os.path.join(cwd, "relative")),
               "a relative pool target was created in the daemon's cwd " + cwd)


def main():
    runner = harness.Runner("test_storage_dir")
    if CAPTURE_REF and not harness.target_is_reference():
        sys.exit("--capture-ref needs SV_TARGET=ref")
    try:
        target = harness.make_target(kind="storage")
    except RuntimeError as e:        # our binary not built yet
        print("SKIP: %s" % e)
        print("0 passed, 0 failed, 1 skipped")
        sys.exit(0)
    runner.start(target)
    c = Ctx(target)
    try:
        steps = [
            ("pool-define-as (dir)", t_define),
            ("pool-build / pool-start / pool-info / pool-list / pool-dumpxml", t_build_start),
            ("vol-create-as raw, qcow2, sparse raw", t_vol_create),
            ("vol-list / vol-info / vol-path / vol-key / vol-dumpxml", t_vol_query),
            ("vol-clone, vol-create-from raw->qcow2", t_vol_clone),
            ("vol-resize grow / shrink", t_vol_resize),
            ("vol-upload / vol-download 8 MiB", t_upload_download),
            ("vol-wipe", t_wipe),
            ("vol-delete", t_delete),
            ("pool-refresh picks up files made behind the daemon", t_refresh),
            ("pool-destroy / pool-undefine leave the files", t_destroy_undefine),
            ("error: relative pool target", t_err_relative_target),
            ("error: volume names with '/', '..', '.', ''", t_err_vol_names),
            ("error: negative / absurd / missing capacity", t_err_capacity),
            ("error: unknown volume format", t_err_format),
            ("error: duplicate volume", t_err_duplicate),
            ("error: unknown pool / volume lookups", t_err_lookup),
            ("error: pool state (start active, undefine active, dup, inactive)", t_err_pool_state),
            ("error: read-only connection", t_err_readonly),
            ("error pool teardown", t_err_teardown),
            ("nothing outside the pool dirs touched", t_area_untouched),
        ]
        def step(fn):
            c.diffs = []
            try:
                fn(c)
            except AssertionError as e:
                if c.diffs and str(e) != "\n".join(c.diffs):
                    raise AssertionError("\n".join(c.diffs + [str(e)]))
                raise
            if c.diffs:
                raise AssertionError("\n".join(c.diffs))
        for name, fn in steps:
            runner.check(name, step, fn)
        runner.check("daemon still running", lambda: expect(target.alive(), target.log_tail()))
    finally:
        c.cleanup()
    runner.finish()


if __name__ == "__main__":
    main()
