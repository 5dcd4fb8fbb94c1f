#!/usr/bin/python3
"""Virtual networks (issue 6): virtnetworkd runs inside a network namespace
made for the test; "guests" are namespaces on veths plugged into the
network's bridge and ask for leases with busybox udhcpc.

Checked for real: the bridge and its address, dnsmasq processes, the nft
table (ours is called splitvirt) and its rules, ip_forward, DHCP leases
(dynamic, static from net-update, while the daemon is dead and after its
restart), masquerading towards an upstream host that has no route back,
net-dhcp-leases, and that net-destroy leaves no bridge, process or rule.
Bad input (overlapping subnet, bridge name over 15 bytes, DHCP range outside
the subnet) fails with libvirt 9.0's error code/domain/message and leaves no
bridge.  Also: net-list/info/uuid/name/autostart, undefine of a running
network, net-create, dumpxml live vs --inactive, listAllNetworks flags,
isolated/route/open modes.

SV_TARGET=ref runs the same checks against the reference libvirtd 9.0 (in its
own namespace, which the test names with `ip netns attach`); the splitvirt
table name and the kill -9 check are ours only.
"""
import json
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402
import netns  # noqa: E402
from harness import Skip, expect, expect_eq  # noqa: E402

RID = netns.short_id(4)
NFT_TABLE = "splitvirt"

# name -> (bridge, third octet of 10.201.X.0/24)
NAT = ("svnat" + RID, "svn%s0" % RID, 1)
UND = ("svund" + RID, "svn%s1" % RID, 2)
TRA = ("svtra" + RID, "svn%s2" % RID, 3)
ISO = ("sviso" + RID, "svn%s3" % RID, 4)
RTE = ("svrte" + RID, "svn%s4" % RID, 5)
OPN = ("svopn" + RID, "svn%s5" % RID, 6)
OVL = ("svovl" + RID, "svn%s6" % RID, 1)        # same subnet as NAT
UPLINK = ("svu" + RID, "10.202.0")               # upstream veth in the host ns, wan = .2


def subnet(octet):
    return "10.201.%d" % octet


def net_xml(name, bridge, octet, mode="nat", dhcp=True, stp="off", rng=None, hosts=(),
            bridge_attrs=None):
    s = subnet(octet)
    out = ["<network>", "  <name>%s</name>" % name]
    if mode:
        out.append("  <forward mode='%s'/>" % mode)
    out.append("  <bridge name='%s' stp='%s' delay='0'/>" % (bridge, stp)
               if bridge_attrs is None else "  <bridge %s/>" % bridge_attrs)
    out.append("  <ip address='%s.1' netmask='255.255.255.0'>" % s)
    if dhcp:
        a, b = rng or ("%s.100" % s, "%s.200" % s)
        out.append("    <dhcp>")
        out.append("      <range start='%s' end='%s'/>" % (a, b))
        for mac, ip in hosts:
            out.append("      <host mac='%s' ip='%s'/>" % (mac, ip))
        out.append("    </dhcp>")
    out += ["  </ip>", "</network>", ""]
    return "\n".join(out)


def lease_in_range(lease, octet):
    s = subnet(octet)
    parts = lease["ip"].split(".")
    return lease["ip"].startswith(s + ".") and 100 <= int(parts[3]) <= 200


class Ctx:
    def __init__(self, target, host):
        self.t = target
        self.host = host
        self.conn = None
        self.work = host.tmpdir()
        self.clients = []
        self.nat_dnsmasq = set()
        self.is_ref = harness.target_is_reference()
        self.leases = {}          # mac -> ip handed out on NAT

    def reconnect(self):
        import libvirt
        if self.conn is not None:
            try:
                self.conn.close()
            except Exception:
                pass
        self.conn = libvirt.open(self.t.uri)
        return self.conn

    def virsh(self, *args):
        rc, out, err = self.t.virsh(*args)
        if rc != 0:
            raise AssertionError("virsh %s -> rc %d: %s%s" % (" ".join(args), rc, err.strip(),
                                                              self.log_hint()))
        return out

    def virsh_rc(self, *args):
        return self.t.virsh(*args)

    def log_hint(self):
        tail = self.t.log_tail(15)
        return ("\n--- daemon log tail:\n" + tail) if tail else ""

    def write(self, fname, text):
        p = os.path.join(self.work, fname)
        with open(p, "w") as f:
            f.write(text)
        return p

    def client(self, bridge, mac=None):
        c = netns.Client(self.host, bridge, mac=mac)
        self.clients.append(c)
        return c

    def drop_client(self, c):
        c.delete()
        if c in self.clients:
            self.clients.remove(c)

    def dnsmasq_pids(self):
        return {pid for pid, _ in self.host.procs("dnsmasq")}

    def rules(self):
        """Every nft rule in the namespace as a canonical JSON string
        (handles dropped), so rule sets can be compared."""
        p = self.host.nft("-j", "list", "ruleset")
        if p.returncode != 0:
            raise AssertionError("nft -j list ruleset: " + p.stderr)
        out = []
        for e in json.loads(p.stdout or '{"nftables": []}').get("nftables", []):
            r = e.get("rule")
            if r:
                r = {k: v for k, v in r.items() if k != "handle"}
                # packet counters change all the time
                r["expr"] = [{"counter": None} if "counter" in x else x for x in r.get("expr", [])]
                out.append(json.dumps(r, sort_keys=True))
        return sorted(out)

    def rules_mentioning(self, *needles):
        """Rule lines of `nft list ruleset` that contain any needle."""
        text = self.host.nft_ruleset()
        return [l.strip() for l in text.splitlines() if any(n in l for n in needles)]

    def expect_gone(self, bridge, octet, dnsmasq, what):
        """bridge, its dnsmasq processes and its rules are all gone (polled)."""
        netns.wait_until(lambda: not self.host.has_link(bridge), 10,
                         what="bridge %s removed (%s)" % (bridge, what))
        netns.wait_until(lambda: not (dnsmasq & self.dnsmasq_pids()), 10,
                         what="dnsmasq %s of %s gone (%s)" % (sorted(dnsmasq), bridge, what))
        left = self.rules_mentioning(bridge, subnet(octet) + ".")
        expect(not left, "%s: nft rules still mention %s / %s.0/24: %s"
               % (what, bridge, subnet(octet), left))

    def start_net(self, name, bridge, octet, **kw):
        """define + start; -> set of dnsmasq pids that appeared."""
        before = self.dnsmasq_pids()
        path = self.write(name + ".xml", net_xml(name, bridge, octet, **kw))
        self.virsh("net-define", path)
        self.virsh("net-start", name)
        if kw.get("dhcp", True):
            return netns.wait_until(lambda: self.dnsmasq_pids() - before, 10,
                                    what="a dnsmasq for %s" % name)
        return self.dnsmasq_pids() - before

    def leases_listed(self, name, mac, ip):
        out = self.virsh("net-dhcp-leases", name)
        for line in out.splitlines():
            w = line.split()
            if mac in w and (ip + "/24") in w:
                return line
        return None


# ------------------------------------------------------------------ checks
def t_nat_start(c):
    name, br, o = NAT
    rules_before = c.rules()
    path = c.write(name + ".xml", net_xml(name, br, o))
    out = c.virsh("net-define", path)
    expect("Network %s defined" % name in out, out)
    expect(not c.host.has_link(br), "net-define created the bridge already")
    before = c.dnsmasq_pids()
    out = c.virsh("net-start", name)
    expect("Network %s started" % name in out, out)
    link = c.host.link(br)
    expect(link is not None, "bridge %s missing after net-start; links: %s"
           % (br, sorted(c.host.links())))
    kind = c.host.ip_json("-d", "link", "show", "dev", br)[0].get("linkinfo", {}).get("info_kind")
    expect_eq(kind, "bridge", "link kind of %s" % br)
    expect("UP" in link.get("flags", []), "bridge not up: %s" % link.get("flags"))
    expect_eq(c.host.addrs(br), ["%s.1/24" % subnet(o)], "addresses on %s" % br)
    c.nat_dnsmasq = netns.wait_until(lambda: c.dnsmasq_pids() - before, 10,
                                     what="dnsmasq started in the namespace")
    expect_eq(c.host.sysctl("net.ipv4.ip_forward"), "1", "net.ipv4.ip_forward in the namespace")
    if not c.is_ref:
        tables = c.host.nft_tables()
        expect(any(n == NFT_TABLE for _f, n in tables), "no nft table %s: %s" % (NFT_TABLE, tables))
    expect(c.rules() != rules_before, "net-start added no nft rule")
    nat = [l for l in c.rules_mentioning(subnet(o) + ".0/24") if "masquerade" in l.lower()]
    expect(nat, "no masquerade rule for %s.0/24:\n%s" % (subnet(o), c.host.nft_ruleset()))


def t_nat_lease(c):
    name, br, o = NAT
    cl = c.client(br)
    lease = cl.dhcp(hostname="svcli1")
    expect(lease_in_range(lease, o), "lease %s outside the range %s.100-200" % (lease, subnet(o)))
    expect_eq(lease["mask"], "24", "lease netmask")
    expect_eq(lease["router"], "%s.1" % subnet(o), "lease router")
    expect(lease["dns"].split()[0] == "%s.1" % subnet(o), "lease dns %r" % lease["dns"])
    c.leases[cl.mac] = lease["ip"]
    expect(cl.ping("%s.1" % subnet(o)), "client cannot ping the gateway %s.1" % subnet(o))
    line = netns.wait_until(lambda: c.leases_listed(name, cl.mac, lease["ip"]), 10,
                            what="net-dhcp-leases listing %s %s" % (cl.mac, lease["ip"]))
    expect("ipv4" in line and "svcli1" in line, "lease line %r (want ipv4, hostname svcli1)" % line)
    net = c.conn.networkLookupByName(name)
    got = [le for le in net.DHCPLeases() if le["mac"] == cl.mac]
    expect(got, "DHCPLeases() lacks %s: %s" % (cl.mac, net.DHCPLeases()))
    le = got[0]
    expect_eq((le["ipaddr"], le["prefix"], le["iface"], le["hostname"]),
              (lease["ip"], 24, br, "svcli1"), "DHCPLeases() entry")
    only = net.DHCPLeases(cl.mac)
    expect_eq([x["ipaddr"] for x in only], [lease["ip"]], "DHCPLeases(mac)")
    c.nat_client = cl


def t_masquerade(c):
    """The client reaches an upstream host that has no route back to the
    guest subnet: only possible when the source is masqueraded."""
    name, br, o = NAT
    up, net = UPLINK
    wan = netns.NetNS(prefix="svw")
    c.wan = wan
    c.host.ip("link", "add", up, "type", "veth", "peer", "name", "eth0", "netns", wan.name)
    c.host.ip("addr", "add", net + ".1/24", "dev", up)
    c.host.ip("link", "set", up, "up")
    wan.ip("addr", "add", net + ".2/24", "dev", "eth0")
    wan.ip("link", "set", "eth0", "up")
    cl = c.nat_client
    ok = cl.ping(net + ".2", count=2, wait=2)
    expect(ok, "client %s cannot reach %s.2 through the NAT; ruleset:\n%s"
           % (c.leases.get(cl.mac), net, c.host.nft_ruleset()))
    # and nothing from upstream gets in: wan -> guest is not forwarded
    wan.ip("route", "add", subnet(o) + ".0/24", "via", net + ".1")
    expect(not wan.run("busybox", "ping", "-c", "1", "-W", "1", c.leases[cl.mac]).returncode == 0,
           "upstream host reached the guest %s: forward policy lets it in" % c.leases[cl.mac])


def t_update_static(c):
    name, br, o = NAT
    mac, ip = "52:54:00:5a:%s:%s" % (RID[:2], RID[2:4]), "%s.50" % subnet(o)
    host = "<host mac='%s' ip='%s'/>" % (mac, ip)
    out = c.virsh("net-update", name, "add", "ip-dhcp-host", host, "--live", "--config")
    expect("Updated network %s persistent config and live state" % name in out, out)
    for flag in ([], ["--inactive"]):
        x = c.virsh("net-dumpxml", name, *flag)
        expect(mac in x and ip in x, "net-dumpxml %s lacks the new host:\n%s" % (flag, x))
    with open(os.path.join(c.t.defs_dir, name + ".xml")) as f:
        saved = f.read()
    expect(mac in saved and ip in saved, "the new host is not in the saved XML:\n" + saved)
    cl = c.client(br, mac=mac)
    lease = cl.dhcp()
    expect_eq(lease["ip"], ip, "lease of the static host %s" % mac)
    netns.wait_until(lambda: c.leases_listed(name, mac, ip), 10,
                     what="net-dhcp-leases listing the static host")
    c.drop_client(cl)


def t_update_live_only(c):
    import libvirt
    name, br, o = NAT
    mac, ip = "52:54:00:5b:%s:%s" % (RID[:2], RID[2:4]), "%s.51" % subnet(o)
    host = "<host mac='%s' ip='%s'/>" % (mac, ip)
    out = c.virsh("net-update", name, "add", "ip-dhcp-host", host, "--live")
    expect("Updated network %s live state" % name in out, out)
    net = c.conn.networkLookupByName(name)
    expect(mac in net.XMLDesc(0), "live XML lacks the --live host")
    expect(mac not in net.XMLDesc(libvirt.VIR_NETWORK_XML_INACTIVE),
           "--inactive XML has the --live-only host")
    expect(mac not in c.virsh("net-dumpxml", name, "--inactive"), "net-dumpxml --inactive")
    # adding it again: libvirt's error
    try:
        net.update(libvirt.VIR_NETWORK_UPDATE_COMMAND_ADD_LAST, libvirt.VIR_NETWORK_SECTION_IP_DHCP_HOST,
                   -1, host, libvirt.VIR_NETWORK_UPDATE_AFFECT_LIVE)
        raise AssertionError("adding the same dhcp host twice succeeded")
    except libvirt.libvirtError as e:
        expect_eq((e.get_error_code(), e.get_error_domain()),
                  (libvirt.VIR_ERR_OPERATION_INVALID, libvirt.VIR_FROM_NETWORK), "duplicate host error")
        expect("there is an existing dhcp host entry in network '%s'" % name in str(e), str(e))
    out = c.virsh("net-update", name, "delete", "ip-dhcp-host", host, "--live")
    expect(mac not in net.XMLDesc(0), "live XML still has the deleted host")
    try:
        net.update(libvirt.VIR_NETWORK_UPDATE_COMMAND_DELETE, libvirt.VIR_NETWORK_SECTION_IP_DHCP_HOST,
                   -1, host, libvirt.VIR_NETWORK_UPDATE_AFFECT_LIVE)
        raise AssertionError("deleting a missing dhcp host succeeded")
    except libvirt.libvirtError as e:
        expect_eq((e.get_error_code(), e.get_error_domain()),
                  (libvirt.VIR_ERR_OPERATION_INVALID, libvirt.VIR_FROM_NETWORK), "missing host error")
        expect("couldn't locate a matching dhcp host entry in network '%s'" % name in str(e), str(e))


def t_info(c):
    import libvirt
    name, br, o = NAT
    out = c.virsh("net-list", "--all")
    rows = [l.split() for l in out.splitlines()]
    expect([name, "active", "no", "yes"] in rows, "net-list --all:\n" + out)
    info = dict(l.split(":", 1) for l in c.virsh("net-info", name).splitlines() if ":" in l)
    info = {k.strip(): v.strip() for k, v in info.items()}
    uuid = c.virsh("net-uuid", name).strip()
    expect_eq(info, {"Name": name, "UUID": uuid, "Active": "yes", "Persistent": "yes",
                     "Autostart": "no", "Bridge": br}, "net-info")
    expect_eq(c.virsh("net-name", uuid).strip(), name, "net-name of the uuid")
    link = os.path.join(c.t.defs_dir, "autostart", name + ".xml")
    out = c.virsh("net-autostart", name)
    try:
        expect("Network %s marked as autostarted" % name in out, out)
        expect(os.path.islink(link), "no autostart link %s" % link)
        # libvirt links to the absolute path as the daemon sees it
        expect(os.readlink(link).endswith("/qemu/networks/%s.xml" % name),
               "autostart link points to %s" % os.readlink(link))
        expect("Autostart:      yes" in c.virsh("net-info", name), "net-info after net-autostart")
        expect(c.conn.networkLookupByName(name).autostart() == 1, "autostart() after net-autostart")
    finally:
        out = c.virsh("net-autostart", name, "--disable")
    expect("Network %s unmarked as autostarted" % name in out, out)
    expect(not os.path.lexists(link), "autostart link left after --disable")
    rc, out, err = c.virsh_rc("net-start", name)
    expect(rc != 0 and "network is already active" in err, "net-start of an active network: %s" % err)
    try:
        c.conn.networkLookupByName("svnosuch" + RID)
        raise AssertionError("lookup of a missing network succeeded")
    except libvirt.libvirtError as e:
        expect_eq((e.get_error_code(), e.get_error_domain()),
                  (libvirt.VIR_ERR_NO_NETWORK, libvirt.VIR_FROM_NETWORK), "missing network")
        expect("no network with matching name 'svnosuch%s'" % RID in str(e), str(e))


def t_bad_overlap(c):
    """Same subnet as the running NAT network: start fails (libvirt reads the
    routing table), no bridge for the second network."""
    import libvirt
    name, br, o = OVL
    before = c.dnsmasq_pids()
    net = c.conn.networkDefineXML(net_xml(name, br, o))
    try:
        try:
            net.create()
            raise AssertionError("starting a second network on %s.0/24 succeeded" % subnet(o))
        except libvirt.libvirtError as e:
            err = e
        expect_eq(str(err), "internal error: Network is already in use by interface %s" % NAT[1],
                  "overlap error message")
        expect(not net.isActive(), "the overlapping network is active")
        expect(not c.host.has_link(br), "bridge %s of the failed network exists" % br)
        expect_eq(c.dnsmasq_pids(), before, "dnsmasq processes after the failed start")
        rc, out, verr = c.virsh_rc("net-start", name)
        expect(rc != 0 and "Network is already in use by interface %s" % NAT[1] in verr,
               "virsh net-start: rc %d %s" % (rc, verr))
        # libvirt raises it from bridge_driver_linux.c, whose VIR_FROM_THIS is NONE
        expect_eq((err.get_error_code(), err.get_error_domain()),
                  (libvirt.VIR_ERR_INTERNAL_ERROR, libvirt.VIR_FROM_NONE), "overlap error code/domain")
    finally:
        net.undefine()


def t_bad_bridge_name(c):
    """16-byte bridge name: libvirt defines it and fails at start when the
    kernel refuses the name."""
    import libvirt
    name = "svlong" + RID
    br = "svlongbridge%s" % RID          # 16 bytes
    expect_eq(len(br), 16, "test bridge name length")
    net = c.conn.networkDefineXML(net_xml(name, br, 9))
    try:
        try:
            net.create()
            raise AssertionError("started a network with the 16-byte bridge name %s" % br)
        except libvirt.libvirtError as e:
            expect_eq((e.get_error_code(), e.get_error_domain()),
                      (libvirt.VIR_ERR_SYSTEM_ERROR, libvirt.VIR_FROM_NONE), "long bridge error code/domain")
            expect(str(e).startswith("error creating bridge interface %s" % br),
                   "long bridge error message %r" % str(e))
        expect(not net.isActive(), "network active after the failed start")
        links = c.host.links()
        expect(not [l for l in links if l.startswith("svlongbridge")],
               "a half-created bridge is left: %s" % sorted(links))
    finally:
        net.undefine()


def t_bad_range(c):
    """DHCP range outside the subnet: refused at define (and create)."""
    import libvirt
    name, br = "svrng" + RID, "svn%s7" % RID
    xml = net_xml(name, br, 8, rng=("10.201.7.10", "10.201.7.20"))
    for what, fn in (("define", c.conn.networkDefineXML), ("create", c.conn.networkCreateXML)):
        try:
            fn(xml)
            raise AssertionError("net-%s with a DHCP range outside the subnet succeeded" % what)
        except libvirt.libvirtError as e:
            expect_eq((e.get_error_code(), e.get_error_domain()),
                      (libvirt.VIR_ERR_INTERNAL_ERROR, libvirt.VIR_FROM_NONE), what + " error code/domain")
            expect_eq(str(e), "internal error: range 10.201.7.10 - 10.201.7.20 is not entirely "
                      "within network 10.201.8.1/24", what + " error message")
    expect(not c.host.has_link(br), "bridge %s created" % br)
    names = [n.name() for n in c.conn.listAllNetworks(0)]
    expect(name not in names, "the refused network is listed: %s" % names)
    expect(not os.path.exists(os.path.join(c.t.defs_dir, name + ".xml")), "its XML was saved")


def t_list_flags(c):
    import libvirt
    # NAT: active persistent; UND: inactive persistent autostart
    name, br, o = UND
    c.virsh("net-define", c.write(name + ".xml", net_xml(name, br, o, mode="nat")))
    c.virsh("net-autostart", name)
    F = {f: getattr(libvirt, "VIR_CONNECT_LIST_NETWORKS_" + f)
         for f in ("ACTIVE", "INACTIVE", "PERSISTENT", "TRANSIENT", "AUTOSTART", "NO_AUTOSTART")}
    mine = {NAT[0], name}

    def names(flags):
        return sorted(n.name() for n in c.conn.listAllNetworks(flags) if n.name() in mine)
    expect_eq(names(0), sorted(mine), "listAllNetworks(0)")
    expect_eq(names(F["ACTIVE"]), [NAT[0]], "ACTIVE")
    expect_eq(names(F["INACTIVE"]), [name], "INACTIVE")
    expect_eq(names(F["PERSISTENT"]), sorted(mine), "PERSISTENT")
    expect_eq(names(F["TRANSIENT"]), [], "TRANSIENT")
    expect_eq(names(F["AUTOSTART"]), [name], "AUTOSTART")
    expect_eq(names(F["NO_AUTOSTART"]), [NAT[0]], "NO_AUTOSTART")
    expect_eq(names(F["ACTIVE"] | F["INACTIVE"]), sorted(mine), "ACTIVE|INACTIVE")
    expect_eq(names(F["INACTIVE"] | F["AUTOSTART"]), [name], "INACTIVE|AUTOSTART")
    expect_eq(c.conn.numOfNetworks() >= 1 and NAT[0] in c.conn.listNetworks(), True,
              "listNetworks has the active one")
    expect(name in c.conn.listDefinedNetworks(), "listDefinedNetworks lacks %s" % name)
    out = c.virsh("net-list", "--inactive", "--name")
    expect(name in out.split() and NAT[0] not in out.split(), "net-list --inactive --name: " + out)
    c.virsh("net-autostart", name, "--disable")


def t_undefine_running(c):
    name, br, o = UND
    before = c.dnsmasq_pids()
    c.virsh("net-start", name)
    dns = netns.wait_until(lambda: c.dnsmasq_pids() - before, 10, what="dnsmasq of " + name)
    out = c.virsh("net-undefine", name)
    expect("Network %s has been undefined" % name in out, out)
    rows = [l.split() for l in c.virsh("net-list", "--all").splitlines()]
    expect([name, "active", "no", "no"] in rows, "net-list --all after undefine:\n%s" % rows)
    expect("Persistent:     no" in c.virsh("net-info", name), "net-info Persistent")
    expect(not os.path.exists(os.path.join(c.t.defs_dir, name + ".xml")), "XML file left after undefine")
    expect(c.host.has_link(br), "undefine took the running bridge down")
    out = c.virsh("net-destroy", name)
    expect("Network %s destroyed" % name in out, out)
    c.expect_gone(br, o, dns, "destroy of the undefined network")
    rc, out, err = c.virsh_rc("net-info", name)
    expect(rc != 0 and "Network not found" in err, "transient network still known after destroy: %s" % out)


def t_create_transient(c):
    import libvirt
    name, br, o = TRA
    before = c.dnsmasq_pids()
    out = c.virsh("net-create", c.write(name + ".xml", net_xml(name, br, o, mode=None)))
    expect("Network %s created" % name in out, out)
    expect(c.host.has_link(br), "net-create made no bridge")
    expect_eq(c.host.addrs(br), ["%s.1/24" % subnet(o)], "addresses on %s" % br)
    dns = netns.wait_until(lambda: c.dnsmasq_pids() - before, 10, what="dnsmasq of " + name)
    net = c.conn.networkLookupByName(name)
    expect_eq((net.isActive(), net.isPersistent()), (1, 0), "isActive/isPersistent")
    expect(not os.path.exists(os.path.join(c.t.defs_dir, name + ".xml")), "transient network saved")
    try:
        net.setAutostart(1)
        raise AssertionError("autostart of a transient network succeeded")
    except libvirt.libvirtError as e:
        expect_eq(e.get_error_code(), libvirt.VIR_ERR_OPERATION_INVALID, "autostart transient code")
        expect("cannot set autostart for transient network" in str(e), str(e))
    try:
        net.undefine()
        raise AssertionError("undefine of a transient network succeeded")
    except libvirt.libvirtError as e:
        expect_eq(e.get_error_code(), libvirt.VIR_ERR_OPERATION_INVALID, "undefine transient code")
        expect("can't undefine transient network" in str(e), str(e))
    c.virsh("net-destroy", name)
    c.expect_gone(br, o, dns, "destroy of a transient network")
    expect(name not in [n.name() for n in c.conn.listAllNetworks(0)], "transient network listed after destroy")


def t_sigterm_restart(c):
    """A clean daemon stop leaves running networks up; the restarted daemon
    reports them active."""
    if c.is_ref:
        raise Skip("restarting the reference recreates its namespace")
    name, br, o = NAT
    dns = c.dnsmasq_pids()
    rules = c.rules()
    rc = c.t.stop()
    expect_eq(rc, 0, "exit status after SIGTERM")
    expect(c.host.has_link(br), "bridge gone with the stopped daemon")
    expect_eq(c.dnsmasq_pids(), dns, "dnsmasq processes after the daemon stopped")
    expect_eq(c.rules(), rules, "nft rules after the daemon stopped")
    c.t.start()
    c.reconnect()
    rows = [l.split() for l in c.virsh("net-list", "--all").splitlines()]
    expect([name, "active", "no", "yes"] in rows, "net-list after restart:\n%s" % rows)
    expect_eq(c.dnsmasq_pids(), dns, "dnsmasq processes after the restart")
    expect_eq(c.rules(), rules, "nft rules after the restart")


def t_autostart_boot(c):
    """An autostart network comes up when the daemon starts on a fresh boot
    (empty run directory), in a daemon/root/namespace of its own."""
    if c.is_ref:
        raise Skip("needs our daemon in a second root")
    name, br, o = "svboot" + RID, "svn%sb" % RID, 10
    ns = netns.NetNS(prefix="svx")
    d = harness.Virtnetworkd(netns=ns.name)
    try:
        d.start()
        rc, out, err = harness.run_virsh(d.uri, ["net-define", c.write(name + ".xml", net_xml(name, br, o))])
        expect(rc == 0, err)
        rc, out, err = harness.run_virsh(d.uri, ["net-autostart", name])
        expect(rc == 0, err)
        expect_eq(d.stop(), 0, "exit status after SIGTERM")
        expect(not ns.has_link(br), "bridge exists before the network was started")
        # a reboot empties /run
        import shutil
        shutil.rmtree(os.path.join(d.root, "run"))
        d.start()
        netns.wait_until(lambda: ns.has_link(br), 10, what="autostarted bridge %s" % br)
        expect_eq(ns.addrs(br), ["%s.1/24" % subnet(o)], "autostarted bridge address")
        netns.wait_until(lambda: ns.procs("dnsmasq"), 10, what="dnsmasq of the autostarted network")
        rc, out, err = harness.run_virsh(d.uri, ["net-list", "--all"])
        expect([name, "active", "yes", "yes"] in [l.split() for l in out.splitlines()],
               "net-list after the autostart:\n" + out)
        rc, out, err = harness.run_virsh(d.uri, ["net-destroy", name])
        expect(rc == 0, err)
        netns.wait_until(lambda: not ns.has_link(br) and not ns.procs("dnsmasq"), 10,
                         what="bridge and dnsmasq gone after destroy")
    except Exception:
        sys.stdout.write("--- autostart daemon log tail:\n" + d.log_tail(20))
        raise
    finally:
        d.cleanup()
        ns.delete()


def t_kill9(c):
    """kill -9 virtnetworkd: the network keeps serving (dnsmasq is not the
    daemon's child in any way that matters); after a restart the daemon knows
    it is active and destroys it fully."""
    if c.is_ref:
        raise Skip("kill -9 of the reference kills its whole namespace")
    name, br, o = NAT
    dns = c.dnsmasq_pids()
    c.t.kill9()
    expect(not c.t.alive(), "daemon alive after SIGKILL")
    expect(c.host.has_link(br), "bridge gone with the daemon")
    expect_eq(c.dnsmasq_pids(), dns, "dnsmasq processes after the daemon's death")
    cl = c.client(br)
    lease = cl.dhcp()
    expect(lease_in_range(lease, o), "lease while the daemon is dead: %s" % lease)
    c.leases[cl.mac] = lease["ip"]
    c.t.start()
    c.reconnect()
    rows = [l.split() for l in c.virsh("net-list", "--all").splitlines()]
    expect([name, "active", "no", "yes"] in rows, "net-list after restart:\n%s" % rows)
    expect_eq(c.dnsmasq_pids(), dns, "dnsmasq processes after the restart (none added or lost)")
    cl2 = c.client(br)
    lease2 = cl2.dhcp()
    expect(lease_in_range(lease2, o), "lease after the restart: %s" % lease2)
    c.leases[cl2.mac] = lease2["ip"]
    for mac, ip in ((cl.mac, lease["ip"]), (cl2.mac, lease2["ip"])):
        netns.wait_until(lambda: c.leases_listed(name, mac, ip), 10,
                         what="net-dhcp-leases after restart listing %s %s" % (mac, ip))
    expect(c.rules_mentioning(subnet(o) + ".0/24"), "NAT rules lost over the restart")


def t_nat_destroy(c):
    name, br, o = NAT
    dns = c.nat_dnsmasq | c.dnsmasq_pids()
    out = c.virsh("net-destroy", name)
    expect("Network %s destroyed" % name in out, out)
    c.expect_gone(br, o, dns, "net-destroy")
    rows = [l.split() for l in c.virsh("net-list", "--all").splitlines()]
    expect([name, "inactive", "no", "yes"] in rows, "net-list after destroy:\n%s" % rows)
    x = c.virsh("net-dumpxml", name)
    expect("%s.50" % subnet(o) in x, "the --config static host was lost on destroy:\n" + x)
    expect("%s.51" % subnet(o) not in x, "the --live-only host survived destroy")


def t_modes(c):
    """isolated and route start and stop clean; open adds no nft rule."""
    for (name, br, o), mode in ((ISO, None), (RTE, "route")):
        dns = c.start_net(name, br, o, mode=mode)
        expect_eq(c.host.addrs(br), ["%s.1/24" % subnet(o)], "%s: addresses" % name)
        masq = [l for l in c.rules_mentioning(subnet(o) + ".") if "masquerade" in l.lower()]
        expect(not masq, "%s (%s) masquerades: %s" % (name, mode or "isolated", masq))
        if mode == "route":
            expect(c.rules_mentioning(subnet(o) + ".0/24"), "route mode: no forward rule for the subnet")
        c.virsh("net-destroy", name)
        c.expect_gone(br, o, dns, "destroy of " + name)
        c.virsh("net-undefine", name)
    name, br, o = OPN
    rules = c.rules()
    dns = c.start_net(name, br, o, mode="open")
    expect(c.host.has_link(br), "open network: no bridge")
    expect_eq(c.rules(), rules, "nft rules after starting an open network")
    c.virsh("net-destroy", name)
    c.expect_gone(br, o, dns, "destroy of the open network")
    c.virsh("net-undefine", name)


def t_nothing_left(c):
    """After the last network: no dnsmasq, no bridge, no rule for 10.201.*."""
    name = NAT[0]
    c.virsh("net-undefine", name)
    expect(not os.path.exists(os.path.join(c.t.defs_dir, name + ".xml")), "XML left after undefine")
    for cl in list(c.clients):
        c.drop_client(cl)
    expect_eq(c.dnsmasq_pids(), set(), "dnsmasq processes left")
    bridges = [n for n, l in c.host.links().items() if n.startswith("svn" + RID)]
    expect_eq(bridges, [], "bridges left")
    expect_eq(c.rules_mentioning("10.201."), [], "nft rules left for 10.201.*")
    if not harness.target_is_reference():
        # with no network running, our table itself goes too
        tables = c.host.nft_tables()
        expect(not any(n == NFT_TABLE for _f, n in tables), "nft table %s left: %s" % (NFT_TABLE, tables))


def main():
    if os.environ.get("SV_NETWORK_TARGET_URI"):
        print("SKIP: needs a daemon inside a namespace made by the test\n0 passed, 0 failed, 1 skipped")
        return
    if os.geteuid() != 0:
        print("SKIP: needs root (network namespaces)\n0 passed, 0 failed, 1 skipped")
        return
    for tool in ("dnsmasq", "nft", "busybox", "ip"):
        if not any(os.access(os.path.join(d, tool), os.X_OK)
                   for d in ("/usr/sbin", "/usr/bin", "/sbin", "/bin")):
            print("FAIL: %s is not installed (scripts/setup.sh installs it)\n0 passed, 1 failed" % tool)
            sys.exit(1)
    import libvirt
    libvirt.registerErrorHandler(lambda *_a: None, None)
    runner = harness.Runner("test_network")
    host = None
    ctx = None
    try:
        if harness.target_is_reference():
            target = harness.make_target(kind="network")
            runner.start(target)
            host = netns.NetNS.attach(target.pid)
        else:
            host = netns.NetNS(prefix="svh")
            target = harness.Virtnetworkd(netns=host.name)
            runner.start(target)
        ctx = Ctx(target, host)
        ctx.reconnect()
        steps = [
            ("net-define + net-start (NAT): bridge up with its address, dnsmasq, nft table + masquerade, ip_forward",
             t_nat_start),
            ("a client on a veth gets a DHCP lease; net-dhcp-leases and DHCPLeases() list it", t_nat_lease),
            ("NAT: upstream host without a route back is reachable (masquerade), not the other way", t_masquerade),
            ("net-update add ip-dhcp-host --live --config: the client with that MAC gets that IP",
             t_update_static),
            ("net-update --live only: in the live XML, not in --inactive; duplicate/missing host errors",
             t_update_live_only),
            ("net-list --all / net-info / net-uuid / net-name / net-autostart", t_info),
            ("bad input: overlapping subnet fails at start with libvirt's error, no bridge", t_bad_overlap),
            ("bad input: 16-byte bridge name fails at start with libvirt's error, no bridge",
             t_bad_bridge_name),
            ("bad input: DHCP range outside the subnet refused at define/create", t_bad_range),
            ("listAllNetworks flags / listNetworks / listDefinedNetworks / net-list --inactive", t_list_flags),
            ("net-undefine of a running network: transient until destroyed, then gone with its bridge",
             t_undefine_running),
            ("net-create: transient, no autostart/undefine, destroy removes everything", t_create_transient),
            ("SIGTERM + restart: the network stays up, with the same dnsmasq and rules", t_sigterm_restart),
            ("kill -9 virtnetworkd: leases served while dead and after restart, still active", t_kill9),
            ("net-destroy: bridge, dnsmasq and rules gone; persistent config kept", t_nat_destroy),
            ("isolated and route modes start/stop clean; open mode adds no nft rule", t_modes),
            ("nothing left behind", t_nothing_left),
            ("an autostart network starts with the daemon after a reboot (empty run dir)",
             t_autostart_boot),
        ]
        for title, fn in steps:
            if not runner.check(title, fn, ctx) and os.environ.get("SV_TRACE"):
                print(ctx.log_hint(), flush=True)
    finally:
        if ctx:
            for cl in list(ctx.clients):
                cl.delete()
            if getattr(ctx, "wan", None):
                ctx.wan.delete()
            if ctx.conn:
                try:
                    ctx.conn.close()
                except Exception:
                    pass
        if runner.failed and ctx:
            print("--- daemon log tail:\n" + ctx.t.log_tail(40), flush=True)
        harness._cleanup_all()
        if host:
            host.delete()
    runner.finish()


if __name__ == "__main__":
    main()
