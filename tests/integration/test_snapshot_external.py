#!/usr/bin/python3
"""External (disk-only, qcow2 overlay) domain snapshots: create, revert
(libvirt >= 9.9 semantics, protocol.md 7.3) and delete anywhere in the tree
(protocol.md 7.4, including the three cases libvirt refuses), with data
integrity and file accounting after every step.

*** EXPECTED TO FAIL until virtqemud implements external snapshots.  While
*** the daemon answers `snapshot-create-as --disk-only` with an error
*** containing "not supported", main() prints
*** "SKIP: external snapshots not implemented" and exits 0 (CI stays green).

Data model: snapshot_util.Patterns (a new pattern in a new 4 KiB slot before
every snapshot).  After every step, for every snapshot S the daemon lists,
S's image (the disk source in S's embedded <domain>: the read-only point-in-
time image) read through its backing chain with `qemu-io -r -U` shows
exactly S's patterns; the guest's current disk shows the current patterns
(qemu-io when shut off, dd over the serial console when running); and the
image directory holds exactly the files of the backing chains of the
current disk and of every snapshot's image (`qemu-img info -U
--backing-chain`): nothing left behind, nothing missing.

Scenarios
* A  shut-off guest: chain s1->s2->s3 (overlay naming base.qcow2 -> base.s1,
     --diskspec, python DISK_ONLY), delete the current leaf (active commit),
     delete a non-leaf ancestor of the current one, revert to a non-leaf,
     branch, revert to a non-current leaf, delete a non-leaf outside the
     active chain (7.4 d), delete a branch point (7.4 e), delete the current
     snapshot after reverting to it while it has a child (7.4 c), --children /
     --children-only (libvirt's 67 refusal with nothing changed, or done
     right), delete the rest; the guest still starts.
* B  running busybox guest: the same kinds on a live guest (QEMU never
     restarted by create/delete), reverts with and without --running.
* C  SIGKILL of the daemon during deletes (shut-off guest, several moments;
     then one on the running guest): after the restart the tree, files and
     data are consistent, the guest starts / keeps running.

Reference libvirtd 9.0 (SV_TARGET=ref): creates work (names `xa.s1`,
`a-two.s3` for --diskspec a-two.qcow2), state 'shutoff' for a shut-off guest,
'disk-snapshot' for a running one; delete of the current leaf works (shut
off: QEMU started paused for the commit); delete of a non-leaf works on a
running guest and fails on a shut-off one with 8, 18 "invalid argument: could
not find base disk source in disk source chain"; --children/--children-only
with external descendants -> 67, 10 "unsupported configuration: deletion of
external children disk snapshots not supported"; every revert -> 67, 10
"unsupported configuration: revert to external snapshot not supported yet".
Against the reference the steps 9.0 cannot do check those refusals and the
rest of the scenario SKIPs.
"""
import atexit
import os
import shutil
import subprocess
import sys
import time
import xml.etree.ElementTree as ET

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402
from harness import Skip, expect, expect_eq  # noqa: E402
import guest_assets as ga  # noqa: E402
import snapshot_util as su  # noqa: E402

import libvirt  # noqa: E402

libvirt.registerErrorHandler(lambda _ctx, _err: None, None)

PREFIX = "svx%04x%02x-" % (os.getpid() & 0xffff, int(time.time()) & 0xff)
BOOT_TIMEOUT = float(os.environ.get("SV_BOOT_TIMEOUT", "60"))
IS_REF = harness.target_is_reference()
NOT_IMPLEMENTED = "not supported"
REF_REVERT = (67, 10, "unsupported configuration: revert to external snapshot not supported yet")
REF_CHILDREN = (67, 10, "unsupported configuration: deletion of external children disk "
                "snapshots not supported")
REF_OFFLINE_NONLEAF = (8, 18, "invalid argument: could not find base disk source in disk "
                       "source chain")
BULK_OFF, BULK_LEN = 40 << 20, 16 << 20     # big writes that make merges take a while


def _kill_ours():
    try:
        ga.kill_guests(PREFIX)
    except Exception:
        pass


atexit.register(_kill_ours)


class RefStop(Skip):
    pass


class XGuest:
    """A domain with one virtio qcow2 disk in its own image directory."""

    def __init__(self, c, suffix, boot, first_byte):
        self.c = c
        self.name = PREFIX + suffix
        self.dir = os.path.join(c.work, suffix)
        os.makedirs(self.dir)
        self.base = ga.make_qcow2(os.path.join(self.dir, "x%s.qcow2" % suffix), "64M")
        self.pats = su.Patterns(first_byte=first_byte)
        self.bulk = {}            # snapshot -> byte of the bulk area (scenario C)
        self.bulk_now = 0
        self.boot = boot
        self.shell = None
        self.broken = None

    def dom(self):
        return self.c.conn.lookupByName(self.name)

    def define(self):
        kw = dict(disk=self.base)
        if self.boot:
            self.c.need_kernel()
            kw.update(kernel=self.c.kernel, initrd=self.c.initrd)
        path = os.path.join(self.c.work, self.name + ".xml")
        with open(path, "w") as f:
            f.write(ga.domain_xml(self.name, **kw))
        self.c.virsh("define", path)

    def running(self):
        return su.state_word(self.c.state(self.name)) == "running"

    def start(self):
        self.c.virsh("start", self.name)
        if self.boot:
            self.open_shell(boot=True)

    def open_shell(self, boot=False):
        if self.shell is None:
            self.shell = su.GuestShell()
        self.shell.open(self.c.conn, self.dom(), boot=boot, timeout=BOOT_TIMEOUT)

    # ---- disks
    def disk(self):
        """vda's current source (live XML when running, else the inactive one)."""
        dom = self.dom()
        x = ET.fromstring(dom.XMLDesc(0 if dom.isActive() else libvirt.VIR_DOMAIN_XML_INACTIVE))
        return disk_source(x)

    def snap_xml(self, snap):
        return ET.fromstring(self.dom().snapshotLookupByName(snap).getXMLDesc(0))

    def snap_image(self, snap):
        """the image in snap's embedded <domain>: its point-in-time state."""
        return disk_source(self.snap_xml(snap).find("domain"))

    def snap_overlay(self, snap):
        d = self.snap_xml(snap).find("disks/disk[@name='vda']")
        src = d.find("source") if d is not None else None
        return src.get("file") if src is not None else None

    def needed(self):
        need = set(su.chain_files(self.disk()))
        for s in self.c.names(self.name):
            need |= set(su.chain_files(self.snap_image(s)))
        return need

    # ---- data
    def write(self):
        slot, byte = self.pats.write()
        if self.running():
            self.need_shell()
            self.shell.write(slot, byte)
        else:
            su.qemu_io_write(self.disk(), slot, byte)

    def need_shell(self):
        if not self.boot:
            raise AssertionError("%s runs without an OS: cannot do I/O inside it" % self.name)
        if self.shell is None or self.shell.console is None:
            self.open_shell()

    def check_current(self, what):
        exp = self.pats.expected()
        if self.running():
            self.need_shell()
            bad = self.shell.check(exp)
        else:
            bad = su.qemu_io_check(self.disk(), exp)
        expect(not bad, "%s current data %s: %s" % (self.name, what, su.describe_mismatch(bad)))

    def check_snaps(self, what):
        for s in self.c.names(self.name):
            if s not in self.pats.snaps:
                raise AssertionError("daemon lists snapshot %s the test does not know (%s)"
                                     % (s, what))
            img = self.snap_image(s)
            bad = su.qemu_io_check(img, self.pats.expected(s), force_share=True)
            expect(not bad, "snapshot %s (image %s) data %s: %s"
                   % (s, os.path.basename(img), what, su.describe_mismatch(bad)))
            if s in self.bulk:
                expect(bulk_ok(img, self.bulk[s]), "snapshot %s bulk data %s" % (s, what))

    def check_files(self, what):
        have = {os.path.join(self.dir, f) for f in su.image_files(self.dir)}
        need = self.needed()
        extra = sorted(os.path.basename(f) for f in have - need)
        missing = sorted(need - have)
        expect(not missing, "files still needed but gone/outside %s %s: %s"
               % (self.dir, what, missing))
        expect(not extra, "files left behind %s (no snapshot or the guest uses them): %s; "
               "needed: %s" % (what, extra, sorted(os.path.basename(f) for f in need)))

    def check_all(self, what):
        self.check_files(what)
        self.check_snaps(what)
        self.check_current(what)


def disk_source(domain_el):
    for d in domain_el.iter("disk"):
        t = d.find("target")
        if t is not None and t.get("dev") == "vda":
            return d.find("source").get("file")
    raise AssertionError("no vda in domain XML")


def bulk_ok(img, byte):
    p = su.run(["qemu-io", "-r", "-U", "-f", "qcow2", "-c",
                "read -P 0x%02x %d %d" % (byte, BULK_OFF, BULK_LEN), img])
    return p.returncode == 0 and "Pattern verification failed" not in p.stdout


def bulk_write(img, byte):
    p = su.run(["qemu-io", "-f", "qcow2", "-c",
                "write -P 0x%02x %d %d" % (byte, BULK_OFF, BULK_LEN), img])
    if p.returncode:
        raise AssertionError("bulk write to %s: %s" % (img, p.stderr))


class Ctx(su.SnapCtx):
    last_revert = 0.0


def create(c, g, snap, via="virsh", diskspec=None, write_before=True):
    """write a new pattern, then take a disk-only external snapshot."""
    if write_before:
        g.write()
    pids = ga.qemu_pids(g.name)
    before = g.disk()
    if via == "virsh":
        args = ["snapshot-create-as", g.name, snap, "--disk-only"]
        if diskspec:
            args += ["--diskspec", "vda,file=%s" % diskspec]
        _rc, out, _err = c.virsh(*args)
        expect("Domain snapshot %s created" % snap in out, "snapshot-create-as output %r" % out)
    else:
        xml = ("<domainsnapshot><name>%s</name><disks><disk name='vda' snapshot='external'/>"
               "</disks></domainsnapshot>" % snap)
        s = g.dom().snapshotCreateXML(xml, libvirt.VIR_DOMAIN_SNAPSHOT_CREATE_DISK_ONLY)
        expect_eq(s.getName(), snap, "created snapshot name")
    g.pats.take(snap)
    if g.bulk_now:
        g.bulk[snap] = g.bulk_now
    expect_eq(ga.qemu_pids(g.name), pids, "QEMU processes across snapshot-create")
    overlay = g.disk()
    want = diskspec or (os.path.splitext(before)[0] + "." + snap)
    expect_eq(overlay, want, "vda source after snapshot %s (overlay name)" % snap)
    expect_eq(su.chain_files(overlay)[:2], [overlay, before], "new overlay's backing")
    expect_eq(g.snap_image(snap), before, "image in %s's <domain>" % snap)
    expect_eq(g.snap_overlay(snap), overlay, "%s <disks> source" % snap)


def delete(c, g, snap, *flags):
    pids = ga.qemu_pids(g.name)
    _rc, out, _err = c.virsh("snapshot-delete", g.name, snap, *flags)
    word = "children deleted" if "--children-only" in flags else "deleted"
    expect("Domain snapshot %s %s" % (snap, word) in out, "snapshot-delete output %r" % out)
    if "--children-only" not in flags:
        g.pats.forget(snap)
    expect_eq(ga.qemu_pids(g.name), pids, "QEMU processes across snapshot-delete")


def revert(c, g, snap, flags=()):
    """>= 9.9 revert: the guest is stopped, a new overlay on snap's image
    becomes its disk, the old current layer is discarded; --running starts it."""
    if IS_REF:
        err = su.py_err(g.dom().revertToSnapshot, g.dom().snapshotLookupByName(snap), 0)
        expect_eq(err, REF_REVERT, "9.0's answer to a revert to an external snapshot")
        raise RefStop("libvirt 9.0 cannot revert to external snapshots (checked its refusal)")
    # overlay names carry the Unix time in seconds (protocol.md 7.3): keep two
    # reverts more than a second apart so names cannot collide
    wait = c.last_revert + 1.05 - time.time()
    if wait > 0:
        time.sleep(wait)
    was_running = g.running()
    image = g.snap_image(snap)
    old_files = set(su.image_files(g.dir))
    if g.shell:
        g.shell.close()
    m = c.events.mark()
    _rc, out, _err = c.virsh("snapshot-revert", g.name, snap, *flags)
    c.last_revert = time.time()
    expect("Domain snapshot %s reverted" % snap in out, "snapshot-revert output %r" % out)
    want_run = "--running" in flags
    need = ([(5, 6)] if was_running else []) + ([(2, 3)] if want_run else [])
    got = c.events.wait(m, g.name, lambda ev: all(e in ev for e in need), 15)
    for e in need:
        expect(e in got, "lifecycle events of the revert %s lack %s" % (got, e))
    st = c.state(g.name)
    expect_eq(su.state_word(st), "running" if want_run else "shutoff",
              "domstate after revert to %s (%s)" % (snap, st))
    disk = g.disk()
    expect(os.path.basename(disk) not in old_files,
           "disk after revert %s is not a new overlay" % disk)
    expect_eq(su.chain_files(disk)[1:2], [image], "backing of the revert overlay")
    expect_eq(c.current(g.name), snap, "current snapshot after revert")
    g.pats.reverted(snap)
    g.bulk_now = g.bulk.get(snap, 0)
    if want_run and g.boot:
        g.open_shell(boot=True)


def expect_tree(c, g, parents, current):
    su.expect_tree(c, g.name, parents, current)


# ================================================================ A: shut off
def t_a_chain(c, g):
    g.define()
    create(c, g, "s1")
    expect_eq(os.path.basename(g.disk()), "xa.s1", "default overlay name of s1")
    create(c, g, "s2", diskspec=os.path.join(g.dir, "a-two.qcow2"))
    create(c, g, "s3", via="python")
    expect_eq(os.path.basename(g.disk()), "a-two.s3", "default overlay name of s3")
    g.write()
    expect_tree(c, g, {"s1": None, "s2": "s1", "s3": "s2"}, "s3")
    expect_eq([os.path.basename(f) for f in su.chain_files(g.disk())],
              ["a-two.s3", "a-two.qcow2", "xa.s1", "xa.qcow2"], "backing chain of vda")
    x = g.snap_xml("s2")
    d = x.find("disks/disk[@name='vda']")
    expect_eq((x.findtext("state"), x.find("memory").get("snapshot"), d.get("snapshot"),
               d.get("type"), d.find("driver").get("type")),
              ("shutoff", "no", "external", "file", "qcow2"), "s2 state/memory/disk")
    info = su.parse_info(c.virsh("snapshot-info", g.name, "s2")[1])
    expect_eq((info.get("Location"), info.get("State"), info.get("Parent")),
              ("external", "shutoff", "s1"), "snapshot-info s2")
    expect_eq(c.names(g.name, "--external"), ["s1", "s2", "s3"], "--external")
    expect_eq(c.names(g.name, "--internal"), [], "--internal")
    expect(not ga.qemu_pids(g.name), "a QEMU ran for offline disk-only snapshots")
    g.check_all("after the chain")


def t_a_delete_current_leaf(c, g):
    delete(c, g, "s3")
    expect_tree(c, g, {"s1": None, "s2": "s1"}, "s2")
    expect_eq(os.path.basename(g.disk()), "a-two.qcow2", "vda after deleting s3")
    g.check_all("after deleting the current leaf s3")
    expect(not ga.qemu_pids(g.name), "QEMU left running after an offline delete")
    create(c, g, "s3")
    g.write()
    g.check_all("after re-creating s3")


def t_a_delete_ancestor(c, g):
    """s2: non-leaf, ancestor of the current s3 (9.0 fails offline)."""
    before = su.tree_state(g.dom())
    if IS_REF:
        err = su.py_err(g.dom().snapshotLookupByName("s2").delete, 0)
        expect_eq(err, REF_OFFLINE_NONLEAF, "9.0 deleting an offline non-leaf")
        expect_eq(su.tree_state(g.dom()), before, "tree after the refused delete")
        g.check_all("after the refused delete")
        for fl in (libvirt.VIR_DOMAIN_SNAPSHOT_DELETE_CHILDREN,
                   libvirt.VIR_DOMAIN_SNAPSHOT_DELETE_CHILDREN_ONLY):
            expect_eq(su.py_err(g.dom().snapshotLookupByName("s1").delete, fl), REF_CHILDREN,
                      "9.0 --children/--children-only with external descendants")
        revert(c, g, "s1")            # raises RefStop after checking 9.0's refusal
    delete(c, g, "s2")
    expect_tree(c, g, {"s1": None, "s3": "s1"}, "s3")
    g.check_all("after deleting s2 (ancestor of the current s3)")


def t_a_revert_nonleaf(c, g):
    revert(c, g, "s1")
    g.check_all("after revert to s1 (has a child)")
    expect_tree(c, g, {"s1": None, "s3": "s1"}, "s1")


def t_a_branch(c, g):
    create(c, g, "s4")
    expect_tree(c, g, {"s1": None, "s3": "s1", "s4": "s1"}, "s4")
    g.check_all("after the branch s4")


def t_a_revert_leaf(c, g):
    revert(c, g, "s3")
    g.check_all("after revert to s3 (not current leaf)")
    create(c, g, "s5")
    g.write()
    expect_tree(c, g, {"s1": None, "s3": "s1", "s4": "s1", "s5": "s3"}, "s5")
    g.check_all("after s5")


def t_a_delete_inactive_nonleaf(c, g):
    """7.4 d: s3 has a child (s5) and is not an ancestor of the current s4."""
    revert(c, g, "s4")
    delete(c, g, "s3")
    expect_tree(c, g, {"s1": None, "s4": "s1", "s5": "s1"}, "s4")
    g.check_all("after deleting s3 (non-leaf outside the active chain)")
    revert(c, g, "s5")
    g.check_all("after revert to s5")
    revert(c, g, "s4")
    g.check_all("after revert to s4")


def t_a_delete_branch_point(c, g):
    """7.4 e: s1 has two children."""
    delete(c, g, "s1")
    expect_tree(c, g, {"s4": None, "s5": None}, "s4")
    g.check_all("after deleting the branch point s1")


def t_a_delete_current_nonleaf(c, g):
    """7.4 c: revert to s5, give it a child s6, revert to s5 again, delete it."""
    revert(c, g, "s5")
    create(c, g, "s6")
    revert(c, g, "s5")
    expect_tree(c, g, {"s4": None, "s5": None, "s6": "s5"}, "s5")
    delete(c, g, "s5")
    expect_tree(c, g, {"s4": None, "s6": None}, None)
    g.check_all("after deleting the current non-leaf s5")
    revert(c, g, "s6")
    g.check_all("after revert to s6")


def t_a_children_flags(c, g):
    """--children-only / --children: libvirt's refusal with nothing changed,
    or the deletes done right."""
    create(c, g, "s7")
    create(c, g, "s8")
    parents = {"s4": None, "s6": None, "s7": "s6", "s8": "s7"}
    expect_tree(c, g, parents, "s8")
    before = su.tree_state(g.dom())
    s7 = g.dom().snapshotLookupByName("s7")
    err = su.py_err(s7.delete, libvirt.VIR_DOMAIN_SNAPSHOT_DELETE_CHILDREN_ONLY)
    if err:
        expect_eq(err, REF_CHILDREN, "refused --children-only")
        expect_eq(su.tree_state(g.dom()), before, "tree after the refused --children-only")
    else:
        g.pats.forget("s8")
        parents.pop("s8")
        expect_tree(c, g, parents, "s7")
    g.check_all("after --children-only of s7")
    s6 = g.dom().snapshotLookupByName("s6")
    before = su.tree_state(g.dom())
    err = su.py_err(s6.delete, libvirt.VIR_DOMAIN_SNAPSHOT_DELETE_CHILDREN)
    if err:
        expect_eq(err, REF_CHILDREN, "refused --children")
        expect_eq(su.tree_state(g.dom()), before, "tree after the refused --children")
    else:
        for s in ("s6", "s7", "s8"):
            g.pats.forget(s)
        expect_tree(c, g, {"s4": None}, None)
    g.check_all("after --children of s6")


def t_a_delete_rest(c, g):
    for s in ("s8", "s7", "s4", "s6"):
        if s in c.names(g.name):
            delete(c, g, s)
            g.check_all("after deleting %s" % s)
    expect_tree(c, g, {}, None)
    expect_eq(su.image_files(g.dir), sorted(os.path.basename(f) for f in
                                            su.chain_files(g.disk())),
              "files once no snapshot is left")
    c.virsh("start", g.name)
    c.virsh("destroy", g.name)
    g.check_all("after start/destroy")


# ================================================================ B: running
def t_b_chain(c, g):
    g.define()
    g.start()
    pid = ga.qemu_pids(g.name)
    create(c, g, "s1")
    create(c, g, "s2", diskspec=os.path.join(g.dir, "b-two.qcow2"))
    create(c, g, "s3", via="python")
    g.write()
    expect_eq(ga.qemu_pids(g.name), pid, "QEMU across the snapshots")
    expect_tree(c, g, {"s1": None, "s2": "s1", "s3": "s2"}, "s3")
    expect_eq([os.path.basename(f) for f in su.chain_files(g.disk())],
              ["b-two.s3", "b-two.qcow2", "xb.s1", "xb.qcow2"], "backing chain of vda")
    for s in ("s1", "s2", "s3"):
        x = g.snap_xml(s)
        expect_eq((x.findtext("state"), x.find("memory").get("snapshot")),
                  ("disk-snapshot", "no"), "%s state/memory" % s)
    expect_eq(c.names(g.name, "--disk-only"), ["s1", "s2", "s3"], "--disk-only")
    expect_eq(su.state_word(c.state(g.name)), "running", "guest state after the snapshots")
    g.check_all("after the chain")


def t_b_delete_ancestor(c, g):
    delete(c, g, "s2")
    expect_tree(c, g, {"s1": None, "s3": "s1"}, "s3")
    g.check_all("after deleting s2 (non-active commit)")


def t_b_delete_current_leaf(c, g):
    delete(c, g, "s3")
    expect_tree(c, g, {"s1": None}, "s1")
    expect_eq(os.path.basename(g.disk()), "xb.s1", "vda after the active commit of s3")
    g.check_all("after deleting the current leaf s3 (active commit + pivot)")
    create(c, g, "s2")
    create(c, g, "s3")
    g.write()
    expect_tree(c, g, {"s1": None, "s2": "s1", "s3": "s2"}, "s3")
    g.check_all("after re-creating s2, s3")


def t_b_revert_nonleaf(c, g):
    revert(c, g, "s2")                         # guest stops; s2 keeps its child s3
    g.check_all("after revert to s2 (guest shut off)")
    g.write()                                  # offline write into the new overlay
    g.start()
    create(c, g, "s4")
    g.write()
    expect_tree(c, g, {"s1": None, "s2": "s1", "s3": "s2", "s4": "s2"}, "s4")
    g.check_all("after the branch s4 on the running guest")


def t_b_delete_branch_point(c, g):
    """7.4 e on a live guest: s2 has children s3 (inactive branch) and s4."""
    delete(c, g, "s2")
    expect_tree(c, g, {"s1": None, "s3": "s1", "s4": "s1"}, "s4")
    g.check_all("after deleting the branch point s2")


def t_b_delete_inactive_nonleaf(c, g):
    """7.4 d live: revert --running to s3, child s5; revert to s4, boot; delete s3."""
    revert(c, g, "s3", flags=("--running",))
    g.check_all("after revert --running to s3")
    create(c, g, "s5")
    revert(c, g, "s4")
    g.start()
    g.check_all("after revert to s4 + start")
    delete(c, g, "s3")
    expect_tree(c, g, {"s1": None, "s4": "s1", "s5": "s1"}, "s4")
    g.check_all("after deleting s3 (non-leaf outside the active chain)")


def t_b_delete_current_nonleaf(c, g):
    """7.4 c live: s5 current with child s6."""
    revert(c, g, "s5", flags=("--running",))
    create(c, g, "s6")
    revert(c, g, "s5", flags=("--running",))
    delete(c, g, "s5")
    expect_tree(c, g, {"s1": None, "s4": "s1", "s6": "s1"}, "s1")
    g.check_all("after deleting the current non-leaf s5")


def t_b_delete_rest(c, g):
    for s in ("s4", "s6", "s1"):
        delete(c, g, s)
        g.check_all("after deleting %s" % s)
    expect_tree(c, g, {}, None)
    expect(g.running(), "guest no longer running")


def t_b_ref_tail(c, g):
    """reference only (after its revert refusal): the live deletes 9.0 does,
    with the same file/data accounting: root non-leaf, current leaf, last."""
    if not IS_REF:
        raise Skip("reference-only step")
    if not (g.broken or "").startswith("reference:"):
        raise Skip("the running guest scenario did not reach the revert: %s" % g.broken)
    expect_tree(c, g, {"s1": None, "s2": "s1", "s3": "s2"}, "s3")
    delete(c, g, "s1")
    expect_tree(c, g, {"s2": None, "s3": "s2"}, "s3")
    g.check_all("after deleting the root s1 live")
    delete(c, g, "s3")
    expect_tree(c, g, {"s2": None}, "s2")
    g.check_all("after deleting the current leaf s3 live")
    delete(c, g, "s2")
    expect_tree(c, g, {}, None)
    g.check_all("after deleting the last snapshot live")
    expect_eq(su.image_files(g.dir), ["xb.qcow2"], "files once no snapshot is left")


# ================================================================ C: SIGKILL
def wait_consistent(c, g, what, timeout=10.0):
    """the daemon may finish/roll back after a restart: retry the file and
    tree checks for a while, then the data checks."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            for s in c.names(g.name):
                su.chain_files(g.snap_image(s))
            g.check_files(what)
            break
        except AssertionError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.5)
    g.check_snaps(what)
    g.check_current(what)


def kill_during(c, g, snap, delay):
    """virsh snapshot-delete in the background, SIGKILL the daemon delay
    seconds after starting virsh, restart it; -> whether the snapshot is gone."""
    if g.shell:
        g.shell.close()
    env = dict(os.environ, LC_ALL="C")
    p = subprocess.Popen(["virsh", "-c", c.t.uri, "snapshot-delete", g.name, snap],
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env, text=True)
    time.sleep(delay)
    c.events.close()
    c.t.kill9()
    p.communicate(timeout=30)
    c.t.start()
    c.reconnect()
    gone = snap not in c.names(g.name)
    if gone:
        g.pats.forget(snap)
    return gone


def timed_delete(c, g, snap):
    """a normal delete through a virsh process, -> seconds it took (the kill
    moments are fractions of this)."""
    t0 = time.monotonic()
    delete(c, g, snap)
    return time.monotonic() - t0


def pick_victim(c, g, i):
    """alternately a non-leaf snapshot (merge into its child) and the current one."""
    names = c.names(g.name)
    dom = g.dom()
    cur = dom.snapshotCurrent().getName() if dom.hasCurrentSnapshot() else None
    nonleaf = [s for s in names if dom.snapshotLookupByName(s).numChildren(0)]
    if nonleaf and (i % 2 == 0 or not cur):
        return nonleaf[len(nonleaf) // 2]
    return cur or names[-1]


KILL_FRACTIONS = (0.15, 0.35, 0.6, 0.85)


def t_c_kill_offline(c, g):
    if IS_REF:
        raise Skip("libvirt 9.0 has no crash recovery for snapshot deletes (and libvirt-ref "
                   "restarts lose state)")
    if not c.t.can_restart:
        raise Skip("target cannot be restarted")
    g.define()
    for i in range(1, 7):
        g.bulk_now = 0xa0 + i
        bulk_write(g.disk(), g.bulk_now)
        create(c, g, "s%d" % i)
    g.write()
    g.check_all("before the kills")
    took = timed_delete(c, g, "s2")
    g.check_all("after a normal delete of s2")
    report = ["s2 normal delete %.3fs" % took]
    for i, frac in enumerate(KILL_FRACTIONS):
        snap = pick_victim(c, g, i)
        delay = max(0.005, frac * took)
        gone = kill_during(c, g, snap, delay)
        report.append("%s@%.3fs:%s" % (snap, delay, "gone" if gone else "kept"))
        wait_consistent(c, g, "after SIGKILL during delete of %s (%s)" % (snap, report[-1]))
        expect(not ga.qemu_pids(g.name), "QEMU of the shut-off guest left running after the "
               "restart (%s)" % report[-1])
        c.virsh("start", g.name)
        c.virsh("destroy", g.name)
    print("  offline kills: %s" % ", ".join(report), flush=True)
    for s in list(c.names(g.name)):
        delete(c, g, s)
        g.check_all("cleanup delete of %s" % s)
    expect_tree(c, g, {}, None)


def guest_bulk_write(g, byte):
    """BULK_LEN bytes of byte at BULK_OFF from inside the guest."""
    g.need_shell()
    g.shell.run("dd if=/dev/zero bs=1M count=%d 2>/dev/null | tr '\\000' '\\%03o' | "
                "dd of=/dev/vda bs=1M seek=%d conv=notrunc,fsync oflag=direct 2>/dev/null"
                % (BULK_LEN >> 20, byte, BULK_OFF >> 20), timeout=120)
    g.bulk_now = byte


def t_c_kill_running(c, g):
    if IS_REF:
        raise Skip("libvirt 9.0 has no crash recovery for snapshot deletes")
    if not c.t.can_restart:
        raise Skip("target cannot be restarted")
    if g.broken:
        raise Skip("the running guest scenario failed: " + g.broken)
    if g.shell:
        g.shell.close()               # opened on a connection the restarts closed
    for i in range(1, 6):
        guest_bulk_write(g, 0xc0 + i)
        create(c, g, "k%d" % i)
    g.write()
    g.check_all("before the kills")
    pids = ga.qemu_pids(g.name)
    took = timed_delete(c, g, "k2")
    g.check_all("after a normal live delete of k2")
    report = ["k2 normal delete %.3fs" % took]
    for i, frac in enumerate(KILL_FRACTIONS[:3]):
        snap = pick_victim(c, g, i)
        delay = max(0.005, frac * took)
        gone = kill_during(c, g, snap, delay)
        report.append("%s@%.3fs:%s" % (snap, delay, "gone" if gone else "kept"))
        expect_eq(ga.qemu_pids(g.name), pids, "QEMU of the running guest across the daemon "
                  "kill (%s)" % report[-1])
        expect(g.running(), "guest not running after the restart (%s)" % report[-1])
        wait_consistent(c, g, "after SIGKILL during live delete of %s (%s)" % (snap, report[-1]))
    print("  live kills: %s" % ", ".join(report), flush=True)
    for s in list(c.names(g.name)):
        delete(c, g, s)
        g.check_all("after deleting %s post-restart" % s)
    expect_tree(c, g, {}, None)


# ================================================================ main
def probe(c):
    """True when the daemon refuses disk-only snapshots as not supported."""
    name = PREFIX + "probe"
    img = ga.make_qcow2(os.path.join(c.work, "probe.qcow2"), "16M")
    path = os.path.join(c.work, "probe.xml")
    with open(path, "w") as f:
        f.write(ga.domain_xml(name, disk=img))
    try:
        c.virsh("define", path)
        rc, _out, err = c.t.virsh("snapshot-create-as", name, "p", "--disk-only")
        if rc and NOT_IMPLEMENTED in err:
            return err.strip()
        if rc:
            raise AssertionError("disk-only snapshot of a shut-off qcow2 guest failed: %s"
                                 % err.strip())
        return None
    finally:
        c.t.virsh("snapshot-delete", name, "p", "--metadata")
        c.t.virsh("undefine", name, "--snapshots-metadata")


def scenario(r, c, g, steps):
    for title, fn in steps:
        if g.broken:
            r.check(title, lambda: (_ for _ in ()).throw(Skip(g.broken)))
            continue
        t0 = time.monotonic()
        try:
            fn(c, g)
        except RefStop as e:
            g.broken = "reference: " + str(e)
            r.passed += 1
            print("PASS %s (%.2fs) [reference refusal checked]" % (title, time.monotonic() - t0),
                  flush=True)
            continue
        except Skip as e:
            r.skipped += 1
            print("SKIP %s: %s" % (title, e), flush=True)
            g.broken = "skipped: " + str(e)
            continue
        except Exception as e:
            r.failed += 1
            print("FAIL %s (%.2fs): %s: %s" % (title, time.monotonic() - t0, type(e).__name__, e),
                  flush=True)
            if os.environ.get("SV_TRACE"):
                import traceback
                traceback.print_exc()
            g.broken = "earlier step failed: " + title
            continue
        r.passed += 1
        print("PASS %s (%.2fs)" % (title, time.monotonic() - t0), flush=True)


def main():
    target = harness.make_target()
    r = harness.Runner("test_snapshot_external")
    r.start(target)
    c = None

    def mk():
        nonlocal c
        c = Ctx(target, prefix="svxsnap")
    if not r.check("event client + work dir", mk):
        r.finish()
    guests = []
    try:
        unsupported = probe(c)
        if unsupported:
            print("SKIP: external snapshots not implemented (%s)" % unsupported, flush=True)
            c.events.close()
            shutil.rmtree(c.work, ignore_errors=True)
            harness._cleanup_all()
            sys.exit(0)
        a = XGuest(c, "a", boot=False, first_byte=0x11)
        guests.append(a)
        scenario(r, c, a, [
            ("A: chain s1->s2->s3 on a shut-off guest (naming, --diskspec, XML)", t_a_chain),
            ("A: delete the current leaf s3 (commit), re-create", t_a_delete_current_leaf),
            ("A: delete s2, a non-leaf ancestor of the current snapshot", t_a_delete_ancestor),
            ("A: revert to the non-leaf s1", t_a_revert_nonleaf),
            ("A: branch s4 under s1", t_a_branch),
            ("A: revert to the non-current leaf s3, child s5", t_a_revert_leaf),
            ("A: delete a non-leaf outside the active chain (7.4 d)", t_a_delete_inactive_nonleaf),
            ("A: delete a branch point with two children (7.4 e)", t_a_delete_branch_point),
            ("A: delete the current non-leaf after revert (7.4 c)", t_a_delete_current_nonleaf),
            ("A: --children-only / --children", t_a_children_flags),
            ("A: delete the rest; guest starts", t_a_delete_rest),
        ])
        if c.no_kernel:
            r.check("B: running guest", lambda: (_ for _ in ()).throw(Skip(c.no_kernel)))
            b = None
        else:
            b = XGuest(c, "b", boot=True, first_byte=0x51)
            guests.append(b)
            scenario(r, c, b, [
                ("B: chain on a running guest (same QEMU, disk-snapshot state)", t_b_chain),
                ("B: delete s2, ancestor of the current one (live commit)", t_b_delete_ancestor),
                ("B: delete the current leaf (active commit + pivot), re-create",
                 t_b_delete_current_leaf),
                ("B: revert to the non-leaf s2, restart, branch s4", t_b_revert_nonleaf),
                ("B: delete the branch point s2 live (7.4 e)", t_b_delete_branch_point),
                ("B: delete a non-leaf outside the active chain live (7.4 d)",
                 t_b_delete_inactive_nonleaf),
                ("B: delete the current non-leaf live (7.4 c)", t_b_delete_current_nonleaf),
                ("B: delete the rest, guest still running", t_b_delete_rest),
            ])
            if IS_REF:
                r.check("B (reference): the live deletes 9.0 does", t_b_ref_tail, c, b)
        k = XGuest(c, "c", boot=False, first_byte=0x91)
        guests.append(k)
        scenario(r, c, k, [("C: SIGKILL during offline deletes, restart: consistent",
                            t_c_kill_offline)])
        if b is not None:
            r.check("C: SIGKILL during a live delete, restart: consistent", t_c_kill_running, c, b)
    finally:
        for g in guests:
            if g.shell:
                g.shell.close()
            c.t.virsh("destroy", g.name)
            c.t.virsh("undefine", g.name, "--snapshots-metadata")
        c.events.close()
        _kill_ours()
        shutil.rmtree(c.work, ignore_errors=True)
    r.finish()


if __name__ == "__main__":
    main()
