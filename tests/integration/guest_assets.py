"""guest_assets - a bootable test guest for the QEMU tests and benchmarks.

* kernel_and_initrd() -> (vmlinuz, initrd): Debian's cloud kernel (8250 serial
  console built in) fetched with `apt-get download linux-image-<ver>-cloud-amd64`
  and unpacked with `dpkg-deb -x` (nothing is installed), plus a busybox
  initramfs that loads the virtio + ACPI button modules, runs acpid (power
  button -> `poweroff -f`), prints GUEST_MARKER ("GUEST-BOOTED") and spawns a
  shell (prompt "/ # ") on the serial console.  Needs -m >= 80 MiB.
  Both files are cached under ${SV_ASSET_DIR:-/var/cache/splitvirt-test} so a
  machine downloads once; concurrent callers serialise on a lock file.
  `busybox-static` and `cpio` are apt-get installed when missing (CI runs as
  root).  No network / no apt / not root -> raises harness.Skip.
* make_qcow2(path, size) - qemu-img create -f qcow2.
* domain_xml(name, kernel=, initrd=, disk=, serial=True, mem_mib=128, ...) -
  `<domain type='qemu'>` for TCG with ACPI (needed by `virsh shutdown`).

Run directly (`/usr/bin/python3 guest_assets.py`) to fill the cache and print
the paths.
"""
import fcntl
import glob
import os
import shutil
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import Skip  # noqa: E402

ASSET_DIR = os.environ.get("SV_ASSET_DIR", "/var/cache/splitvirt-test")
GUEST_MARKER = "GUEST-BOOTED"
SHELL_PROMPT = "/ # "
POWEROFF_MARKER = "GUEST: ACPI power button -> poweroff"
KERNEL_CMDLINE = "console=ttyS0 panic=-1 quiet"
# bump when the initramfs recipe below changes (older cached files are ignored)
INITRD_RECIPE = 1

MODULES = """drivers/virtio/virtio_ring drivers/virtio/virtio drivers/virtio/virtio_pci_legacy_dev
 drivers/virtio/virtio_pci_modern_dev drivers/virtio/virtio_pci net/core/failover drivers/net/net_failover
 drivers/net/virtio_net drivers/block/virtio_blk drivers/char/virtio_console drivers/input/evdev
 drivers/acpi/button""".split()

INIT = """#!/bin/sh
mount -t proc proc /proc; mount -t sysfs sys /sys; mount -t devtmpfs dev /dev
for m in $(cat /lib/modules/order); do insmod /lib/modules/$m.ko 2>/dev/null; done
acpid -c /etc/acpi -l /tmp/acpid.log
echo "%s uptime=$(cut -d' ' -f1 /proc/uptime)"
exec setsid cttyhack /bin/sh -i
""" % GUEST_MARKER

POWER_BUTTON = """#!/bin/sh
echo "%s" > /dev/console
poweroff -f
""" % POWEROFF_MARKER

_ENV = dict(os.environ, LC_ALL="C", DEBIAN_FRONTEND="noninteractive")


def _run(cmd, timeout=300, **kw):
    return subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, env=_ENV, **kw)


def _apt_install(*pkgs):
    """apt-get install PKGS (apt-get update first if the plain install fails)."""
    if os.geteuid() != 0:
        raise Skip("packages %s missing and not root to install them" % " ".join(pkgs))
    p = _run(["apt-get", "install", "-y", "-q", "--no-install-recommends"] + list(pkgs))
    if p.returncode:
        _run(["apt-get", "update", "-q"])
        p = _run(["apt-get", "install", "-y", "-q", "--no-install-recommends"] + list(pkgs))
    if p.returncode:
        raise Skip("cannot install %s (no network?): %s" % (" ".join(pkgs), p.stderr.strip()[-300:]))


def _ensure_tools():
    missing = []
    if not os.path.exists("/bin/busybox") or _run(["/bin/busybox", "--list"]).returncode:
        missing.append("busybox-static")
    if not shutil.which("cpio"):
        missing.append("cpio")
    if missing:
        _apt_install(*missing)
    if not os.path.exists("/bin/busybox"):
        raise Skip("/bin/busybox missing after installing busybox-static")


def _kernel_package():
    """linux-image-<ver>-cloud-amd64 that linux-image-cloud-amd64 depends on."""
    for attempt in range(2):
        p = _run(["apt-cache", "depends", "linux-image-cloud-amd64"], timeout=60)
        for line in p.stdout.splitlines():
            w = line.split()
            if len(w) == 2 and w[0] == "Depends:" and w[1].startswith("linux-image-") \
                    and w[1][len("linux-image-"):][:1].isdigit():
                return w[1]
        if attempt == 0:
            if os.geteuid() != 0:
                break
            _run(["apt-get", "update", "-q"])
    raise Skip("cannot find the Debian cloud kernel package (apt-cache depends "
               "linux-image-cloud-amd64: %s)" % (p.stderr.strip() or "no linux-image dependency"))


def _lock():
    os.makedirs(ASSET_DIR, exist_ok=True)
    f = open(os.path.join(ASSET_DIR, ".lock"), "w")
    fcntl.flock(f, fcntl.LOCK_EX)
    return f


def _paths(pkg):
    d = os.path.join(ASSET_DIR, pkg)
    return d, os.path.join(d, "vmlinuz"), os.path.join(d, "initrd-r%d.cpio.gz" % INITRD_RECIPE)


def _cached():
    """(vmlinuz, initrd) from the 'current' pointer if complete, else None."""
    try:
        with open(os.path.join(ASSET_DIR, "current")) as f:
            pkg = f.read().strip()
    except OSError:
        return None
    _d, k, i = _paths(pkg)
    try:
        if pkg and os.path.getsize(k) > 0 and os.path.getsize(i) > 0:
            return k, i
    except OSError:
        pass
    return None


def _build_initrd(moddir, out):
    _ensure_tools()
    r = tempfile.mkdtemp(prefix="initrd.", dir=os.path.dirname(out))
    try:
        for d in ("bin", "proc", "sys", "dev", "tmp", "etc/acpi/PWRF", "lib/modules"):
            os.makedirs(os.path.join(r, d), exist_ok=True)
        shutil.copy2("/bin/busybox", os.path.join(r, "bin", "busybox"))
        applets = _run(["/bin/busybox", "--list"]).stdout.split()
        for a in applets:
            if a != "busybox" and not os.path.lexists(os.path.join(r, "bin", a)):
                os.symlink("busybox", os.path.join(r, "bin", a))
        order = []
        for m in MODULES:
            src = os.path.join(moddir, "kernel", m + ".ko")
            if not os.path.exists(src):
                raise Skip("kernel module %s missing in %s" % (m, moddir))
            shutil.copy2(src, os.path.join(r, "lib", "modules"))
            order.append(os.path.basename(m))
        with open(os.path.join(r, "lib", "modules", "order"), "w") as f:
            f.write("\n".join(order) + "\n")
        for rel, text in (("init", INIT), ("etc/acpi/PWRF/00000080", POWER_BUTTON)):
            p = os.path.join(r, rel)
            with open(p, "w") as f:
                f.write(text)
            os.chmod(p, 0o755)
        tmp = out + ".tmp"
        with open(tmp, "wb") as f:
            sh = "find . | cpio -o -H newc 2>/dev/null | gzip -1"
            p = subprocess.run(["sh", "-c", sh], cwd=r, stdout=f, timeout=120)
        if p.returncode or os.path.getsize(tmp) < 100000:
            raise RuntimeError("building the initramfs failed (rc %s)" % p.returncode)
        os.rename(tmp, out)
    finally:
        shutil.rmtree(r, ignore_errors=True)


def kernel_and_initrd():
    """-> (vmlinuz, initrd) paths; downloads/builds into ASSET_DIR on first use.
    Raises Skip when the kernel cannot be obtained (no network, not root...)."""
    c = _cached()
    if c:
        return c
    try:
        lock = _lock()
    except OSError as e:
        raise Skip("cannot use asset dir %s: %s" % (ASSET_DIR, e))
    try:
        c = _cached()
        if c:
            return c
        pkg = _kernel_package()
        d, kpath, ipath = _paths(pkg)
        os.makedirs(d, exist_ok=True)
        work = tempfile.mkdtemp(prefix="dl.", dir=ASSET_DIR)
        try:
            # _apt (the download sandbox user) must be able to write here
            os.chmod(work, 0o777)
            if not os.path.exists(kpath) or not os.path.exists(ipath):
                p = _run(["apt-get", "download", pkg], cwd=work)
                debs = glob.glob(os.path.join(work, pkg + "_*.deb"))
                if p.returncode or not debs:
                    if os.geteuid() == 0:
                        _run(["apt-get", "update", "-q"])
                        p = _run(["apt-get", "download", pkg], cwd=work)
                        debs = glob.glob(os.path.join(work, pkg + "_*.deb"))
                    if p.returncode or not debs:
                        raise Skip("apt-get download %s failed (no network?): %s"
                                   % (pkg, p.stderr.strip()[-300:]))
                x = os.path.join(work, "x")
                p = _run(["dpkg-deb", "-x", debs[0], x])
                if p.returncode:
                    raise RuntimeError("dpkg-deb -x %s: %s" % (debs[0], p.stderr))
                vmlinuz = glob.glob(os.path.join(x, "boot", "vmlinuz-*"))
                moddirs = glob.glob(os.path.join(x, "lib", "modules", "*"))
                if not vmlinuz or not moddirs:
                    raise RuntimeError("no vmlinuz/modules in %s" % debs[0])
                _build_initrd(moddirs[0], ipath)
                shutil.copyfile(vmlinuz[0], kpath + ".tmp")
                os.rename(kpath + ".tmp", kpath)
            with open(os.path.join(ASSET_DIR, "current.tmp"), "w") as f:
                f.write(pkg + "\n")
            os.rename(os.path.join(ASSET_DIR, "current.tmp"), os.path.join(ASSET_DIR, "current"))
        finally:
            shutil.rmtree(work, ignore_errors=True)
        return kpath, ipath
    finally:
        lock.close()


def make_qcow2(path, size="64M"):
    """qemu-img create -f qcow2 PATH SIZE (size: '64M' or bytes)."""
    p = _run(["qemu-img", "create", "-q", "-f", "qcow2", path, str(size)], timeout=60)
    if p.returncode:
        raise RuntimeError("qemu-img create %s: %s" % (path, p.stderr.strip()))
    return path


def _esc(s):
    return (str(s).replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
            .replace("'", "&apos;"))


def domain_xml(name, kernel=None, initrd=None, disk=None, serial=True, mem_mib=128,
               uuid=None, cmdline=KERNEL_CMDLINE, on_reboot=None, extra_devices="",
               emulator="/usr/bin/qemu-system-x86_64"):
    """Domain XML for a TCG guest (machine pc, ACPI on).  disk: a qcow2 path
    (vda, virtio) or a list of them (vda, vdb, ...).  serial: pty serial port +
    serial console (what `virsh console` uses)."""
    out = ["<domain type='qemu'>", "  <name>%s</name>" % _esc(name)]
    if uuid:
        out.append("  <uuid>%s</uuid>" % uuid)
    out += ["  <memory unit='MiB'>%d</memory>" % mem_mib,
            "  <currentMemory unit='MiB'>%d</currentMemory>" % mem_mib,
            "  <vcpu placement='static'>1</vcpu>",
            "  <os>",
            "    <type arch='x86_64' machine='pc'>hvm</type>"]
    if kernel:
        out.append("    <kernel>%s</kernel>" % _esc(kernel))
        if initrd:
            out.append("    <initrd>%s</initrd>" % _esc(initrd))
        if cmdline:
            out.append("    <cmdline>%s</cmdline>" % _esc(cmdline))
    else:
        out.append("    <boot dev='hd'/>")
    out += ["  </os>",
            "  <features>", "    <acpi/>", "    <apic/>", "  </features>",
            "  <on_poweroff>destroy</on_poweroff>",
            "  <on_reboot>%s</on_reboot>" % (on_reboot or "restart"),
            "  <on_crash>destroy</on_crash>",
            "  <devices>",
            "    <emulator>%s</emulator>" % emulator]
    disks = [disk] if isinstance(disk, str) else list(disk or [])
    for i, d in enumerate(disks):
        out += ["    <disk type='file' device='disk'>",
                "      <driver name='qemu' type='qcow2'/>",
                "      <source file='%s'/>" % _esc(d),
                "      <target dev='vd%s' bus='virtio'/>" % chr(ord("a") + i),
                "    </disk>"]
    if serial:
        out += ["    <serial type='pty'>", "      <target port='0'/>", "    </serial>",
                "    <console type='pty'>", "      <target type='serial' port='0'/>",
                "    </console>"]
    if extra_devices:
        out.append(extra_devices.rstrip("\n"))
    out += ["  </devices>", "</domain>", ""]
    return "\n".join(out)


# ------------------------------------------------------------ QEMU processes
def _cmdline(pid):
    try:
        with open("/proc/%s/cmdline" % pid, "rb") as f:
            return f.read().split(b"\0")
    except OSError:
        return []


def qemu_guests(prefix=""):
    """{guest name: [pid, ...]} of live QEMU processes whose `-name guest=NAME`
    starts with prefix (zombies have no cmdline, so they do not count)."""
    out = {}
    for p in os.listdir("/proc"):
        if not p.isdigit():
            continue
        argv = _cmdline(p)
        for j, a in enumerate(argv[:-1]):
            if a == b"-name":
                v = argv[j + 1].decode(errors="replace")
                # -name guest=NAME,debug-threads=on  (commas in NAME are doubled)
                if v.startswith("guest="):
                    v = v[len("guest="):]
                name, i = [], 0
                while i < len(v):
                    if v[i] == ",":
                        if v[i + 1:i + 2] == ",":
                            name.append(","); i += 2; continue
                        break
                    name.append(v[i]); i += 1
                name = "".join(name)
                if name.startswith(prefix):
                    out.setdefault(name, []).append(int(p))
                break
    return out


def qemu_pids(name):
    """pids of live QEMU processes for guest NAME (exact)."""
    return qemu_guests(name).get(name, [])


def kill_guests(prefix):
    """SIGKILL every QEMU whose guest name starts with prefix; wait for them."""
    import signal
    import time
    if not prefix:
        raise ValueError("refusing to kill every QEMU (empty prefix)")
    pids = [p for ps in qemu_guests(prefix).values() for p in ps]
    for p in pids:
        try:
            os.kill(p, signal.SIGKILL)
        except ProcessLookupError:
            pass
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline and qemu_guests(prefix):
        time.sleep(0.02)
    return pids


# ------------------------------------------------------------ events
_loop_started = False


def start_event_loop():
    """virEventRegisterDefaultImpl + a daemon thread running it (once per
    process; must happen before the first libvirt.open that wants events)."""
    global _loop_started
    import threading
    import libvirt
    if _loop_started:
        return
    libvirt.virEventRegisterDefaultImpl()

    def run():
        while True:
            libvirt.virEventRunDefaultImpl()
    threading.Thread(target=run, daemon=True, name="virEventLoop").start()
    _loop_started = True


class EventCollector:
    """Collects LIFECYCLE, REBOOT and DEVICE_REMOVED events of every domain
    from a python3-libvirt connection.  Records are
    (monotonic time, domain name, kind, payload) with kind 'lifecycle'
    (payload (event, detail)), 'reboot' (None) or 'device-removed' (alias)."""

    def __init__(self, target):
        import threading
        start_event_loop()
        self.target = target
        self.records = []
        self.cond = threading.Condition()
        self.conn = None
        self.open()

    def open(self):
        import libvirt
        import time
        if self.conn is not None:
            try:
                self.conn.close()
            except Exception:
                pass
        self.conn = self.target.open()

        def add(name, kind, payload):
            with self.cond:
                self.records.append((time.monotonic(), name, kind, payload))
                self.cond.notify_all()
        self.conn.domainEventRegisterAny(
            None, libvirt.VIR_DOMAIN_EVENT_ID_LIFECYCLE,
            lambda _c, d, ev, det, _o: add(d.name(), "lifecycle", (ev, det)), None)
        self.conn.domainEventRegisterAny(
            None, libvirt.VIR_DOMAIN_EVENT_ID_REBOOT,
            lambda _c, d, _o: add(d.name(), "reboot", None), None)
        try:
            self.conn.domainEventRegisterAny(
                None, libvirt.VIR_DOMAIN_EVENT_ID_DEVICE_REMOVED,
                lambda _c, d, alias, _o: add(d.name(), "device-removed", alias), None)
        except libvirt.libvirtError:
            pass

    def close(self):
        if self.conn is not None:
            try:
                self.conn.close()
            except Exception:
                pass
            self.conn = None

    def mark(self):
        with self.cond:
            return len(self.records)

    def since(self, mark, name, kind="lifecycle"):
        with self.cond:
            return [r[3] for r in self.records[mark:] if r[1] == name and r[2] == kind]

    def wait(self, mark, name, pred, timeout=10.0, kind="lifecycle"):
        """Wait until pred(list of payloads since mark) is true -> that list."""
        import time
        deadline = time.monotonic() + timeout
        with self.cond:
            while True:
                got = [r[3] for r in self.records[mark:] if r[1] == name and r[2] == kind]
                if pred(got):
                    return got
                left = deadline - time.monotonic()
                if left <= 0:
                    return got
                self.cond.wait(left)


def match_events(actual, expected):
    """expected: list of (event, detail) or (event, detail, 'optional').
    -> None if actual matches (optional items may be absent), else a message."""
    i = 0
    for item in expected:
        want = tuple(item[:2])
        optional = len(item) > 2
        if i < len(actual) and tuple(actual[i]) == want:
            i += 1
        elif not optional:
            return "expected %s at position %d, got %s" % (want, i, list(actual))
    if i != len(actual):
        return "unexpected extra events %s (all: %s)" % (list(actual[i:]), list(actual))
    return None


def wait_events(coll, mark, name, expected, timeout=10.0):
    """Wait for the required items of `expected` (see match_events) after mark,
    then assert the sequence; -> actual list."""
    import time
    need = [tuple(e[:2]) for e in expected if len(e) == 2]

    def have_all(got):
        j = 0
        for g in got:
            if j < len(need) and tuple(g) == need[j]:
                j += 1
        return j == len(need)
    got = coll.wait(mark, name, have_all, timeout)
    time.sleep(0.05)       # let a straggler arrive (it must then match, too)
    got = coll.since(mark, name)
    err = match_events(got, expected)
    if err:
        raise AssertionError("lifecycle events of %s: %s" % (name, err))
    return got


# ------------------------------------------------------------ console
class Console:
    """Serial console of a running domain through the python stream API
    (virDomainOpenConsole = DOMAIN_OPEN_CONSOLE over an RPC stream).
    Raises libvirt.libvirtError from the constructor (e.g. NO_SUPPORT)."""

    def __init__(self, conn, dom, force=False):
        import threading
        import libvirt
        start_event_loop()
        self.buf = b""
        self.errors = []
        self.eof = False
        self.cond = threading.Condition()
        self.stream = conn.newStream(libvirt.VIR_STREAM_NONBLOCK)
        dom.openConsole(None, self.stream, libvirt.VIR_DOMAIN_CONSOLE_FORCE if force else 0)
        self.stream.eventAddCallback(libvirt.VIR_STREAM_EVENT_READABLE
                                     | libvirt.VIR_STREAM_EVENT_ERROR
                                     | libvirt.VIR_STREAM_EVENT_HANGUP, self._cb, None)

    def _cb(self, stream, _events, _opaque):
        import libvirt
        try:
            data = stream.recv(65536)
        except libvirt.libvirtError as e:
            data = None
            self.errors.append(str(e))
        with self.cond:
            if isinstance(data, bytes) and data:
                self.buf += data
            elif data == -2:          # EAGAIN
                return
            else:                      # b"" (EOF) or error
                self.eof = True
                try:
                    stream.eventRemoveCallback()
                except Exception:
                    pass
            self.cond.notify_all()

    def expect(self, pattern, timeout=60.0, start=0):
        """Wait until pattern (str) appears in the output after offset start
        -> offset just past it.  Raises AssertionError on timeout/EOF."""
        import time
        pat = pattern.encode()
        deadline = time.monotonic() + timeout
        with self.cond:
            while True:
                i = self.buf.find(pat, start)
                if i >= 0:
                    return i + len(pat)
                left = deadline - time.monotonic()
                if left <= 0 or self.eof:
                    raise AssertionError("console: %r not seen in %.0fs%s; last output %r"
                                         % (pattern, timeout, " (stream closed: %s)"
                                            % self.errors if self.eof else "",
                                            self.buf[-300:]))
                self.cond.wait(min(left, 0.5))

    def send(self, text):
        data = text.encode() if isinstance(text, str) else text
        while data:
            n = self.stream.send(data)
            if n == -2:
                import time
                time.sleep(0.01)
                continue
            data = data[n:]

    def close(self):
        try:
            self.stream.eventRemoveCallback()
        except Exception:
            pass
        try:
            self.stream.finish()
        except Exception:
            try:
                self.stream.abort()
            except Exception:
                pass


def virsh_console(uri, name, send_lines, expect_text, timeout=30.0, force=True):
    """Run `virsh console NAME [--force]` under a pty, type send_lines, wait for
    expect_text, leave with ^].  -> (found, output bytes)."""
    import pty
    import select
    import signal
    import time
    env = dict(os.environ, LC_ALL="C")
    env.pop("LIBVIRT_DEFAULT_URI", None)
    pid, fd = pty.fork()
    if pid == 0:
        try:
            args = ["virsh", "-c", uri, "console", name] + (["--force"] if force else [])
            os.execvpe("virsh", args, env)
        finally:
            os._exit(127)
    out = b""
    found = False
    try:
        deadline = time.monotonic() + timeout
        sent = False
        while time.monotonic() < deadline:
            if not sent and b"Escape character" in out:
                time.sleep(0.2)
                for line in send_lines:
                    os.write(fd, line.encode() + b"\r")
                sent = True
            r, _, _ = select.select([fd], [], [], 0.2)
            if r:
                try:
                    d = os.read(fd, 4096)
                except OSError:
                    break
                if not d:
                    break
                out += d
            if expect_text.encode() in out:
                found = True
                break
        try:
            os.write(fd, b"\x1d")       # ^] leaves virsh console
        except OSError:
            pass
        for _ in range(50):
            if os.waitpid(pid, os.WNOHANG)[0]:
                pid = 0
                break
            time.sleep(0.02)
    finally:
        if pid:
            try:
                os.kill(pid, signal.SIGKILL)
                os.waitpid(pid, 0)
            except OSError:
                pass
        os.close(fd)
    return found, out


def pty_of(xml):
    """/dev/pts/N of the first pty serial in a live domain XML, or None."""
    import xml.etree.ElementTree as ET
    try:
        root = ET.fromstring(xml)
    except ET.ParseError:
        return None
    for ser in root.iter("serial"):
        if ser.get("type") == "pty":
            src = ser.find("source")
            if src is not None and src.get("path"):
                return src.get("path")
    return None


def wait_pty_text(path, text, timeout=60.0):
    """Read the guest's serial pty directly (QEMU side, no daemon involved)
    until text appears; -> True/False.  QEMU keeps its pty in raw mode."""
    import select
    import time
    try:
        fd = os.open(path, os.O_RDWR | os.O_NOCTTY | os.O_NONBLOCK)
    except OSError:
        return False
    buf = b""
    try:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            r, _, _ = select.select([fd], [], [], 0.2)
            if r:
                try:
                    buf += os.read(fd, 4096)
                except BlockingIOError:
                    continue
                except OSError:
                    return False
            if text.encode() in buf:
                return True
        return False
    finally:
        os.close(fd)


if __name__ == "__main__":
    try:
        k, i = kernel_and_initrd()
    except Skip as e:
        print("SKIP: %s" % e)
        sys.exit(77)
    print(k)
    print(i)
