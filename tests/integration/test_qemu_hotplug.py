#!/usr/bin/python3
"""Disk hotplug on a running QEMU guest via stock virsh 9.0: attach-disk /
detach-disk with --live, --config and both; checked with `virsh domblklist`
(live and --inactive), the persistent NAME.xml in the daemon's definitions
directory, DEVICE_REMOVED events and, when the serial console works, the
guest's own /dev/vd* (the kernel + busybox guest has virtio_blk and ACPI PCI
hotplug, so live detach completes; without an OS QEMU waits for the guest
forever).

Reference libvirtd 9.0 (SV_TARGET=ref):
  attach-disk --live   -> "Disk attached successfully"; only the live XML has it
  attach-disk --config -> only the persistent XML has it
  same target again    -> VIR_ERR_XML_ERROR(27), "XML error: target 'vdb'
                          duplicated for disk sources '...' and '...'"
  detach-disk --live   -> "Disk detached successfully", DEVICE_REMOVED
                          'virtio-disk1', the disk leaves the live XML (0.3 s
                          with the booted guest)
  detach-disk of an unknown target -> virsh: "No disk found whose source path
                          or target is vdz"
  --live on a shut-off guest -> 55 "Requested operation is not valid: domain
                          is not running"
Every check SKIPs when the daemon answers NO_SUPPORT for the procedure.
"""
import atexit
import json
import os
import shutil
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402
from harness import Skip, expect, expect_eq  # noqa: E402
import guest_assets as ga  # noqa: E402

import libvirt  # noqa: E402

libvirt.registerErrorHandler(lambda _ctx, _err: None, None)

PREFIX = "svh%04x%02x-" % (os.getpid() & 0xffff, int(time.time()) & 0xff)
NAME = PREFIX + "hp"
BOOT_TIMEOUT = float(os.environ.get("SV_BOOT_TIMEOUT", "60"))
NO_SUPPORT_TEXT = "not supported"


def _kill_ours():
    try:
        ga.kill_guests(PREFIX)
    except Exception:
        pass


atexit.register(_kill_ours)


class Ctx:
    console = None
    console_skip = None
    booted = False
    unsupported = None

    def __init__(self, target):
        self.t = target
        self.work = tempfile.mkdtemp(prefix="svh")
        self.events = ga.EventCollector(target)
        self.conn = self.events.conn
        try:
            self.kernel, self.initrd = ga.kernel_and_initrd()
            self.no_kernel = None
        except Skip as e:
            self.kernel = self.initrd = None
            self.no_kernel = str(e)
        self.disks = {d: ga.make_qcow2(os.path.join(self.work, d + ".qcow2"), "32M")
                      for d in ("vda", "vdb", "vdc", "vdd", "vdx")}

    def virsh(self, *args, ok=True):
        rc, out, err = self.t.virsh(*args)
        if rc and NO_SUPPORT_TEXT in err:
            self.unsupported = err.strip().splitlines()[-1]
            raise Skip("daemon answers NO_SUPPORT: " + self.unsupported)
        if ok and rc:
            raise AssertionError("virsh %s -> rc %d: %s" % (" ".join(args), rc, err.strip()))
        return rc, out, err

    def blklist(self, inactive=False):
        """{target: source} from virsh domblklist."""
        _rc, out, _err = self.virsh("domblklist", NAME, *(["--inactive"] if inactive else []))
        res = {}
        for line in out.splitlines()[2:]:
            w = line.split()
            if len(w) == 2:
                res[w[0]] = w[1]
        return res

    def persistent_xml(self):
        if not self.t.defs_dir:
            raise Skip("target has no known definitions directory")
        with open(os.path.join(self.t.defs_dir, NAME + ".xml")) as f:
            return f.read()

    def guest_serials(self):
        """sorted serial numbers of the guest's virtio disks (/sys/block/vd*/serial;
        '-' for a disk without one), or None without a console."""
        if not self.console:
            return None
        n = int(time.monotonic() * 1000) % 100000
        start = len(self.console.buf)
        # the typed line is echoed back: expect the computed value, not the text
        self.console.send("for d in /sys/block/vd*; do [ -e $d ] && echo DISK:$(cat $d/serial)-; "
                          "done; echo END-$((%d+1))\n" % n)
        end = self.console.expect("END-%d" % (n + 1), 10, start)
        text = self.console.buf[start:end].decode(errors="replace")
        return sorted(line[5:].strip()[:-1] or "-" for line in text.splitlines()
                      if line.startswith("DISK:"))

    def expect_guest_serials(self, want, what):
        """poll the guest (hotplug is asynchronous inside it) until its disks' serials == want"""
        deadline = time.monotonic() + 15
        while True:
            seen = self.guest_serials()
            if seen is None or seen == sorted(want) or time.monotonic() > deadline:
                break
            time.sleep(0.3)
        if seen is not None:
            expect_eq(seen, sorted(want), what)


def setup(c):
    """define + start the guest (booting kernel if available), wait for it."""
    kw = dict(disk=c.disks["vda"])
    if not c.no_kernel:
        kw.update(kernel=c.kernel, initrd=c.initrd)
    path = os.path.join(c.work, NAME + ".xml")
    with open(path, "w") as f:
        f.write(ga.domain_xml(NAME, **kw))
    c.virsh("define", path)
    c.virsh("start", NAME)
    if c.no_kernel:
        return
    dom = c.conn.lookupByName(NAME)
    try:
        c.console = ga.Console(c.conn, dom)
    except libvirt.libvirtError as e:
        if e.get_error_code() != libvirt.VIR_ERR_NO_SUPPORT:
            raise
        c.console_skip = "DOMAIN_OPEN_CONSOLE: NO_SUPPORT"
    if c.console:
        off = c.console.expect(ga.GUEST_MARKER, BOOT_TIMEOUT)
        c.console.expect(ga.SHELL_PROMPT, 30, off)
    else:
        path = ga.pty_of(dom.XMLDesc(0))
        if not (path and ga.wait_pty_text(path, ga.GUEST_MARKER, BOOT_TIMEOUT)):
            time.sleep(10)
    c.booted = True


def t_attach_live(c):
    _rc, out, _ = c.virsh("attach-disk", NAME, c.disks["vdb"], "vdb", "--serial", "SVvdb",
                          "--live", "--subdriver", "qcow2")
    expect("Disk attached successfully" in out, "attach-disk output %r" % out)
    expect_eq(c.blklist().get("vdb"), c.disks["vdb"], "live domblklist vdb")
    expect("vdb" not in c.blklist(inactive=True), "--live attach leaked into the inactive XML")
    expect(c.disks["vdb"] not in c.persistent_xml(), "--live attach written to the persistent XML")
    dom = c.conn.lookupByName(NAME)
    expect("virtio-disk1" in dom.XMLDesc(0), "live XML lacks alias virtio-disk1")
    # QEMU's own view, through virsh qemu-monitor-command (QEMU program proc 1)
    rc, out, err = c.virsh("qemu-monitor-command", NAME, '{"execute":"query-block"}')
    if rc == 0:
        blocks = json.loads(out)["return"]
        files = {b.get("qdev", ""): b.get("inserted", {}).get("file") for b in blocks}
        expect_eq(files.get("/machine/peripheral/virtio-disk1/virtio-backend"), c.disks["vdb"],
                  "query-block: file behind virtio-disk1")
    elif "not supported" not in err:
        raise AssertionError("qemu-monitor-command failed: %s" % err)
    c.expect_guest_serials(["-", "SVvdb"], "serials of the disks the guest sees")


def t_attach_config(c):
    c.virsh("attach-disk", NAME, c.disks["vdc"], "vdc", "--serial", "SVvdc", "--config",
            "--subdriver", "qcow2")
    expect_eq(c.blklist(inactive=True).get("vdc"), c.disks["vdc"], "inactive domblklist vdc")
    expect("vdc" not in c.blklist(), "--config attach showed up in the live XML")
    expect(c.disks["vdc"] in c.persistent_xml(), "--config attach missing from the persistent XML")


def t_attach_both(c):
    c.virsh("attach-disk", NAME, c.disks["vdd"], "vdd", "--serial", "SVvdd", "--live",
            "--config", "--subdriver", "qcow2")
    expect_eq(c.blklist().get("vdd"), c.disks["vdd"], "live domblklist vdd")
    expect_eq(c.blklist(inactive=True).get("vdd"), c.disks["vdd"], "inactive domblklist vdd")
    expect(c.disks["vdd"] in c.persistent_xml(), "vdd missing from the persistent XML")
    c.expect_guest_serials(["-", "SVvdb", "SVvdd"], "serials of the disks the guest sees")


def t_attach_duplicate(c):
    dom = c.conn.lookupByName(NAME)
    xml = ("<disk type='file' device='disk'><driver name='qemu' type='qcow2'/>"
           "<source file='%s'/><target dev='vdb' bus='virtio'/></disk>" % c.disks["vdx"])
    try:
        dom.attachDeviceFlags(xml, libvirt.VIR_DOMAIN_AFFECT_LIVE)
    except libvirt.libvirtError as e:
        if e.get_error_code() == libvirt.VIR_ERR_NO_SUPPORT:
            raise Skip("NO_SUPPORT")
        expect_eq(e.get_error_code(), libvirt.VIR_ERR_XML_ERROR, "error code (%s)" % e.get_error_message())
        expect(e.get_error_message().startswith("XML error: target 'vdb' duplicated"),
               "message %r" % e.get_error_message())
    else:
        raise AssertionError("attaching a second disk as vdb succeeded")
    expect_eq(c.blklist().get("vdb"), c.disks["vdb"], "vdb after the refused attach")


def t_detach_live(c):
    if not c.booted:
        raise Skip("live detach needs a guest OS that answers the unplug request")
    m = c.events.mark()
    _rc, out, _ = c.virsh("detach-disk", NAME, "vdb", "--live")
    expect("Disk detached successfully" in out, "detach-disk output %r" % out)
    got = c.events.wait(m, NAME, lambda g: "virtio-disk1" in g, 10, kind="device-removed")
    expect("virtio-disk1" in got, "no DEVICE_REMOVED virtio-disk1 event (got %s)" % got)
    deadline = time.monotonic() + 5
    while "vdb" in c.blklist() and time.monotonic() < deadline:
        time.sleep(0.1)
    expect("vdb" not in c.blklist(), "vdb still in the live XML after detach")
    c.expect_guest_serials(["-", "SVvdd"], "serials of the disks the guest sees after detach")


def t_detach_config(c):
    c.virsh("detach-disk", NAME, "vdc", "--config")
    expect("vdc" not in c.blklist(inactive=True), "vdc still in the inactive XML")
    expect(c.disks["vdc"] not in c.persistent_xml(), "vdc still in the persistent XML")


def t_detach_unknown(c):
    rc, _out, err = c.virsh("detach-disk", NAME, "vdz", "--live", ok=False)
    expect(rc == 1 and "No disk found whose source path or target is vdz" in err,
           "detach of an unknown disk: rc %d %r" % (rc, err))


def t_after_restart(c):
    """destroy + start: --config/--live --config disks persist, --live ones do not."""
    c.virsh("destroy", NAME)
    rc, _out, err = c.virsh("attach-disk", NAME, c.disks["vdx"], "vdx", "--live",
                            "--subdriver", "qcow2", ok=False)
    expect(rc == 1 and "Requested operation is not valid: domain is not running" in err,
           "live attach on a shut-off guest: rc %d %r" % (rc, err))
    expect_eq(sorted(c.blklist(inactive=True)), ["vda", "vdd"], "inactive disks after destroy")
    c.virsh("start", NAME)
    expect_eq(sorted(c.blklist()), ["vda", "vdd"], "live disks after start")
    c.virsh("destroy", NAME)


def main():
    target = harness.make_target()
    r = harness.Runner("test_qemu_hotplug")
    r.start(target)
    c = None

    def mk():
        nonlocal c
        c = Ctx(target)
    if not r.check("event client + test disks", mk):
        r.finish()
    try:
        if r.check("guest defined and running%s" % (" (no kernel: %s)" % c.no_kernel
                                                      if c.no_kernel else ", booted"), setup, c):
            for title, fn in (("attach-disk --live", t_attach_live),
                              ("attach-disk --config", t_attach_config),
                              ("attach-disk --live --config", t_attach_both),
                              ("attach of a duplicate target refused (XML_ERROR)", t_attach_duplicate),
                              ("detach-disk --live (DEVICE_REMOVED)", t_detach_live),
                              ("detach-disk --config", t_detach_config),
                              ("detach-disk of an unknown target", t_detach_unknown),
                              ("config disks persist across destroy/start", t_after_restart)):
                if c.unsupported:
                    r.check(title, lambda: (_ for _ in ()).throw(Skip("NO_SUPPORT: " + c.unsupported)))
                else:
                    r.check(title, fn, c)
    finally:
        if c:
            if c.console:
                c.console.close()
            for args in (("destroy", NAME), ("undefine", NAME)):
                target.virsh(*args)
            c.events.close()
            shutil.rmtree(c.work, ignore_errors=True)
        _kill_ours()
    r.finish()


if __name__ == "__main__":
    main()
