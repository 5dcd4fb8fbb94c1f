#!/usr/bin/python3
"""virtproxyd over its unix sockets (issue 7): virtqemud, virtstoraged (and
virtnetworkd when built) socket-activated in one root, virtproxyd in front of
them on libvirt-sock / libvirt-sock-ro. Stock virsh and python3-libvirt run
domain and storage commands through it; streams (vol-upload/-download, the
serial console) and events (`virsh event --loop --all`, domain and pool
events on one connection with distinct callback ids) are relayed; the
read-only socket stays read-only; killing a backend fails only the calls
routed to it, with an error naming the daemon, its socket and unit, and the
calls work again once it is back. The virsh, python-API, storage and QEMU
lifecycle suites also run with a proxy as their target."""
import os
import subprocess
import sys
import threading
import time
import uuid

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import guest_assets as ga  # noqa: E402
import harness  # noqa: E402
import proxy_harness as ph  # noqa: E402
import rawclient as rc  # noqa: E402
from harness import Skip, expect, expect_eq  # noqa: E402

import libvirt  # noqa: E402

libvirt.registerErrorHandler(lambda *a: None, None)
PREFIX = "svpx%s-" % uuid.uuid4().hex[:6]


class Lines:
    """Collects a subprocess's stdout lines in a thread."""

    def __init__(self, cmd):
        env = dict(os.environ, LC_ALL="C")
        env.pop("LIBVIRT_DEFAULT_URI", None)
        self.p = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                                  env=env, preexec_fn=harness._pdeathsig)
        self.lines = []
        self.cond = threading.Condition()
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self):
        for line in self.p.stdout:
            with self.cond:
                self.lines.append(line.rstrip("\n"))
                self.cond.notify_all()

    def wait(self, pred, timeout=10.0):
        deadline = time.monotonic() + timeout
        with self.cond:
            while not any(pred(line) for line in self.lines):
                left = deadline - time.monotonic()
                if left <= 0:
                    return False
                self.cond.wait(left)
            return True

    def stop(self):
        if self.p.poll() is None:
            self.p.kill()
        self.p.wait()


def main():
    if harness.target_is_reference():
        print("SKIP: needs our daemons\n0 passed, 0 failed, 1 skipped")
        return
    runner = harness.Runner("test_proxy")
    # The other issues' suites, with a proxy (in front of fresh daemons) as
    # their target: what they check on each daemon must hold through
    # libvirt-sock too.
    be2 = ph.Backends(network=False)
    proxy2 = ph.Virtproxyd(root=be2.root)
    for d in be2.all + [proxy2]:
        runner.start(d)
    suite_env = dict(os.environ, SV_TARGET_URI=proxy2.uri, SV_TARGET_RO_URI=proxy2.ro_uri,
                     SV_STORAGE_TARGET_URI=proxy2.uri_for("storage"),
                     SV_STORAGE_TARGET_RO_URI=proxy2.uri_for("storage", ro=True))
    suite_env.pop("SV_TARGET", None)
    for suite in ("test_virsh_compat.py", "test_python_api.py", "test_storage_dir.py", "test_storage_stream.py",
                  "test_qemu_lifecycle.py"):
        def t_suite(suite=suite):
            p = subprocess.run([sys.executable, os.path.join(os.path.dirname(os.path.abspath(__file__)), suite)],
                               env=suite_env, capture_output=True, text=True, timeout=600)
            fails = [line for line in p.stdout.splitlines() if line.startswith("FAIL")]
            expect(p.returncode == 0, "%s through the proxy: %s%s" % (suite, fails or p.stdout[-500:],
                                                                    p.stderr[-500:]))
        runner.check("%s through the proxy" % suite, t_suite)
    proxy2.cleanup()
    be2.cleanup()

    be = ph.Backends()
    for d in be.all:
        runner.start(d)
    proxy = ph.Virtproxyd(root=be.root)
    runner.start(proxy)
    px = proxy.virsh
    pooldir = os.path.join(be.root, "pxpool")
    dom = PREFIX + "d"

    def t_connect():
        rc_, out, err = px("version", "--daemon")
        expect(rc_ == 0 and "Running against daemon: 9.0.0" in out, err + out)
        rc_, out, err = px("hostname")
        expect(rc_ == 0 and out.strip(), err)
        rc_, out, err = px("nodeinfo")
        expect(rc_ == 0 and "CPU(s):" in out, err)
        rc_, out, err = px("capabilities")
        expect(rc_ == 0 and "<capabilities>" in out, err)
        # The same answers as virtqemud gives directly.
        expect_eq(px("nodeinfo")[1], be.qemu.virsh("nodeinfo")[1], "nodeinfo through the proxy")
    runner.check("virsh connects through libvirt-sock (version, hostname, nodeinfo)", t_connect)

    def t_empty_uri():
        c = rc.RawClient(proxy.sock)
        c.handshake(uri="")        # no name: the proxy probes the hypervisor daemons
        uri = rc.Reader(c.call_ok(110)).string()          # CONNECT_GET_URI
        expect_eq(uri, "qemu:///system", "URI of an empty-URI connection")
        c.close()
        c = rc.RawClient(proxy.sock)
        c.call_ok(rc.PROC_AUTH_LIST)
        e = c.call_error(rc.PROC_CONNECT_OPEN, rc.xdr_opt_string("foo:///system") + rc.xdr_u32(0))
        expect(e is not None and e.code == 5 and "no connection driver available for foo:///system" in e.message,
               repr(e))
        c.close()
    runner.check("empty URI probes to virtqemud; unknown scheme is NO_CONNECT", t_empty_uri)

    def t_domain():
        xml = os.path.join(be.root, "d.xml")
        with open(xml, "w") as f:
            f.write(ga.domain_xml(dom, serial=False))
        for args in (["define", xml], ["start", dom], ["suspend", dom], ["resume", dom]):
            rc_, out, err = px(*args)
            expect(rc_ == 0, "%s: %s" % (args, err))
        rc_, out, err = px("domstate", dom)
        expect_eq(out.strip(), "running", "domstate")
        # the QEMU program goes to virtqemud too
        rc_, out, err = px("qemu-monitor-command", dom, '{"execute":"query-status"}')
        expect(rc_ == 0 and '"running"' in out, err + out)
        rc_, out, err = px("dominfo", dom)
        expect(rc_ == 0 and "State:          running" in out, err + out)
        rc_, out, err = px("list", "--all")
        expect(dom in out, out)
        # virtqemud itself sees the same domain
        expect(dom in be.qemu.virsh("list", "--all")[1], "virtqemud does not list the domain")
        rc_, out, err = px("dominfo", PREFIX + "nosuch")
        expect(rc_ != 0 and "failed to get domain" in err, err)
        c = libvirt.open(proxy.uri)
        try:
            c.lookupByName(PREFIX + "nosuch")
            raise AssertionError("lookup of a missing domain worked")
        except libvirt.libvirtError as e:      # virtqemud's own error, unchanged
            expect_eq(e.get_error_code(), libvirt.VIR_ERR_NO_DOMAIN, "error code")
            expect("no domain with matching name" in str(e), str(e))
        finally:
            c.close()
    runner.check("domain commands (define, start, suspend, resume, dominfo, list)", t_domain)

    def t_virsh_event():
        ev = Lines(["virsh", "-c", proxy.uri, "event", "--loop", "--all"])
        try:
            # Registration is done when a probe event shows up.
            probe = PREFIX + "probe"
            xml = os.path.join(be.root, "probe.xml")
            with open(xml, "w") as f:
                f.write(ga.domain_xml(probe, serial=False))
            deadline = time.monotonic() + 15
            while not ev.wait(lambda l: probe in l, timeout=0.3):
                expect(time.monotonic() < deadline, "no event through the proxy: %r" % ev.lines)
                px("define", xml)
                px("undefine", probe)
            for args in (["suspend", dom], ["resume", dom]):
                rc_, out, err = px(*args)
                expect(rc_ == 0, err)
            expect(ev.wait(lambda l: "for domain '%s': Suspended Paused" % dom in l),
                   "no Suspended event: %r" % ev.lines[-5:])
            expect(ev.wait(lambda l: "for domain '%s': Resumed Unpaused" % dom in l),
                   "no Resumed event: %r" % ev.lines[-5:])
        finally:
            ev.stop()
    runner.check("virsh event --loop --all receives events through the proxy", t_virsh_event)

    def t_storage():
        for args in (["pool-define-as", "pxp", "dir", "--target", pooldir], ["pool-build", "pxp"],
                     ["pool-start", "pxp"], ["vol-create-as", "pxp", "v.raw", "4M", "--format", "raw"]):
            rc_, out, err = px(*args)
            expect(rc_ == 0, "%s: %s" % (args, err))
        rc_, out, err = px("vol-list", "pxp")
        expect("v.raw" in out, out)
        expect("pxp" in be.storage.virsh("pool-list", "--all")[1], "virtstoraged does not list the pool")
        src, dst = os.path.join(be.root, "up.bin"), os.path.join(be.root, "down.bin")
        with open(src, "wb") as f:
            f.write(os.urandom(4 << 20))
        rc_, out, err = px("vol-upload", "v.raw", src, "--pool", "pxp")
        expect(rc_ == 0, err)
        rc_, out, err = px("vol-download", "v.raw", dst, "--pool", "pxp")
        expect(rc_ == 0, err)
        with open(src, "rb") as a, open(dst, "rb") as b:
            expect(a.read() == b.read(), "downloaded data differs from the upload")
        rc_, out, err = px("vol-info", "nosuch", "--pool", "pxp")
        expect(rc_ != 0 and "Storage volume not found" in err, err)
    runner.check("storage commands and vol-upload/vol-download streams", t_storage)

    def t_events_two_daemons():
        c = rc.RawClient(proxy.sock)
        c.handshake()
        dom_id = rc.Reader(c.call_ok(316, rc.xdr_i32(0) + rc.xdr_u32(0))).i32()    # domain lifecycle
        pool_id = rc.Reader(c.call_ok(368, rc.xdr_i32(0) + rc.xdr_u32(0))).i32()   # pool lifecycle
        ids = [dom_id, pool_id]
        if be.network:
            ids.append(rc.Reader(c.call_ok(313, rc.xdr_i32(0) + rc.xdr_u32(0))).i32())  # network lifecycle
        expect(len(set(ids)) == len(ids), "callback ids collide: %r" % ids)
        px("pool-define-as", "pxev", "dir", "--target", os.path.join(be.root, "pxev"))
        px("suspend", dom)
        px("resume", dom)
        seen = {}
        deadline = time.monotonic() + 10
        while len(seen) < 2 and time.monotonic() < deadline:
            hdr, body = c.recv_packet()
            if hdr[3] == rc.MESSAGE and hdr[0] == rc.REMOTE_PROGRAM:
                seen.setdefault(hdr[2], rc.Reader(body).i32())
        expect_eq(seen.get(318), dom_id, "callback id of the domain event")
        expect_eq(seen.get(370), pool_id, "callback id of the pool event")
        expect(c.call_error(317, rc.xdr_i32(dom_id)) is None, "domain deregistration failed")
        expect(c.call_error(369, rc.xdr_i32(pool_id)) is None, "pool deregistration failed")
        e = c.call_error(317, rc.xdr_i32(dom_id))
        expect(e is not None and "domain event callback %d not registered" % dom_id in e.message, repr(e))
        c.close()
        px("pool-undefine", "pxev")
    runner.check("domain + pool events on one connection: distinct ids, relayed with them", t_events_two_daemons)

    def t_python_events():
        ga.start_event_loop()
        conn = libvirt.open(proxy.uri)
        got = []
        cond = threading.Condition()

        def add(kind, name):
            with cond:
                got.append((kind, name))
                cond.notify_all()
        d1 = conn.domainEventRegisterAny(None, libvirt.VIR_DOMAIN_EVENT_ID_LIFECYCLE,
                                         lambda _c, d, e, det, _o: add("dom", d.name()), None)
        p1 = conn.storagePoolEventRegisterAny(None, libvirt.VIR_STORAGE_POOL_EVENT_ID_LIFECYCLE,
                                              lambda _c, p, e, det, _o: add("pool", p.name()), None)
        px("pool-define-as", "pxev2", "dir", "--target", os.path.join(be.root, "pxev2"))
        px("suspend", dom)
        px("resume", dom)
        with cond:
            cond.wait_for(lambda: ("dom", dom) in got and ("pool", "pxev2") in got, timeout=10)
        expect(("dom", dom) in got and ("pool", "pxev2") in got, "events: %r" % got)
        expect(("pool", dom) not in got and ("dom", "pxev2") not in got, "events crossed: %r" % got)
        conn.domainEventDeregisterAny(d1)
        conn.storagePoolEventDeregisterAny(p1)
        conn.close()
        px("pool-undefine", "pxev2")
    runner.check("python3-libvirt: domain and pool callbacks on one connection", t_python_events)

    def t_readonly():
        rc_, out, err = proxy.virsh("list", "--all", ro=True)
        expect(rc_ == 0 and dom in out, err)
        rc_, out, err = proxy.virsh("pool-list", "--all", ro=True)
        expect(rc_ == 0 and "pxp" in out, err)
        rc_, out, err = proxy.virsh("destroy", dom, ro=True)
        expect(rc_ != 0 and "read only access prevents virDomainDestroy" in err, err)
        rc_, out, err = proxy.virsh("pool-destroy", "pxp", ro=True)
        expect(rc_ != 0 and "read only access prevents virStoragePoolDestroy" in err, err)
        # read-only flag on the read-write socket too (virsh -r)
        rc_, out, err = harness.run_virsh(proxy.uri, ["destroy", dom], ro=True)
        expect(rc_ != 0 and "read only access prevents" in err, err)
        c = libvirt.openReadOnly(proxy.ro_uri)
        try:
            expect(dom in [d.name() for d in c.listAllDomains(0)], "read-only list")
            try:
                c.lookupByName(dom).suspend()
                raise AssertionError("suspend allowed on the read-only socket")
            except libvirt.libvirtError as e:
                expect_eq(e.get_error_code(), libvirt.VIR_ERR_OPERATION_DENIED, "error code")
        finally:
            c.close()
    runner.check("read-only socket stays read-only", t_readonly)

    def t_console():
        try:
            kernel, initrd = ga.kernel_and_initrd()
        except Skip:
            raise
        name = PREFIX + "con"
        xml = os.path.join(be.root, "con.xml")
        with open(xml, "w") as f:
            f.write(ga.domain_xml(name, kernel=kernel, initrd=initrd))
        rc_, out, err = px("define", xml)
        expect(rc_ == 0, err)
        rc_, out, err = px("start", name)
        expect(rc_ == 0, err)
        conn = libvirt.open(proxy.uri)
        try:
            con = ga.Console(conn, conn.lookupByName(name), force=True)
            con.expect(ga.GUEST_MARKER, timeout=90)
            off = con.expect(ga.SHELL_PROMPT, timeout=30)
            con.send("echo proxy-$((6*7))\n")
            con.expect("proxy-42", timeout=20, start=off)
            con.close()
        finally:
            px("destroy", name)
            px("undefine", name)
            conn.close()
    runner.check("serial console stream through the proxy", t_console)

    def t_network():
        if be.network:
            xml = os.path.join(be.root, "net.xml")
            with open(xml, "w") as f:
                f.write("<network><name>pxnet</name><bridge name='virbr-px9'/><forward mode='nat'/>"
                        "<ip address='10.99.77.1' netmask='255.255.255.0'/></network>\n")
            ga.start_event_loop()
            conn = libvirt.open(proxy.uri)
            got = []
            cb = conn.networkEventRegisterAny(None, libvirt.VIR_NETWORK_EVENT_ID_LIFECYCLE,
                                              lambda _c, n, e, det, _o: got.append((n.name(), e)), None)
            try:
                rc_, out, err = px("net-define", xml)
                expect(rc_ == 0, err)
                rc_, out, err = px("net-list", "--all")
                expect(rc_ == 0 and "pxnet" in out, err + out)
                expect("pxnet" in be.network.virsh("net-list", "--all")[1], "virtnetworkd does not list it")
                rc_, out, err = px("net-dumpxml", "pxnet")
                expect(rc_ == 0 and "virbr-px9" in out, err)
                rc_, out, err = proxy.virsh("net-undefine", "pxnet", ro=True)
                expect(rc_ != 0 and "read only access prevents virNetworkUndefine" in err, err)
                rc_, out, err = px("net-undefine", "pxnet")
                expect(rc_ == 0, err)
                deadline = time.monotonic() + 10
                while len(got) < 2 and time.monotonic() < deadline:
                    time.sleep(0.02)
                expect_eq(got, [("pxnet", libvirt.VIR_NETWORK_EVENT_DEFINED),
                                ("pxnet", libvirt.VIR_NETWORK_EVENT_UNDEFINED)], "network events")
            finally:
                conn.networkEventDeregisterAny(cb)
                conn.close()
            return
        rc_, out, err = px("net-list", "--all")
        expect(rc_ != 0, "net-list worked without virtnetworkd")
        for what in ("virtnetworkd-sock", "virtnetworkd", "systemctl start virtnetworkd.socket"):
            expect(what in err, "error does not name %r: %s" % (what, err))
        # the connection's other families are unaffected
        rc_, out, err = px("list", "--all")
        expect(rc_ == 0, err)
    runner.check("network family through virtnetworkd (or a clear error without it)", t_network)

    def t_concurrent():
        errors, calls = [], [0]
        lock = threading.Lock()

        def worker():
            try:
                c = libvirt.open(proxy.uri)
                for _ in range(100):
                    c.getLibVersion()
                    c.lookupByName(dom)
                    with lock:
                        calls[0] += 1
                c.close()
            except Exception as e:      # noqa: BLE001
                with lock:
                    errors.append(str(e))
        ts = [threading.Thread(target=worker) for _ in range(16)]
        for t in ts:
            t.start()
        for t in ts:
            t.join(120)
        expect(not errors, "errors: %r" % errors[:3])
        expect_eq(calls[0], 1600, "calls completed")
    runner.check("16 concurrent clients", t_concurrent)

    def t_kill_storage():
        conn = libvirt.open(proxy.uri)
        expect("pxp" in [p.name() for p in conn.listAllStoragePools(0)], "pool before the kill")
        be.storage.kill9()
        try:
            conn.listAllStoragePools(0)
            raise AssertionError("storage call worked with virtstoraged killed")
        except libvirt.libvirtError as e:
            msg = str(e)
            for what in ("virtstoraged", "virtstoraged-sock", "systemctl start virtstoraged.socket"):
                expect(what in msg, "error does not name %r: %s" % (what, msg))
        # the other families keep working on the same connection
        expect(dom in [d.name() for d in conn.listAllDomains(0)], "domain list after the kill")
        expect(conn.getLibVersion() > 0, "getLibVersion")
        rc_, out, err = px("pool-list")
        expect(rc_ != 0 and "virtstoraged" in err, err)
        be.storage.start()
        expect("pxp" in [p.name() for p in conn.listAllStoragePools(0)], "same connection after the restart")
        rc_, out, err = px("pool-list", "--all")
        expect(rc_ == 0 and "pxp" in out, "new connection after the restart: " + err)
        conn.close()
    runner.check("killing virtstoraged fails only storage calls; back after restart", t_kill_storage)

    def t_kill_qemu():
        px("destroy", dom)
        conn = libvirt.open(proxy.uri)
        conn.listAllDomains(0)
        be.qemu.kill9()
        try:
            conn.listAllDomains(0)
            raise AssertionError("domain call worked with virtqemud killed")
        except libvirt.libvirtError as e:
            msg = str(e)
            for what in ("virtqemud", "virtqemud-sock", "systemctl start virtqemud.socket"):
                expect(what in msg, "error does not name %r: %s" % (what, msg))
        expect("pxp" in [p.name() for p in conn.listAllStoragePools(0)], "storage after the kill")
        rc_, out, err = px("list")
        expect(rc_ != 0 and "virtqemud-sock" in err, "new connection without virtqemud: " + err)
        be.qemu.start()
        rc_, out, err = px("list", "--all")
        expect(rc_ == 0 and dom in out, "new connection after the restart: " + err)
        expect(dom in [d.name() for d in conn.listAllDomains(0)], "same connection after the restart")
        conn.close()
    runner.check("killing virtqemud fails only domain calls; back after restart", t_kill_qemu)

    def t_admin_socket():
        expect(os.path.exists(proxy.admin_sock), "no libvirt-admin-sock")
        expect(proxy.alive(), "virtproxyd died:\n" + proxy.log_tail())
    runner.check("virtproxyd still up; admin socket present", t_admin_socket)

    def t_sigterm():
        # with a client connected and registered for events
        ga.start_event_loop()
        c = libvirt.open(proxy.uri)
        c.domainEventRegisterAny(None, libvirt.VIR_DOMAIN_EVENT_ID_LIFECYCLE, lambda *a: None, None)
        expect_eq(proxy.stop(), 0, "exit status on SIGTERM")
        try:
            c.close()
        except libvirt.libvirtError:
            pass
    runner.check("SIGTERM with a client connected: clean exit", t_sigterm)

    px("destroy", dom)
    px("undefine", dom)
    ga.kill_guests(PREFIX)
    proxy.cleanup()
    be.cleanup()
    runner.finish()


if __name__ == "__main__":
    main()
