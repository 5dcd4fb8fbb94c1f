"""proxy_harness - virtproxyd and the daemons behind it, for test_proxy*.py
and bench/bench_proxy.py.

* Virtproxyd(root=..., tcp_port=None, tls_port=None): our virtproxyd in a
  temp root (usually the root of the backends, so that it finds their
  sockets in ROOT/run/libvirt), under systemd-socket-activate with the FD
  names of libvirt's units: virtproxyd.socket (ROOT/run/libvirt/libvirt-sock),
  virtproxyd-ro.socket, virtproxyd-admin.socket, and with tcp_port/tls_port
  also virtproxyd-tcp.socket / virtproxyd-tls.socket on 127.0.0.1:PORT.
  activation=False: it binds everything itself from its config file
  (ROOT/etc/libvirt/virtproxyd.conf, see write_config()).
* Backends(root, network=...): virtqemud + virtstoraged (+ virtnetworkd when
  built) socket-activated in one root; start()/cleanup() all of them.
* free_port(): a TCP port nobody listens on right now.
* make_pki(dir): CA, server cert (SAN 127.0.0.1), client certs made with the
  openssl CLI: ok, wrong CA, expired, other DN (see PKI).
"""
import os
import socket
import subprocess
import time

import harness
from harness import Daemon, START_TIMEOUT


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


class Virtproxyd(Daemon):
    name = "virtproxyd"
    scheme = "qemu"
    defs_subdir = "qemu"

    def __init__(self, activation=True, tcp_port=None, tls_port=None, **kw):
        super().__init__(activation=activation, **kw)
        # libvirt's legacy socket names (prefix "libvirt", protocol.md 5.1)
        self.sock = os.path.join(self.rundir, "libvirt-sock")
        self.ro_sock = os.path.join(self.rundir, "libvirt-sock-ro")
        self.admin_sock = os.path.join(self.rundir, "libvirt-admin-sock")
        self.uri = "qemu:///system?socket=" + self.sock
        self.ro_uri = "qemu:///system?socket=" + self.ro_sock
        self.tcp_port = tcp_port
        self.tls_port = tls_port
        self.conf_path = os.path.join(self.root, "etc", "libvirt", "virtproxyd.conf")

    def uri_for(self, scheme, ro=False):
        return "%s:///system?socket=%s" % (scheme, self.ro_sock if ro else self.sock)

    def write_config(self, text):
        os.makedirs(os.path.dirname(self.conf_path), exist_ok=True)
        with open(self.conf_path, "w") as f:
            f.write(text)

    def start(self):
        if not self.activation:
            return super().start()
        if self.proc and self.proc.poll() is None:
            raise RuntimeError("already running")
        os.makedirs(self.rundir, exist_ok=True)
        self._bind_notify()
        env = dict(os.environ, NOTIFY_SOCKET=self.notify_path, LC_ALL="C")
        for k in ("LISTEN_PID", "LISTEN_FDS", "LISTEN_FDNAMES"):
            env.pop(k, None)
        for p in (self.sock, self.ro_sock, self.admin_sock):
            try:
                os.unlink(p)
            except FileNotFoundError:
                pass
        listen = [self.sock, self.ro_sock, self.admin_sock]
        names = ["virtproxyd.socket", "virtproxyd-ro.socket", "virtproxyd-admin.socket"]
        if self.tcp_port:
            listen.append("127.0.0.1:%d" % self.tcp_port)
            names.append("virtproxyd-tcp.socket")
        if self.tls_port:
            listen.append("127.0.0.1:%d" % self.tls_port)
            names.append("virtproxyd-tls.socket")
        cmd = ["systemd-socket-activate"]
        for l in listen:
            cmd += ["-l", l]
        cmd += ["--fdname=" + ":".join(names), "-E", "NOTIFY_SOCKET=" + self.notify_path,
                self.binary, "--root", self.root] + self.extra_args
        log = open(self.log_path, "a")
        log.write("=== start %d: %s\n" % (self.starts, " ".join(cmd)))
        log.flush()
        self.starts += 1
        self.proc = subprocess.Popen(cmd, env=env, stdin=subprocess.DEVNULL, stdout=log,
                                     stderr=subprocess.STDOUT, preexec_fn=harness._pdeathsig,
                                     cwd=self.root)
        log.close()
        deadline = time.monotonic() + START_TIMEOUT
        try:
            self._wait_listening(deadline)
            os.chmod(self.ro_sock, 0o666)
            trigger = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            trigger.connect(self.sock)
            try:
                self._wait_ready(deadline)
            finally:
                trigger.close()
        except Exception:
            self._kill()
            raise


def network_binary():
    return harness.daemon_binary("virtnetworkd")


class _Virtnetworkd(Daemon):
    name = "virtnetworkd"
    scheme = "network"
    defs_subdir = "qemu/networks"


# harness.py has its own once virtnetworkd is in the tree
Virtnetworkd = getattr(harness, "Virtnetworkd", _Virtnetworkd)


class Backends:
    """virtqemud + virtstoraged (+ virtnetworkd if built and network=True)
    in one root."""

    def __init__(self, root=None, network=True, extra_args=()):
        self.qemu = harness.Virtqemud(root=root, extra_args=extra_args)
        self.root = self.qemu.root
        self.storage = harness.Virtstoraged(root=self.root)
        self.network = None
        if network and os.access(network_binary(), os.X_OK):
            self.network = Virtnetworkd(root=self.root)
        self.all = [d for d in (self.storage, self.network, self.qemu) if d]

    def start(self):
        for d in self.all:
            d.start()

    def cleanup(self):
        for d in self.all:
            if d is not self.qemu:
                d.cleanup()
        self.qemu.cleanup()


# ------------------------------------------------------------------ test PKI
PKI_EXT = """[req]
distinguished_name = dn
[dn]
[ca]
basicConstraints = critical, CA:TRUE
keyUsage = critical, keyCertSign, cRLSign
subjectKeyIdentifier = hash
[server]
basicConstraints = critical, CA:FALSE
keyUsage = critical, digitalSignature, keyEncipherment
extendedKeyUsage = serverAuth
subjectAltName = IP:127.0.0.1, DNS:localhost
[client]
basicConstraints = critical, CA:FALSE
keyUsage = critical, digitalSignature, keyEncipherment
extendedKeyUsage = clientAuth
"""

# openssl ca needs a database to back-date a certificate
CA_CONF = """[ca]
default_ca = d
[d]
dir = %(dir)s
database = %(dir)s/index.txt
new_certs_dir = %(dir)s
serial = %(dir)s/serial
default_md = sha256
policy = p
copy_extensions = none
unique_subject = no
[p]
countryName = optional
organizationName = optional
commonName = supplied
"""


def _openssl(*args, cwd):
    p = subprocess.run(["openssl"] + list(args), cwd=cwd, capture_output=True, text=True)
    if p.returncode:
        raise RuntimeError("openssl %s: %s" % (" ".join(args), p.stderr))
    return p.stdout


class PKI:
    """Everything under DIR:
      ca.pem/ca.key (the CA the server trusts), server.pem/server.key,
      client-ok.*  (CN=client1,O=splitvirt test,C=GB, signed by the CA),
      client-other.* (CN=intruder,O=elsewhere,C=GB, signed by the CA),
      client-expired.* (CN=client1..., expired in 2021),
      rogue-ca.*, client-rogue.* (CN=client1..., signed by another CA);
      pkipath(name): a directory with cacert.pem, clientcert.pem,
      clientkey.pem for virsh's ?pkipath=."""
    CLIENT_DN = "CN=client1,O=splitvirt test,C=GB"

    def __init__(self, d):
        self.dir = d
        os.makedirs(d, exist_ok=True)
        with open(os.path.join(d, "ext.cnf"), "w") as f:
            f.write(PKI_EXT)
        self._ca("ca", "/C=GB/O=splitvirt test/CN=splitvirt test CA")
        self._ca("rogue-ca", "/C=GB/O=elsewhere/CN=rogue CA")
        self._cert("server", "/C=GB/O=splitvirt test/CN=127.0.0.1", "server", "ca")
        self._cert("client-ok", "/C=GB/O=splitvirt test/CN=client1", "client", "ca")
        self._cert("client-other", "/C=GB/O=elsewhere/CN=intruder", "client", "ca")
        self._cert("client-rogue", "/C=GB/O=splitvirt test/CN=client1", "client", "rogue-ca")
        self._expired("client-expired", "/C=GB/O=splitvirt test/CN=client1")

    def path(self, name):
        return os.path.join(self.dir, name)

    def _ca(self, name, subj):
        _openssl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "30", "-subj", subj,
                 "-keyout", name + ".key", "-out", name + ".pem", "-config", "ext.cnf",
                 "-extensions", "ca", cwd=self.dir)

    def _cert(self, name, subj, ext, ca):
        _openssl("req", "-newkey", "rsa:2048", "-nodes", "-subj", subj, "-keyout", name + ".key",
                 "-out", name + ".csr", "-config", "ext.cnf", cwd=self.dir)
        _openssl("x509", "-req", "-in", name + ".csr", "-CA", ca + ".pem", "-CAkey", ca + ".key",
                 "-CAcreateserial", "-days", "30", "-sha256", "-extfile", "ext.cnf",
                 "-extensions", ext, "-out", name + ".pem", cwd=self.dir)

    def _expired(self, name, subj):
        db = os.path.join(self.dir, "cadb")
        os.makedirs(db, exist_ok=True)
        open(os.path.join(db, "index.txt"), "w").close()
        with open(os.path.join(db, "serial"), "w") as f:
            f.write("1000\n")
        with open(os.path.join(db, "ca.cnf"), "w") as f:
            f.write(CA_CONF % {"dir": db})
        _openssl("req", "-newkey", "rsa:2048", "-nodes", "-subj", subj, "-keyout", name + ".key",
                 "-out", name + ".csr", "-config", "ext.cnf", cwd=self.dir)
        _openssl("ca", "-batch", "-config", os.path.join(db, "ca.cnf"), "-cert", "ca.pem",
                 "-keyfile", "ca.key", "-in", name + ".csr", "-out", name + ".pem",
                 "-startdate", "20200101000000Z", "-enddate", "20210101000000Z",
                 "-extfile", "ext.cnf", "-extensions", "client", "-notext", cwd=self.dir)

    def install_server(self, root):
        """libvirt's default server locations under ROOT (what virtproxyd
        --root ROOT reads when the config names no files)."""
        for src, dst in (("ca.pem", "etc/pki/CA/cacert.pem"),
                         ("server.pem", "etc/pki/libvirt/servercert.pem"),
                         ("server.key", "etc/pki/libvirt/private/serverkey.pem")):
            d = os.path.join(root, dst)
            os.makedirs(os.path.dirname(d), exist_ok=True)
            with open(self.path(src), "rb") as a, open(d, "wb") as b:
                b.write(a.read())

    def pkipath(self, client, ca="ca"):
        """A virsh ?pkipath= directory for client cert CLIENT."""
        d = os.path.join(self.dir, "pki-" + client)
        os.makedirs(d, exist_ok=True)
        for src, dst in ((ca + ".pem", "cacert.pem"), (client + ".pem", "clientcert.pem"),
                         (client + ".key", "clientkey.pem")):
            with open(self.path(src), "rb") as a, open(os.path.join(d, dst), "wb") as b:
                b.write(a.read())
        return d
