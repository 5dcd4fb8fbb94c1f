#!/usr/bin/python3
"""Internal (qcow2) domain snapshots through stock virsh 9.0 and python3-libvirt.

Three guests, each with its own data-integrity model (snapshot_util.Patterns):
before every snapshot a new pattern goes to a new 4 KiB slot of the disk;
after every revert and every delete each remaining snapshot, reverted to,
shows exactly its patterns (older ones present, later ones zero).

* RUN  busybox guest, running, patterns written/read from inside the guest
       over the serial console (dd on /dev/vda with O_DIRECT): chain s1->s2->s3
       with memory state, revert (QEMU not restarted: same pid, not checked on
       the reference, which always restarts QEMU), delete of the middle one
       (re-parenting), a branch (s4 = second child of s1), list filters and
       --tree rendering, errors, --metadata delete + --redefine [--current],
       daemon SIGTERM/SIGKILL restarts, --children-only and --children.
* OFF  shut-off guest (no OS), patterns with qemu-io on the image: the same
       chain/revert/delete/branch/metadata/children checks offline, plus a
       revert of a started guest to a shut-off snapshot.
* PAU  busybox guest snapshotted while paused: revert to a paused snapshot
       leaves it paused, --running / --paused overrides.

Facts taken from the reference libvirtd 9.0 (SV_TARGET=ref):
  snapshot-create-as -> "Domain snapshot s1 created"; running guest: state
      running, <memory snapshot='internal'/>, disk snapshot='internal';
      paused guest: state paused; shut-off: state shutoff, memory 'no'.
      Creating on a running guest may emit SUSPENDED/PAUSED + RESUMED/UNPAUSED.
  snapshot-revert -> "Domain snapshot s1 reverted"; lifecycle events
      (event, detail), all with the FROM_SNAPSHOT details:
        running guest -> running snap: STOPPED(5,6) STARTED(2,3) RESUMED(4,2)
                         DEFINED(0,3); domstate "running (from snapshot)"
        running guest -> paused snap : (5,6) (2,3) SUSPENDED(3,5) (0,3);
                         "paused (from snapshot)"
        paused guest  -> running snap: (5,6) (2,3) (4,2) (0,3)
        shut-off guest-> running snap: (2,3) (4,2) (0,3)
        running guest -> shutoff snap: (5,6) (0,3); "shut off (from snapshot)"
        shut-off guest-> shutoff snap: (0,3) only, no QEMU started
      9.0 restarts QEMU for every revert of a live guest; splitvirt loads the
      state in place, so for our daemon the STOPPED/STARTED pair may be absent
      (if present, both are) and a SUSPENDED(3,5) may precede RESUMED(4,2).
  snapshot-delete -> "Domain snapshot s2 deleted" / "Domain snapshot s1
      children deleted"; deleting the current snapshot (also --metadata)
      makes its parent current; --children-only below the current one makes
      the snapshot itself current. --metadata leaves the qcow2 tag.
  snapshot-current NAME -> "Snapshot s1 set as current"
  errors (code, domain, message):
      lookup unknown: 72, 10, "Domain snapshot not found: no domain snapshot
          with matching name 'nosuch'"
      duplicate name: 9, 20, "operation failed: domain moment s1 already exists"
      raw disk: 67, 10, "unsupported configuration: internal snapshot for disk
          vda unsupported for storage type raw"
      delete/revert with flag 0x400: 8, 10, "unsupported flags (0x400) in
          function qemuSnapshotDelete" / "... qemuSnapshotRevert"
      parent of a root: 72, 10, "Domain snapshot not found: snapshot 's1' does
          not have a parent" (virsh: "error: snapshot 's1' has no parent")
      no current: 72, 10, "Domain snapshot not found: the domain does not
          have a current snapshot" (virsh: "error: domain 'X' has no current
          snapshot")
The reference loses its guests on a daemon restart (libvirt-ref mounts a new
/run/libvirt), so after the restart checks the RUN guest is shut off there.

A step that fails makes the rest of its guest's scenario SKIP (they build on
it), except the errors step (changes nothing).  Wrong revert events do not
stop a scenario: they are collected and reported by the last check.
"""
import atexit
import os
import shutil
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

PREFIX = "svs%04x%02x-" % (os.getpid() & 0xffff, int(time.time()) & 0xff)
BOOT_TIMEOUT = float(os.environ.get("SV_BOOT_TIMEOUT", "60"))
IS_REF = harness.target_is_reference()

STOPPED_FS, STARTED_FS, SUSPENDED_FS, RESUMED_FS, DEFINED_FS = \
    (5, 6), (2, 3), (3, 5), (4, 2), (0, 3)


def _kill_ours():
    try:
        ga.kill_guests(PREFIX)
    except Exception:
        pass


atexit.register(_kill_ours)


class Guest:
    """One test domain: name, image, pattern model, optional console shell."""

    def __init__(self, c, suffix, boot):
        self.c = c
        self.name = PREFIX + suffix
        self.img = ga.make_qcow2(os.path.join(c.work, suffix + ".qcow2"), "64M")
        self.pats = su.Patterns(first_byte={"run": 0x11, "off": 0x41, "pau": 0x71}[suffix])
        self.boot = boot
        self.shell = None
        self.broken = None

    def dom(self):
        return self.c.conn.lookupByName(self.name)

    def define(self):
        kw = dict(disk=self.img)
        if self.boot:
            self.c.need_kernel()
            kw.update(kernel=self.c.kernel, initrd=self.c.initrd)
        path = os.path.join(self.c.work, self.name + ".xml")
        with open(path, "w") as f:
            f.write(ga.domain_xml(self.name, **kw))
        self.c.virsh("define", path)

    def start(self):
        self.c.virsh("start", self.name)
        if self.boot:
            self.open_shell(boot=True)

    def open_shell(self, boot=False):
        if self.shell is None:
            self.shell = su.GuestShell()
        self.shell.open(self.c.conn, self.dom(), boot=boot, timeout=BOOT_TIMEOUT)

    # ---- data
    def write(self):
        slot, byte = self.pats.write()
        if self.boot:
            self.shell.write(slot, byte)
        else:
            su.qemu_io_write(self.img, slot, byte)

    def check(self, snap=None, what=""):
        """the disk (guest view if booted, else the image) == model of snap
        (None: the current state)."""
        exp = self.pats.expected(snap)
        bad = self.shell.check(exp) if self.boot else su.qemu_io_check(self.img, exp)
        expect(not bad, "%s data%s: %s" % (self.name, " " + what if what else "",
                                          su.describe_mismatch(bad)))

    def tags(self):
        return sorted(su.qemu_img_snapshots(self.img))


class Ctx(su.SnapCtx):
    def __init__(self, target):
        super().__init__(target)
        self.event_problems = []


py_err = su.py_err
guest_state_word = su.state_word


def check_events(got, required, optional=()):
    """got: lifecycle (event, detail) list.  Every required item exactly once,
    optional ones at most once, nothing else; a STOPPED/STARTED(FROM_SNAPSHOT)
    pair is all-or-nothing and in that order."""
    rest = list(got)
    for item in required:
        if item not in rest:
            raise AssertionError("lifecycle events %s lack %s (required %s)" % (got, item, required))
        rest.remove(item)
    for item in optional:
        if item in rest:
            rest.remove(item)
    if rest:
        raise AssertionError("unexpected lifecycle events %s (all: %s; required %s, optional %s)"
                             % (rest, got, required, list(optional)))
    pair_optional = STOPPED_FS in optional and STARTED_FS in optional
    if pair_optional and (STOPPED_FS in got) != (STARTED_FS in got):
        raise AssertionError("lifecycle events %s: STOPPED/STARTED(from snapshot) must come as "
                             "a pair" % (got,))
    if STOPPED_FS in got and STARTED_FS in got and got.index(STOPPED_FS) > got.index(STARTED_FS):
        raise AssertionError("lifecycle events %s: STARTED before STOPPED" % (got,))


def revert_events(before, snap_state, flags=()):
    """(required, optional) lifecycle events of a revert: before = 'running' |
    'paused' | 'shutoff' (guest), snap_state = the snapshot's <state>."""
    target = snap_state
    if "--running" in flags:
        target = "running"
    elif "--paused" in flags and snap_state in ("running", "paused"):
        target = "paused"
    live = before in ("running", "paused")
    if target == "shutoff":
        return ([STOPPED_FS, DEFINED_FS] if live else [DEFINED_FS]), []
    last = RESUMED_FS if target == "running" else SUSPENDED_FS
    if not live:
        return [STARTED_FS, last, DEFINED_FS], []
    if IS_REF:
        return [STOPPED_FS, STARTED_FS, last, DEFINED_FS], []
    return [last, DEFINED_FS], [STOPPED_FS, STARTED_FS] + ([SUSPENDED_FS] if last == RESUMED_FS
                                                           else [])


def revert(c, g, snap, via="virsh", flags=(), check_data=True):
    """Revert g to snap and check: output, events, domstate, QEMU pid (kept
    for a live guest reverted to a live snapshot, except on the reference),
    current snapshot, and the data (g's disk == snap's patterns)."""
    before = guest_state_word(c.state(g.name))
    dom = g.dom()
    snap_state = ET.fromstring(dom.snapshotLookupByName(snap).getXMLDesc(0)).findtext("state")
    pids0 = ga.qemu_pids(g.name)
    m = c.events.mark()
    if via == "virsh":
        _rc, out, _err = c.virsh("snapshot-revert", g.name, snap, *flags)
        expect("Domain snapshot %s reverted" % snap in out, "snapshot-revert output %r" % out)
    else:
        pyflags = 0
        if "--running" in flags:
            pyflags |= libvirt.VIR_DOMAIN_SNAPSHOT_REVERT_RUNNING
        if "--paused" in flags:
            pyflags |= libvirt.VIR_DOMAIN_SNAPSHOT_REVERT_PAUSED
        expect_eq(dom.revertToSnapshot(dom.snapshotLookupByName(snap), pyflags), 0,
                  "revertToSnapshot return")
    required, optional = revert_events(before, snap_state, flags)
    # a wrong event sequence is collected (reported by the last check) so the
    # data checks go on; once one was wrong, stop waiting long for the rest
    c.events.wait(m, g.name, lambda ev: all(r in ev for r in required),
                  0.5 if c.event_problems else 5)
    time.sleep(0.1)
    try:
        check_events(c.events.since(m, g.name), required, optional)
    except AssertionError as e:
        c.event_problems.append("%s: revert %s -> %s%s: %s" % (
            g.name[len(PREFIX):], before, snap, " " + " ".join(flags) if flags else "", e))
    target = "running" if "--running" in flags else \
        "paused" if ("--paused" in flags and snap_state != "shutoff") else snap_state
    want = {"running": "running (from snapshot)", "paused": "paused (from snapshot)"}.get(
        target, "shut off")
    st = c.state(g.name)
    if target == "shutoff":
        expect(st.startswith("shut off"), "domstate after revert to %s: %r" % (snap, st))
        expect(not ga.qemu_pids(g.name), "QEMU still running after revert to shut-off %s" % snap)
    else:
        expect_eq(st, want, "domstate after revert to %s" % snap)
        pids1 = ga.qemu_pids(g.name)
        expect(len(pids1) == 1, "QEMU processes of %s after revert: %s" % (g.name, pids1))
        if before != "shutoff" and not IS_REF:
            expect_eq(pids1, pids0, "QEMU pid across revert of a live guest (must load in place)")
    expect_eq(c.current(g.name), snap, "current snapshot after revert")
    g.pats.reverted(snap)
    if check_data:
        check_now(c, g, "after revert to " + snap)


def check_now(c, g, what):
    """g's data == the model's current state (resumes a paused booted guest
    for the read and pauses it again)."""
    if not g.boot:
        g.check(None, what)
        return
    st = guest_state_word(c.state(g.name))
    if st == "shutoff":
        raise AssertionError("cannot read %s's data: guest is shut off" % g.name)
    if st == "paused":
        c.virsh("resume", g.name)
    g.open_shell()
    g.check(None, what)
    if st == "paused":
        c.virsh("suspend", g.name)


def create(c, g, snap, via="virsh", description=None, write_before=True):
    if write_before:
        g.write()
    if via == "virsh":
        args = ["snapshot-create-as", g.name, snap]
        if description:
            args += ["--description", description]
        _rc, out, _err = c.virsh(*args)
        expect("Domain snapshot %s created" % snap in out, "snapshot-create-as output %r" % out)
    else:
        xml = "<domainsnapshot><name>%s</name>%s</domainsnapshot>" % (
            snap, "<description>%s</description>" % description if description else "")
        s = g.dom().snapshotCreateXML(xml, 0)
        expect_eq(s.getName(), snap, "name of the created snapshot")
    g.pats.take(snap)


def expect_tree(c, g, parents, current):
    su.expect_tree(c, g.name, parents, current)


def expect_tags(g, names, extra=()):
    expect_eq(g.tags(), sorted(list(names) + list(extra)), "qemu-img snapshot tags of %s" % g.img)


def delete(c, g, snap, *flags, via="virsh"):
    if via == "virsh":
        _rc, out, _err = c.virsh("snapshot-delete", g.name, snap, *flags)
        word = "children deleted" if "--children-only" in flags else "deleted"
        expect("Domain snapshot %s %s" % (snap, word) in out, "snapshot-delete output %r" % out)
    else:
        f = 0
        for fl, v in (("--children", libvirt.VIR_DOMAIN_SNAPSHOT_DELETE_CHILDREN),
                      ("--children-only", libvirt.VIR_DOMAIN_SNAPSHOT_DELETE_CHILDREN_ONLY),
                      ("--metadata", libvirt.VIR_DOMAIN_SNAPSHOT_DELETE_METADATA_ONLY)):
            if fl in flags:
                f |= v
        expect_eq(g.dom().snapshotLookupByName(snap).delete(f), 0, "delete() return")


def verify_all(c, g, snaps, end_at=None):
    """revert to every snapshot in snaps (in order) and check its data;
    finish at end_at (default: the last one)."""
    for s in snaps:
        revert(c, g, s, via="python" if s.endswith(("2", "4", "6")) else "virsh")
    if end_at and end_at != snaps[-1]:
        revert(c, g, end_at)


# ================================================================ RUN guest
def t_run_setup(c, g):
    g.define()
    g.start()
    g.check(None, "fresh disk")


def t_run_chain(c, g):
    m = c.events.mark()
    create(c, g, "s1", description="first snapshot")
    create(c, g, "s2", via="python", description="second")
    create(c, g, "s3")
    g.write()                          # current state beyond s3
    time.sleep(0.1)
    for ev in c.events.since(m, g.name):
        expect(ev in ((3, 0), (4, 0)), "lifecycle event %s while snapshotting a running guest"
               % (ev,))
    expect_eq(guest_state_word(c.state(g.name)), "running", "state after the snapshots")
    expect_tree(c, g, {"s1": None, "s2": "s1", "s3": "s2"}, "s3")
    expect_tags(g, ["s1", "s2", "s3"])
    g.check(None, "after three snapshots (current state kept)")
    _rc, out, _err = c.virsh("snapshot-list", g.name)
    for row in su.parse_list(out):
        expect_eq(row[2], "running", "State column of %s" % row[0])
    # XML of s1 / s2
    x1 = ET.fromstring(c.virsh("snapshot-dumpxml", g.name, "s1")[1])
    expect_eq(x1.findtext("name"), "s1", "s1 <name>")
    expect_eq(x1.findtext("description"), "first snapshot", "s1 <description>")
    expect_eq(x1.findtext("state"), "running", "s1 <state>")
    expect(x1.find("parent") is None, "s1 has a <parent>")
    expect_eq(x1.find("memory").get("snapshot"), "internal", "s1 <memory snapshot>")
    disks = [(d.get("name"), d.get("snapshot")) for d in x1.find("disks")]
    expect_eq(disks, [("vda", "internal")], "s1 <disks>")
    expect_eq(x1.find("domain").findtext("name"), g.name, "s1 embedded <domain> name")
    expect(x1.findtext("creationTime", "").isdigit(), "s1 <creationTime>")
    x2 = ET.fromstring(g.dom().snapshotLookupByName("s2").getXMLDesc(0))
    expect_eq(x2.find("parent").findtext("name"), "s1", "s2 <parent>")
    expect_eq(x2.findtext("description"), "second", "s2 <description>")
    # snapshot-info
    _rc, out, _err = c.virsh("snapshot-info", g.name, "s2")
    info = su.parse_info(out)
    expect_eq({k: info.get(k) for k in ("Name", "Domain", "Current", "State", "Location",
                                         "Parent", "Children", "Descendants", "Metadata")},
              {"Name": "s2", "Domain": g.name, "Current": "no", "State": "running",
               "Location": "internal", "Parent": "s1", "Children": "1", "Descendants": "1",
               "Metadata": "yes"}, "snapshot-info s2")
    info = su.parse_info(c.virsh("snapshot-info", g.name, "--current")[1])
    expect_eq((info.get("Name"), info.get("Current"), info.get("Children")), ("s3", "yes", "0"),
              "snapshot-info --current")
    d = g.dom()
    s1, s3 = d.snapshotLookupByName("s1"), d.snapshotLookupByName("s3")
    expect_eq((s1.isCurrent(), s3.isCurrent(), s1.hasMetadata()), (0, 1, 1),
              "isCurrent(s1), isCurrent(s3), hasMetadata(s1)")
    expect_eq((s1.numChildren(0), s1.numChildren(libvirt.VIR_DOMAIN_SNAPSHOT_LIST_DESCENDANTS)),
              (1, 2), "s1 numChildren / with DESCENDANTS")
    expect_eq((d.snapshotNum(0), d.hasCurrentSnapshot(), d.snapshotCurrent().getName()),
              (3, 1, "s3"), "snapshotNum, hasCurrentSnapshot, snapshotCurrent")


def t_run_revert_s1(c, g):
    revert(c, g, "s1", via="virsh")


def t_run_revert_s3(c, g):
    revert(c, g, "s3", via="python")


def t_run_delete_middle(c, g):
    delete(c, g, "s2")
    g.pats.forget("s2")
    expect_tree(c, g, {"s1": None, "s3": "s1"}, "s3")
    expect_tags(g, ["s1", "s3"])
    check_now(c, g, "after deleting s2")
    x3 = ET.fromstring(c.virsh("snapshot-dumpxml", g.name, "s3")[1])
    expect_eq(x3.find("parent").findtext("name"), "s1", "s3 <parent> after deleting s2")
    verify_all(c, g, ["s1", "s3"])


def t_run_branch(c, g):
    revert(c, g, "s1")
    create(c, g, "s4", via="python")
    parents = {"s1": None, "s3": "s1", "s4": "s1"}
    expect_tree(c, g, parents, "s4")
    expect_tags(g, ["s1", "s3", "s4"])
    expect_eq(c.virsh("snapshot-parent", g.name, "s4")[1].strip(), "s1", "snapshot-parent s4")
    expect_eq(c.virsh("snapshot-parent", g.name, "--current")[1].strip(), "s1",
              "snapshot-parent --current")
    expect_eq(c.names(g.name, "--leaves"), ["s3", "s4"], "--leaves")
    expect_eq(c.names(g.name, "--no-leaves"), ["s1"], "--no-leaves")
    expect_eq(c.names(g.name, "--roots"), ["s1"], "--roots")
    expect_eq(c.names(g.name, "--from", "s1"), ["s3", "s4"], "--from s1")
    expect_eq(c.names(g.name, "--current"), [], "--current (children of the current s4)")
    expect_eq(c.names(g.name, "--internal"), ["s1", "s3", "s4"], "--internal")
    expect_eq(c.names(g.name, "--external"), [], "--external")
    expect_eq(c.names(g.name, "--active"), ["s1", "s3", "s4"], "--active (running snapshots)")
    expect_eq(c.names(g.name, "--inactive"), [], "--inactive")
    expect_eq(c.names(g.name, "--metadata"), ["s1", "s3", "s4"], "--metadata")
    expect_eq(c.names(g.name, "--no-metadata"), [], "--no-metadata")
    _rc, out, _err = c.virsh("snapshot-list", g.name, "--from", "s1", "--descendants", "--tree")
    expect_eq(out.rstrip("\n"), su.render_tree(parents, "s1"), "--from s1 --descendants --tree")
    topo = c.names(g.name, "--topological")
    expect_eq(sorted(topo), ["s1", "s3", "s4"], "--topological names")
    _rc, out, _err = c.virsh("snapshot-list", g.name, "--topological", "--name")
    order = out.split()
    expect(order.index("s1") < order.index("s3") and order.index("s1") < order.index("s4"),
           "--topological order %s" % order)
    d = g.dom()
    s1 = d.snapshotLookupByName("s1")
    expect_eq(sorted(s1.listChildrenNames(0)), ["s3", "s4"], "s1.listChildrenNames")
    expect_eq(sorted(x.getName() for x in s1.listAllChildren(0)), ["s3", "s4"],
              "s1.listAllChildren")
    expect_eq(s1.numChildren(0), 2, "s1.numChildren")
    leaves = d.listAllSnapshots(libvirt.VIR_DOMAIN_SNAPSHOT_LIST_LEAVES)
    expect_eq(sorted(x.getName() for x in leaves), ["s3", "s4"], "listAllSnapshots(LEAVES)")
    roots = d.listAllSnapshots(libvirt.VIR_DOMAIN_SNAPSHOT_LIST_ROOTS)
    expect_eq([x.getName() for x in roots], ["s1"], "listAllSnapshots(ROOTS)")
    expect_eq(sorted(d.snapshotListNames(libvirt.VIR_DOMAIN_SNAPSHOT_LIST_ROOTS)), ["s1"],
              "snapshotListNames(ROOTS)")
    expect_eq(d.snapshotNum(libvirt.VIR_DOMAIN_SNAPSHOT_LIST_LEAVES), 2, "snapshotNum(LEAVES)")
    verify_all(c, g, ["s3", "s4", "s1"], end_at="s4")


def t_run_errors(c, g):
    """every mismatch is collected, the step fails once with all of them."""
    problems = []

    def same(got, want, what):
        if got != want:
            problems.append("%s: expected %r, got %r" % (what, want, got))

    def virsh_says(args, text):
        rc, _out, err = c.t.virsh(*args)
        if rc != 1 or "error: " + text not in err:
            problems.append("virsh %s: expected rc 1 and 'error: %s', got rc %d %r"
                            % (" ".join(args[:1] + args[2:]), text, rc, err.strip()))

    d = g.dom()
    nosuch = "Domain snapshot not found: no domain snapshot with matching name 'nosuch'"
    same(py_err(d.snapshotLookupByName, "nosuch"), (72, 10, nosuch), "lookup of nosuch")
    for args in (("snapshot-info", g.name, "nosuch"), ("snapshot-delete", g.name, "nosuch"),
                 ("snapshot-revert", g.name, "nosuch"), ("snapshot-dumpxml", g.name, "nosuch")):
        virsh_says(args, nosuch)
    before = su.tree_state(d)
    dup = "operation failed: domain moment s1 already exists"
    same(py_err(d.snapshotCreateXML, "<domainsnapshot><name>s1</name></domainsnapshot>", 0),
         (9, 20, dup), "duplicate snapshot name")
    virsh_says(("snapshot-create-as", g.name, "s1"), dup)
    s1 = d.snapshotLookupByName("s1")
    same(py_err(s1.delete, 0x400),
         (8, 10, "unsupported flags (0x400) in function qemuSnapshotDelete"),
         "delete with unknown flags")
    same(py_err(d.revertToSnapshot, s1, 0x400),
         (8, 10, "unsupported flags (0x400) in function qemuSnapshotRevert"),
         "revert with unknown flags")
    same(py_err(s1.getParent),
         (72, 10, "Domain snapshot not found: snapshot 's1' does not have a parent"),
         "getParent of a root")
    virsh_says(("snapshot-parent", g.name, "s1"), "snapshot 's1' has no parent")
    same(su.tree_state(d), before, "snapshot tree after the refused calls")
    same(g.tags(), ["s1", "s3", "s4"], "qcow2 tags after the refused calls")
    # a raw disk cannot hold internal snapshots (shut off and running)
    raw = os.path.join(c.work, "raw.img")
    su.run(["qemu-img", "create", "-q", "-f", "raw", raw, "16M"])
    name = PREFIX + "raw"
    xml = ga.domain_xml(name, disk=raw).replace("type='qcow2'", "type='raw'")
    path = os.path.join(c.work, "raw.xml")
    with open(path, "w") as f:
        f.write(xml)
    want = (67, 10, "unsupported configuration: internal snapshot for disk vda unsupported "
            "for storage type raw")
    try:
        c.virsh("define", path)
        rd = c.conn.lookupByName(name)
        same(py_err(rd.snapshotCreateXML, "<domainsnapshot><name>x</name></domainsnapshot>", 0),
             want, "internal snapshot of a shut-off raw disk")
        c.virsh("start", name)
        same(py_err(rd.snapshotCreateXML, "<domainsnapshot><name>x</name></domainsnapshot>", 0),
             want, "internal snapshot of a running raw disk")
        virsh_says(("snapshot-create-as", name, "x"), want[2])
        same(rd.snapshotNum(0), 0, "snapshots of the raw guest")
    finally:
        c.t.virsh("destroy", name)
        c.t.virsh("undefine", name, "--snapshots-metadata")
    expect(not problems, "%d mismatch(es):\n    %s" % (len(problems), "\n    ".join(problems)))


def t_run_metadata_redefine(c, g):
    """s5 (child of s4): --metadata delete keeps the qcow2 tag; --redefine
    --current brings the metadata back, identical; revert to it works."""
    create(c, g, "s5")
    d = g.dom()
    xml_before = d.snapshotLookupByName("s5").getXMLDesc(libvirt.VIR_DOMAIN_SNAPSHOT_XML_SECURE)
    path = os.path.join(c.work, "s5.xml")
    with open(path, "w") as f:
        f.write(xml_before)
    delete(c, g, "s5", "--metadata")
    expect_tree(c, g, {"s1": None, "s3": "s1", "s4": "s1"}, "s4")
    expect_tags(g, ["s1", "s3", "s4", "s5"])          # the tag stays
    check_now(c, g, "after the --metadata delete")
    expect_eq(py_err(d.snapshotLookupByName, "s5")[0], 72, "lookup of s5 after --metadata delete")
    _rc, out, _err = c.virsh("snapshot-create", g.name, path, "--redefine", "--current")
    expect("Domain snapshot s5 created from '%s'" % path in out, "--redefine output %r" % out)
    expect_tree(c, g, {"s1": None, "s3": "s1", "s4": "s1", "s5": "s4"}, "s5")
    expect_eq(d.snapshotLookupByName("s5").getXMLDesc(libvirt.VIR_DOMAIN_SNAPSHOT_XML_SECURE),
              xml_before, "XML of the redefined s5")
    # redefine without --current keeps the current one; snapshot-current NAME sets it
    _rc, out, _err = c.virsh("snapshot-current", g.name, "s1")
    expect("Snapshot s1 set as current" in out, "snapshot-current s1 output %r" % out)
    expect_eq(c.current(g.name), "s1", "current after snapshot-current s1")
    c.virsh("snapshot-create", g.name, path, "--redefine")
    expect_eq(c.current(g.name), "s1", "current after --redefine without --current")
    expect_eq(d.snapshotLookupByName("s5").isCurrent(), 0, "s5.isCurrent()")
    revert(c, g, "s5")
    verify_all(c, g, ["s4"], end_at="s5")


def t_run_restart(c, g):
    t = c.t
    if not t.can_restart:
        raise Skip("target cannot be restarted")
    d = g.dom()
    before = su.tree_state(d)
    tree_before = c.virsh("snapshot-list", g.name, "--tree")[1]
    tags = g.tags()
    pids = ga.qemu_pids(g.name)
    if g.shell:
        g.shell.close()
    for how in ("SIGTERM", "SIGKILL"):
        c.events.close()
        if how == "SIGTERM":
            rc = t.stop()
            expect(rc in (0, None), "daemon exit status after SIGTERM: %r" % rc)
        else:
            t.kill9()
        t.start()
        c.reconnect()
        d = g.dom()
        expect_eq(su.tree_state(d), before, "snapshot tree/current/XML after %s + restart" % how)
        expect_eq(c.virsh("snapshot-list", g.name, "--tree")[1], tree_before,
                  "--tree after %s + restart" % how)
        expect_eq(g.tags(), tags, "qcow2 tags after %s + restart" % how)
        if not IS_REF:
            expect_eq(ga.qemu_pids(g.name), pids, "QEMU of the running guest after %s" % how)
    # the restarted daemon can still revert (live on ours; the reference lost the guest)
    cur = [n for n, v in before.items() if v[1]][0]
    other = "s3" if cur != "s3" else "s1"
    revert(c, g, other, via="python")
    revert(c, g, cur)


def t_run_shutoff_revert(c, g):
    """guest shut off -> revert to a running snapshot starts it from that state."""
    c.virsh("destroy", g.name)
    revert(c, g, "s3")


def t_run_children_deletes(c, g):
    # tree: s1 -> {s3, s4 -> s5}, current s3 (or as left); go to s5 first
    revert(c, g, "s5")
    delete(c, g, "s4", "--children-only", via="python")
    g.pats.forget("s5")
    expect_tree(c, g, {"s1": None, "s3": "s1", "s4": "s1"}, "s4")
    expect_tags(g, ["s1", "s3", "s4"])
    check_now(c, g, "after --children-only of s4 (current state untouched)")
    verify_all(c, g, ["s4", "s3"])
    # s1 -> {s3, s4 -> s6 -> s7}; delete s4 --children
    revert(c, g, "s4")
    create(c, g, "s6")
    create(c, g, "s7")
    expect_tree(c, g, {"s1": None, "s3": "s1", "s4": "s1", "s6": "s4", "s7": "s6"}, "s7")
    revert(c, g, "s3")
    delete(c, g, "s4", "--children")
    for s in ("s4", "s6", "s7"):
        g.pats.forget(s)
    expect_tree(c, g, {"s1": None, "s3": "s1"}, "s3")
    expect_tags(g, ["s1", "s3"])
    check_now(c, g, "after --children of s4")
    verify_all(c, g, ["s1", "s3"])
    # all of it: s1 --children (current s3 goes too)
    delete(c, g, "s1", "--children")
    expect_tree(c, g, {}, None)
    expect_tags(g, [])
    err = c.virsh_err("snapshot-current", g.name, "--name")
    expect("error: domain '%s' has no current snapshot" % g.name in err,
           "snapshot-current without one: %r" % err)
    expect_eq(py_err(g.dom().snapshotCurrent),
              (72, 10, "Domain snapshot not found: the domain does not have a current snapshot"),
              "snapshotCurrent without one")
    check_now(c, g, "after deleting every snapshot")


# ================================================================ OFF guest
def t_off_chain(c, g):
    g.define()
    create(c, g, "o1", description="offline one")
    create(c, g, "o2", via="python")
    create(c, g, "o3")
    g.write()
    expect(not ga.qemu_pids(g.name), "a QEMU ran for an offline snapshot")
    expect_tree(c, g, {"o1": None, "o2": "o1", "o3": "o2"}, "o3")
    expect_tags(g, ["o1", "o2", "o3"])
    g.check(None, "current state after three offline snapshots")
    x = ET.fromstring(c.virsh("snapshot-dumpxml", g.name, "o1")[1])
    expect_eq((x.findtext("state"), x.find("memory").get("snapshot"),
               [(e.get("name"), e.get("snapshot")) for e in x.find("disks")]),
              ("shutoff", "no", [("vda", "internal")]), "o1 state/memory/disks")
    info = su.parse_info(c.virsh("snapshot-info", g.name, "o1")[1])
    expect_eq((info.get("State"), info.get("Location"), info.get("Children"),
               info.get("Descendants")), ("shutoff", "internal", "1", "2"), "snapshot-info o1")
    expect_eq(c.names(g.name, "--inactive"), ["o1", "o2", "o3"], "--inactive")
    expect_eq(c.names(g.name, "--active"), [], "--active")


def t_off_reverts(c, g):
    revert(c, g, "o1")
    revert(c, g, "o3", via="python")
    revert(c, g, "o2")
    expect(not ga.qemu_pids(g.name), "a QEMU ran for an offline revert")


def t_off_delete_middle(c, g):
    revert(c, g, "o3")
    delete(c, g, "o2", via="python")
    g.pats.forget("o2")
    expect_tree(c, g, {"o1": None, "o3": "o1"}, "o3")
    expect_tags(g, ["o1", "o3"])
    g.check(None, "after deleting o2")
    verify_all(c, g, ["o1", "o3"])


def t_off_branch(c, g):
    revert(c, g, "o1")
    create(c, g, "o4")
    parents = {"o1": None, "o3": "o1", "o4": "o1"}
    expect_tree(c, g, parents, "o4")
    expect_eq(c.names(g.name, "--leaves"), ["o3", "o4"], "--leaves")
    expect_eq(c.names(g.name, "--roots"), ["o1"], "--roots")
    expect_tags(g, ["o1", "o3", "o4"])
    verify_all(c, g, ["o3", "o4"])


def t_off_metadata(c, g):
    d = g.dom()
    xml = d.snapshotLookupByName("o4").getXMLDesc(libvirt.VIR_DOMAIN_SNAPSHOT_XML_SECURE)
    delete(c, g, "o4", "--metadata", via="python")
    expect_tree(c, g, {"o1": None, "o3": "o1"}, "o1")        # parent becomes current
    expect_tags(g, ["o1", "o3", "o4"])
    g.check(None, "after --metadata delete of o4")
    d.snapshotCreateXML(xml, libvirt.VIR_DOMAIN_SNAPSHOT_CREATE_REDEFINE
                        | libvirt.VIR_DOMAIN_SNAPSHOT_CREATE_CURRENT)
    expect_tree(c, g, {"o1": None, "o3": "o1", "o4": "o1"}, "o4")
    expect_eq(d.snapshotLookupByName("o4").getXMLDesc(libvirt.VIR_DOMAIN_SNAPSHOT_XML_SECURE), xml,
              "XML of the redefined o4")
    verify_all(c, g, ["o4"])


def t_off_live_to_shutoff(c, g):
    """a started guest reverted to a shut-off snapshot is stopped."""
    c.virsh("start", g.name)
    revert(c, g, "o3")
    revert(c, g, "o4", via="python")


def t_off_children(c, g):
    revert(c, g, "o3")
    delete(c, g, "o1", "--children-only")
    for s in ("o3", "o4"):
        g.pats.forget(s)
    expect_tree(c, g, {"o1": None}, "o1")
    expect_tags(g, ["o1"])
    g.check(None, "after --children-only of o1")
    verify_all(c, g, ["o1"])
    create(c, g, "o5")
    create(c, g, "o6", via="python")
    delete(c, g, "o5", "--children", via="python")
    for s in ("o5", "o6"):
        g.pats.forget(s)
    expect_tree(c, g, {"o1": None}, "o1")
    expect_tags(g, ["o1"])
    g.check(None, "after --children of o5")
    verify_all(c, g, ["o1"])
    delete(c, g, "o1")
    expect_tree(c, g, {}, None)
    expect_tags(g, [])
    g.check(None, "after deleting the last snapshot")
    c.virsh("start", g.name)
    c.virsh("destroy", g.name)


# ================================================================ PAU guest
def t_pau_setup(c, g):
    g.define()
    g.start()
    g.write()
    c.virsh("suspend", g.name)
    m = c.events.mark()
    create(c, g, "p1", via="python", write_before=False)
    expect_eq(c.state(g.name), "paused (user)", "state after snapshotting a paused guest")
    time.sleep(0.1)
    expect_eq(c.events.since(m, g.name), [], "events of a paused snapshot")
    x = ET.fromstring(g.dom().snapshotLookupByName("p1").getXMLDesc(0))
    expect_eq((x.findtext("state"), x.find("memory").get("snapshot")), ("paused", "internal"),
              "p1 state/memory")
    c.virsh("resume", g.name)
    create(c, g, "p2")
    g.write()
    expect_tree(c, g, {"p1": None, "p2": "p1"}, "p2")
    expect_tags(g, ["p1", "p2"])
    expect_eq(c.names(g.name, "--active"), ["p1", "p2"], "--active (running/paused)")


def t_pau_revert_paused(c, g):
    revert(c, g, "p1")                         # running guest -> paused snapshot


def t_pau_revert_running_from_paused(c, g):
    expect_eq(guest_state_word(c.state(g.name)), "paused", "guest paused before")
    revert(c, g, "p2", via="python")           # paused guest -> running snapshot


def t_pau_overrides(c, g):
    revert(c, g, "p1", flags=("--running",))
    revert(c, g, "p2", flags=("--paused",), via="python")
    c.virsh("resume", g.name)


def t_pau_delete(c, g):
    delete(c, g, "p1")
    g.pats.forget("p1")
    expect_tree(c, g, {"p2": None}, "p2")
    expect_tags(g, ["p2"])
    revert(c, g, "p2")
    delete(c, g, "p2", via="python")
    expect_tree(c, g, {}, None)
    expect_tags(g, [])
    check_now(c, g, "after deleting every snapshot")


def t_event_summary(c):
    if c.event_problems:
        raise AssertionError("%d revert(s) with wrong events:\n    %s"
                             % (len(c.event_problems), "\n    ".join(c.event_problems)))


# ================================================================ main
NON_BREAKING = (t_run_errors,)        # steps that change nothing the next ones need


def scenario(r, c, g, steps):
    """run steps in order; after a failure the rest of the scenario SKIPs."""
    for title, fn in steps:
        if g.broken:
            r.check(title, lambda: (_ for _ in ()).throw(Skip("earlier step failed: " + g.broken)))
            continue
        if not r.check(title, fn, c, g) and fn not in NON_BREAKING:
            g.broken = title


def main():
    target = harness.make_target()
    r = harness.Runner("test_snapshot_internal")
    r.start(target)
    c = None

    def mk():
        nonlocal c
        c = Ctx(target)
    if not r.check("event client + work dir", mk):
        r.finish()
    guests = []
    try:
        off = Guest(c, "off", boot=False)
        guests.append(off)
        scenario(r, c, off, [
            ("OFF: chain o1->o2->o3 on a shut-off guest (qemu-io patterns)", t_off_chain),
            ("OFF: reverts restore each snapshot's data, no QEMU", t_off_reverts),
            ("OFF: delete the middle o2 (o3 re-parented)", t_off_delete_middle),
            ("OFF: branch o4 under o1", t_off_branch),
            ("OFF: --metadata delete keeps the tag, redefine --current", t_off_metadata),
            ("OFF: running guest reverted to shut-off snapshots", t_off_live_to_shutoff),
            ("OFF: --children-only, --children, last delete", t_off_children),
        ])
        if c.no_kernel:
            r.check("RUN/PAU scenarios", lambda: (_ for _ in ()).throw(Skip(c.no_kernel)))
        else:
            run = Guest(c, "run", boot=True)
            guests.append(run)
            scenario(r, c, run, [
                ("RUN: guest booted, console shell", t_run_setup),
                ("RUN: chain s1->s2->s3 with memory (info, XML, tags)", t_run_chain),
                ("RUN: revert to s1 in place, data = s1", t_run_revert_s1),
                ("RUN: revert to s3, data = s3", t_run_revert_s3),
                ("RUN: delete the middle s2, s3 re-parented, data intact", t_run_delete_middle),
                ("RUN: branch s4 under s1: tree, filters, children", t_run_branch),
                ("RUN: errors (unknown, duplicate, raw disk, flags, no parent)", t_run_errors),
                ("RUN: --metadata delete + --redefine [--current]", t_run_metadata_redefine),
                ("RUN: daemon SIGTERM and SIGKILL restarts keep the tree", t_run_restart),
                ("RUN: shut-off guest reverted to a running snapshot", t_run_shutoff_revert),
                ("RUN: --children-only, --children deletes", t_run_children_deletes),
            ])
            pau = Guest(c, "pau", boot=True)
            guests.append(pau)
            scenario(r, c, pau, [
                ("PAU: snapshots of a paused and a running guest", t_pau_setup),
                ("PAU: revert to a paused snapshot leaves the guest paused",
                 t_pau_revert_paused),
                ("PAU: paused guest reverted to a running snapshot",
                 t_pau_revert_running_from_paused),
                ("PAU: --running / --paused overrides", t_pau_overrides),
                ("PAU: deletes", t_pau_delete),
            ])
        r.check("lifecycle events of every revert are libvirt's", t_event_summary, c)
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
