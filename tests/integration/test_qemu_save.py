#!/usr/bin/python3
"""virsh save / restore / managedsave on the busybox test guest (guest_assets),
through stock virsh 9.0 and python3-libvirt.

What the guest holds in RAM (a marker file in its rootfs, which lives in the
initramfs) and on disk (snapshot_util.Patterns written with O_DIRECT) is
checked after every restore: the marker proves the memory state came back
(a reboot would lose it), the patterns that the disk was not touched.

Expected values, taken from the reference libvirtd 9.0 (SV_TARGET=ref):

  save, running guest    (3,0) SUSPENDED/PAUSED, (5,4) STOPPED/SAVED,
                         `shut off (saved)`; stdout "\\nDomain 'G' saved to F\\n";
                         new file 0600 starting with "LibvirtQemudSave"; an
                         existing file is truncated and rewritten (mode kept)
  save, paused guest     (5,4) only
  restore (was running)  (2,2) STARTED/RESTORED, (4,2) RESUMED/FROM_SNAPSHOT,
                         `running (restored)`; stdout "Domain restored from F\\n";
                         the file stays; a persistent guest stays persistent
  restore (was paused), restore --paused
                         (2,2), (3,4) SUSPENDED/RESTORED, `paused (migrating)`
  restore --running      (2,2), (4,2)
  managedsave            as save; image <state>/lib/libvirt/qemu/save/G.save
                         (0600); dominfo "Managed save:   yes", `list --all
                         --managed-save` state "saved"
  start with an image    (2,2), (4,2) `running (restored)`, image removed;
                         start --paused: (2,2), (3,0) `paused (migrating)`
  start --force-boot     (4,0)? (2,0) `running (booted)`, image removed
  managedsave-remove     no event, state stays `shut off (saved)`
  undefine --managed-save (1,0), image removed
  transient guest        managedsave refused; save removes the domain,
                         restore brings it back transient
Errors (python: code, domain, message):
  save/managedsave of a shut-off guest 55, 20 "...: domain is not running"
  restore while the guest runs 55, 20 "...: domain 'G' is already active"
  restore of a missing file 38, 10 "Failed to open file 'F': No such file or directory"
  restore of a non-image 9, 10 "operation failed: image magic is incorrect"
  (5 bytes: "failed to read qemu header"; partial magic: "save image is incomplete")
  restore over a guest of the same name, other uuid: 9, 20 "operation failed:
     domain 'G' already exists with uuid U"
  undefine with an image 55, 10 "Requested operation is not valid: Refusing to
     undefine while domain managed save image exists" (virsh refuses on its own)
  managedsave of a transient guest 55, 10 "...: cannot do managed save for
     transient domain"
  managedsave-remove with none 38, 10 "Failed to remove managed save file
     '<path>': No such file or directory" (virsh does not call it: "Domain 'G'
     has no manage save image; removal skipped")
  managedsave-dumpxml with none 55, 10 "...: domain does not have managed save image"
  unknown flags 8, 10 "unsupported flags (0x..) in function qemuDomainXxx"

Steps of the main guest depend on each other: the first failure ends that
chain (the rest would fail for the same reason); the independent checks
(bad image files, flags, transient guest) run anyway."""
import os
import re
import shutil
import stat
import sys
import tempfile
import time
import xml.etree.ElementTree as ET

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import guest_assets as ga  # noqa: E402
import harness  # noqa: E402
import snapshot_util as su  # noqa: E402
from harness import Skip, expect, expect_eq  # noqa: E402

import libvirt  # noqa: E402

libvirt.registerErrorHandler(lambda _ctx, _err: None, None)

PREFIX = "svsave%04x%02x-" % (os.getpid() & 0xffff, int(time.time()) & 0xff)
NAME = PREFIX + "g"        # the booted guest, persistent
TNAME = PREFIX + "t"       # transient, no OS
FNAME = PREFIX + "f"       # defined only, for the flag checks
BOOT_TIMEOUT = float(os.environ.get("SV_BOOT_TIMEOUT", "60"))
VIR_FROM_QEMU, VIR_FROM_DOMAIN = 10, 20
OPT = "optional"

SAVE_RUNNING_EV = [(3, 0), (5, 4)]
SAVE_PAUSED_EV = [(5, 4)]
RESTORE_RUNNING_EV = [(2, 2), (4, 2)]
RESTORE_PAUSED_EV = [(2, 2), (3, 4)]
START_PAUSED_EV = [(2, 2), (3, 0)]
BOOT_EV = [(4, 0, OPT), (2, 0)]
MAGIC = b"LibvirtQemudSave"
NOT_RUNNING = "Requested operation is not valid: domain is not running"
REFUSE_UNDEFINE = ("Requested operation is not valid: Refusing to undefine while domain "
                   "managed save image exists")
NO_IMAGE = "Requested operation is not valid: domain does not have managed save image"


def managed_save_path(target, name):
    """where the daemon keeps NAME's managed save image (None: unknown)."""
    if isinstance(target, harness.RefDaemon):
        # /var/lib/libvirt of the reference is ROOT/root/lib
        return os.path.join(target.root, "root", "lib", "qemu", "save", name + ".save")
    if isinstance(target, harness.Daemon):
        return os.path.join(target.root, "var", "lib", "libvirt", "qemu", "save", name + ".save")
    return None


class S:
    """target, event client, scratch dir, the guest's shell and data model."""

    def __init__(self, target):
        self.t = target
        self.work = tempfile.mkdtemp(prefix="svsave")
        os.chmod(self.work, 0o755)
        self.events = ga.EventCollector(target)
        self.conn = self.events.conn
        try:
            self.kernel, self.initrd = ga.kernel_and_initrd()
            self.no_kernel = None
        except Skip as e:
            self.kernel = self.initrd = None
            self.no_kernel = str(e)
        self.shell = su.GuestShell()
        self.pats = su.Patterns(first_byte=0x51)
        self.mark_now = None
        self.nmark = 0
        self.uuid = None
        self.image = os.path.join(self.work, NAME + ".sav")
        self.ms_path = managed_save_path(target, NAME)

    # ---------------------------------------------------------- plumbing
    def reconnect(self):
        self.events.open()
        self.conn = self.events.conn

    def virsh(self, *args, ok=True, ro=False, timeout=120):
        rc, out, err = self.t.virsh(*args, ro=ro, timeout=timeout)
        if ok and rc:
            raise AssertionError("virsh %s -> rc %d: %s" % (" ".join(args), rc, err.strip()))
        return rc, out, err

    def virsh_err(self, *args, ro=False):
        """stderr (stripped) of a virsh command that must fail."""
        rc, out, err = self.t.virsh(*args, ro=ro)
        if rc != 1:
            raise AssertionError("virsh %s should have failed: rc %d %r %r"
                                 % (" ".join(args), rc, out, err))
        return err.strip()

    def state(self, name=NAME):
        _rc, out, _err = self.virsh("domstate", name, "--reason")
        return out.strip()

    def expect_state(self, want, name=NAME):
        expect_eq(self.state(name), want, "domstate --reason %s" % name)

    def dom(self, name=NAME):
        return self.conn.lookupByName(name)

    def step(self, fn, expected, name=NAME):
        """run fn, -> its result; the lifecycle events of name it caused must
        be `expected` (guest_assets.match_events)."""
        m = self.events.mark()
        res = fn()
        ga.wait_events(self.events, m, name, expected)
        return res

    def no_events(self, fn, name=NAME):
        m = self.events.mark()
        res = fn()
        time.sleep(0.3)
        expect_eq(self.events.since(m, name), [], "lifecycle events of %s" % name)
        return res

    def one_qemu(self, name=NAME):
        pids = ga.qemu_pids(name)
        expect(len(pids) == 1, "expected exactly one QEMU for %s, found %s" % (name, pids))
        return pids[0]

    def no_qemu(self, name=NAME, timeout=5.0):
        deadline = time.monotonic() + timeout
        while ga.qemu_pids(name):
            if time.monotonic() > deadline:
                raise AssertionError("QEMU of %s still running (%s)" % (name, ga.qemu_pids(name)))
            time.sleep(0.02)

    def dominfo(self, name=NAME, ro=False):
        _rc, out, _err = self.virsh("dominfo", name, ro=ro)
        return su.parse_info(out)

    def list_states(self, *flags):
        """{name: state column} of `virsh list --all FLAGS`."""
        _rc, out, _err = self.virsh("list", "--all", *flags)
        res = {}
        for line in out.splitlines()[2:]:
            w = line.split(None, 2)
            if len(w) == 3:
                res[w[1]] = w[2].strip()
        return res

    def list_names(self, *flags):
        _rc, out, _err = self.virsh("list", "--all", "--name", *flags)
        return [x for x in out.split() if x]

    # ---------------------------------------------------------- guest data
    def open_shell(self, boot=False):
        self.shell.open(self.conn, self.dom(), boot=boot, timeout=BOOT_TIMEOUT)

    def write(self):
        """a new disk pattern and a new RAM marker."""
        slot, byte = self.pats.write()
        self.shell.write(slot, byte)
        self.nmark += 1
        self.mark_now = "ram-%d-%d" % (os.getpid(), self.nmark)
        self.shell.run("echo %s > /tmp/mark" % self.mark_now)

    def check(self, what, ram=True):
        """RAM marker (ram=False: there must be none, a fresh boot) and disk patterns."""
        got = self.shell.run("cat /tmp/mark 2>/dev/null || echo NO-MARK").strip()
        expect_eq(got, self.mark_now if ram else "NO-MARK", "RAM marker " + what)
        bad = self.shell.check(self.pats.expected())
        expect(not bad, "disk data %s: %s" % (what, su.describe_mismatch(bad)))

    # ---------------------------------------------------------- images
    def check_image(self, path, mode=0o600):
        expect(os.path.exists(path), "save image %s missing" % path)
        st = os.stat(path)
        expect(st.st_size > 256 << 10, "save image %s only %d bytes" % (path, st.st_size))
        if mode is not None:
            expect_eq(oct(stat.S_IMODE(st.st_mode)), oct(mode), "mode of " + path)
        with open(path, "rb") as f:
            head = f.read(4096)
        expect(head.startswith(MAGIC) and b"<domain" in head,
               "%s: not a finished libvirt save image: %r" % (path, head[:40]))

    def check_ms_file(self, present):
        if self.ms_path is None:
            return
        if present:
            self.check_image(self.ms_path)
        else:
            expect(not os.path.exists(self.ms_path),
                   "managed save image %s still there" % self.ms_path)

    def check_xml(self, text, what):
        try:
            root = ET.fromstring(text)
        except ET.ParseError as e:
            raise AssertionError("%s: not XML (%s): %r" % (what, e, text[:200]))
        expect_eq((root.tag, root.findtext("name"), root.findtext("uuid")),
                  ("domain", NAME, self.uuid), what + " <domain>, name, uuid")


def py_err(fn, *args):
    return su.py_err(fn, *args)


def expect_stderr(err, lines, what):
    expect_eq(err.splitlines(), lines, what + " stderr")


# ============================================================ main chain
def t_boot(s):
    if s.no_kernel:
        raise Skip("no bootable test guest: " + s.no_kernel)
    disk = ga.make_qcow2(os.path.join(s.work, NAME + ".qcow2"), "64M")
    path = os.path.join(s.work, NAME + ".xml")
    with open(path, "w") as f:
        f.write(ga.domain_xml(NAME, kernel=s.kernel, initrd=s.initrd, disk=disk))
    s.virsh("define", path)
    s.uuid = s.dom().UUIDString()
    s.step(lambda: s.virsh("start", NAME), BOOT_EV)
    s.open_shell(boot=True)
    s.write()
    s.check("after boot")


def t_save_running(s):
    s.shell.close()
    s.one_qemu()
    _rc, out, _err = s.step(lambda: s.virsh("save", NAME, s.image), SAVE_RUNNING_EV)
    expect_eq(out, "\nDomain '%s' saved to %s\n\n" % (NAME, s.image), "virsh save stdout")
    s.expect_state("shut off (saved)")
    s.no_qemu()
    s.check_image(s.image)
    expect_eq(s.dom().isPersistent(), 1, "persistent after save")
    expect_eq(s.dom().hasManagedSaveImage(0), 0, "hasManagedSaveImage after a plain save")
    expect_eq(s.dominfo().get("Managed save"), "no", "dominfo Managed save")
    s.check_ms_file(False)


def t_image_xml(s):
    _rc, out, _err = s.virsh("save-image-dumpxml", s.image)
    s.check_xml(out, "save-image-dumpxml")
    py = s.conn.saveImageGetXMLDesc(s.image, 0)
    expect_eq(py.rstrip("\n"), out.rstrip("\n"), "python saveImageGetXMLDesc == virsh output")
    s.check_xml(s.conn.saveImageGetXMLDesc(s.image, libvirt.VIR_DOMAIN_SAVE_IMAGE_XML_SECURE),
                "saveImageGetXMLDesc(SECURE)")


def t_restore_running(s):
    _rc, out, _err = s.step(lambda: s.virsh("restore", s.image), RESTORE_RUNNING_EV)
    expect_eq(out, "Domain restored from %s\n\n" % s.image, "virsh restore stdout")
    s.expect_state("running (restored)")
    s.one_qemu()
    expect_eq(s.dom().isPersistent(), 1, "persistent after restore")
    expect(os.path.exists(s.image), "restore removed the image (libvirt keeps it)")
    s.open_shell()
    s.check("after save + restore")
    s.write()


def t_restore_active(s):
    pid = s.one_qemu()
    err = s.virsh_err("restore", s.image)
    msg = "Requested operation is not valid: domain '%s' is already active" % NAME
    expect_stderr(err, ["error: Failed to restore domain from %s" % s.image, "error: " + msg],
                  "restore over the running guest")
    expect_eq(py_err(s.conn.restoreFlags, s.image, None, 0), (55, VIR_FROM_DOMAIN, msg),
              "python restoreFlags over the running guest")
    expect_eq(s.one_qemu(), pid, "QEMU of the running guest")
    s.expect_state("running (restored)")


def t_save_paused(s):
    s.shell.close()
    s.step(lambda: s.virsh("suspend", NAME), [(3, 0)])
    s.step(lambda: s.virsh("save", NAME, s.image), SAVE_PAUSED_EV)
    s.expect_state("shut off (saved)")
    s.no_qemu()
    # an image of a paused guest restores paused
    s.step(lambda: s.virsh("restore", s.image), RESTORE_PAUSED_EV)
    s.expect_state("paused (migrating)")
    s.one_qemu()
    s.step(lambda: s.virsh("save", NAME, s.image), SAVE_PAUSED_EV)
    # --running overrides what the image says
    s.step(lambda: s.virsh("restore", s.image, "--running"), RESTORE_RUNNING_EV)
    s.expect_state("running (restored)")
    s.open_shell()
    s.check("after save/restore of the paused guest")


def t_restore_paused_flag(s):
    s.shell.close()
    s.step(lambda: s.virsh("save", NAME, s.image), SAVE_RUNNING_EV)
    s.step(lambda: s.conn.restoreFlags(s.image, None, libvirt.VIR_DOMAIN_SAVE_PAUSED),
           RESTORE_PAUSED_EV)
    s.expect_state("paused (migrating)")
    s.step(lambda: s.virsh("resume", NAME), [(4, 0)])
    s.expect_state("running (unpaused)")
    s.open_shell()
    s.check("after restore --paused + resume")


def t_save_overwrite(s):
    s.shell.close()
    path = os.path.join(s.work, "exists.sav")
    with open(path, "w") as f:
        f.write("not an image yet")
    os.chmod(path, 0o644)
    ino = os.stat(path).st_ino
    s.step(lambda: s.virsh("save", NAME, path), SAVE_RUNNING_EV)
    s.check_image(path, mode=0o644)
    expect_eq(os.stat(path).st_ino, ino, "the existing file is rewritten in place (inode)")
    s.step(lambda: s.virsh("restore", path), RESTORE_RUNNING_EV)
    os.unlink(path)
    s.open_shell()
    s.check("after save over an existing file + restore")


def t_save_fail(s):
    s.shell.close()
    pid = s.one_qemu()
    path = os.path.join(s.work, "no-such-dir", "x.sav")
    m = s.events.mark()
    err = s.virsh_err("save", NAME, path)
    msg = "Failed to create file '%s': No such file or directory" % path
    expect_stderr(err, ["error: Failed to save domain '%s' to %s" % (NAME, path), "error: " + msg],
                  "save into a missing directory")
    expect_eq(py_err(s.dom().save, path), (38, VIR_FROM_QEMU, msg), "python save into a missing dir")
    time.sleep(0.3)
    got = s.events.since(m, NAME)
    # libvirt pauses the guest before it opens the file, then resumes it
    # ("save canceled"); a daemon that opens the file first may stay silent
    st = s.state()
    if got:
        expect_eq(got, [(3, 0), (4, 0)] * 2, "lifecycle events of two failed saves")
        expect_eq(st, "running (save canceled)", "domstate after failed saves")
    else:
        expect_eq(st.split(" (")[0], "running", "domstate after failed saves")
    expect_eq(s.one_qemu(), pid, "QEMU after failed saves")
    s.open_shell()
    s.check("after failed saves")


def t_managedsave(s):
    s.shell.close()
    _rc, out, _err = s.step(lambda: s.virsh("managedsave", NAME), SAVE_RUNNING_EV)
    expect_eq(out, "\nDomain '%s' state saved by libvirt\n\n" % NAME, "virsh managedsave stdout")
    s.expect_state("shut off (saved)")
    s.no_qemu()
    s.check_ms_file(True)
    expect_eq(s.dom().hasManagedSaveImage(0), 1, "hasManagedSaveImage")
    expect_eq(s.dominfo().get("Managed save"), "yes", "dominfo Managed save")
    expect_eq(s.dominfo(ro=True).get("Managed save"), "yes", "dominfo -r Managed save")
    expect_eq(s.list_states("--managed-save").get(NAME), "saved", "list --all --managed-save")
    expect_eq(s.list_states().get(NAME), "shut off", "list --all")
    expect(NAME in s.list_names("--with-managed-save"), "list --with-managed-save")
    expect(NAME not in s.list_names("--without-managed-save"), "list --without-managed-save")
    names = [d.name() for d in s.conn.listAllDomains(libvirt.VIR_CONNECT_LIST_DOMAINS_MANAGEDSAVE)]
    expect(NAME in names, "listAllDomains(MANAGEDSAVE): %s" % names)
    names = [d.name() for d in s.conn.listAllDomains(libvirt.VIR_CONNECT_LIST_DOMAINS_NO_MANAGEDSAVE)]
    expect(NAME not in names, "listAllDomains(NO_MANAGEDSAVE): %s" % names)
    # the image's XML
    _rc, out, _err = s.virsh("managedsave-dumpxml", NAME)
    s.check_xml(out, "managedsave-dumpxml")
    _rc, ro_out, _err = s.virsh("managedsave-dumpxml", NAME, ro=True)
    expect_eq(ro_out, out, "managedsave-dumpxml on the read-only socket")
    expect_eq(s.dom().managedSaveGetXMLDesc(0).rstrip("\n"), out.rstrip("\n"),
              "python managedSaveGetXMLDesc == virsh")
    if s.ms_path:
        _rc, img, _err = s.virsh("save-image-dumpxml", s.ms_path)
        s.check_xml(img, "save-image-dumpxml of the managed save image")


def t_shutoff_errors(s):
    """a shut-off guest with a managed save image: save, managedsave and
    undefine are refused, nothing changes."""
    path = os.path.join(s.work, "off.sav")
    err = s.virsh_err("save", NAME, path)
    expect_stderr(err, ["error: Failed to save domain '%s' to %s" % (NAME, path),
                        "error: " + NOT_RUNNING], "save of a shut-off guest")
    expect_eq(py_err(s.dom().save, path), (55, VIR_FROM_DOMAIN, NOT_RUNNING), "python save")
    err = s.virsh_err("managedsave", NAME)
    expect_stderr(err, ["error: Failed to save domain '%s' state" % NAME, "error: " + NOT_RUNNING],
                  "managedsave of a shut-off guest")
    expect_eq(py_err(s.dom().managedSave, 0), (55, VIR_FROM_DOMAIN, NOT_RUNNING), "python managedSave")
    expect(not os.path.exists(path), "save of a shut-off guest left %s" % path)
    # undefine: virsh refuses on its own (HAS_MANAGED_SAVE_IMAGE), the daemon too
    err = s.virsh_err("undefine", NAME)
    expect_stderr(err, ["error: Refusing to undefine while domain managed save image exists"],
                  "virsh undefine")
    expect_eq(py_err(s.dom().undefine), (55, VIR_FROM_QEMU, REFUSE_UNDEFINE), "python undefine")
    expect_eq(py_err(s.dom().undefineFlags, 0), (55, VIR_FROM_QEMU, REFUSE_UNDEFINE),
              "python undefineFlags(0)")
    expect_eq(s.dom().isPersistent(), 1, "still defined")
    s.expect_state("shut off (saved)")
    s.check_ms_file(True)


def t_restart(s):
    if not s.t.can_restart:
        raise Skip("target cannot be restarted")
    s.events.close()
    s.t.restart()
    s.reconnect()
    expect_eq(s.dom().hasManagedSaveImage(0), 1, "hasManagedSaveImage after a restart")
    expect_eq(s.dominfo().get("Managed save"), "yes", "dominfo after a restart")
    expect_eq(s.list_states("--managed-save").get(NAME), "saved", "list --managed-save after a restart")
    # libvirt does not keep the shut-off reason over a restart
    expect(s.state() in ("shut off (saved)", "shut off (unknown)"), "domstate after a restart: %s"
           % s.state())
    s.check_ms_file(True)


def t_start_restores(s):
    _rc, out, _err = s.step(lambda: s.virsh("start", NAME), RESTORE_RUNNING_EV)
    expect_eq(out, "Domain '%s' started\n\n" % NAME, "virsh start stdout")
    s.expect_state("running (restored)")
    s.one_qemu()
    s.check_ms_file(False)
    expect_eq(s.dom().hasManagedSaveImage(0), 0, "hasManagedSaveImage after start")
    expect_eq(s.dominfo().get("Managed save"), "no", "dominfo after start")
    s.open_shell()
    s.check("after managedsave + start")
    s.write()


def t_start_paused(s):
    s.shell.close()
    s.step(lambda: s.virsh("managedsave", NAME), SAVE_RUNNING_EV)
    s.step(lambda: s.virsh("start", NAME, "--paused"), START_PAUSED_EV)
    s.expect_state("paused (migrating)")
    s.check_ms_file(False)
    s.step(lambda: s.virsh("resume", NAME), [(4, 0)])
    s.open_shell()
    s.check("after managedsave + start --paused + resume")


def t_force_boot(s):
    s.shell.close()
    s.step(lambda: s.virsh("managedsave", NAME), SAVE_RUNNING_EV)
    s.check_ms_file(True)
    _rc, out, _err = s.step(lambda: s.virsh("start", NAME, "--force-boot"), BOOT_EV)
    expect_eq(out, "Domain '%s' started\n\n" % NAME, "virsh start --force-boot stdout")
    s.expect_state("running (booted)")
    s.check_ms_file(False)
    expect_eq(s.dom().hasManagedSaveImage(0), 0, "hasManagedSaveImage after --force-boot")
    s.open_shell(boot=True)
    s.check("after start --force-boot (a fresh boot)", ram=False)


def t_managedsave_remove(s):
    s.shell.close()
    s.step(lambda: s.virsh("managedsave", NAME), SAVE_RUNNING_EV)
    _rc, out, _err = s.no_events(lambda: s.virsh("managedsave-remove", NAME))
    expect_eq(out, "Removed managedsave image for domain '%s'\n" % NAME, "managedsave-remove stdout")
    s.expect_state("shut off (saved)")
    s.check_ms_file(False)
    expect_eq(s.dom().hasManagedSaveImage(0), 0, "hasManagedSaveImage after managedsave-remove")
    expect_eq(s.dominfo().get("Managed save"), "no", "dominfo after managedsave-remove")
    expect_eq(s.list_states("--managed-save").get(NAME), "shut off", "list --managed-save")
    _rc, out, _err = s.virsh("managedsave-remove", NAME)
    expect_eq(out, "Domain '%s' has no manage save image; removal skipped\n" % NAME,
              "managedsave-remove without an image")
    e = py_err(s.dom().managedSaveRemove, 0)
    expect(e is not None and e[:2] == (38, VIR_FROM_QEMU) and re.fullmatch(
        r"Failed to remove managed save file '/.*/qemu/save/%s\.save': No such file or directory"
        % re.escape(NAME), e[2]), "python managedSaveRemove without an image: %s" % (e,))
    err = s.virsh_err("managedsave-dumpxml", NAME)
    expect_stderr(err, ["error: " + NO_IMAGE], "managedsave-dumpxml without an image")
    expect_eq(py_err(s.dom().managedSaveGetXMLDesc, 0), (55, VIR_FROM_QEMU, NO_IMAGE),
              "python managedSaveGetXMLDesc without an image")


def t_undefine_managed_save(s):
    s.step(lambda: s.virsh("start", NAME), BOOT_EV)
    s.step(lambda: s.virsh("managedsave", NAME), SAVE_RUNNING_EV)
    s.check_ms_file(True)
    _rc, out, _err = s.step(lambda: s.virsh("undefine", NAME, "--managed-save"), [(1, 0)])
    expect_eq(out, "Domain '%s' has been undefined\n\n" % NAME, "undefine --managed-save stdout")
    s.check_ms_file(False)
    expect(NAME not in s.list_names(), "guest still listed after undefine")
    expect_eq((py_err(s.conn.lookupByName, NAME) or (None,))[0], 42, "lookup after undefine")
    # the plain save image still restores it, as a transient guest
    s.step(lambda: s.virsh("restore", s.image), RESTORE_RUNNING_EV)
    expect_eq(s.dom().isPersistent(), 0, "restored without a definition: transient")
    s.step(lambda: s.virsh("destroy", NAME), [(6, 2, OPT), (5, 1)])
    expect(NAME not in s.list_names(), "transient guest still listed after destroy")


# ============================================================ independent
def t_bad_images(s):
    """missing, garbage, short and unfinished files: clear errors, no domain,
    no QEMU, no events."""
    missing = os.path.join(s.work, "missing.sav")
    junk = os.path.join(s.work, "junk.sav")
    short = os.path.join(s.work, "short.sav")
    part = os.path.join(s.work, "part.sav")
    with open(junk, "w") as f:
        f.write("hello world " * 100)
    with open(short, "w") as f:
        f.write("hello")
    head = MAGIC
    if os.path.exists(s.image):
        with open(s.image, "rb") as f:
            head = f.read(256 * 1024)
    with open(part, "wb") as f:
        f.write(b"LibvirtQemudPart" + head[16:])
    cases = [(missing, 38, "Failed to open file '%s': No such file or directory" % missing),
             (junk, 9, "operation failed: image magic is incorrect"),
             (short, 9, "operation failed: failed to read qemu header"),
             (part, 9, "operation failed: save image is incomplete")]
    m = s.events.mark()
    before = sorted(s.list_names())
    for path, code, msg in cases:
        err = s.virsh_err("restore", path)
        expect_stderr(err, ["error: Failed to restore domain from %s" % path, "error: " + msg],
                      "restore " + os.path.basename(path))
        expect_eq(py_err(s.conn.restore, path), (code, VIR_FROM_QEMU, msg),
                  "python restore " + os.path.basename(path))
        err = s.virsh_err("save-image-dumpxml", path)
        expect_stderr(err, ["error: " + msg], "save-image-dumpxml " + os.path.basename(path))
        expect_eq(py_err(s.conn.saveImageGetXMLDesc, path, 0), (code, VIR_FROM_QEMU, msg),
                  "python saveImageGetXMLDesc " + os.path.basename(path))
    time.sleep(0.2)
    expect_eq(sorted(s.list_names()), before, "domains after failed restores")
    expect_eq([r for r in s.events.records[m:] if r[2] == "lifecycle"], [],
              "lifecycle events of failed restores")


def t_bad_flags(s):
    path = os.path.join(s.work, FNAME + ".xml")
    with open(path, "w") as f:
        f.write(ga.domain_xml(FNAME))
    s.virsh("define", path)
    try:
        d = s.dom(FNAME)
        img = os.path.join(s.work, "flags.sav")

        def unsupported(flag, fn):
            return (8, VIR_FROM_QEMU, "unsupported flags (0x%x) in function %s" % (flag, fn))
        for what, call, want in [
                ("saveFlags(0x8)", lambda: d.saveFlags(img, None, 8),
                 unsupported(8, "qemuDomainSaveFlags")),
                ("managedSave(0x8)", lambda: d.managedSave(8), unsupported(8, "qemuDomainManagedSave")),
                ("restoreFlags(0x40)", lambda: s.conn.restoreFlags(img, None, 0x40),
                 unsupported(0x40, "qemuDomainRestoreInternal")),
                ("saveImageGetXMLDesc(0x2)", lambda: s.conn.saveImageGetXMLDesc(img, 2),
                 unsupported(2, "qemuDomainSaveImageGetXMLDesc")),
                ("hasManagedSaveImage(0x1)", lambda: d.hasManagedSaveImage(1),
                 unsupported(1, "qemuDomainHasManagedSaveImage")),
                ("managedSaveRemove(0x1)", lambda: d.managedSaveRemove(1),
                 unsupported(1, "qemuDomainManagedSaveRemove")),
                ("managedSaveGetXMLDesc(0x2)", lambda: d.managedSaveGetXMLDesc(2),
                 unsupported(2, "qemuDomainManagedSaveGetXMLDesc"))]:
            expect_eq(py_err(call), want, what)
        expect_eq(d.hasManagedSaveImage(0), 0, "hasManagedSaveImage of a never-started guest")
    finally:
        s.t.virsh("undefine", FNAME)


def t_transient(s):
    path = os.path.join(s.work, TNAME + ".xml")
    with open(path, "w") as f:
        f.write(ga.domain_xml(TNAME))
    img = os.path.join(s.work, TNAME + ".sav")
    s.step(lambda: s.virsh("create", path), BOOT_EV, name=TNAME)
    uuid = s.dom(TNAME).UUIDString()
    msg = "Requested operation is not valid: cannot do managed save for transient domain"
    err = s.virsh_err("managedsave", TNAME)
    expect_stderr(err, ["error: Failed to save domain '%s' state" % TNAME, "error: " + msg],
                  "managedsave of a transient guest")
    expect_eq(py_err(s.dom(TNAME).managedSave, 0), (55, VIR_FROM_QEMU, msg), "python managedSave")
    expect_eq(s.dom(TNAME).hasManagedSaveImage(0), 0, "hasManagedSaveImage of a transient guest")
    expect_eq(s.state(TNAME), "running (booted)", "transient guest after refused managedsave")
    # save: the transient guest is gone
    s.step(lambda: s.virsh("save", TNAME, img), SAVE_RUNNING_EV, name=TNAME)
    s.no_qemu(TNAME)
    expect(TNAME not in s.list_names(), "transient guest still listed after save")
    expect_eq((py_err(s.conn.lookupByName, TNAME) or (None,))[0], 42, "lookup after save")
    s.check_image(img)
    # restore: back, transient, same uuid
    s.step(lambda: s.virsh("restore", img), RESTORE_RUNNING_EV, name=TNAME)
    expect_eq(s.state(TNAME), "running (restored)", "restored transient guest")
    expect_eq((s.dom(TNAME).isPersistent(), s.dom(TNAME).UUIDString()), (0, uuid),
              "restored transient guest: persistent, uuid")
    s.one_qemu(TNAME)
    # a guest of the same name but another uuid blocks the restore
    s.step(lambda: s.virsh("save", TNAME, img), SAVE_RUNNING_EV, name=TNAME)
    other = "0b5e2c3d-1111-4222-8333-944455556666"
    xml2 = os.path.join(s.work, TNAME + "-other.xml")
    with open(xml2, "w") as f:
        f.write(ga.domain_xml(TNAME, uuid=other))
    s.virsh("define", xml2)
    try:
        msg = "operation failed: domain '%s' already exists with uuid %s" % (TNAME, other)
        err = s.virsh_err("restore", img)
        expect_stderr(err, ["error: Failed to restore domain from %s" % img, "error: " + msg],
                      "restore over a guest of the same name")
        expect_eq(py_err(s.conn.restore, img), (9, VIR_FROM_DOMAIN, msg), "python restore (name clash)")
        expect_eq(s.dom(TNAME).UUIDString(), other, "the defined guest is untouched")
        expect_eq(s.state(TNAME).split(" (")[0], "shut off", "the defined guest stays shut off")
        s.no_qemu(TNAME)
    finally:
        s.t.virsh("undefine", TNAME)


def main():
    runner = harness.Runner("test_qemu_save")
    target = harness.make_target()
    runner.start(target)
    s = None

    def mk():
        nonlocal s
        s = S(target)
    if not runner.check("event client + work dir", mk):
        runner.finish()
    try:
        for title, fn in [
                ("boot the guest, RAM marker + disk pattern", t_boot),
                ("save of the running guest: events, shut off (saved), image file", t_save_running),
                ("save-image-dumpxml / saveImageGetXMLDesc", t_image_xml),
                ("restore: events, running (restored), RAM marker and disk back", t_restore_running),
                ("restore while the guest runs: refused", t_restore_active),
                ("save/restore of a paused guest, restore --running", t_save_paused),
                ("restoreFlags(PAUSED) of a running image, resume", t_restore_paused_flag),
                ("save over an existing file: rewritten in place", t_save_overwrite),
                ("save into a missing directory: refused, guest keeps running", t_save_fail),
                ("managedsave: image, dominfo, list --managed-save, managedsave-dumpxml", t_managedsave),
                ("shut-off guest with an image: save/managedsave/undefine refused", t_shutoff_errors),
                ("the managed save image survives a daemon restart", t_restart),
                ("start restores the managed save image and removes it", t_start_restores),
                ("managedsave + start --paused", t_start_paused),
                ("start --force-boot discards the image (fresh boot, disk kept)", t_force_boot),
                ("managedsave-remove (and with none left)", t_managedsave_remove),
                ("undefine --managed-save; the plain image restores a transient guest",
                 t_undefine_managed_save),
        ]:
            if not runner.check(title, fn, s):
                print("  (skipping the rest of the main guest's steps)", flush=True)
                break
        for title, fn in [
                ("restore / save-image-dumpxml of missing, garbage, short, partial files", t_bad_images),
                ("unknown flags of every save API", t_bad_flags),
                ("transient guest: managedsave refused, save removes it, restore brings it back",
                 t_transient),
        ]:
            runner.check(title, fn, s)
    finally:
        s.shell.close()
        for n in (NAME, TNAME, FNAME):
            s.t.virsh("destroy", n)
            s.t.virsh("undefine", n, "--managed-save")
        s.events.close()
        try:
            ga.kill_guests(PREFIX)
        except Exception:
            pass
        shutil.rmtree(s.work, ignore_errors=True)
    runner.finish()


if __name__ == "__main__":
    main()
