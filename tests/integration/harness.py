"""harness - start/stop the daemon under test for the integration tests.

Targets (chosen by make_target(kind=...) from the environment):

* default: one of our daemons in a fresh temp root, started under
  `systemd-socket-activate` (three named listening FDs, NOTIFY_SOCKET), or with
  activation=False binding its own sockets:
    kind="qemu"    Virtqemud    $SV_BUILD_DIR/virtqemud/virtqemud       qemu:///system
    kind="storage" Virtstoraged $SV_BUILD_DIR/virtstoraged/virtstoraged storage:///system
    kind="network" Virtnetworkd $SV_BUILD_DIR/virtnetworkd/virtnetworkd network:///system
  (SV_BUILD_DIR defaults to /work/main/build; SV_VIRTQEMUD / SV_VIRTSTORAGED
  override the binary).  Both are Daemon subclasses: same --root layout
  (ROOT/run/libvirt/<prefix>-sock, -sock-ro, -admin-sock; FD names
  <prefix>.socket, <prefix>-ro.socket, <prefix>-admin.socket; definitions in
  ROOT/etc/libvirt/<defs_subdir>/).  netns=NAME runs the daemon (and so
  everything it spawns) under `ip netns exec NAME`; its sockets are files, so
  clients outside the namespace connect as usual.
* SV_TARGET=ref: the reference libvirtd 9.0 via /work/shared/tools/libvirt-ref
  (developer aid for checking the tests themselves and capturing golden files;
  never needed at CI time). Supports stop/kill9/restart too.  The monolithic
  libvirtd serves every kind; kind="storage" connects with storage:///system.
* SV_TARGET_URI (+ SV_TARGET_RO_URI) for kind="qemu", SV_STORAGE_TARGET_URI
  (+ SV_STORAGE_TARGET_RO_URI) for kind="storage": an already-running daemon;
  nothing is started or stopped, tests that need to restart it are skipped.

Everything a Target starts is killed by cleanup(), which also runs at exit and
on SIGTERM/SIGINT; children additionally get PR_SET_PDEATHSIG=SIGKILL so they
die with the test process even if it is SIGKILLed.
"""
import atexit
import ctypes
import os
import select
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import traceback

PY = "/usr/bin/python3"
SOURCE_DIR = os.environ.get("SV_SOURCE_DIR", "/work/main")
BUILD_DIR = os.environ.get("SV_BUILD_DIR", "/work/main/build")
LIBVIRT_REF = os.environ.get("SV_LIBVIRT_REF", "/work/shared/tools/libvirt-ref")
GOLDEN_DIR = os.path.join(SOURCE_DIR, "tests", "golden", "virsh")
FDNAMES = "virtqemud.socket:virtqemud-ro.socket:virtqemud-admin.socket"   # Virtqemud's


def fdnames(prefix):
    """LISTEN_FDNAMES for a daemon with socket prefix PREFIX (rw:ro:admin)."""
    return "%s.socket:%s-ro.socket:%s-admin.socket" % (prefix, prefix, prefix)
START_TIMEOUT = float(os.environ.get("SV_START_TIMEOUT", "20"))

_live_targets = []


def _pdeathsig():
    """preexec_fn: the child (and what it execs) gets SIGKILL when we die."""
    try:
        ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGKILL, 0, 0, 0)  # PR_SET_PDEATHSIG
    except Exception:
        pass


def daemon_binary(name):
    """$SV_<NAME> or $SV_BUILD_DIR/<name>/<name> (name: virtqemud, virtstoraged...)."""
    return os.environ.get("SV_" + name.upper(), os.path.join(BUILD_DIR, name, name))


def virtqemud_binary():
    return daemon_binary("virtqemud")


def virtstoraged_binary():
    return daemon_binary("virtstoraged")


def run_virsh(uri, args, ro=False, timeout=60, input=None, cwd=None):
    """-> (rc, stdout, stderr) of stock virsh, LC_ALL=C."""
    env = dict(os.environ, LC_ALL="C", LANG="C")
    env.pop("LIBVIRT_DEFAULT_URI", None)
    cmd = ["virsh"] + (["-r"] if ro else []) + ["-c", uri] + [str(a) for a in args]
    p = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=timeout, input=input,
                       cwd=cwd)
    return p.returncode, p.stdout, p.stderr


class Target:
    """Common interface. Subclasses set uri/ro_uri/sock/ro_sock/defs_dir."""
    kind = "?"
    uri = ro_uri = sock = ro_sock = admin_sock = None
    defs_dir = None          # where persistent <name>.xml files live (None: unknown)
    can_restart = False

    def virsh(self, *args, ro=False, timeout=60, input=None, cwd=None):
        """-> (rc, stdout, stderr); ro=True: `virsh -r` on the read-only socket."""
        return run_virsh(self.ro_uri if ro else self.uri, args, ro=ro, timeout=timeout,
                         input=input, cwd=cwd)

    def open(self, ro=False):
        import libvirt
        if ro:
            return libvirt.openReadOnly(self.ro_uri)
        return libvirt.open(self.uri)

    @property
    def pid(self):
        return None

    def alive(self):
        pid = self.pid
        if pid is None:
            return True
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return False
        # a zombie counts as dead
        try:
            with open("/proc/%d/stat" % pid) as f:
                return f.read().rsplit(")", 1)[1].split()[0] != "Z"
        except OSError:
            return False

    def start(self):
        pass

    def stop(self):
        pass

    def kill9(self):
        raise NotImplementedError("target %s cannot be killed" % self.kind)

    def restart(self):
        self.stop()
        self.start()

    def cleanup(self):
        pass

    def log_tail(self, n=30):
        return ""

    def __enter__(self):
        self.start()
        return self

    def __exit__(self, *exc):
        self.cleanup()
        return False


class Daemon(Target):
    """One of our daemons in a private root.  activation=True: under
    systemd-socket-activate.  Subclasses set name (binary and socket prefix),
    scheme (URI) and defs_subdir (ROOT/etc/libvirt/<defs_subdir>)."""
    name = None
    scheme = None
    defs_subdir = None
    can_restart = True

    @property
    def kind(self):
        return self.name

    def __init__(self, activation=True, binary=None, extra_args=(), root=None, netns=None):
        self.binary = binary or daemon_binary(self.name)
        self.netns = netns
        if not os.access(self.binary, os.X_OK):
            raise RuntimeError("daemon binary not found: %s (set SV_BUILD_DIR)" % self.binary)
        self.activation = activation
        self.extra_args = list(extra_args)
        self.root = root or tempfile.mkdtemp(prefix="sv", dir="/tmp")
        self._own_root = root is None
        self.rundir = os.path.join(self.root, "run", "libvirt")
        self.sock = os.path.join(self.rundir, self.name + "-sock")
        self.ro_sock = os.path.join(self.rundir, self.name + "-sock-ro")
        self.admin_sock = os.path.join(self.rundir, self.name + "-admin-sock")
        if len(self.admin_sock.encode()) >= 108:
            raise RuntimeError("socket path too long: %s" % self.admin_sock)
        self.uri = self.scheme + ":///system?socket=" + self.sock
        self.ro_uri = self.scheme + ":///system?socket=" + self.ro_sock
        self.defs_dir = os.path.join(self.root, "etc", "libvirt", self.defs_subdir)
        self.fdnames = fdnames(self.name)
        self.notify_path = os.path.join(self.root, "notify")
        self.log_path = os.path.join(self.root, "daemon.log")
        self.proc = None
        self.notify = None
        self.ready_pid = None
        self.starts = 0
        _live_targets.append(self)

    @property
    def pid(self):
        return self.proc.pid if self.proc else None

    def _bind_notify(self):
        if self.notify:
            self.notify.close()
        try:
            os.unlink(self.notify_path)
        except FileNotFoundError:
            pass
        s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        s.setsockopt(socket.SOL_SOCKET, socket.SO_PASSCRED, 1)
        s.bind(self.notify_path)
        self.notify = s

    def _wait_ready(self, deadline):
        """Block on the NOTIFY_SOCKET until a datagram containing READY=1."""
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                raise RuntimeError("no READY=1 on NOTIFY_SOCKET within %.0fs\n%s"
                                   % (START_TIMEOUT, self.log_tail()))
            # wake up at least every 0.5 s to notice a crashed daemon
            self.notify.settimeout(min(left, 0.5))
            try:
                data, anc, _flags, _addr = self.notify.recvmsg(4096, socket.CMSG_SPACE(12))
            except socket.timeout:
                if self.proc.poll() is not None:
                    raise RuntimeError("daemon exited (rc %s) before READY=1\n%s"
                                       % (self.proc.returncode, self.log_tail()))
                continue
            for level, typ, cdata in anc:
                if level == socket.SOL_SOCKET and typ == socket.SCM_CREDENTIALS:
                    self.ready_pid = int.from_bytes(cdata[:4], sys.byteorder)
            if b"READY=1" in data.split(b"\n"):
                return

    def _wait_listening(self, deadline):
        """The activator binds the three sockets right after exec: wait for
        them with inotify on the run directory (no sleeping/polling)."""
        paths = (self.sock, self.ro_sock, self.admin_sock)
        libc = ctypes.CDLL(None, use_errno=True)
        fd = libc.inotify_init1(os.O_CLOEXEC | os.O_NONBLOCK)
        if fd < 0:
            raise OSError(ctypes.get_errno(), "inotify_init1")
        try:
            IN_CREATE, IN_MOVED_TO = 0x100, 0x80
            if libc.inotify_add_watch(fd, self.rundir.encode(), IN_CREATE | IN_MOVED_TO) < 0:
                raise OSError(ctypes.get_errno(), "inotify_add_watch")
            while not all(os.path.exists(p) for p in paths):
                if self.proc.poll() is not None:
                    raise RuntimeError("systemd-socket-activate exited (rc %s)\n%s"
                                       % (self.proc.returncode, self.log_tail()))
                left = deadline - time.monotonic()
                if left <= 0:
                    raise RuntimeError("sockets not bound by systemd-socket-activate")
                r, _, _ = select.select([fd], [], [], min(left, 0.5))
                if r:
                    try:
                        os.read(fd, 65536)
                    except BlockingIOError:
                        pass
        finally:
            os.close(fd)

    def start(self):
        if self.proc and self.proc.poll() is None:
            raise RuntimeError("already running")
        os.makedirs(self.rundir, exist_ok=True)
        self._bind_notify()
        env = dict(os.environ, NOTIFY_SOCKET=self.notify_path, LC_ALL="C")
        for k in ("LISTEN_PID", "LISTEN_FDS", "LISTEN_FDNAMES"):
            env.pop(k, None)
        daemon = [self.binary, "--root", self.root] + self.extra_args
        if self.activation:
            # stale socket files from a previous (killed) run would make bind() fail
            for p in (self.sock, self.ro_sock, self.admin_sock):
                try:
                    os.unlink(p)
                except FileNotFoundError:
                    pass
            cmd = ["systemd-socket-activate", "-l", self.sock, "-l", self.ro_sock,
                   "-l", self.admin_sock, "--fdname=" + self.fdnames,
                   "-E", "NOTIFY_SOCKET=" + self.notify_path] + daemon
        else:
            cmd = daemon
        if self.netns:
            # ip netns exec execs the command in place (same pid) after
            # remounting /sys for the namespace
            cmd = ["ip", "netns", "exec", self.netns] + cmd
        log = open(self.log_path, "a")
        log.write("=== start %d: %s\n" % (self.starts, " ".join(cmd)))
        log.flush()
        self.starts += 1
        self.proc = subprocess.Popen(cmd, env=env, stdin=subprocess.DEVNULL, stdout=log,
                                     stderr=subprocess.STDOUT, preexec_fn=_pdeathsig,
                                     cwd=self.root)
        log.close()
        deadline = time.monotonic() + START_TIMEOUT
        try:
            if self.activation:
                self._wait_listening(deadline)
                os.chmod(self.ro_sock, 0o666)
                # first connection makes the activator exec the daemon; the
                # connect() itself succeeds at once (listen backlog)
                trigger = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
                trigger.connect(self.sock)
                try:
                    self._wait_ready(deadline)
                finally:
                    trigger.close()
            else:
                self._wait_ready(deadline)
        except Exception:
            self._kill()
            raise

    def _kill(self):
        if self.proc and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()

    def stop(self, timeout=15):
        """SIGTERM and wait; -> exit status. Raises if it does not exit in time."""
        if not self.proc or self.proc.poll() is not None:
            return self.proc.returncode if self.proc else None
        self.proc.send_signal(signal.SIGTERM)
        try:
            return self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self._kill()
            raise RuntimeError("daemon did not exit within %ds of SIGTERM" % timeout)

    def kill9(self):
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait()

    def log_tail(self, n=30):
        try:
            with open(self.log_path, errors="replace") as f:
                return "".join(f.readlines()[-n:])
        except OSError:
            return ""

    def kill_guests(self):
        """SIGKILL every process (QEMU) whose command line points into our
        root: guests outlive the daemon by design, tests must not leak them."""
        me = os.getpid()
        for pid in os.listdir("/proc"):
            if not pid.isdigit() or int(pid) == me:
                continue
            try:
                with open("/proc/%s/cmdline" % pid, "rb") as f:
                    cmd = f.read().replace(b"\0", b" ").decode(errors="replace")
            except OSError:
                continue
            if self.root + "/" in cmd and "qemu" in cmd:
                try:
                    os.kill(int(pid), signal.SIGKILL)
                except OSError:
                    pass

    def cleanup(self):
        self._kill()
        self.kill_guests()
        if self.notify:
            self.notify.close()
            self.notify = None
        if self._own_root and os.path.isdir(self.root):
            if os.environ.get("SV_KEEP_ROOT"):
                sys.stderr.write("harness: kept %s\n" % self.root)
            else:
                shutil.rmtree(self.root, ignore_errors=True)
        if self in _live_targets:
            _live_targets.remove(self)


class Virtqemud(Daemon):
    """Our QEMU daemon: qemu:///system, definitions in ROOT/etc/libvirt/qemu."""
    name = "virtqemud"
    scheme = "qemu"
    defs_subdir = "qemu"


class Virtstoraged(Daemon):
    """Our storage daemon: storage:///system, pool configs in
    ROOT/etc/libvirt/storage (autostart links in .../storage/autostart)."""
    name = "virtstoraged"
    scheme = "storage"
    defs_subdir = "storage"


class Virtnetworkd(Daemon):
    """Our network daemon: network:///system; network XML in
    ROOT/etc/libvirt/qemu/networks (libvirt's place), autostart links in
    .../qemu/networks/autostart."""
    name = "virtnetworkd"
    scheme = "network"
    defs_subdir = "qemu/networks"

    def __init__(self, *args, **kw):
        super().__init__(*args, **kw)
        # dnsmasq drops root for 'nobody', which must reach its hosts files
        # under ROOT/var/lib/libvirt/dnsmasq (mkdtemp makes ROOT 0700)
        os.chmod(self.root, 0o755)


DAEMONS = {"qemu": Virtqemud, "storage": Virtstoraged, "network": Virtnetworkd}


class RefDaemon(Target):
    """The reference libvirtd 9.0 via libvirt-ref (developer aid, not for CI).
    scheme: the URI scheme clients use ("qemu" or "storage"; the monolithic
    libvirtd serves both on one socket)."""
    kind = "ref"
    can_restart = True

    def __init__(self, activation=True, scheme="qemu", **_ignored):
        self.root = tempfile.mkdtemp(prefix="svr", dir="/tmp")
        self.scheme = scheme
        self.sock = os.path.join(self.root, "libvirt-sock")
        self.ro_sock = os.path.join(self.root, "libvirt-sock-ro")
        self.admin_sock = os.path.join(self.root, "libvirt-admin-sock")
        self.uri = scheme + ":///system?socket=" + self.sock
        self.ro_uri = scheme + ":///system?socket=" + self.ro_sock
        # /etc/libvirt inside the reference's mount namespace is ROOT/root/etc
        self.defs_dir = os.path.join(self.root, "root", "etc", scheme)
        self._pid = None
        _live_targets.append(self)

    @property
    def pid(self):
        return self._pid

    def _ref(self, cmd):
        p = subprocess.run([LIBVIRT_REF, cmd, self.root], capture_output=True, text=True,
                           timeout=120, env=dict(os.environ, LIBVIRT_REF_VIRTLOGD="0"))
        if p.returncode:
            raise RuntimeError("libvirt-ref %s failed: %s" % (cmd, p.stderr))
        return p.stdout

    def start(self):
        self._pid = int(self._ref("start").split()[-1])

    def stop(self):
        if self._pid:
            self._ref("stop")
            self._pid = None
        return 0

    def kill9(self):
        if self._pid:
            try:
                os.kill(self._pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            for _ in range(500):
                if not self.alive():
                    break
                time.sleep(0.01)
            self._ref("stop")          # reaps the namespace leftovers
            self._pid = None

    def log_tail(self, n=30):
        try:
            with open(os.path.join(self.root, "libvirtd.log"), errors="replace") as f:
                return "".join(f.readlines()[-n:])
        except OSError:
            return ""

    def cleanup(self):
        try:
            self.stop()
        except Exception:
            pass
        shutil.rmtree(self.root, ignore_errors=True)
        if self in _live_targets:
            _live_targets.remove(self)


class External(Target):
    """A daemon somebody else runs: SV_TARGET_URI / SV_TARGET_RO_URI."""
    kind = "external"

    def __init__(self, uri, ro_uri=None, **_ignored):
        self.uri = uri
        if not ro_uri:
            ro_uri = uri.replace("-sock", "-sock-ro") if "socket=" in uri else uri
        self.ro_uri = ro_uri
        self.sock = uri.split("socket=", 1)[1].split("&")[0] if "socket=" in uri else None
        self.ro_sock = self.ro_uri.split("socket=", 1)[1].split("&")[0] if "socket=" in self.ro_uri else None


def make_target(activation=True, kind="qemu", **kw):
    """The target selected by the environment (see module doc).
    kind: "qemu" (virtqemud), "storage" (virtstoraged) or "network" (virtnetworkd)."""
    if kind not in DAEMONS:
        raise ValueError("unknown target kind %r" % kind)
    env = "SV_TARGET" if kind == "qemu" else "SV_%s_TARGET" % kind.upper()
    if os.environ.get(env + "_URI"):
        return External(os.environ[env + "_URI"], os.environ.get(env + "_RO_URI"))
    if os.environ.get("SV_TARGET") == "ref":
        ref = RefDaemon(activation=activation, scheme=DAEMONS[kind].scheme)
        # /etc/libvirt of the reference is ROOT/root/etc
        ref.defs_dir = os.path.join(ref.root, "root", "etc", DAEMONS[kind].defs_subdir)
        return ref
    if kind == "storage" and os.environ.get("SV_STORAGE_VIA_QEMU") == "1":
        return StorageViaQemu(activation=activation, **kw)
    return DAEMONS[kind](activation=activation, **kw)


class StorageViaQemu(Virtqemud):
    """virtstoraged and virtqemud in one root; clients talk to virtqemud,
    which forwards the storage API (protocol.md 5.4)."""

    def __init__(self, activation=True, **kw):
        super().__init__(activation=activation, **kw)
        self.storage = Virtstoraged(activation=activation, root=self.root)
        self.defs_dir = self.storage.defs_dir

    def start(self):
        if not (self.storage.proc and self.storage.proc.poll() is None):
            self.storage.start()
        super().start()

    def stop(self, timeout=15):
        rc = super().stop(timeout)
        self.storage.stop(timeout)
        return rc

    def cleanup(self):
        self.storage.cleanup()
        super().cleanup()


def target_is_reference():
    return os.environ.get("SV_TARGET") == "ref"


def _cleanup_all():
    for t in list(_live_targets):
        try:
            t.cleanup()
        except Exception:
            pass


def _on_signal(signum, _frame):
    _cleanup_all()
    sys.exit(128 + signum)


atexit.register(_cleanup_all)
for _s in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
    signal.signal(_s, _on_signal)


# --------------------------------------------------------------- host facts
def qemu_version():
    """'7.2.22' from the QEMU binary (what a daemon reports as hypervisor version)."""
    import re
    try:
        out = subprocess.run(["/usr/bin/qemu-system-x86_64", "--version"], capture_output=True,
                             text=True, timeout=30).stdout
        return re.search(r"version (\d+\.\d+\.\d+)", out).group(1)
    except Exception:
        return "?"


def online_cpus():
    n = 0
    with open("/sys/devices/system/cpu/online") as f:
        for part in f.read().strip().split(","):
            a, _, b = part.partition("-")
            n += (int(b) - int(a) + 1) if b else 1
    return n


def input_xml(name):
    """Text of tests/golden/virsh/input/NAME (domain XML with fixed uuids)."""
    with open(os.path.join(GOLDEN_DIR, "input", name)) as f:
        return f.read()


# --------------------------------------------------------------- tiny runner
class Runner:
    """Named checks, PASS/FAIL lines, final `N passed, M failed`, exit code."""

    def __init__(self, name):
        self.name = name
        self.passed = 0
        self.failed = 0
        self.skipped = 0
        self.t0 = time.monotonic()

    def check(self, name, fn, *args, **kw):
        t = time.monotonic()
        try:
            fn(*args, **kw)
        except Skip as e:
            self.skipped += 1
            print("SKIP %s: %s" % (name, e), flush=True)
            return True
        except Exception as e:
            self.failed += 1
            print("FAIL %s (%.2fs): %s: %s" % (name, time.monotonic() - t, type(e).__name__, e),
                  flush=True)
            if os.environ.get("SV_TRACE"):
                traceback.print_exc()
            return False
        self.passed += 1
        print("PASS %s (%.2fs)" % (name, time.monotonic() - t), flush=True)
        return True

    def start(self, target):
        """Start the target as a check of its own; on failure finish (exit 1)."""
        if not self.check("daemon starts (%s)" % target.kind, target.start):
            self.finish()

    def fail(self, name, msg):
        self.failed += 1
        print("FAIL %s: %s" % (name, msg), flush=True)

    def finish(self):
        extra = (", %d skipped" % self.skipped) if self.skipped else ""
        print("%s: %.1fs" % (self.name, time.monotonic() - self.t0))
        print("%d passed, %d failed%s" % (self.passed, self.failed, extra), flush=True)
        _cleanup_all()
        sys.exit(1 if self.failed else 0)


class Skip(Exception):
    pass


def expect(cond, msg):
    if not cond:
        raise AssertionError(msg)


def expect_eq(actual, expected, what=""):
    if actual != expected:
        raise AssertionError("%s: expected %r, got %r" % (what, expected, actual))


def wait_for(pred, timeout=10.0, interval=0.01, what="condition"):
    deadline = time.monotonic() + timeout
    while True:
        v = pred()
        if v:
            return v
        if time.monotonic() > deadline:
            raise AssertionError("timed out waiting for " + what)
        time.sleep(interval)
