#!/usr/bin/python3
"""virtproxyd's TCP and TLS listeners (issue 7) with certificates made here
by the openssl CLI (proxy_harness.PKI): stock virsh and python3-libvirt over
`qemu+tls://127.0.0.1:PORT/system?pkipath=DIR` (socket-activated
virtproxyd-tls.socket, and bound by the daemon itself from listen_tls), a
stream over TLS, plain TCP with auth_tcp = "none"; a client certificate from
another CA, an expired one, one whose DN is outside tls_allowed_dn_list, none
at all, and TLS 1.1 are each refused before a single call is read; bad
listener configuration stops the daemon with an error naming the problem."""
import os
import socket
import ssl
import struct
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import guest_assets as ga  # noqa: E402
import harness  # noqa: E402
import proxy_harness as ph  # noqa: E402
import rawclient as rc  # noqa: E402
from harness import expect, expect_eq  # noqa: E402

import libvirt  # noqa: E402

libvirt.registerErrorHandler(lambda *a: None, None)


def tls_connect(port, pki, client=None, max_version=None):
    """Raw TLS client: -> (ssl socket, first byte or None). The server sends
    libvirt's one-byte confirmation '\\1' only to a client it accepted."""
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.load_verify_locations(pki.path("ca.pem"))
    if client:
        ctx.load_cert_chain(pki.path(client + ".pem"), pki.path(client + ".key"))
    if max_version:
        ctx.minimum_version = ssl.TLSVersion.MINIMUM_SUPPORTED
        ctx.maximum_version = max_version
        ctx.set_ciphers("ALL:@SECLEVEL=0")
    raw = socket.create_connection(("127.0.0.1", port), timeout=10)
    try:
        s = ctx.wrap_socket(raw, server_hostname="127.0.0.1")
    except (ssl.SSLError, OSError):
        raw.close()
        return None, None
    try:
        first = s.recv(1)
    except (ssl.SSLError, OSError):
        first = None
    return s, first or None


def refused(port, pki, client, max_version=None):
    s, first = tls_connect(port, pki, client, max_version)
    if s is None:
        return True
    try:
        if first == b"\x01":
            return False
        # Nothing of the protocol is served: a call gets no answer.
        try:
            s.sendall(rc.pack_packet(rc.PROC_AUTH_LIST))
            return not s.recv(4)
        except (ssl.SSLError, OSError):
            return True
    finally:
        s.close()


def main():
    if harness.target_is_reference():
        print("SKIP: needs our daemons\n0 passed, 0 failed, 1 skipped")
        return
    runner = harness.Runner("test_proxy_tls")
    be = ph.Backends(network=False)
    for d in be.all:
        runner.start(d)
    pki = ph.PKI(os.path.join(be.root, "pki"))
    pki.install_server(be.root)
    tls_port, tcp_port = ph.free_port(), ph.free_port()
    proxy = ph.Virtproxyd(root=be.root, tls_port=tls_port, tcp_port=tcp_port)
    proxy.write_config('tls_allowed_dn_list = ["%s", "CN=other-admin,*"]\nauth_tcp = "none"\n' % pki.CLIENT_DN)
    runner.start(proxy)

    def tls_uri(client, port=tls_port, extra=""):
        return "qemu+tls://127.0.0.1:%d/system?pkipath=%s%s" % (port, pki.pkipath(client), extra)
    ok_uri = tls_uri("client-ok")
    pooldir = os.path.join(be.root, "tlspool")

    def t_virsh_tls():
        rc_, out, err = harness.run_virsh(ok_uri, ["version", "--daemon"])
        expect(rc_ == 0 and "Running against daemon: 9.0.0" in out, err)
        for args in (["pool-define-as", "tp", "dir", "--target", pooldir], ["pool-build", "tp"],
                     ["pool-start", "tp"], ["vol-create-as", "tp", "v.raw", "2M", "--format", "raw"]):
            rc_, out, err = harness.run_virsh(ok_uri, args)
            expect(rc_ == 0, "%s: %s" % (args, err))
        rc_, out, err = harness.run_virsh(ok_uri, ["pool-list", "--all"])
        expect(rc_ == 0 and "tp" in out, err)
        rc_, out, err = harness.run_virsh(ok_uri, ["list", "--all"])
        expect(rc_ == 0, err)
    runner.check("virsh over qemu+tls:// (pkipath): domain and storage commands", t_virsh_tls)

    def t_stream_tls():
        src, dst = os.path.join(be.root, "tup.bin"), os.path.join(be.root, "tdown.bin")
        with open(src, "wb") as f:
            f.write(os.urandom(2 << 20))
        rc_, out, err = harness.run_virsh(ok_uri, ["vol-upload", "v.raw", src, "--pool", "tp"])
        expect(rc_ == 0, err)
        rc_, out, err = harness.run_virsh(ok_uri, ["vol-download", "v.raw", dst, "--pool", "tp"])
        expect(rc_ == 0, err)
        with open(src, "rb") as a, open(dst, "rb") as b:
            expect(a.read() == b.read(), "data differs after a TLS round trip")
    runner.check("vol-upload / vol-download over TLS", t_stream_tls)

    def t_python_tls():
        ga.start_event_loop()
        c = libvirt.open(ok_uri)
        try:
            expect_eq(c.isSecure(), 1, "isSecure")
            expect_eq(c.isEncrypted(), 1, "isEncrypted")
            expect(c.getLibVersion() == 9000000, "getLibVersion")
            got = []
            cb = c.domainEventRegisterAny(None, libvirt.VIR_DOMAIN_EVENT_ID_LIFECYCLE,
                                          lambda _c, d, e, det, _o: got.append((d.name(), e)), None)
            name = "tlsev-%d" % os.getpid()
            d = c.defineXML(ga.domain_xml(name, serial=False))
            d.undefine()
            deadline = time.monotonic() + 10
            while len([g for g in got if g[0] == name]) < 2 and time.monotonic() < deadline:
                time.sleep(0.02)
            expect_eq([g for g in got if g[0] == name],
                      [(name, libvirt.VIR_DOMAIN_EVENT_DEFINED), (name, libvirt.VIR_DOMAIN_EVENT_UNDEFINED)],
                      "events over TLS")
            c.domainEventDeregisterAny(cb)
        finally:
            c.close()
    runner.check("python3-libvirt over TLS: secure, encrypted, events", t_python_tls)

    def t_raw_ok():
        s, first = tls_connect(tls_port, pki, "client-ok")
        expect(s is not None and first == b"\x01", "no TLS confirmation byte: %r" % first)
        s.sendall(rc.pack_packet(rc.PROC_AUTH_LIST))
        (length,) = struct.unpack(">I", s.recv(4))
        expect(length == 36, "AUTH_LIST reply length %d" % length)
        s.close()
    runner.check("accepted TLS client gets the confirmation byte, then RPC", t_raw_ok)

    def t_refusals():
        cases = [("client-other", "DN outside tls_allowed_dn_list", "is not on the list of allowed clients"),
                 ("client-rogue", "certificate from another CA", "TLS handshake failed"),
                 ("client-expired", "expired certificate", "certificate has expired")]
        for client, what, logged in cases:
            expect(refused(tls_port, pki, client), "%s: accepted (raw TLS)" % what)
            # stock virsh, with its own sanity checks off so the server decides
            rc_, out, err = harness.run_virsh(tls_uri(client, extra="&no_sanity=1"), ["list"], timeout=30)
            expect(rc_ != 0, "%s: virsh connected" % what)
            expect(logged in proxy.log_tail(200), "%s: the daemon log does not say %r" % (what, logged))
        expect(refused(tls_port, pki, None), "client without a certificate accepted")
        expect(refused(tls_port, pki, "client-ok", max_version=ssl.TLSVersion.TLSv1_1), "TLS 1.1 accepted")
        # the DN list takes globs: CN=other-admin,* would match, CN=intruder does not
        expect(proxy.alive(), "virtproxyd died:\n" + proxy.log_tail())
        rc_, out, err = harness.run_virsh(ok_uri, ["list"])
        expect(rc_ == 0, "good client after the refusals: " + err)
    runner.check("wrong CA, expired cert, DN outside the list, no cert, TLS 1.1: refused", t_refusals)

    def t_tcp():
        uri = "qemu+tcp://127.0.0.1:%d/system" % tcp_port
        rc_, out, err = harness.run_virsh(uri, ["pool-list", "--all"])
        expect(rc_ == 0 and "tp" in out, err)
        c = libvirt.open(uri)
        try:
            expect_eq(c.isSecure(), 0, "isSecure over plain TCP")
            expect(c.getLibVersion() == 9000000, "getLibVersion")
        finally:
            c.close()
    runner.check("plain TCP listener (auth_tcp = \"none\")", t_tcp)

    # A second virtproxyd that binds TLS itself (listen_tls) in its own root,
    # with the files named in its config; the daemons' sockets are linked in.
    root2 = tempfile.mkdtemp(prefix="svpt", dir="/tmp")

    def t_self_bound():
        run2 = os.path.join(root2, "run", "libvirt")
        os.makedirs(run2)
        for n in ("virtqemud-sock", "virtstoraged-sock"):
            os.symlink(os.path.join(be.root, "run", "libvirt", n), os.path.join(run2, n))
        port = ph.free_port()
        p2 = ph.Virtproxyd(activation=False, root=root2)
        p2.write_config("\n".join([
            "listen_tls = 1", 'listen_addr = "127.0.0.1"', 'tls_port = "%d"' % port,
            'ca_file = "%s"' % pki.path("ca.pem"), 'cert_file = "%s"' % pki.path("server.pem"),
            'key_file = "%s"' % pki.path("server.key"), ""]))
        p2.start()
        try:
            rc_, out, err = harness.run_virsh(tls_uri("client-ok", port=port), ["pool-list", "--all"])
            expect(rc_ == 0 and "tp" in out, err)
            # no allowed-DN list here: any DN signed by the CA is fine
            rc_, out, err = harness.run_virsh(tls_uri("client-other", port=port), ["list"])
            expect(rc_ == 0, err)
            expect(refused(port, pki, "client-expired"), "expired certificate accepted")
        finally:
            p2.cleanup()
    runner.check("listen_tls: virtproxyd binds TLS itself with the configured files", t_self_bound)

    def start_fails(conf, expect_text):
        root = tempfile.mkdtemp(prefix="svpc", dir="/tmp")
        try:
            os.makedirs(os.path.join(root, "etc", "libvirt"))
            with open(os.path.join(root, "etc", "libvirt", "virtproxyd.conf"), "w") as f:
                f.write(conf)
            p = subprocess.run([harness.daemon_binary("virtproxyd"), "--root", root], capture_output=True,
                               text=True, timeout=30)
            expect(p.returncode != 0, "virtproxyd started with %r" % conf)
            expect(expect_text in p.stderr, "error %r does not say %r" % (p.stderr, expect_text))
        finally:
            subprocess.run(["rm", "-rf", root])

    def t_bad_config():
        start_fails('listen_tcp = 1\ntcp_port = "%d"\n' % ph.free_port(), "auth_tcp")
        start_fails('listen_tls = 1\ntls_port = "%d"\n' % ph.free_port(), "Cannot read CA certificate")
        start_fails('listen_tls = 1\ncert_file = "%s"\nkey_file = "%s"\n' % (pki.path("server.pem"),
                                                                         pki.path("server.key")),
                    "No CA certificate path set")
        start_fails('listen_tls = 1\ntls_port = "%d"\nca_file = "%s"\ncert_file = "%s"\nkey_file = "%s"\n'
                    % (ph.free_port(), pki.path("rogue-ca.pem"), pki.path("server.pem"), pki.path("server.key")),
                    "failed validation against your CA certificate")
    runner.check("bad listener config stops the daemon with a clear error", t_bad_config)

    def t_sigterm():
        c = libvirt.open(ok_uri)
        c.getLibVersion()
        expect_eq(proxy.stop(), 0, "exit status on SIGTERM with a TLS client")
        try:
            c.close()
        except libvirt.libvirtError:
            pass
    runner.check("SIGTERM with a TLS client connected: clean exit", t_sigterm)

    subprocess.run(["rm", "-rf", root2])
    proxy.cleanup()
    be.cleanup()
    runner.finish()


if __name__ == "__main__":
    main()
