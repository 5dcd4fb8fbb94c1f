"""snapshot_util - shared helpers for the snapshot integration tests
(test_snapshot_internal.py, test_snapshot_external.py).

Data patterns.  The guest disk is cut into REGION-sized slots, slot i at
offset i MiB (i >= 1).  Every write fills a slot nobody wrote before with a
byte nobody used before (Patterns.write picks both), so "snapshot S shows
exactly its patterns" is the check: each slot ever written holds the byte it
held when S was taken, and zero if it was written later (qcow2 reads
unallocated clusters as zeros).

* Patterns: the model (current disk content + a frozen copy per snapshot).
* Offline I/O on an image nobody has open: qemu_io_write(), qemu_io_check()
  (`qemu-io -c 'write -P 0xNN OFF LEN'` / `read -P`).
* Online I/O from inside the busybox guest (guest_assets) over its serial
  console: GuestShell.write() / GuestShell.check() (`dd ... oflag=direct` /
  `dd iflag=direct | md5sum` on /dev/vda, the virtio disk).
* Images: qemu_img_snapshots() (internal snapshot tags, `qemu-img info -U`),
  backing_chain() / chain_files() (`qemu-img info -U --backing-chain
  --output=json`).
* virsh output: render_tree() reproduces `virsh snapshot-list --tree`
  (vshTreePrint, roots and children sorted case-insensitively) from a
  {name: parent} map; parse_list() / parse_info() read the table and
  `snapshot-info` outputs.
* tree_state(): everything a client can see of a domain's snapshot tree
  (python3-libvirt), to compare across daemon restarts.
"""
import hashlib
import json
import os
import re
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

REGION = 4096
SLOT = 1 << 20
_ENV = dict(os.environ, LC_ALL="C")


def region_offset(i):
    return i * SLOT


def pattern_md5(byte):
    return hashlib.md5(bytes([byte]) * REGION).hexdigest()


class Patterns:
    """current: {slot: byte} of the disk as the guest sees it now;
    snaps: {snapshot name: {slot: byte}} frozen when the snapshot was taken."""

    def __init__(self, first_byte=0x11):
        self.current = {}
        self.snaps = {}
        self.used = set()
        self._next_slot = 1
        self._next_byte = first_byte

    def write(self):
        """-> (slot, byte) of the next write; records it in current."""
        slot = self._next_slot
        self._next_slot += 1
        byte = self._next_byte
        self._next_byte += 1
        if self._next_byte in (0, 0x100):
            self._next_byte = 1
        self.current[slot] = byte
        self.used.add(slot)
        return slot, byte

    def take(self, snap):
        self.snaps[snap] = dict(self.current)

    def reverted(self, snap):
        self.current = dict(self.snaps[snap])

    def forget(self, snap):
        self.snaps.pop(snap, None)

    def expected(self, snap=None):
        """{slot: byte or 0} over every slot ever written, for snapshot snap
        (None: the current state)."""
        state = self.current if snap is None else self.snaps[snap]
        return {s: state.get(s, 0) for s in sorted(self.used)}


def describe_mismatch(bad):
    return ", ".join("slot %d: want 0x%02x, got %s" % (s, w, g) for s, w, g in bad)


# ------------------------------------------------------------ offline images
def run(cmd, timeout=60):
    return subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, env=_ENV)


def qemu_io_write(img, slot, byte, fmt="qcow2"):
    p = run(["qemu-io", "-f", fmt, "-c",
             "write -P 0x%02x %d %d" % (byte, region_offset(slot), REGION), img])
    if p.returncode or "wrote %d/%d" % (REGION, REGION) not in p.stdout:
        raise AssertionError("qemu-io write to %s failed: %s %s" % (img, p.stdout, p.stderr))


def qemu_io_check(img, expected, fmt="qcow2", force_share=False):
    """expected {slot: byte}; one qemu-io run with a read -P per slot.
    -> list of (slot, wanted, 'other') mismatches ([] = all good)."""
    if not expected:
        return []
    cmd = ["qemu-io", "-r", "-f", fmt] + (["-U"] if force_share else [])
    for slot, byte in sorted(expected.items()):
        cmd += ["-c", "read -P 0x%02x %d %d" % (byte, region_offset(slot), REGION)]
    p = run(cmd + [img])
    if "read %d/%d" % (REGION, REGION) not in p.stdout:
        raise AssertionError("qemu-io read of %s failed: %s %s" % (img, p.stdout, p.stderr))
    bad_offsets = {int(m) for m in re.findall(r"Pattern verification failed at offset (\d+)",
                                              p.stdout + p.stderr)}
    return [(s, b, "other") for s, b in sorted(expected.items())
            if region_offset(s) in bad_offsets]


def qemu_img_info(img, chain=False):
    cmd = ["qemu-img", "info", "-U", "--output=json"] + (["--backing-chain"] if chain else [])
    p = run(cmd + [img])
    if p.returncode:
        raise AssertionError("qemu-img info %s: %s" % (img, p.stderr.strip()))
    return json.loads(p.stdout)


def qemu_img_snapshots(img):
    """names of the internal snapshots (tags) in the qcow2 image, in order."""
    return [s["name"] for s in qemu_img_info(img).get("snapshots", [])]


def backing_chain(img):
    """qemu-img info --backing-chain entries, top first."""
    return qemu_img_info(img, chain=True)


def chain_files(img):
    """[top, its backing, ...] as absolute paths."""
    out = []
    for e in backing_chain(img):
        f = e["filename"]
        if out and not os.path.isabs(f):
            f = os.path.join(os.path.dirname(out[-1]), f)
        out.append(os.path.abspath(f))
    return out


def image_files(directory):
    """sorted names of the regular files in directory."""
    return sorted(f for f in os.listdir(directory)
                  if os.path.isfile(os.path.join(directory, f)))


# ------------------------------------------------------------ in-guest I/O
class GuestShell:
    """Shell on the busybox guest's serial console (guest_assets.Console).
    Call open() again after anything that may replace the QEMU process (a
    revert on libvirt 9.0) or leave the console stream dead."""

    def __init__(self, disk="/dev/vda"):
        self.disk = disk
        self.console = None
        self.n = int(time.monotonic() * 1000) % 100000

    def close(self):
        if self.console:
            self.console.close()
            self.console = None

    def open(self, conn, dom, boot=False, timeout=60.0):
        """(Re)open the console (FORCE); boot: wait for the guest's boot
        marker and first prompt; then sync until a command round-trips."""
        import guest_assets as ga
        self.close()
        self.console = ga.Console(conn, dom, force=True)
        if boot:
            off = self.console.expect(ga.GUEST_MARKER, timeout)
            self.console.expect(ga.SHELL_PROMPT, 30, off)
        deadline = time.monotonic() + 30
        while True:
            try:
                self.run("true", timeout=3)
                return
            except AssertionError:
                if time.monotonic() > deadline:
                    raise

    def run(self, cmd, timeout=20.0):
        """Run cmd, -> its output (text between two computed markers, so the
        echoed command line never matches)."""
        self.n += 1
        n = self.n
        start = len(self.console.buf)
        self.console.send("echo B-$((%d+1)); %s; echo E-$((%d+1))\n" % (n, cmd, n))
        b = self.console.expect("B-%d" % (n + 1), timeout, start)
        e = self.console.expect("E-%d" % (n + 1), timeout, b)
        return self.console.buf[b:e - len("E-%d" % (n + 1))].decode(errors="replace")

    def write(self, slot, byte):
        self.run("dd if=/dev/zero bs=%d count=1 2>/dev/null | tr '\\000' '\\%03o' | "
                 "dd of=%s bs=%d seek=%d conv=notrunc,fsync oflag=direct 2>/dev/null; sync"
                 % (REGION, byte, self.disk, REGION, region_offset(slot) // REGION))

    def read_md5(self, slots):
        """{slot: md5 of its REGION bytes} read with O_DIRECT (no page cache)."""
        if not slots:
            return {}
        blocks = " ".join(str(region_offset(s) // REGION) for s in slots)
        out = self.run("for b in %s; do echo R$b:$(dd if=%s bs=%d skip=$b count=1 "
                       "iflag=direct 2>/dev/null | md5sum); done" % (blocks, self.disk, REGION),
                       timeout=30)
        got = {}
        for m in re.finditer(r"R(\d+):([0-9a-f]{32})", out):
            got[int(m.group(1)) * REGION // SLOT] = m.group(2)
        return got

    def check(self, expected):
        """expected {slot: byte} -> list of (slot, wanted, got) mismatches."""
        got = self.read_md5(sorted(expected))
        known = {pattern_md5(b): "0x%02x" % b for b in range(256)}
        bad = []
        for s, b in sorted(expected.items()):
            g = got.get(s)
            if g != pattern_md5(b):
                bad.append((s, b, known.get(g, "unreadable" if g is None else "mixed data")))
        return bad


# ------------------------------------------------------------ virsh output
def render_tree(parents, start=None):
    """`virsh snapshot-list --tree` text (without the final empty line) for
    {name: parent name or None}; start: render only start's subtree (what
    `--from start --descendants --tree` prints)."""
    names = sorted(parents, key=lambda n: (n.lower(), n))
    lines = []

    def children(n):
        return [c for c in names if parents[c] == n]

    def node(n, last, root, indent):
        lines.append(indent + ("" if root else "+- ") + n)
        if not root:
            indent += (" " if last else "|") + " "
        kids = children(n)
        if kids:
            lines.append(indent + "  |")
        for i, k in enumerate(kids):
            node(k, i == len(kids) - 1, False, indent + "  ")
        if not kids and last:
            lines.append(indent)

    roots = [start] if start else [n for n in names if parents[n] is None]
    for r in roots:
        node(r, True, True, "")
    return "\n".join(lines).rstrip("\n")


def parse_list(out):
    """rows of `virsh snapshot-list [--parent]` -> [[name, date time tz, state(, parent)]]."""
    rows = []
    for line in out.splitlines()[2:]:
        w = line.split()
        if len(w) >= 5:
            rows.append([w[0], " ".join(w[1:4]), w[4]] + ([w[5]] if len(w) > 5 else
                                                           ([""] if "Parent" in out else [])))
    return rows


def parse_info(out):
    """`virsh snapshot-info` -> {field: value}."""
    res = {}
    for line in out.splitlines():
        k, sep, v = line.partition(":")
        if sep:
            res[k.strip()] = v.strip()
    return res


def tree_state(dom):
    """{snapshot: (parent or None, is current, XML (secure))}, via python3-libvirt."""
    import libvirt
    out = {}
    for s in dom.listAllSnapshots(0):
        try:
            parent = s.getParent().getName()
        except libvirt.libvirtError:
            parent = None
        out[s.getName()] = (parent, bool(s.isCurrent()),
                            s.getXMLDesc(libvirt.VIR_DOMAIN_SNAPSHOT_XML_SECURE))
    return out


def parents_of(dom):
    return {n: v[0] for n, v in tree_state(dom).items()}


# ------------------------------------------------------------ test context
def py_err(fn, *args):
    """-> (code, domain, message) of the libvirtError fn(*args) raises, or None."""
    import libvirt
    try:
        fn(*args)
    except libvirt.libvirtError as e:
        return (e.get_error_code(), e.get_error_domain(), e.get_error_message())
    return None


class SnapCtx:
    """Target + python event client + scratch dir + test kernel for the
    snapshot tests."""

    def __init__(self, target, prefix="svsnap"):
        import guest_assets as ga
        from harness import Skip
        self.t = target
        import tempfile
        self.work = tempfile.mkdtemp(prefix=prefix)
        os.chmod(self.work, 0o755)
        self.events = ga.EventCollector(target)
        self.conn = self.events.conn
        try:
            self.kernel, self.initrd = ga.kernel_and_initrd()
            self.no_kernel = None
        except Skip as e:
            self.kernel = self.initrd = None
            self.no_kernel = str(e)

    def need_kernel(self):
        from harness import Skip
        if self.no_kernel:
            raise Skip("no bootable test guest: " + self.no_kernel)

    def reconnect(self):
        self.events.open()
        self.conn = self.events.conn

    def virsh(self, *args, ok=True, timeout=120):
        rc, out, err = self.t.virsh(*args, timeout=timeout)
        if ok and rc:
            raise AssertionError("virsh %s -> rc %d: %s" % (" ".join(args), rc, err.strip()))
        return rc, out, err

    def virsh_err(self, *args):
        """-> stderr of a virsh command that must fail."""
        rc, out, err = self.t.virsh(*args)
        if rc != 1:
            raise AssertionError("virsh %s should have failed: rc %d %r"
                                 % (" ".join(args), rc, out))
        return err.strip()

    def state(self, name):
        _rc, out, _err = self.virsh("domstate", name, "--reason")
        return out.strip()

    def names(self, name, *flags):
        _rc, out, _err = self.virsh("snapshot-list", name, "--name", *flags)
        return sorted(x for x in out.split() if x)

    def current(self, name):
        _rc, out, _err = self.virsh("snapshot-current", name, "--name")
        return out.strip()


def state_word(domstate):
    """'running (booted)' -> 'running'; 'shut off (...)' -> 'shutoff'."""
    return {"running": "running", "paused": "paused"}.get(domstate.split(" (")[0], "shutoff")


def expect_tree(c, name, parents, current):
    """names, parents (virsh --parent and python getParent), --tree text and
    the current snapshot (None: none) of domain name match."""
    from harness import expect_eq
    expect_eq(c.names(name), sorted(parents), "snapshot-list --name")
    _rc, out, _err = c.virsh("snapshot-list", name, "--parent")
    got = {row[0]: (row[3] or None) for row in parse_list(out)}
    expect_eq(got, parents, "snapshot-list --parent")
    dom = c.conn.lookupByName(name)
    expect_eq(parents_of(dom), parents, "python getParent() map")
    _rc, out, _err = c.virsh("snapshot-list", name, "--tree")
    expect_eq(out.rstrip("\n"), render_tree(parents), "snapshot-list --tree")
    if current:
        expect_eq(c.current(name), current, "snapshot-current --name")
    else:
        expect_eq(dom.hasCurrentSnapshot(), 0, "hasCurrentSnapshot")
