#!/usr/bin/python3
"""External snapshots with memory state (virsh snapshot-create-as --memspec)
on the busybox test guest, through stock virsh 9.0 and python3-libvirt.

* create: the running guest's RAM goes to the memory file (libvirt's save
  image layout), its disk gets an overlay, and it keeps running (also with
  --live);
* revert (libvirt >= 9.9's online revert, protocol.md 7.3): a new QEMU
  starts from the snapshot's memory file on new overlays over the
  snapshot's images.  What the guest holds in RAM (a marker file in its
  tmpfs) and on disk (a pattern per snapshot, snapshot_util.Patterns) is
  what it held when the snapshot was taken; the previous state's layer is
  discarded; <revertDisks> while the snapshot has children; libvirt's
  lifecycle events; --paused; a shut-off guest reverting; a missing memory
  file refused with the guest untouched; a truncated one fails cleanly;
* SIGKILL of the daemon while the new QEMU loads the memory state: after a
  restart the revert is finished (guest runs the snapshot's state, no
  journal or orphan overlay left);
* delete: memory files go, the overlays merge back into the base image.

libvirt 9.0 (the reference) refuses every external revert, so this suite
checks our daemon only."""
import os
import shutil
import subprocess
import sys
import time
import xml.etree.ElementTree as ET

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import guest_assets as ga  # noqa: E402
import harness  # noqa: E402
import snapshot_util as su  # noqa: E402
from harness import Skip, expect, expect_eq  # noqa: E402

import libvirt  # noqa: E402

libvirt.registerErrorHandler(lambda _ctx, _err: None, None)

NAME = "svmem%04x-g" % (os.getpid() & 0xffff)
BOOT_TIMEOUT = float(os.environ.get("SV_BOOT_TIMEOUT", "60"))
STOPPED_FS, STARTED_FS, RESUMED_FS, SUSPENDED_FS, DEFINED_FS = (5, 6), (2, 3), (4, 2), (3, 5), (0, 3)


class M:
    """the guest, its pattern model and its RAM marker per snapshot."""

    def __init__(self, c):
        self.c = c
        self.dir = os.path.join(c.work, "disk")
        self.memdir = os.path.join(c.work, "mem")
        os.makedirs(self.dir)
        os.makedirs(self.memdir)
        self.base = ga.make_qcow2(os.path.join(self.dir, "base.qcow2"), "64M")
        self.pats = su.Patterns(first_byte=0x31)
        self.marks = {}
        self.mark_now = None
        self.shell = su.GuestShell()

    def dom(self):
        return self.c.conn.lookupByName(NAME)

    def mem(self, snap):
        return os.path.join(self.memdir, snap + ".mem")

    def open_shell(self, boot=False):
        self.shell.open(self.c.conn, self.dom(), boot=boot, timeout=BOOT_TIMEOUT)

    def write(self, mark):
        slot, byte = self.pats.write()
        self.shell.write(slot, byte)
        self.shell.run("echo %s > /tmp/mark" % mark)
        self.mark_now = mark

    def snapshot(self, snap, *extra):
        _rc, out, _err = self.c.virsh("snapshot-create-as", NAME, snap, "--memspec",
                                      "file=%s,snapshot=external" % self.mem(snap), *extra)
        expect("Domain snapshot %s created" % snap in out, out)
        self.pats.take(snap)
        self.marks[snap] = self.mark_now

    def reverted(self, snap):
        self.pats.reverted(snap)
        self.mark_now = self.marks[snap]

    def check(self, what):
        """RAM marker and disk patterns of the guest == the model."""
        got = self.shell.run("cat /tmp/mark").strip()
        expect_eq(got, self.mark_now, "RAM marker " + what)
        bad = self.shell.check(self.pats.expected())
        expect(not bad, "disk data %s: %s" % (what, su.describe_mismatch(bad)))

    def active_disk(self):
        return ET.fromstring(self.dom().XMLDesc(0)).find("devices/disk/source").get("file")

    def snap_xml(self, snap):
        return ET.fromstring(self.dom().snapshotLookupByName(snap).getXMLDesc(0))

    def meta(self, snap):
        """the snapshot's metadata file: <revertDisks> only shows there (as in
        libvirt, the public XML leaves it out)."""
        return ET.parse(os.path.join(self.c.t.root, "var/lib/libvirt/qemu/snapshot", NAME,
                                     snap + ".xml")).getroot()

    def needed_files(self):
        """every file a snapshot's or the guest's backing chain uses, plus the
        snapshots' memory files."""
        files = set(su.chain_files(self.active_disk()))
        for s in self.c.names(NAME):
            x = self.meta(s)
            files.update(su.chain_files(x.find("domain/devices/disk/source").get("file")))
            for d in x.findall("revertDisks/disk/source"):
                files.update(su.chain_files(d.get("file")))
        return files

    def check_files(self, what):
        """the image directory holds exactly what some chain needs."""
        have = {os.path.join(self.dir, f) for f in su.image_files(self.dir)}
        need = {f for f in self.needed_files() if os.path.dirname(f) == self.dir}
        expect_eq(sorted(have), sorted(need), "image files " + what)
        mems = sorted(su.image_files(self.memdir))
        expect_eq(mems, sorted(os.path.basename(self.mem(s)) for s in self.c.names(NAME)),
                  "memory files " + what)


def revert_events(c, m, fn, required):
    mark = c.events.mark()
    fn()
    got = c.events.wait(mark, NAME, lambda g: len(g) >= len(required), timeout=15)
    time.sleep(0.3)
    got = c.events.since(mark, NAME)
    expect_eq(got, required, "lifecycle events")


def t_create(c, m):
    c.need_kernel()
    path = os.path.join(c.work, NAME + ".xml")
    with open(path, "w") as f:
        f.write(ga.domain_xml(NAME, kernel=c.kernel, initrd=c.initrd, disk=m.base))
    c.virsh("define", path)
    c.virsh("start", NAME)
    m.open_shell(boot=True)
    m.write("m1-ram")
    m.snapshot("m1", "--diskspec", "vda,snapshot=external")
    expect(os.path.getsize(m.mem("m1")) > 64 * 1024, "memory file too small")
    with open(m.mem("m1"), "rb") as f:
        head = f.read(200)
    # libvirt's save image: header, then the domain XML (then the stream)
    expect(head.startswith(b"LibvirtQemudSave") and b"<domain" in head, "save image header: %r" % head[:100])
    expect_eq(m.active_disk(), os.path.join(m.dir, "base.m1"), "disk moved to the overlay")
    expect_eq(c.state(NAME).split(" (")[0], "running", "guest runs on")
    x = m.snap_xml("m1")
    expect_eq(x.findtext("state"), "running", "<state>")
    mem = x.find("memory")
    expect_eq((mem.get("snapshot"), mem.get("file")), ("external", m.mem("m1")), "<memory>")
    m.check("after m1")


def t_create_live(c, m):
    m.write("m2-ram")
    m.snapshot("m2", "--live")
    expect_eq(c.state(NAME).split(" (")[0], "running", "guest runs on after --live")
    expect_eq(m.active_disk(), os.path.join(m.dir, "base.m2"), "disk on the m2 overlay")
    m.write("late-ram")
    m.check("after m2")
    m.check_files("after two snapshots")


def t_revert_running(c, m):
    pids0 = ga.qemu_pids(NAME)

    def go():
        _rc, out, _err = c.virsh("snapshot-revert", NAME, "m1")
        expect("Domain snapshot m1 reverted" in out, out)
    revert_events(c, m, go, [STOPPED_FS, STARTED_FS, RESUMED_FS, DEFINED_FS])
    expect_eq(c.state(NAME), "running (from snapshot)", "domstate --reason")
    pids1 = ga.qemu_pids(NAME)
    expect(len(pids1) == 1 and pids1 != pids0, "a new QEMU (was %s, now %s)" % (pids0, pids1))
    m.reverted("m1")
    m.open_shell()
    m.check("after reverting to m1")
    expect_eq(c.current(NAME), "m1", "current snapshot")
    x = m.meta("m1")
    rd = [d.get("file") for d in x.findall("revertDisks/disk/source")]
    expect(len(rd) == 1 and rd[0] == m.active_disk(), "m1 <revertDisks> %s, guest on %s"
           % (rd, m.active_disk()))
    expect_eq(su.chain_files(m.active_disk())[1:], [m.base], "new overlay sits on m1's image")
    expect(not os.path.exists(os.path.join(m.dir, "base.m2")), "the discarded layer base.m2 is gone")
    m.check_files("after reverting to m1")


def t_revert_paused(c, m):
    m.write("branch-ram")
    dom = m.dom()
    old_overlay = m.active_disk()

    def go():
        dom.revertToSnapshot(dom.snapshotLookupByName("m2"), libvirt.VIR_DOMAIN_SNAPSHOT_REVERT_PAUSED)
    revert_events(c, m, go, [STOPPED_FS, STARTED_FS, SUSPENDED_FS, DEFINED_FS])
    expect_eq(c.state(NAME), "paused (from snapshot)", "domstate --reason")
    m.reverted("m2")
    c.virsh("resume", NAME)
    m.open_shell()
    m.check("after reverting to m2 (paused, resumed)")
    expect(not os.path.exists(old_overlay), "m1's revert overlay (the discarded state) is gone")
    expect_eq(m.meta("m1").findall("revertDisks/disk"), [], "m1's <revertDisks> cleared")
    expect_eq(m.snap_xml("m2").find("disks/disk/source").get("file"), m.active_disk(),
              "m2 (a leaf) records the new overlay in <disks>")
    m.check_files("after reverting to m2")


def t_missing_memory(c, m):
    pids0 = ga.qemu_pids(NAME)
    tmp = m.mem("m1") + ".away"
    os.rename(m.mem("m1"), tmp)
    try:
        err = c.virsh_err("snapshot-revert", NAME, "m1")
        expect("Failed to open file '%s': No such file or directory" % m.mem("m1") in err, err)
    finally:
        os.rename(tmp, m.mem("m1"))
    # an image whose save never finished (libvirt's partial magic)
    with open(m.mem("m1"), "r+b") as f:
        f.write(b"LibvirtQemudPart")
    try:
        err = c.virsh_err("snapshot-revert", NAME, "m1")
        expect("operation failed: save image is incomplete" in err, err)
    finally:
        with open(m.mem("m1"), "r+b") as f:
            f.write(b"LibvirtQemudSave")
    expect_eq(ga.qemu_pids(NAME), pids0, "guest untouched")
    expect_eq(c.current(NAME), "m2", "current snapshot unchanged")
    m.check("after a refused revert")
    m.check_files("after a refused revert")


def t_corrupt_memory(c, m):
    disk0 = m.active_disk()
    keep = m.mem("m1") + ".keep"
    shutil.copyfile(m.mem("m1"), keep)
    with open(m.mem("m1"), "r+b") as f:
        f.truncate(os.path.getsize(keep) // 2)
    m.shell.close()
    try:
        err = c.virsh_err("snapshot-revert", NAME, "m1")
    finally:
        os.replace(keep, m.mem("m1"))
    expect("internal error: qemu unexpectedly closed the monitor: " in err, err)
    # the guest was stopped for the revert; everything else is as before
    expect_eq(c.state(NAME).split(" (")[0], "shut off", "guest state")
    expect_eq(c.current(NAME), "m2", "current snapshot unchanged")
    expect_eq(m.active_disk(), disk0, "the guest's disk unchanged")
    m.check_files("after a failed load")
    journal = [os.path.join(dp, f) for dp, _d, fs in os.walk(c.t.root) for f in fs if f == ".revert-pending"]
    expect_eq(journal, [], "revert journal left")


def t_revert_shutoff(c, m):
    m.shell.close()
    c.virsh("destroy", NAME, ok=False)

    def go():
        c.virsh("snapshot-revert", NAME, "m1")
    revert_events(c, m, go, [STARTED_FS, RESUMED_FS, DEFINED_FS])
    expect_eq(c.state(NAME), "running (from snapshot)", "domstate --reason")
    m.reverted("m1")
    m.open_shell()
    m.check("after reverting the shut-off guest to m1")
    m.check_files("after reverting the shut-off guest")


def incoming_qemu(old):
    """a QEMU of the guest, not in old, started to receive a memory state."""
    for pid in set(ga.qemu_pids(NAME)) - set(old):
        try:
            with open("/proc/%d/cmdline" % pid, "rb") as f:
                if b"-incoming\0defer" in f.read():
                    return pid
        except OSError:
            pass
    return None


def kill_during_revert(c, m, snap, delay):
    """virsh snapshot-revert in the background; SIGKILL the daemon delay
    seconds after the new QEMU shows up; restart; the revert is finished."""
    m.write("before-kill-%s-ram" % snap)
    m.shell.close()
    old = ga.qemu_pids(NAME)
    env = dict(os.environ, LC_ALL="C")
    p = subprocess.Popen(["virsh", "-c", c.t.uri, "snapshot-revert", NAME, snap],
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env, text=True)
    deadline = time.monotonic() + 30
    while incoming_qemu(old) is None and time.monotonic() < deadline and p.poll() is None:
        time.sleep(0.002)
    seen = incoming_qemu(old)
    time.sleep(delay)
    c.events.close()
    c.t.kill9()
    p.communicate(timeout=30)
    expect(seen is not None, "no QEMU waiting for the memory state was seen before the kill")
    c.t.start()
    c.reconnect()
    m.reverted(snap)
    deadline = time.monotonic() + 20
    while c.state(NAME) != "running (from snapshot)" and time.monotonic() < deadline:
        time.sleep(0.2)
    expect_eq(c.state(NAME), "running (from snapshot)", "guest after the restart")
    expect_eq(c.current(NAME), snap, "the revert was finished")
    journal = [os.path.join(dp, f) for dp, _d, fs in os.walk(c.t.root) for f in fs if f == ".revert-pending"]
    expect_eq(journal, [], "revert journal left")
    now = ga.qemu_pids(NAME)
    expect(len(now) == 1, "QEMU processes of the guest: %s" % now)
    print("  killed %.2fs after QEMU %d appeared; after the restart: %s" % (
        delay, seen, "the same QEMU finished loading" if now == [seen] else "loaded again in a new QEMU"),
        flush=True)
    m.open_shell()
    m.check("after SIGKILL during the revert to " + snap)
    m.check_files("after SIGKILL during the revert to " + snap)


def t_kill_during_revert(c, m):
    if not c.t.can_restart:
        raise Skip("target cannot be restarted")
    kill_during_revert(c, m, "m2", 0)
    kill_during_revert(c, m, "m1", 0.2)


def t_delete(c, m):
    for snap in ("m2", "m1"):
        _rc, out, _err = c.virsh("snapshot-delete", NAME, snap)
        expect("Domain snapshot %s deleted" % snap in out, out)
        m.pats.forget(snap)
    expect_eq(su.image_files(m.memdir), [], "memory files left behind")
    expect_eq(m.active_disk(), m.base, "overlays merged back into the base")
    expect_eq(su.chain_files(m.base), [m.base], "no backing file left")
    expect_eq(su.image_files(m.dir), ["base.qcow2"], "image files")
    m.check("after deleting both snapshots")


def main():
    if harness.target_is_reference():
        print("SKIP: libvirt 9.0 refuses external reverts\n0 passed, 0 failed, 1 skipped")
        return
    runner = harness.Runner("test_snapshot_memory")
    target = harness.make_target()
    runner.start(target)
    c = m = None

    def mk():
        nonlocal c, m
        c = su.SnapCtx(target, prefix="svmem")
        m = M(c)
    if not runner.check("event client + work dir", mk):
        runner.finish()
    try:
        for title, fn in [
            ("--memspec on a running guest: memory file, overlay, guest keeps running", t_create),
            ("--memspec --live", t_create_live),
            ("revert the running guest to m1 (non-leaf): new QEMU from the memory file", t_revert_running),
            ("revert to m2 --paused (python): state, <revertDisks> cleared", t_revert_paused),
            ("revert with the memory file missing or incomplete: refused, guest untouched", t_missing_memory),
            ("revert with a truncated memory file: clear error, definition and disks as before",
             t_corrupt_memory),
            ("revert a shut-off guest to m1: started from the memory state", t_revert_shutoff),
            ("SIGKILL while QEMU loads the memory state: finished after restart", t_kill_during_revert),
            ("delete both: memory files gone, overlays merged", t_delete),
        ]:
            if not runner.check(title, fn, c, m):
                break
    finally:
        m.shell.close()
        c.t.virsh("destroy", NAME)
        c.t.virsh("undefine", NAME, "--snapshots-metadata")
        c.events.close()
        try:
            ga.kill_guests(NAME)
        except Exception:
            pass
        shutil.rmtree(c.work, ignore_errors=True)
        harness._cleanup_all()
    runner.finish()


if __name__ == "__main__":
    main()
