#!/usr/bin/python3
"""python3-libvirt 9.0 against the daemon: connection/host calls, the domain
life cycle of a persistent (inactive) domain, and the exact libvirt errors
(code, domain, message) the reference libvirtd 9.0 gives for bad requests.
Raw protocol checks (unknown/unimplemented procedure numbers) use rawclient.

    /usr/bin/python3 tests/integration/test_python_api.py       # our virtqemud
    SV_TARGET=ref /usr/bin/python3 tests/integration/test_python_api.py
"""
import os
import socket
import sys
import xml.etree.ElementTree as ET

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402
import rawclient  # noqa: E402
from harness import expect, expect_eq  # noqa: E402

import libvirt  # noqa: E402

libvirt.registerErrorHandler(lambda _ctx, _err: None, None)   # no stderr noise

BASIC = harness.input_xml("dom-basic.xml")      # sv-basic, 6a3f1e2c-..., 128 MiB, 1 vcpu
FULL = harness.input_xml("dom-full.xml")        # sv-full,  0f4c2a9e-..., 256/192 MiB, 2 vcpus
BASIC_UUID = "6a3f1e2c-1b7d-4c9e-9f10-0d2b3c4e5f61"
FULL_UUID = "0f4c2a9e-8d31-4b6a-a2c7-5e9b1d3f7a20"

# virErrorDomain / virErrorNumber values used below (protocol.md 2.3, Appendix B)
FROM_RPC, FROM_QEMU, FROM_DOMAIN = 7, 10, 20
F = libvirt  # flags


def expect_error(fn, code, domain, message=None, what=""):
    """fn() must raise libvirtError with this code/domain (and exact message)."""
    try:
        r = fn()
    except libvirt.libvirtError as e:
        got = (e.get_error_code(), e.get_error_domain())
        expect(got == (code, domain), "%s: expected code %d domain %d, got code %d domain %d (%r)"
               % (what, code, domain, got[0], got[1], e.get_error_message()))
        expect_eq(e.get_error_level(), 2, what + " level")
        if message is not None:
            expect_eq(e.get_error_message(), message, what + " message")
        else:
            expect(e.get_error_message(), what + ": empty message")
        return e
    raise AssertionError("%s: expected an error, got %r" % (what, r))


def names(doms):
    return sorted(d.name() for d in doms)


def main():
    runner = harness.Runner("test_python_api")
    target = harness.make_target()
    runner.start(target)
    conn = target.open()
    st = {}

    # ------------------------------------------------------ connection / host
    def t_type():
        expect_eq(conn.getType(), "QEMU", "getType")

    def t_version():
        v = harness.qemu_version()
        if v != "?":
            a, b, c = (int(x) for x in v.split("."))
            expect_eq(conn.getVersion(), a * 1000000 + b * 1000 + c, "getVersion (QEMU %s)" % v)
        else:
            expect(conn.getVersion() > 0, "getVersion > 0")
        expect_eq(conn.getLibVersion(), 9000000, "getLibVersion")

    def t_hostname():
        expect_eq(conn.getHostname(), socket.gethostname(), "getHostname")

    def t_uri():
        expect_eq(conn.getURI(), target.uri, "getURI")

    def t_info():
        info = conn.getInfo()
        expect_eq(len(info), 8, "getInfo length")
        model, mem_mib, cpus, mhz, nodes, sockets, cores, threads = info
        expect_eq(model, "x86_64", "model")
        expect(mem_mib > 0, "memory %r" % mem_mib)
        expect_eq(cpus, harness.online_cpus(), "cpus")
        expect(mhz > 0, "mhz %r" % mhz)
        expect(nodes >= 1, "nodes")
        expect_eq(nodes * sockets * cores * threads, cpus, "nodes*sockets*cores*threads")

    def t_caps():
        r = ET.fromstring(conn.getCapabilities())
        expect_eq(r.tag, "capabilities", "root")
        expect_eq(r.findtext("host/cpu/arch"), "x86_64", "host arch")
        archs = [(g.findtext("os_type"), g.find("arch").get("name")) for g in r.findall("guest")]
        expect(("hvm", "x86_64") in archs, "no hvm/x86_64 guest in %r" % archs)

    for n, f in [("getType", t_type), ("getVersion/getLibVersion", t_version),
                 ("getHostname", t_hostname), ("getURI", t_uri), ("getInfo", t_info),
                 ("getCapabilities", t_caps)]:
        runner.check(n, f)

    # ------------------------------------------------------ domain life cycle
    def t_define():
        expect_eq(names(conn.listAllDomains(0)), [], "no domains at start")
        d = conn.defineXML(BASIC)
        expect_eq(d.name(), "sv-basic", "name")
        expect_eq(d.UUIDString(), BASIC_UUID, "uuid")
        expect_eq(d.ID(), -1, "ID of inactive domain")
        d2 = conn.defineXML(FULL)
        expect_eq(d2.name(), "sv-full", "name")
        st["basic"], st["full"] = d, d2

    def t_list_flags():
        both = ["sv-basic", "sv-full"]
        expect_eq(names(conn.listAllDomains(0)), both, "flags 0")
        expect_eq(names(conn.listAllDomains(F.VIR_CONNECT_LIST_DOMAINS_ACTIVE)), [], "ACTIVE")
        expect_eq(names(conn.listAllDomains(F.VIR_CONNECT_LIST_DOMAINS_INACTIVE)), both, "INACTIVE")
        expect_eq(names(conn.listAllDomains(F.VIR_CONNECT_LIST_DOMAINS_ACTIVE |
                                            F.VIR_CONNECT_LIST_DOMAINS_INACTIVE)), both, "A|I")
        expect_eq(names(conn.listAllDomains(F.VIR_CONNECT_LIST_DOMAINS_PERSISTENT)), both, "PERSISTENT")
        expect_eq(names(conn.listAllDomains(F.VIR_CONNECT_LIST_DOMAINS_TRANSIENT)), [], "TRANSIENT")
        expect_eq(names(conn.listAllDomains(F.VIR_CONNECT_LIST_DOMAINS_SHUTOFF)), both, "SHUTOFF")
        expect_eq(names(conn.listAllDomains(F.VIR_CONNECT_LIST_DOMAINS_RUNNING)), [], "RUNNING")
        expect_eq(names(conn.listAllDomains(F.VIR_CONNECT_LIST_DOMAINS_NO_AUTOSTART)), both, "NO_AUTOSTART")
        expect_eq(names(conn.listAllDomains(F.VIR_CONNECT_LIST_DOMAINS_AUTOSTART)), [], "AUTOSTART")
        expect_eq(conn.numOfDefinedDomains(), 2, "numOfDefinedDomains")
        expect_eq(sorted(conn.listDefinedDomains()), both, "listDefinedDomains")
        expect_eq(conn.numOfDomains(), 0, "numOfDomains")

    def t_lookup():
        for d in (conn.lookupByName("sv-full"), conn.lookupByUUIDString(FULL_UUID),
                  conn.lookupByUUID(bytes.fromhex(FULL_UUID.replace("-", "")))):
            expect_eq((d.name(), d.UUIDString(), d.ID()), ("sv-full", FULL_UUID, -1), "lookup")

    def t_xmldesc():
        for flags in (0, F.VIR_DOMAIN_XML_INACTIVE):
            r = ET.fromstring(st["full"].XMLDesc(flags))
            expect_eq(r.findtext("name"), "sv-full", "name")
            expect_eq(r.findtext("uuid"), FULL_UUID, "uuid")
            expect_eq(r.findtext("vcpu"), "2", "vcpu")
            expect_eq(r.findtext("memory"), "262144", "memory (KiB)")
            expect_eq(r.findtext("currentMemory"), "196608", "currentMemory")
            expect_eq(r.find("devices/disk/source").get("file"),
                      "/var/lib/libvirt/images/sv-full.qcow2", "disk source")
            expect_eq(r.find("devices/interface/mac").get("address"), "52:54:00:5a:11:01", "mac")

    def t_info_state():
        d = st["basic"]
        # [state SHUTOFF, maxMem KiB, memory KiB, nrVirtCpu, cpuTime]
        expect_eq(d.info(), [F.VIR_DOMAIN_SHUTOFF, 131072, 131072, 1, 0], "basic info")
        expect_eq(st["full"].info(), [F.VIR_DOMAIN_SHUTOFF, 262144, 196608, 2, 0], "full info")
        expect_eq(d.state(), [F.VIR_DOMAIN_SHUTOFF, F.VIR_DOMAIN_SHUTOFF_UNKNOWN], "state")
        expect_eq(d.isActive(), 0, "isActive")
        expect_eq(d.isPersistent(), 1, "isPersistent")
        expect_eq(d.OSType(), "hvm", "OSType")
        expect_eq(d.maxMemory(), 131072, "maxMemory")

    def t_autostart():
        d = st["basic"]
        expect_eq(d.autostart(), 0, "initial autostart")
        d.setAutostart(1)
        expect_eq(d.autostart(), 1, "after setAutostart(1)")
        expect_eq(conn.lookupByName("sv-basic").autostart(), 1, "fresh handle")
        expect_eq(names(conn.listAllDomains(F.VIR_CONNECT_LIST_DOMAINS_AUTOSTART)), ["sv-basic"], "AUTOSTART")
        expect_eq(names(conn.listAllDomains(F.VIR_CONNECT_LIST_DOMAINS_NO_AUTOSTART)), ["sv-full"],
                  "NO_AUTOSTART")
        d.setAutostart(1)                       # idempotent
        d.setAutostart(0)
        expect_eq(d.autostart(), 0, "after setAutostart(0)")
        d.setAutostart(0)

    def t_redefine():
        # same name + same uuid = update of the persistent definition
        d = conn.defineXML(BASIC.replace("<memory unit='MiB'>128</memory>",
                                         "<memory unit='MiB'>256</memory>"))
        expect_eq(d.UUIDString(), BASIC_UUID, "uuid kept")
        expect_eq(d.info()[1], 262144, "new max memory")
        expect_eq(len(conn.listAllDomains(0)), 2, "still 2 domains")
        conn.defineXML(BASIC)
        expect_eq(conn.lookupByName("sv-basic").info()[1], 131072, "memory restored")

    for n, f in [("defineXML", t_define), ("listAllDomains flags", t_list_flags),
                 ("lookupByName/UUIDString/UUID", t_lookup), ("XMLDesc", t_xmldesc),
                 ("info/state/isActive/isPersistent", t_info_state),
                 ("autostart/setAutostart", t_autostart), ("redefine updates", t_redefine)]:
        if not runner.check(n, f) and n == "defineXML":
            break

    # ------------------------------------------------------ errors (reference-confirmed)
    def t_err_not_well_formed():
        # reference: code 35 VIR_ERR_XML_DETAIL, domain 20 DOMAIN, message is libxml2's
        # "(domain_definition):1: Couldn't find end of Start Tag domain line 1\n<domain\n-------^"
        expect_error(lambda: conn.defineXML("<domain"), 35, FROM_DOMAIN, None, "'<domain'")
        expect_error(lambda: conn.defineXML("garbage"), 35, FROM_DOMAIN, None, "'garbage'")
        expect_error(lambda: conn.defineXML(harness.input_xml("bad-notwellformed.xml")), 35,
                     FROM_DOMAIN, None, "truncated document")

    def t_err_no_name():
        expect_error(lambda: conn.defineXML("<domain type='qemu'></domain>"), 21, FROM_DOMAIN,
                     "missing name information", "no <name>")

    def t_err_unknown_domain():
        expect_error(lambda: conn.lookupByName("x"), 42, FROM_QEMU,
                     "Domain not found: no domain with matching name 'x'", "lookupByName")
        u = "11111111-2222-3333-4444-555555555555"
        expect_error(lambda: conn.lookupByUUIDString(u), 42, FROM_QEMU,
                     "Domain not found: no domain with matching uuid '%s'" % u, "lookupByUUIDString")
        expect_error(lambda: conn.lookupByID(77), 42, FROM_QEMU,
                     "Domain not found: no domain with matching id 77", "lookupByID")

    def t_err_duplicate():
        expect_error(lambda: conn.defineXML(harness.input_xml("dup-name.xml")), 9, FROM_DOMAIN,
                     "operation failed: domain 'sv-basic' already exists with uuid %s" % BASIC_UUID,
                     "same name, other uuid")
        expect_error(lambda: conn.defineXML(harness.input_xml("dup-uuid.xml")), 9, FROM_DOMAIN,
                     "operation failed: domain 'sv-basic' is already defined with uuid %s" % BASIC_UUID,
                     "same uuid, other name")
        expect_eq(names(conn.listAllDomains(0)), ["sv-basic", "sv-full"], "nothing added")

    def t_err_bad_flags():
        # reference: code 8 INVALID_ARG, domain 10, "unsupported flags (0x40000000) in
        # function qemuConnectListAllDomains" (virsh `list` relies on code 8 to retry)
        expect_error(lambda: conn.listAllDomains(1 << 30), 8, FROM_QEMU, None, "flags 1<<30")

    def t_err_readonly():
        ro = target.open(ro=True)
        try:
            expect_eq(names(ro.listAllDomains(0)), ["sv-basic", "sv-full"], "ro list")
            d = ro.lookupByName("sv-basic")
            expect_eq(d.info()[0], F.VIR_DOMAIN_SHUTOFF, "ro info")
            ET.fromstring(d.XMLDesc(0))
            msg = "operation forbidden: read only access prevents %s"
            expect_error(lambda: ro.defineXML(BASIC), 29, FROM_DOMAIN, msg % "virDomainDefineXML",
                         "ro defineXML")
            expect_error(lambda: d.setAutostart(1), 29, FROM_DOMAIN, msg % "virDomainSetAutostart",
                         "ro setAutostart")
            expect_error(lambda: d.undefine(), 29, FROM_DOMAIN, msg % "virDomainUndefine", "ro undefine")
            expect_eq(conn.lookupByName("sv-basic").autostart(), 0, "autostart unchanged")
        finally:
            ro.close()
        # a read-write open() of the -ro socket is forced read-only by the server
        ro2 = libvirt.open(target.ro_uri)
        try:
            expect_error(lambda: ro2.defineXML(BASIC), 29, FROM_DOMAIN,
                         "operation forbidden: read only access prevents virDomainDefineXML",
                         "open() on -sock-ro")
        finally:
            ro2.close()

    for n, f in [("error: not well-formed XML", t_err_not_well_formed),
                 ("error: XML without name", t_err_no_name),
                 ("error: unknown domain", t_err_unknown_domain),
                 ("error: duplicate name/uuid", t_err_duplicate),
                 ("error: unsupported flags", t_err_bad_flags),
                 ("error: read-only", t_err_readonly)]:
        runner.check(n, f)

    # ------------------------------------------------------ raw procedure numbers
    def t_raw_unknown_proc():
        rc = rawclient.RawClient(target.sock)
        try:
            rc.handshake()
            v = rc.lib_version()
            for proc in (9999, 444, -1):
                e = rc.call_error(proc)
                expect(e is not None, "proc %d succeeded" % proc)
                # reference: code 39 RPC, domain 7 RPC, "unknown procedure: N" (the client
                # library turns exactly that into NO_SUPPORT); NO_SUPPORT itself is fine too
                ok = ((e.code, e.domain, e.message) == (39, FROM_RPC, "unknown procedure: %d" % proc)
                      or e.code == 3)
                expect(ok, "proc %d: %r" % (proc, e))
                expect_eq(e.level, 2, "level")
                expect_eq(rc.lib_version(), v, "connection still works after proc %d" % proc)
        finally:
            rc.close()

    def t_raw_unimplemented_proc():
        # DOMAIN_SCREENSHOT(dom, screen 0, flags 0) on a nonexistent domain. Reference
        # (implements it): 42 NO_DOMAIN. A daemon without it: 3 NO_SUPPORT
        # "this function is not supported by the connection driver: virDomainScreenshot"
        # or 39 "unknown procedure: 211". Never a dropped connection.
        rc = rawclient.RawClient(target.sock)
        try:
            rc.handshake()
            e = rc.call_error(rawclient.PROC_DOMAIN_SCREENSHOT,
                              rawclient.xdr_nonnull_domain("nosuch") + rawclient.xdr_u32(0)
                              + rawclient.xdr_u32(0))
            expect(e is not None, "screenshot of a nonexistent domain succeeded")
            ok = ((e.code == 3 and e.message.startswith(
                "this function is not supported by the connection driver"))
                or (e.code == 39 and e.message == "unknown procedure: 211")
                or e.code == 42)
            expect(ok, repr(e))
            expect_eq(rc.lib_version(), 9000000, "connection still works")
        finally:
            rc.close()

    def t_raw_before_open():
        # reference: any API before CONNECT_OPEN -> code 1 INTERNAL_ERROR
        # "internal error: hypervisor connection not open"; the connection survives
        rc = rawclient.RawClient(target.sock)
        try:
            e = rc.call_error(rawclient.PROC_CONNECT_GET_LIB_VERSION)
            expect(e is not None and e.code == 1, "call before open: %r" % e)
            expect_eq(e.message, "internal error: hypervisor connection not open", "message")
            rc.handshake()
            expect_eq(rc.lib_version(), 9000000, "works after open")
        finally:
            rc.close()

    runner.check("raw: unknown procedure numbers", t_raw_unknown_proc)
    runner.check("raw: unimplemented procedure (DOMAIN_SCREENSHOT)", t_raw_unimplemented_proc)
    runner.check("raw: call before CONNECT_OPEN", t_raw_before_open)

    # ------------------------------------------------------ undefine
    def t_undefine():
        d = conn.lookupByName("sv-basic")
        d.undefine()
        expect_error(lambda: conn.lookupByName("sv-basic"), 42, FROM_QEMU,
                     "Domain not found: no domain with matching name 'sv-basic'", "after undefine")
        # the stale handle now refers to nothing
        expect_error(lambda: d.info(), 42, FROM_QEMU,
                     "Domain not found: no domain with matching uuid '%s' (sv-basic)" % BASIC_UUID,
                     "info on undefined domain")
        expect_error(lambda: d.undefine(), 42, FROM_QEMU, None, "second undefine")
        conn.lookupByName("sv-full").undefineFlags(0)
        expect_eq(names(conn.listAllDomains(0)), [], "empty after undefine")

    def t_alive():
        expect(conn.isAlive() == 1, "connection alive")
        expect_eq(conn.getLibVersion(), 9000000, "still answering")
        expect(target.alive(), "daemon died\n" + target.log_tail())

    runner.check("undefine", t_undefine)
    runner.check("connection and daemon alive", t_alive)
    try:
        conn.close()
    except libvirt.libvirtError:
        pass
    runner.finish()


if __name__ == "__main__":
    main()
