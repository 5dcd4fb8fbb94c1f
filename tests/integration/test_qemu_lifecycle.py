#!/usr/bin/python3
"""QEMU guest lifecycle through stock virsh 9.0 / python3-libvirt 9.0.

Each step is checked three ways: `virsh domstate --reason`, the QEMU process
table (/proc scan for `-name guest=NAME`), and the lifecycle events seen by a
python3-libvirt event-loop client.  Expected values were taken from the
reference libvirtd 9.0 (SV_TARGET=ref) on this machine kind:

  define (0,0) DEFINED/ADDED, `shut off (unknown)`
  start  (4,0)? (2,0) STARTED/BOOTED, `running (booted)`; libvirt also emits
         RESUMED/UNPAUSED just before STARTED (QEMU's RESUME on `cont`): optional
  start --paused (2,0) (3,0) SUSPENDED/PAUSED, `paused (user)`
  suspend (3,0) `paused (user)`; resume (4,0) `running (unpaused)`
  reboot (ACPI; no OS: nothing happens) no lifecycle event, state unchanged,
         same QEMU; with the booting guest: >= 1 REBOOT event, same QEMU
  reset  >= 1 REBOOT event, no lifecycle event, state unchanged, same QEMU
  destroy (6,2)? SHUTDOWN/HOST, then (5,1) STOPPED/DESTROYED, `shut off (destroyed)`
  shutdown (ACPI, booting guest) (6,1) SHUTDOWN/GUEST, (5,0) STOPPED/SHUTDOWN,
         `shut off (shutdown)`
  undefine (1,0); undefine of a running guest makes it transient (keeps running)
Errors (python: code, error domain, message; virsh: stderr):
  suspend/resume/destroy/reboot/reset shut off -> 55, VIR_FROM_DOMAIN(20),
     "Requested operation is not valid: domain is not running"; shutdown the
     same text with VIR_FROM_QEMU(10)
  create (start) of a running guest -> 55, 10, "... domain is already running"
     (virsh start itself says "error: Domain is already active" from the id)
  resume of a running guest -> 55, 10, "... domain is already running"

Checks that need the kernel + busybox guest (guest_assets) SKIP when it cannot
be downloaded.  Every QEMU started here has the guest-name prefix PREFIX and is
SIGKILLed at exit, also on failure.
"""
import atexit
import os
import signal
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402
from harness import Skip, expect, expect_eq  # noqa: E402
import guest_assets as ga  # noqa: E402

import libvirt  # noqa: E402

libvirt.registerErrorHandler(lambda _ctx, _err: None, None)

PREFIX = "svt%04x%02x-" % (os.getpid() & 0xffff, int(time.time()) & 0xff)
NOT_RUNNING = "Requested operation is not valid: domain is not running"
ALREADY = "Requested operation is not valid: domain is already running"
VIR_FROM_QEMU, VIR_FROM_DOMAIN = 10, 20
BOOT_TIMEOUT = float(os.environ.get("SV_BOOT_TIMEOUT", "60"))

OPT = "optional"
START_EV = [(4, 0, OPT), (2, 0)]
DESTROY_EV = [(6, 2, OPT), (5, 1)]


def _kill_ours():
    try:
        ga.kill_guests(PREFIX)
    except Exception:
        pass


atexit.register(_kill_ours)


class Ctx:
    def __init__(self, target):
        self.t = target
        self.work = tempfile.mkdtemp(prefix="svq")
        self.events = ga.EventCollector(target)
        self.conn = self.events.conn
        try:
            self.kernel, self.initrd = ga.kernel_and_initrd()
            self.no_kernel = None
        except Skip as e:
            self.kernel = self.initrd = None
            self.no_kernel = str(e)

    def need_kernel(self):
        if self.no_kernel:
            raise Skip("no bootable test guest: " + self.no_kernel)

    def reconnect(self):
        self.events.open()
        self.conn = self.events.conn

    def disk(self, name):
        return ga.make_qcow2(os.path.join(self.work, name + ".qcow2"), "64M")

    def xml_file(self, name, boot=False, **kw):
        if boot:
            self.need_kernel()
            kw.setdefault("kernel", self.kernel)
            kw.setdefault("initrd", self.initrd)
        kw.setdefault("disk", self.disk(name))
        path = os.path.join(self.work, name + ".xml")
        with open(path, "w") as f:
            f.write(ga.domain_xml(name, **kw))
        return path

    def virsh(self, *args, ok=True, timeout=60):
        rc, out, err = self.t.virsh(*args, timeout=timeout)
        if ok and rc != 0:
            raise AssertionError("virsh %s -> rc %d: %s" % (" ".join(args), rc, err.strip()))
        return rc, out, err

    def state(self, name):
        rc, out, err = self.t.virsh("domstate", name, "--reason")
        if rc:
            raise AssertionError("domstate %s: rc %d %s" % (name, rc, err.strip()))
        return out.strip()

    def expect_state(self, name, want, timeout=0.0):
        deadline = time.monotonic() + timeout
        while True:
            got = self.state(name)
            if got == want or time.monotonic() >= deadline:
                break
            time.sleep(0.1)
        expect_eq(got, want, "domstate --reason %s" % name)

    def one_qemu(self, name):
        pids = ga.qemu_pids(name)
        expect(len(pids) == 1, "expected exactly one QEMU for %s, found %s" % (name, pids))
        return pids[0]

    def no_qemu(self, name, timeout=2.0):
        deadline = time.monotonic() + timeout
        while ga.qemu_pids(name):
            if time.monotonic() > deadline:
                raise AssertionError("QEMU of %s still running (pids %s) %.1fs after it was stopped"
                                     % (name, ga.qemu_pids(name), timeout))
            time.sleep(0.02)

    def domid(self, name):
        _rc, out, _err = self.virsh("domid", name)
        return out.strip()

    def list_ids(self, all_=False):
        """{name: (id string, state)} from `virsh list [--all]`."""
        _rc, out, _err = self.virsh("list", *(["--all"] if all_ else []))
        res = {}
        for line in out.splitlines()[2:]:
            w = line.split(None, 2)
            if len(w) == 3:
                res[w[1]] = (w[0], w[2].strip())
        return res

    def py_error(self, fn, *args):
        try:
            fn(*args)
        except libvirt.libvirtError as e:
            return (e.get_error_code(), e.get_error_domain(), e.get_error_message())
        return None

    def cleanup_domain(self, name):
        for args in (("destroy", name), ("undefine", name)):
            self.t.virsh(*args)


# ------------------------------------------------------------------ (a)
def t_basic_lifecycle(c):
    """define -> start -> suspend -> resume -> reboot -> reset -> destroy ->
    start -> destroy -> undefine on a guest with only a qcow2 disk (SeaBIOS
    finds nothing to boot and idles)."""
    name = PREFIX + "life"
    ev = c.events
    xml = c.xml_file(name)
    try:
        m = ev.mark()
        c.virsh("define", xml)
        ga.wait_events(ev, m, name, [(0, 0)])
        c.expect_state(name, "shut off (unknown)")
        expect_eq(c.domid(name), "-", "domid of a defined guest")
        expect(not ga.qemu_pids(name), "QEMU exists before start")

        m = ev.mark()
        _rc, out, _ = c.virsh("start", name)
        expect("Domain '%s' started" % name in out, "start output: %r" % out)
        ga.wait_events(ev, m, name, START_EV)
        c.expect_state(name, "running (booted)")
        pid = c.one_qemu(name)
        id1 = c.domid(name)
        expect(id1.isdigit() and int(id1) > 0, "domid after start: %r" % id1)
        expect_eq(c.list_ids().get(name), (id1, "running"), "virsh list entry")

        m = ev.mark()
        c.virsh("suspend", name)
        ga.wait_events(ev, m, name, [(3, 0)])
        c.expect_state(name, "paused (user)")
        expect_eq(c.one_qemu(name), pid, "QEMU pid while paused")
        expect_eq(c.list_ids().get(name), (id1, "paused"), "virsh list entry while paused")

        m = ev.mark()
        c.virsh("resume", name)
        ga.wait_events(ev, m, name, [(4, 0)])
        c.expect_state(name, "running (unpaused)")
        expect_eq(c.one_qemu(name), pid, "QEMU pid after resume")

        # ACPI reboot: without an OS nothing answers the power button
        m = ev.mark()
        _rc, out, _ = c.virsh("reboot", name)
        expect("is being rebooted" in out, "reboot output: %r" % out)
        time.sleep(0.5)
        expect_eq(ev.since(m, name), [], "lifecycle events after reboot without OS")
        c.expect_state(name, "running (unpaused)")
        expect_eq(c.one_qemu(name), pid, "QEMU pid after reboot")

        m = ev.mark()
        _rc, out, _ = c.virsh("reset", name)
        expect("was reset" in out, "reset output: %r" % out)
        got = ev.wait(m, name, lambda g: len(g) >= 1, 5, kind="reboot")
        expect(len(got) >= 1, "no REBOOT event after reset")
        expect_eq(ev.since(m, name), [], "lifecycle events after reset")
        c.expect_state(name, "running (unpaused)")
        expect_eq(c.one_qemu(name), pid, "QEMU pid after reset")

        m = ev.mark()
        _rc, out, _ = c.virsh("destroy", name)
        expect("Domain '%s' destroyed" % name in out, "destroy output: %r" % out)
        c.no_qemu(name)
        ga.wait_events(ev, m, name, DESTROY_EV)
        c.expect_state(name, "shut off (destroyed)")
        expect_eq(c.domid(name), "-", "domid after destroy")
        expect_eq(c.list_ids(all_=True).get(name), ("-", "shut off"), "list --all entry")
        expect(name not in c.list_ids(), "destroyed guest still in `virsh list`")

        m = ev.mark()
        c.virsh("start", name)
        ga.wait_events(ev, m, name, START_EV)
        c.expect_state(name, "running (booted)")
        pid2 = c.one_qemu(name)
        expect(pid2 != pid, "same QEMU pid after destroy + start")
        id2 = c.domid(name)
        expect(id2.isdigit() and int(id2) > int(id1), "new id %r not above %r" % (id2, id1))

        m = ev.mark()
        c.virsh("destroy", name)
        c.no_qemu(name)
        ga.wait_events(ev, m, name, DESTROY_EV)

        m = ev.mark()
        _rc, out, _ = c.virsh("undefine", name)
        ga.wait_events(ev, m, name, [(1, 0)])
        rc, _out, err = c.virsh("domstate", name, ok=False)
        expect(rc == 1 and "failed to get domain" in err, "domstate after undefine: %r" % err)
    finally:
        c.cleanup_domain(name)


# ------------------------------------------------------------------ (b)
class BootState:
    console = None        # ga.Console or None
    console_skip = None   # reason


def t_boot_console(c, bs, name):
    """the kernel guest boots: GUEST-BOOTED + shell prompt on the serial console
    (DOMAIN_OPEN_CONSOLE stream), and a command round trip."""
    c.need_kernel()
    dom = c.conn.lookupByName(name)
    try:
        bs.console = ga.Console(c.conn, dom)
    except libvirt.libvirtError as e:
        if e.get_error_code() == libvirt.VIR_ERR_NO_SUPPORT:
            bs.console_skip = "DOMAIN_OPEN_CONSOLE: NO_SUPPORT (%s)" % e.get_error_message()
            # still wait for the guest: read its pty directly (QEMU side)
            path = ga.pty_of(dom.XMLDesc(0))
            if not (path and ga.wait_pty_text(path, ga.GUEST_MARKER, BOOT_TIMEOUT)):
                time.sleep(10)
            raise Skip(bs.console_skip)
        raise
    con = bs.console
    off = con.expect(ga.GUEST_MARKER, BOOT_TIMEOUT)
    off = con.expect(ga.SHELL_PROMPT, 30, off)
    con.send("echo MARK-$((6*7))\n")
    con.expect("MARK-42", 10, off)


def t_virsh_console(c, bs, name):
    """`virsh console NAME --force` under a pty takes over the console and
    talks to the shell."""
    c.need_kernel()
    if bs.console_skip:
        raise Skip(bs.console_skip)
    found, out = ga.virsh_console(c.t.uri, name, ["echo VIRSH-$((6*7))"], "VIRSH-42", 20)
    expect(found, "virsh console: no round trip; output %r" % out[-400:])
    expect(b"Connected to domain" in out, "virsh console banner missing: %r" % out[:300])


def t_boot_reboot(c, bs, name, pid):
    """virsh reboot (ACPI): the guest powers off, the daemon resets it (same
    QEMU, >= 1 REBOOT event, no lifecycle event), it boots again."""
    c.need_kernel()
    ev = c.events
    before = c.state(name)
    m = ev.mark()
    con = None
    if not bs.console_skip:
        # the python console was taken over by virsh console --force: reopen
        con = ga.Console(c.conn, c.conn.lookupByName(name), force=True)
    _rc, out, _ = c.virsh("reboot", name)
    expect("is being rebooted" in out, "reboot output: %r" % out)
    got = ev.wait(m, name, lambda g: len(g) >= 1, 30, kind="reboot")
    expect(len(got) >= 1, "no REBOOT event within 30s of virsh reboot")
    if con:
        off = con.expect(ga.GUEST_MARKER, BOOT_TIMEOUT)
        con.expect(ga.SHELL_PROMPT, 30, off)
        con.close()
    else:
        path = ga.pty_of(c.conn.lookupByName(name).XMLDesc(0))
        if not (path and ga.wait_pty_text(path, ga.GUEST_MARKER, BOOT_TIMEOUT)):
            time.sleep(10)
    expect_eq(ev.since(m, name), [], "lifecycle events during reboot")
    c.expect_state(name, before)        # the reference keeps state and reason
    expect_eq(c.one_qemu(name), pid, "QEMU pid after reboot (must be reset, not restarted)")


def t_boot_shutdown(c, name):
    """virsh shutdown (ACPI power button): the guest powers off ->
    `shut off (shutdown)`, events (6,1) (5,0), QEMU gone."""
    c.need_kernel()
    ev = c.events
    m = ev.mark()
    _rc, out, _ = c.virsh("shutdown", name)
    expect("is being shutdown" in out, "shutdown output: %r" % out)
    ga.wait_events(ev, m, name, [(6, 1), (5, 0)], timeout=30)
    c.expect_state(name, "shut off (shutdown)", timeout=2)
    c.no_qemu(name)


def boot_group(r, c):
    name = PREFIX + "boot"
    bs = BootState()
    pid = None
    try:
        def start():
            nonlocal pid
            c.need_kernel()
            xml = c.xml_file(name, boot=True)
            m = c.events.mark()
            c.virsh("define", xml)
            c.virsh("start", name)
            ga.wait_events(c.events, m, name, [(0, 0)] + START_EV)
            c.expect_state(name, "running (booted)")
            pid = c.one_qemu(name)
        if not r.check("(b) boot guest: define + start", start):
            return
        if pid is None:
            return
        r.check("(b) serial console shows GUEST-BOOTED, shell round trip", t_boot_console, c, bs, name)
        r.check("(b) virsh console --force under a pty", t_virsh_console, c, bs, name)
        if bs.console:
            bs.console.close()
        r.check("(b) virsh reboot: guest reset in place, boots again", t_boot_reboot, c, bs, name, pid)
        r.check("(b) virsh shutdown -> shut off (shutdown)", t_boot_shutdown, c, name)
    finally:
        c.cleanup_domain(name)


# ------------------------------------------------------------------ (c)
def t_restart_safety(c):
    """SIGKILL the daemon with 3 guests running, SIGKILL one QEMU, start the
    daemon again: survivors keep id + state and can be destroyed; the killed
    persistent one is `shut off (crashed|unknown)`."""
    t = c.t
    if not t.can_restart:
        raise Skip("target cannot be restarted")
    if harness.target_is_reference():
        raise Skip("libvirt-ref mounts a fresh /run/libvirt per start, so the reference "
                   "cannot reconnect (kill9 also kills its QEMUs)")
    a, b, tr = PREFIX + "keep", PREFIX + "victim", PREFIX + "trans"
    try:
        for n in (a, b):
            c.virsh("define", c.xml_file(n))
            c.virsh("start", n)
        c.virsh("create", c.xml_file(tr))
        c.virsh("suspend", tr)
        before = c.list_ids()
        for n in (a, b, tr):
            expect(n in before, "%s not in virsh list before the kill: %s" % (n, before))
        pids = {n: c.one_qemu(n) for n in (a, b, tr)}
        c.events.close()
        t.kill9()
        os.kill(pids[b], signal.SIGKILL)
        c.no_qemu(b)
        for n in (a, tr):
            expect_eq(ga.qemu_pids(n), [pids[n]], "QEMU of %s after the daemon's SIGKILL" % n)
        t.start()
        c.reconnect()
        after = c.list_ids(all_=True)
        expect_eq(after.get(a), before[a], "survivor %s in virsh list" % a)
        expect_eq(after.get(tr), before[tr], "transient survivor %s in virsh list" % tr)
        expect_eq(c.state(a), "running (booted)", "domstate of the survivor")
        expect_eq(c.state(tr), "paused (user)", "domstate of the paused transient survivor")
        st = c.state(b)
        expect(st in ("shut off (crashed)", "shut off (unknown)"),
               "domstate of the guest whose QEMU was killed: %r" % st)
        expect_eq(after.get(b), ("-", "shut off"), "list --all entry of the killed guest")
        expect_eq(ga.qemu_pids(a), [pids[a]], "survivor QEMU pid after reconnect")
        c.virsh("resume", tr)
        c.expect_state(tr, "running (unpaused)")
        for n in (a, tr):
            m = c.events.mark()
            c.virsh("destroy", n)
            c.no_qemu(n)
            ga.wait_events(c.events, m, n, DESTROY_EV)
        c.expect_state(a, "shut off (destroyed)")
        expect(tr not in c.list_ids(all_=True), "transient guest still listed after destroy")
        # the crashed one starts again
        c.virsh("start", b)
        c.expect_state(b, "running (booted)")
        c.one_qemu(b)
        c.virsh("destroy", b)
        c.no_qemu(b)
    finally:
        for n in (a, b, tr):
            c.cleanup_domain(n)


# ------------------------------------------------------------------ (d)
def t_errors(c):
    """error codes/domains/messages of invalid state transitions."""
    name = PREFIX + "err"
    try:
        c.virsh("define", c.xml_file(name))
        dom = c.conn.lookupByName(name)
        for fn, args, dom_no in ((dom.suspend, (), VIR_FROM_DOMAIN),
                                 (dom.resume, (), VIR_FROM_DOMAIN),
                                 (dom.destroy, (), VIR_FROM_DOMAIN),
                                 (dom.reboot, (0,), VIR_FROM_DOMAIN),
                                 (dom.reset, (0,), VIR_FROM_DOMAIN),
                                 (dom.shutdown, (), VIR_FROM_QEMU)):
            expect_eq(c.py_error(fn, *args), (55, dom_no, NOT_RUNNING),
                      "%s() of a shut-off guest" % fn.__name__)
        for cmd in ("suspend", "resume", "destroy", "shutdown", "reboot", "reset"):
            rc, _out, err = c.virsh(cmd, name, ok=False)
            expect(rc == 1 and ("error: " + NOT_RUNNING) in err,
                   "virsh %s of a shut-off guest: rc %d %r" % (cmd, rc, err))
        c.expect_state(name, "shut off (unknown)")

        c.virsh("start", name)
        pid = c.one_qemu(name)
        expect_eq(c.py_error(dom.create), (55, VIR_FROM_QEMU, ALREADY), "create() of a running guest")
        rc, _out, err = c.virsh("start", name, ok=False)
        expect(rc == 1 and "error: Domain is already active" in err,
               "virsh start of a running guest: rc %d %r" % (rc, err))
        expect_eq(c.py_error(dom.resume), (55, VIR_FROM_QEMU, ALREADY), "resume() of a running guest")
        c.expect_state(name, "running (booted)")
        expect_eq(c.one_qemu(name), pid, "QEMU pid after the refused calls")
        # suspend twice is fine
        c.virsh("suspend", name)
        expect_eq(c.py_error(dom.suspend), None, "suspend() of a paused guest")
        c.expect_state(name, "paused (user)")
        c.virsh("destroy", name)
        c.no_qemu(name)
    finally:
        c.cleanup_domain(name)


# ------------------------------------------------------------------ (e)
def t_transient(c):
    """virsh create FILE: running transient guest; destroy makes it vanish."""
    name = PREFIX + "tr"
    xml = c.xml_file(name)
    try:
        ev = c.events
        m = ev.mark()
        _rc, out, _ = c.virsh("create", xml)
        expect("Domain '%s' created from" % name in out, "create output: %r" % out)
        ga.wait_events(ev, m, name, START_EV)
        c.expect_state(name, "running (booted)")
        c.one_qemu(name)
        dom = c.conn.lookupByName(name)
        expect_eq(dom.isPersistent(), 0, "isPersistent of a created guest")
        entry = c.list_ids(all_=True).get(name)
        expect(entry and entry[0].isdigit() and entry[1] == "running", "list --all: %r" % (entry,))
        rc, _out, err = c.virsh("undefine", name, ok=False)
        expect(rc == 1 and "cannot undefine transient domain" in err,
               "undefine of a transient guest: rc %d %r" % (rc, err))
        m = ev.mark()
        c.virsh("destroy", name)
        c.no_qemu(name)
        ga.wait_events(ev, m, name, DESTROY_EV)
        expect(name not in c.list_ids(all_=True), "destroyed transient guest still in list --all")
        rc, _out, err = c.virsh("domstate", name, ok=False)
        expect(rc == 1 and "failed to get domain '%s'" % name in err, "domstate: %r" % err)

        # create --paused
        m = ev.mark()
        c.virsh("create", xml, "--paused")
        ga.wait_events(ev, m, name, [(2, 0), (3, 0)])
        c.expect_state(name, "paused (user)")
        c.one_qemu(name)
        c.virsh("destroy", name)
        c.no_qemu(name)
        expect(name not in c.list_ids(all_=True), "transient guest still listed")
    finally:
        c.cleanup_domain(name)


def t_undefine_running(c):
    """undefine of a running persistent guest: (1,0), it keeps running as a
    transient guest and vanishes on destroy."""
    name = PREFIX + "undef"
    try:
        c.virsh("define", c.xml_file(name))
        c.virsh("start", name)
        pid = c.one_qemu(name)
        m = c.events.mark()
        c.virsh("undefine", name)
        ga.wait_events(c.events, m, name, [(1, 0)])
        c.expect_state(name, "running (booted)")
        expect_eq(c.one_qemu(name), pid, "QEMU pid after undefine")
        expect_eq(c.conn.lookupByName(name).isPersistent(), 0, "isPersistent after undefine")
        c.virsh("destroy", name)
        c.no_qemu(name)
        expect(name not in c.list_ids(all_=True), "undefined guest still listed after destroy")
    finally:
        c.cleanup_domain(name)


# ------------------------------------------------------------------ (f)
def t_start_paused(c):
    """start --paused -> `paused (user)`, events (2,0) (3,0); resume ->
    `running (unpaused)` (4,0)."""
    name = PREFIX + "paused"
    try:
        c.virsh("define", c.xml_file(name))
        m = c.events.mark()
        c.virsh("start", "--paused", name)
        ga.wait_events(c.events, m, name, [(2, 0), (3, 0)])
        c.expect_state(name, "paused (user)")
        pid = c.one_qemu(name)
        expect(c.domid(name).isdigit(), "domid of a paused guest")
        m = c.events.mark()
        c.virsh("resume", name)
        ga.wait_events(c.events, m, name, [(4, 0)])
        c.expect_state(name, "running (unpaused)")
        expect_eq(c.one_qemu(name), pid, "QEMU pid after resume")
        c.virsh("destroy", name)
        c.no_qemu(name)
    finally:
        c.cleanup_domain(name)


# ------------------------------------------------------------------ (g)
class _RefWithTimeout(harness.RefDaemon):
    """libvirtd --timeout N via a wrapper passed to libvirt-ref as LIBVIRTD."""

    def __init__(self, timeout):
        super().__init__()
        self.wrapper = os.path.join(self.root, "libvirtd-timeout")
        with open(self.wrapper, "w") as f:
            f.write("#!/bin/sh\nexec /usr/sbin/libvirtd --timeout %d \"$@\"\n" % timeout)
        os.chmod(self.wrapper, 0o755)

    def start(self):
        old = os.environ.get("LIBVIRTD")
        os.environ["LIBVIRTD"] = self.wrapper
        try:
            super().start()
        finally:
            if old is None:
                os.environ.pop("LIBVIRTD", None)
            else:
                os.environ["LIBVIRTD"] = old


def t_idle_timeout(c):
    """--timeout 2: the daemon stays while a guest runs (no client connected),
    exits about 2 s after the guest is destroyed."""
    if c.t.kind == "external":
        raise Skip("needs a daemon this test starts")
    if harness.target_is_reference():
        t = _RefWithTimeout(2)
    else:
        t = harness.Virtqemud(extra_args=["--timeout", "2"])
    name = PREFIX + "idle"
    try:
        t.start()
        rc, out, err = t.virsh("create", c.xml_file(name))
        expect(rc == 0, "create: %s" % err)
        c.one_qemu(name)
        time.sleep(4.5)
        expect(t.alive(), "daemon exited while a guest was running\n" + t.log_tail())
        c.one_qemu(name)
        rc, out, err = t.virsh("destroy", name)
        expect(rc == 0, "destroy: %s" % err)
        c.no_qemu(name)
        t0 = time.monotonic()
        while t.alive() and time.monotonic() - t0 < 10:
            time.sleep(0.05)
        expect(not t.alive(), "daemon still alive 10 s after the last guest stopped")
        waited = time.monotonic() - t0
        expect(waited >= 1.0, "daemon exited only %.1fs after the guest stopped (timeout 2)" % waited)
    finally:
        ga.kill_guests(name)
        t.cleanup()


def main():
    target = harness.make_target()
    r = harness.Runner("test_qemu_lifecycle")
    r.start(target)
    c = None

    def setup():
        nonlocal c
        c = Ctx(target)
    if not r.check("event client connects (virEventRegisterDefaultImpl + LIFECYCLE)", setup):
        r.finish()
    if c.no_kernel:
        print("NOTE: kernel guest unavailable: %s" % c.no_kernel, flush=True)
    try:
        r.check("(a) define/start/suspend/resume/reboot/reset/destroy/start/destroy/undefine",
                t_basic_lifecycle, c)
        boot_group(r, c)
        r.check("(d) errors: invalid state transitions (codes, domains, messages)", t_errors, c)
        r.check("(e) transient guest: virsh create / create --paused / destroy", t_transient, c)
        r.check("(e) undefine of a running guest makes it transient", t_undefine_running, c)
        r.check("(f) start --paused -> paused (user), resume", t_start_paused, c)
        r.check("(c) restart safety: SIGKILL daemon + one QEMU, reconnect", t_restart_safety, c)
        r.check("(g) --timeout 2: inhibited while a guest runs, exits after", t_idle_timeout, c)
        left = ga.qemu_guests(PREFIX)
        if left:
            r.fail("no QEMU left behind", "still running: %s" % left)
    finally:
        _kill_ours()
        if c:
            c.events.close()
            import shutil
            shutil.rmtree(c.work, ignore_errors=True)
    r.finish()


if __name__ == "__main__":
    main()
