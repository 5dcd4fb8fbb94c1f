#!/usr/bin/python3
"""A TCG guest with <interface type='network'> gets a DHCP lease from a
virtnetworkd NAT network.  virtnetworkd and virtqemud share one --root (so
virtqemud finds virtnetworkd's socket) and run in one network namespace made
for the test; the guest's tap lands on the network's bridge there.

The guest is the busybox test guest (guest_assets): on its serial console the
test writes a udhcpc hook and runs udhcpc on eth0; the hook prints
GUEST-LEASE-2 <ip>.  Then: the address is in the range, net-dhcp-leases lists
the guest's MAC with it, the guest pings the gateway; destroying the guest
takes its tap off the bridge, net-destroy leaves nothing behind.  A client
on the qemu:///system connection gets the network's lifecycle events.

SV_TARGET=ref runs it against the reference libvirtd 9.0 (both drivers in one
daemon, in its own namespace).
"""
import os
import re
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import guest_assets as ga  # noqa: E402
import harness  # noqa: E402
import netns  # noqa: E402
from harness import expect, expect_eq  # noqa: E402

RID = netns.short_id(4)
PREFIX = "svng%s-" % RID
NET = "svgnet" + RID
BR = "svg%s0" % RID
SUB = "10.203.1"
MAC = "52:54:00:%02x:%02x:%02x" % tuple(os.urandom(3))
BOOT_TIMEOUT = 120
LEASE_TIMEOUT = 60

NET_XML = """<network>
  <name>%s</name>
  <forward mode='nat'/>
  <bridge name='%s'/>
  <ip address='%s.1' netmask='255.255.255.0'>
    <dhcp>
      <range start='%s.100' end='%s.200'/>
    </dhcp>
  </ip>
</network>
""" % (NET, BR, SUB, SUB, SUB)

NIC = """    <interface type='network'>
      <mac address='%s'/>
      <source network='%s'/>
      <model type='virtio'/>
    </interface>""" % (MAC, NET)

# typed on the guest's shell; $((1+1)) keeps the marker out of the echoed input
DHCP_CMD = ("printf '#!/bin/sh\\n[ \"$1\" = bound ] && ip addr add $ip/$mask dev $interface"
            " && echo GUEST-LEASE-$((1+1)) $ip\\nexit 0\\n' > /tmp/h; chmod +x /tmp/h;"
            " ip link set eth0 up; udhcpc -i eth0 -q -n -t 40 -T 1 -s /tmp/h 2>/dev/null;"
            " echo DHCP-DONE-$((2+2))\n")


class PtyConsole:
    """Fallback when the daemon has no DOMAIN_OPEN_CONSOLE: QEMU's pty."""

    def __init__(self, path):
        self.fd = os.open(path, os.O_RDWR | os.O_NOCTTY | os.O_NONBLOCK)
        self.buf = b""

    def expect(self, pattern, timeout=60.0, start=0):
        import select
        pat = pattern.encode()
        deadline = time.monotonic() + timeout
        while True:
            i = self.buf.find(pat, start)
            if i >= 0:
                return i + len(pat)
            left = deadline - time.monotonic()
            if left <= 0:
                raise AssertionError("console: %r not seen in %.0fs; last output %r"
                                     % (pattern, timeout, self.buf[-300:]))
            r, _, _ = select.select([self.fd], [], [], min(left, 0.5))
            if r:
                try:
                    self.buf += os.read(self.fd, 4096)
                except BlockingIOError:
                    pass

    def send(self, text):
        os.write(self.fd, text.encode())

    def close(self):
        os.close(self.fd)


def wait_shell(console):
    """-> console offset once the guest's shell answers.  Asks again every
    2 s instead of waiting for the boot marker, which is lost when QEMU
    prints it before the console is attached."""
    deadline = time.monotonic() + BOOT_TIMEOUT
    while True:
        console.send("echo SHELL-$((5+5))\n")
        try:
            return console.expect("SHELL-10", 2)
        except AssertionError:
            if time.monotonic() > deadline:
                raise AssertionError("the guest's shell did not answer within %ds; console: %r"
                                     % (BOOT_TIMEOUT, console.buf[-500:]))


def main():
    if os.environ.get("SV_TARGET_URI") or os.environ.get("SV_NETWORK_TARGET_URI"):
        print("SKIP: needs daemons inside a namespace made by the test\n0 passed, 0 failed, 1 skipped")
        return
    if os.geteuid() != 0:
        print("SKIP: needs root (network namespaces)\n0 passed, 0 failed, 1 skipped")
        return
    try:
        kernel, initrd = ga.kernel_and_initrd()
    except harness.Skip as e:
        print("SKIP: no test guest kernel: %s\n0 passed, 0 failed, 1 skipped" % e)
        return
    import libvirt
    libvirt.registerErrorHandler(lambda *_a: None, None)
    runner = harness.Runner("test_network_guest")
    host = None
    console = None
    st = {}
    try:
        if harness.target_is_reference():
            qemu = harness.make_target()
            runner.start(qemu)
            net_uri = "network:///system?socket=" + qemu.sock
            host = netns.NetNS.attach(qemu.pid)
            work = qemu.root
        else:
            host = netns.NetNS(prefix="svq")
            net = harness.Virtnetworkd(netns=host.name)
            qemu = harness.Virtqemud(netns=host.name, root=net.root)
            runner.start(net)
            runner.start(qemu)
            net_uri = net.uri
            work = net.root

        def nvirsh(*args):
            rc, out, err = harness.run_virsh(net_uri, args)
            if rc:
                raise AssertionError("virsh %s: %s" % (" ".join(args), err.strip()))
            return out

        def qvirsh(*args):
            rc, out, err = qemu.virsh(*args)
            if rc:
                raise AssertionError("virsh %s: %s" % (" ".join(args), err.strip()))
            return out

        os.chmod(work, 0o755)
        name = PREFIX + "g"
        # Network events through the qemu:///system connection (virtqemud
        # relays them from virtnetworkd, as libvirt's does).
        ga.start_event_loop()
        net_events = []
        st["econn"] = libvirt.open(qemu.uri)
        st["econn"].networkEventRegisterAny(
            None, libvirt.VIR_NETWORK_EVENT_ID_LIFECYCLE,
            lambda _c, n, ev, _det, _o: net_events.append((n.name(), ev)), None)

        def t_network():
            p = os.path.join(work, "net.xml")
            with open(p, "w") as f:
                f.write(NET_XML)
            nvirsh("net-define", p)
            before = {pid for pid, _ in host.procs("dnsmasq")}
            nvirsh("net-start", NET)
            expect_eq(host.addrs(BR), [SUB + ".1/24"], "bridge address")
            st["dnsmasq"] = netns.wait_until(
                lambda: {pid for pid, _ in host.procs("dnsmasq")} - before, 10, what="dnsmasq")
        runner.check("NAT network %s started (bridge %s, dnsmasq)" % (NET, BR), t_network)

        def t_guest_start():
            disk = ga.make_qcow2(os.path.join(work, "d.qcow2"))
            p = os.path.join(work, "g.xml")
            with open(p, "w") as f:
                f.write(ga.domain_xml(name, kernel=kernel, initrd=initrd, disk=disk, extra_devices=NIC))
            qvirsh("define", p)
            qvirsh("start", name)
            ports = host.ports(BR)
            expect_eq(len(ports), 1, "ports on %s (the guest's tap)" % BR)
            st["tap"] = ports[0]
            link = host.link(ports[0])
            expect(link and "fe:" + MAC[3:] == link.get("address"),
                   "tap %s MAC %s (want fe:%s)" % (ports[0], link and link.get("address"), MAC[3:]))
            out = qvirsh("domiflist", name)
            row = [l.split() for l in out.splitlines() if MAC in l]
            expect(row and row[0][1] == "network" and row[0][2] == NET, "domiflist:\n" + out)
        runner.check("guest with <interface type='network'> starts, its tap is on the bridge", t_guest_start)

        def t_guest_lease():
            nonlocal console
            ga.start_event_loop()          # before the connection the console stream uses
            conn = libvirt.open(qemu.uri)
            st["conn"] = conn
            dom = conn.lookupByName(name)
            try:
                console = ga.Console(conn, dom)
            except libvirt.libvirtError as e:
                if e.get_error_code() != libvirt.VIR_ERR_NO_SUPPORT:
                    raise
                console = PtyConsole(ga.pty_of(dom.XMLDesc(0)))
            off = wait_shell(console)
            console.send(DHCP_CMD)
            end = console.expect("DHCP-DONE-4", LEASE_TIMEOUT, off)
            out = console.buf[off:end].decode(errors="replace")
            m = re.search(r"GUEST-LEASE-2 (\d+\.\d+\.\d+\.\d+)", out)
            expect(m, "the guest got no lease; console:\n" + out[-800:])
            ip = m.group(1)
            expect(ip.startswith(SUB + ".") and 100 <= int(ip.split(".")[3]) <= 200,
                   "guest lease %s outside %s.100-200" % (ip, SUB))
            st["ip"] = ip
            st["off"] = end

            def listed():
                out = nvirsh("net-dhcp-leases", NET)
                return [l for l in out.splitlines() if MAC in l and ip + "/24" in l]
            netns.wait_until(listed, 10, what="net-dhcp-leases listing %s %s" % (MAC, ip))
        runner.check("the guest gets a DHCP lease from the network; net-dhcp-leases lists it", t_guest_lease)

        def t_guest_ping():
            expect("ip" in st, "no lease")
            console.send("ping -c 1 -W 3 %s.1 >/dev/null && echo PING-$((3+3))-OK; echo PING-DONE-$((4+4))\n"
                         % SUB)
            end = console.expect("PING-DONE-8", 30, st["off"])
            out = console.buf[st["off"]:end].decode(errors="replace")
            expect("PING-6-OK" in out, "guest cannot ping the gateway %s.1:\n%s" % (SUB, out[-500:]))
        runner.check("the guest reaches the gateway", t_guest_ping)

        def t_guest_destroy():
            qvirsh("destroy", name)
            netns.wait_until(lambda: not host.ports(BR), 10, what="tap removed from %s" % BR)
            expect(not host.has_link(st.get("tap", "-")), "tap %s left" % st.get("tap"))
            qvirsh("undefine", name)
        runner.check("destroying the guest takes its tap off the bridge", t_guest_destroy)

        def t_net_destroy():
            nvirsh("net-destroy", NET)
            netns.wait_until(lambda: not host.has_link(BR), 10, what="bridge removed")
            netns.wait_until(lambda: not (st.get("dnsmasq", set()) & {p for p, _ in host.procs("dnsmasq")}),
                             10, what="dnsmasq gone")
            left = [l for l in host.nft_ruleset().splitlines() if SUB + "." in l or BR in l]
            expect(not left, "nft rules left: %s" % left)
            nvirsh("net-undefine", NET)
        runner.check("net-destroy removes bridge, dnsmasq and rules", t_net_destroy)

        def t_net_events():
            want = [(NET, libvirt.VIR_NETWORK_EVENT_DEFINED), (NET, libvirt.VIR_NETWORK_EVENT_STARTED),
                    (NET, libvirt.VIR_NETWORK_EVENT_STOPPED), (NET, libvirt.VIR_NETWORK_EVENT_UNDEFINED)]
            deadline = time.monotonic() + 5
            while time.monotonic() < deadline and len([e for e in net_events if e[0] == NET]) < len(want):
                time.sleep(0.05)
            expect_eq([e for e in net_events if e[0] == NET], want, "network lifecycle events")
        runner.check("network events reach a qemu:///system client", t_net_events)
    finally:
        if console is not None:
            try:
                console.close()
            except Exception:
                pass
        for k in ("conn", "econn"):
            if st.get(k):
                try:
                    st[k].close()
                except Exception:
                    pass
        if runner.failed:
            for t in list(harness._live_targets):
                print("--- %s log tail:\n%s" % (t.kind, t.log_tail(30)), flush=True)
        ga.kill_guests(PREFIX)
        harness._cleanup_all()
        if host:
            host.delete()
    runner.finish()


if __name__ == "__main__":
    main()
