#!/usr/bin/python3
"""Guest NICs of type bridge: virtqemud creates a tap, gives it the guest MAC
with 0xFE as first byte, plugs it into the host bridge and hands its fd to
QEMU; the tap disappears with the guest. The bridge is a local one made for
the test (no address, nothing routed) and removed afterwards."""
import os
import subprocess
import sys
import uuid

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import guest_assets as ga  # noqa: E402
import harness  # noqa: E402
from harness import expect, expect_eq  # noqa: E402

PREFIX = "svbr%s-" % uuid.uuid4().hex[:6]
BRIDGE = "svbr" + uuid.uuid4().hex[:6]


def ip(*args, check=True):
    return subprocess.run(["ip"] + list(args), capture_output=True, text=True, check=check)


def ports_of(bridge):
    out = ip("-o", "link", "show", "master", bridge, check=False).stdout
    return [line.split(":")[1].strip().split("@")[0] for line in out.splitlines() if ":" in line]


def main():
    if harness.target_is_reference():
        print("SKIP: uses a host bridge made for our daemon\n0 passed, 0 failed, 1 skipped")
        return
    runner = harness.Runner("test_qemu_bridge")
    if ip("link", "add", BRIDGE, "type", "bridge", check=False).returncode != 0:
        print("SKIP: cannot create a bridge here\n0 passed, 0 failed, 1 skipped")
        return
    ip("link", "set", BRIDGE, "up")
    target = harness.make_target()
    try:
        runner.start(target)
        work = target.root
        disk = os.path.join(work, "d.qcow2")
        ga.make_qcow2(disk)
        name = PREFIX + "g"
        mac = "52:54:00:12:34:56"
        nic = ("    <interface type='bridge'>\n      <mac address='%s'/>\n"
               "      <source bridge='%s'/>\n      <model type='virtio'/>\n    </interface>" % (mac, BRIDGE))
        xml_path = os.path.join(work, "g.xml")
        with open(xml_path, "w") as f:
            f.write(ga.domain_xml(name, disk=disk, extra_devices=nic))

        def t_start():
            rc, out, err = target.virsh("define", xml_path)
            expect(rc == 0, err)
            rc, out, err = target.virsh("start", name)
            expect(rc == 0, err)
            ports = ports_of(BRIDGE)
            expect_eq(len(ports), 1, "ports on the bridge")
            tap = ports[0]
            expect(tap.startswith("vnet"), "tap name %r" % tap)
            link = ip("-o", "link", "show", tap).stdout
            expect("fe:54:00:12:34:56" in link, "tap MAC: %s" % link)
            expect("UP" in link, "tap not up: %s" % link)
            rc, out, err = target.virsh("domiflist", name)
            expect(tap in out and BRIDGE in out and mac in out, "domiflist:\n" + out)
            rc, out, err = target.virsh("dumpxml", "--inactive", name)
            expect(tap not in out, "tap name leaked into the persistent XML")
        runner.check("start: tap created, MAC fe:..., plugged into the bridge, in the live XML", t_start)

        def t_destroy():
            rc, out, err = target.virsh("destroy", name)
            expect(rc == 0, err)
            harness.wait_for(lambda: not ports_of(BRIDGE), timeout=5, what="tap removed from the bridge")
        runner.check("destroy: the tap goes away", t_destroy)

        def t_missing_bridge():
            bad = PREFIX + "nobr"
            xml2 = os.path.join(work, "bad.xml")
            with open(xml2, "w") as f:
                f.write(ga.domain_xml(bad, disk=disk, extra_devices=nic.replace(BRIDGE, "svnonexist0")))
            rc, out, err = target.virsh("define", xml2)
            expect(rc == 0, err)
            rc, out, err = target.virsh("start", bad)
            expect(rc != 0, "start with a missing bridge succeeded")
            expect("svnonexist0" in err, "error does not name the bridge: " + err)
            expect(not ga.qemu_pids(bad), "QEMU left running after a failed start")
            rc, out, err = target.virsh("domstate", bad)
            expect("shut off" in out, out)
        runner.check("a missing bridge fails the start cleanly", t_missing_bridge)
    finally:
        ga.kill_guests(PREFIX)
        ip("link", "del", BRIDGE, check=False)
    runner.finish()


if __name__ == "__main__":
    main()
