#!/usr/bin/python3
"""Persistent domain definitions survive daemon restarts and SIGKILL.

1. define 3 domains (2 with autostart), SIGTERM the daemon (must exit 0), start
   it again (socket-activated), then again without activation (the daemon binds
   its own sockets), then SIGKILL + start: all 3 present, identical
   XMLDesc(--inactive), identical XMLDesc(0) unless the domain was autostarted
   by the daemon (only autostart domains may be running), identical autostart
   flags; on disk NAME.xml per domain and
   autostart/NAME.xml symlinks for the autostarted ones.
2. ~20 iterations: start the daemon (self-binding, so stale sockets left by
   SIGKILL must be handled), define/redefine domains from a client thread,
   SIGKILL at a random moment. Right after every kill: every
   etc/libvirt/qemu/*.xml parses (xml.etree) and has a <name> equal to its file
   name. After the restart (a daemon may finish an interrupted write from a
   journal at start-up): it lists exactly the domains whose files exist then,
   and every define acknowledged before the kill, and every file present at
   the kill, is among them.
"""
import glob
import os
import random
import sys
import threading
import time
import xml.etree.ElementTree as ET

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402
from harness import expect, expect_eq  # noqa: E402

import libvirt  # noqa: E402

libvirt.registerErrorHandler(lambda _ctx, _err: None, None)

BASIC = harness.input_xml("dom-basic.xml")
FULL = harness.input_xml("dom-full.xml")
THIRD = (BASIC.replace("sv-basic", "sv-third")
         .replace("6a3f1e2c-1b7d-4c9e-9f10-0d2b3c4e5f61", "3c9d7e11-52a4-4f0b-9e6d-8a1b2c3d4e5f")
         .replace("<vcpu>1</vcpu>", "<vcpu>3</vcpu>"))
ITERATIONS = int(os.environ.get("SV_KILL_ITERATIONS", "20"))


def kill_xml(name, uuid, mem_mib):
    return ("<domain type='qemu'>\n  <name>%s</name>\n  <uuid>%s</uuid>\n"
            "  <memory unit='MiB'>%d</memory>\n  <vcpu>1</vcpu>\n"
            "  <os>\n    <type arch='x86_64' machine='pc'>hvm</type>\n  </os>\n"
            "  <devices>\n    <disk type='file' device='disk'>\n"
            "      <source file='/var/lib/libvirt/images/%s.img'/>\n"
            "      <target dev='vda' bus='virtio'/>\n    </disk>\n  </devices>\n"
            "%s</domain>\n" % (name, uuid, mem_mib, name,
                               # make the file big enough that a torn write is visible
                               "  <description>%s</description>\n" % ("x" * 4000)))


def snapshot(conn):
    out = {}
    for d in conn.listAllDomains(0):
        out[d.name()] = (d.UUIDString(), d.XMLDesc(0), d.XMLDesc(libvirt.VIR_DOMAIN_XML_INACTIVE),
                         d.autostart(), d.isPersistent(), d.isActive())
    return out


def check_files(defs_dir):
    """Every *.xml parses and is named after its <name>. -> set of names."""
    names = set()
    for p in glob.glob(os.path.join(defs_dir, "*.xml")):
        try:
            root = ET.parse(p).getroot()
        except ET.ParseError as e:
            size = os.path.getsize(p)
            raise AssertionError("partially written/corrupt %s (%d bytes): %s" % (p, size, e))
        name = root.findtext("name")
        expect(name, "%s has no <name>" % p)
        expect_eq(name, os.path.basename(p)[:-4], "file name vs <name> of " + p)
        names.add(name)
    return names


def main():
    runner = harness.Runner("test_persistence")
    target = harness.make_target()
    if not target.can_restart or not target.defs_dir:
        print("SKIP: target %s cannot be restarted by the test" % target.kind)
        runner.finish()
    runner.start(target)
    st = {}
    notes = set()

    # ---------------------------------------------------------- part 1
    def t_define():
        conn = target.open()
        for x in (BASIC, FULL, THIRD):
            conn.defineXML(x)
        conn.lookupByName("sv-basic").setAutostart(1)
        conn.lookupByName("sv-third").setAutostart(1)
        st["before"] = snapshot(conn)
        conn.close()
        expect_eq(sorted(st["before"]), ["sv-basic", "sv-full", "sv-third"], "defined")
        expect_eq({n: v[3] for n, v in st["before"].items()},
                  {"sv-basic": 1, "sv-full": 0, "sv-third": 1}, "autostart flags")

    def check_same(after_what):
        conn = target.open()
        try:
            after = snapshot(conn)
        finally:
            conn.close()
        before = st["before"]
        expect_eq(sorted(after), sorted(before), "domains after " + after_what)
        for n in before:
            b, a = before[n], after[n]
            expect_eq(a[0], b[0], n + " uuid")
            expect(a[2] == b[2], "%s: inactive XMLDesc differs after %s:\n--- before\n%s\n--- after\n%s"
                   % (n, after_what, b[2], a[2]))
            expect_eq(a[3], b[3], n + " autostart")
            expect_eq(a[4], 1, n + " persistent")
            if a[5]:
                # libvirt starts autostart domains when the daemon starts (the
                # reference does on every start: its /run is a fresh tmpfs)
                expect(b[3] == 1, "%s is running after %s but is not autostart" % (n, after_what))
                notes.add("%s autostarted after %s" % (n, after_what))
            else:
                expect(a[1] == b[1], "%s: XMLDesc differs after %s:\n--- before\n%s\n--- after\n%s"
                       % (n, after_what, b[1], a[1]))

    def t_files():
        d = target.defs_dir
        expect_eq(sorted(os.path.basename(p) for p in glob.glob(os.path.join(d, "*.xml"))),
                  ["sv-basic.xml", "sv-full.xml", "sv-third.xml"], "definition files in " + d)
        check_files(d)
        auto = os.path.join(d, "autostart")
        links = sorted(os.listdir(auto)) if os.path.isdir(auto) else []
        expect_eq(links, ["sv-basic.xml", "sv-third.xml"], "autostart dir " + auto)
        for l in links:
            p = os.path.join(auto, l)
            expect(os.path.islink(p), p + " is not a symlink")
            expect_eq(os.path.basename(os.readlink(p)), l, "symlink target of " + p)

    def t_sigterm_restart():
        rc = target.stop()
        expect(rc in (0, None), "daemon exit status after SIGTERM: %r\n%s" % (rc, target.log_tail()))
        target.start()
        check_same("SIGTERM + socket-activated restart")

    def t_selfbind_restart():
        target.stop()
        if hasattr(target, "activation"):
            target.activation = False
        target.start()
        check_same("SIGTERM + self-binding restart")

    def t_sigkill_restart():
        target.kill9()
        target.start()       # self-binding: stale socket files are still there
        check_same("SIGKILL + restart")

    ok = runner.check("define 3 domains + autostart", t_define)
    if ok:
        runner.check("files on disk", t_files)
        runner.check("SIGTERM, restart (socket activation)", t_sigterm_restart)
        runner.check("SIGTERM, restart (daemon binds its sockets)", t_selfbind_restart)
        runner.check("SIGKILL, restart", t_sigkill_restart)

    # ---------------------------------------------------------- part 2
    rng = random.Random(int(os.environ.get("SV_SEED", "4711")))
    acked = set()
    counter = [0]

    def worker(conn, stop):
        """Define new domains and redefine old ones as fast as possible."""
        wrng = random.Random(counter[0])
        while not stop.is_set():
            i = counter[0]
            counter[0] += 1
            if acked and i % 3 == 2:
                name = wrng.choice(sorted(acked))         # overwrite an existing file
            else:
                name = "k%04d" % i
            uuid = "5e1f0000-0000-4000-8000-%012x" % (int(name[1:]))
            try:
                conn.defineXML(kill_xml(name, uuid, 64 + i % 64))
                acked.add(name)
            except libvirt.libvirtError:
                return                                    # daemon killed

    recovered = [0, 0]    # files that appeared at restart; of those, acknowledged defines

    def t_kill_loop():
        stats = []
        for it in range(ITERATIONS):
            if not target.alive():
                target.start()
            conn = target.open()
            stop = threading.Event()
            th = threading.Thread(target=worker, args=(conn, stop), daemon=True)
            before = counter[0]
            th.start()
            time.sleep(rng.uniform(0.0, 0.25))            # the random moment
            target.kill9()
            stop.set()
            th.join(10)
            expect(not th.is_alive(), "client thread hung after SIGKILL")
            try:
                conn.close()
            except libvirt.libvirtError:
                pass
            # right after the kill: no torn/partial definition file
            at_kill = check_files(target.defs_dir)
            target.start()
            conn = target.open()
            try:
                listed = {d.name() for d in conn.listAllDomains(0)}
            finally:
                conn.close()
            # after restart (a daemon may complete/replay an interrupted write
            # at start-up): the daemon lists exactly the definition files
            on_disk = check_files(target.defs_dir)
            expect(listed == on_disk, "iteration %d: daemon lists %d domains, %d files; only listed %s, "
                   "only files %s" % (it, len(listed), len(on_disk), sorted(listed - on_disk)[:5],
                                      sorted(on_disk - listed)[:5]))
            lost = (acked | at_kill) - listed
            expect(not lost, "iteration %d: acknowledged or on-disk definitions lost: %s"
                   % (it, sorted(lost)[:5]))
            recovered[0] += len(on_disk - at_kill)
            recovered[1] += len(acked - at_kill)
            stats.append(counter[0] - before)
        print("  %d iterations, %d define calls, %d domains on disk, %d files completed at restart "
              "(%d of them acknowledged before the kill)" %
              (ITERATIONS, sum(stats), len(check_files(target.defs_dir)), recovered[0], recovered[1]))

    runner.check("define + random SIGKILL loop (%d iterations)" % ITERATIONS, t_kill_loop)

    def t_final():
        expect(target.alive(), "daemon not running\n" + target.log_tail())
        rc = target.stop()
        expect(rc in (0, None), "exit status after SIGTERM: %r" % rc)
    runner.check("clean stop", t_final)
    for n in sorted(notes):
        print("  note: " + n)
    runner.finish()


if __name__ == "__main__":
    main()
