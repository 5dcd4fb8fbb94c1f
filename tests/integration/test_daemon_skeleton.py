#!/usr/bin/python3
"""The daemon skeleton every splitvirt daemon shares, exercised on virtqemud
with stock python3-libvirt and a raw protocol client:

  * self-bound sockets get libvirt's default modes (0700 / 0777 / 0700) and
    the unix_sock_*_perms config keys override them;
  * SIGTERM stops it with status 0 and removes its pid file;
  * --timeout N exits after N idle seconds, never while a client is connected;
  * CONNECT_OPEN refuses URIs that are not virtqemud's, with libvirt's codes;
  * max_clients caps concurrent clients;
  * keepalive: after a client asks for feature 10 the daemon PINGs it, and
    drops a client that never answers (keepalive_interval / keepalive_count);
  * log_outputs / log_level write a log file;
  * lifecycle events reach a client registered with the callback API.
"""
import os
import socket
import stat
import struct
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402
import rawclient as rc  # noqa: E402
from harness import expect, expect_eq, wait_for  # noqa: E402

import libvirt  # noqa: E402

libvirt.registerErrorHandler(lambda *a: None, None)

DOMAIN_XML = """<domain type='qemu'>
  <name>%s</name>
  <memory unit='MiB'>64</memory>
  <os><type arch='x86_64'>hvm</type></os>
</domain>"""


def mode(path):
    return stat.S_IMODE(os.stat(path).st_mode)


def write_conf(root, text):
    d = os.path.join(root, "etc", "libvirt")
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, "virtqemud.conf"), "w") as f:
        f.write(text)


def new_daemon(conf=None, extra_args=()):
    d = harness.Virtqemud(activation=False, extra_args=extra_args)
    if conf is not None:
        write_conf(d.root, conf)
    d.start()
    return d


def t_default_modes():
    d = new_daemon()
    try:
        expect_eq(oct(mode(d.sock)), oct(0o700), "rw socket mode")
        expect_eq(oct(mode(d.ro_sock)), oct(0o777), "ro socket mode")
        expect_eq(oct(mode(d.admin_sock)), oct(0o700), "admin socket mode")
    finally:
        d.stop()
        d.cleanup()


def t_perms_from_config():
    d = new_daemon('unix_sock_rw_perms = "0770"\nunix_sock_ro_perms = "0755"\n'
                   'unix_sock_admin_perms = "0750"\n')
    try:
        expect_eq(oct(mode(d.sock)), oct(0o770), "rw socket mode")
        expect_eq(oct(mode(d.ro_sock)), oct(0o755), "ro socket mode")
        expect_eq(oct(mode(d.admin_sock)), oct(0o750), "admin socket mode")
    finally:
        d.stop()
        d.cleanup()


def t_bad_config_refused():
    d = harness.Virtqemud(activation=False)
    write_conf(d.root, 'unix_sock_rw_perms = "0999"\n')
    try:
        failed = False
        try:
            d.start()
        except Exception:
            failed = True
        expect(failed, "daemon started with an invalid mode in its config")
        expect("0999" in d.log_tail(), "error does not name the bad value:\n" + d.log_tail())
    finally:
        d.cleanup()


def t_sigterm_clean():
    d = new_daemon()
    try:
        pidfile = os.path.join(d.rundir, "virtqemud.pid")
        expect(os.path.exists(pidfile), "no pid file at " + pidfile)
        expect_eq(open(pidfile).read().strip(), str(d.proc.pid), "pid file content")
        c = libvirt.open(d.uri)
        c.getLibVersion()
        rc_ = d.stop()
        expect_eq(rc_, 0, "exit status after SIGTERM")
        expect(not os.path.exists(pidfile), "pid file left behind")
    finally:
        d.cleanup()


def t_idle_timeout():
    d = new_daemon(extra_args=["--timeout", "1"])
    try:
        c = libvirt.open(d.uri)
        time.sleep(2.0)
        expect(d.proc.poll() is None, "daemon exited while a client was connected")
        c.getLibVersion()
        c.close()
        wait_for(lambda: d.proc.poll() is not None, timeout=10, what="idle exit")
        expect_eq(d.proc.returncode, 0, "exit status after idle timeout")
    finally:
        d.stop()
        d.cleanup()


def t_uri_refused():
    d = new_daemon()
    try:
        sock = d.sock
        cases = [("lxc:///system", 5, None, "no connection driver available for lxc:///system"),
                 ("qemu:///session", 1, 10, "internal error: unexpected qemu URI path '/session', "
                                            "try qemu:///system"),
                 ("xen:///system", 5, None, "no connection driver available for xen:///system")]
        for uri, code, dom, msg in cases:
            try:
                libvirt.open("%s?socket=%s" % (uri, sock))
                raise AssertionError("open of %s succeeded" % uri)
            except libvirt.libvirtError as e:
                expect_eq(e.get_error_code(), code, "code for " + uri)
                if dom is not None:
                    expect_eq(e.get_error_domain(), dom, "domain for " + uri)
                if msg is not None:
                    expect_eq(e.get_error_message(), msg, "message for " + uri)
        # the empty URI is probed to the daemon's own
        c = rc.RawClient(sock)
        c.handshake(uri="")
        body = c.call_ok(110)  # CONNECT_GET_URI
        expect_eq(rc.Reader(body).string(), "qemu:///system", "probed URI")
        # a second CONNECT_OPEN is refused, the connection stays usable
        err = c.call_error(rc.PROC_CONNECT_OPEN, rc.xdr_opt_string("qemu:///system") + rc.xdr_u32(0))
        expect(err is not None and "already open" in err.message, "second open: %r" % (err,))
        expect_eq(c.lib_version(), 9000000, "lib version after refused open")
        c.close()
    finally:
        d.stop()
        d.cleanup()


def t_max_clients():
    d = new_daemon("max_clients = 2\n")
    try:
        a = libvirt.open(d.uri)
        b = libvirt.open(d.uri)
        refused = False
        try:
            x = libvirt.open(d.uri)
            x.getLibVersion()
            x.close()
        except libvirt.libvirtError:
            refused = True
        expect(refused, "third client was served with max_clients = 2")
        a.getLibVersion()
        b.close()
        # a slot is free again
        c = wait_for(lambda: _try_open(d.uri), timeout=5, what="reconnect after close")
        c.getLibVersion()
        c.close()
        a.close()
    finally:
        d.stop()
        d.cleanup()


def _try_open(uri):
    try:
        c = libvirt.open(uri)
        c.getLibVersion()
        return c
    except libvirt.libvirtError:
        return None


def t_keepalive():
    d = new_daemon("keepalive_interval = 1\nkeepalive_count = 2\n")
    try:
        c = rc.RawClient(d.sock, timeout=10)
        c.call_ok(rc.PROC_CONNECT_SUPPORTS_FEATURE, rc.xdr_i32(10))
        c.handshake()
        # idle: the server must PING us within ~interval
        t0 = time.monotonic()
        hdr, _ = c.recv_packet()
        expect_eq((hdr[0], hdr[2], hdr[3]), (rc.KEEPALIVE_PROGRAM, 1, rc.MESSAGE), "server PING")
        expect(time.monotonic() - t0 < 3.5, "PING came too late")
        # answering keeps us connected; ignoring gets us dropped
        c.send_bytes(rc.pack_packet(2, prog=rc.KEEPALIVE_PROGRAM, mtype=rc.MESSAGE))
        expect_eq(c.lib_version(), 9000000, "call after PONG")
        expect(c.wait_closed(timeout=8), "client that never answers PINGs was not dropped")
        # a PING from the client is answered with a PONG, outside any quota
        e = rc.RawClient(d.sock, timeout=5)
        e.handshake()
        for _ in range(20):
            e.send_bytes(rc.pack_packet(1, prog=rc.KEEPALIVE_PROGRAM, mtype=rc.MESSAGE))
        for _ in range(20):
            hdr, _ = e.recv_packet()
            expect_eq((hdr[0], hdr[2]), (rc.KEEPALIVE_PROGRAM, 2), "PONG")
        e.close()
    finally:
        d.stop()
        d.cleanup()


def t_log_outputs():
    d = harness.Virtqemud(activation=False)
    logfile = os.path.join(d.root, "virtqemud-test.log")
    write_conf(d.root, 'log_level = 1\nlog_outputs = "1:file:%s"\n' % logfile)
    try:
        d.start()
        c = libvirt.open(d.uri)
        c.close()
        wait_for(lambda: os.path.exists(logfile) and os.path.getsize(logfile) > 0, timeout=5,
                 what="log file written")
    finally:
        d.stop()
        d.cleanup()


def t_lifecycle_events():
    d = new_daemon()
    try:
        libvirt.virEventRegisterDefaultImpl()
        stop = threading.Event()

        def loop():
            while not stop.is_set():
                libvirt.virEventRunDefaultImpl()
        th = threading.Thread(target=loop, daemon=True)
        th.start()
        c = libvirt.open(d.uri)
        got = []
        cb = c.domainEventRegisterAny(None, libvirt.VIR_DOMAIN_EVENT_ID_LIFECYCLE,
                                      lambda conn, dom, ev, detail, opaque: got.append(
                                          (dom.name(), ev, detail)), None)
        other = libvirt.open(d.uri)
        dom = other.defineXML(DOMAIN_XML % "evdom")
        dom.undefine()
        wait_for(lambda: len(got) >= 2, timeout=5, what="two lifecycle events")
        expect_eq(got[:2], [("evdom", libvirt.VIR_DOMAIN_EVENT_DEFINED,
                             libvirt.VIR_DOMAIN_EVENT_DEFINED_ADDED),
                            ("evdom", libvirt.VIR_DOMAIN_EVENT_UNDEFINED,
                             libvirt.VIR_DOMAIN_EVENT_UNDEFINED_REMOVED)], "events")
        c.domainEventDeregisterAny(cb)
        other.close()
        c.close()
        stop.set()
    finally:
        d.stop()
        d.cleanup()


def main():
    if harness.target_is_reference():
        print("SKIP: daemon skeleton checks need our daemon\n0 passed, 0 failed, 1 skipped")
        return
    runner = harness.Runner("test_daemon_skeleton")
    runner.check("default socket modes 0700/0777/0700", t_default_modes)
    runner.check("unix_sock_*_perms from virtqemud.conf", t_perms_from_config)
    runner.check("invalid config refused with a clear error", t_bad_config_refused)
    runner.check("SIGTERM: exit 0, pid file removed", t_sigterm_clean)
    runner.check("--timeout: idle exit, not while a client is connected", t_idle_timeout)
    runner.check("CONNECT_OPEN URI rules", t_uri_refused)
    runner.check("max_clients", t_max_clients)
    runner.check("keepalive PING/PONG and timeout", t_keepalive)
    runner.check("log_outputs to a file", t_log_outputs)
    runner.check("lifecycle events to registered clients", t_lifecycle_events)
    runner.finish()


if __name__ == "__main__":
    main()
