#!/usr/bin/python3
"""Everyday virsh domain commands through stock virsh 9.0 and python3-libvirt:
desc / metadata, setmem / setmaxmem, setvcpus / vcpucount, domjobinfo,
domcontrol, domblkerror, inject-nmi, blockresize, domxml-to-native /
domxml-from-native, domrename.

Guests: G (no OS, running: SeaBIOS idles), OFF (shut off), REN (shut off, the
rename subject, with autostart and an internal snapshot) and BB (the busybox
guest of guest_assets, for the kernel's view of an NMI; SKIP without it).
Expected values were taken from the reference libvirtd 9.0 (SV_TARGET=ref); see
the fact sheet the lead keeps for the daemon side.  Highlights:

  desc/metadata  SET_METADATA emits one METADATA_CHANGE event (id 23: type,
                 nsuri) per successful call (also for removing nothing), no
                 lifecycle event; "" or NULL removes <description>/<title>;
                 missing -> 80 NO_DOMAIN_METADATA, 20, "metadata not found:
                 Requested metadata element is not present"
  setmem         no event; live on a guest without a balloon driver: success,
                 live <currentMemory> unchanged (libvirt updates it only on
                 QEMU's BALLOON_CHANGE); new > max -> 8, 10 "invalid argument:
                 cannot set memory higher than max memory" (max = the smaller
                 of the affected definitions' <memory>)
  setmaxmem      shut off / --config only; live -> 55, 10 "Requested operation
                 is not valid: cannot resize the maximum memory on an active
                 domain"; clamps <currentMemory>
  setvcpus       --config [--maximum]; 1 vCPU max live -> 8, 10 "invalid
                 argument: requested vcpus is greater than max allowable vcpus
                 for the live domain: 2 > 1"
  domjobinfo     "Job type:         None        " (no job, and --completed)
  domrename      shut off only; (1,1) UNDEFINED/RENAMED under the old name then
                 (0,2) DEFINED/RENAMED under the new one; config file, autostart
                 link and snapshot metadata move
Unknown flags: 8, 10 "unsupported flags (0x..) in function qemuDomainXxx" naming
only the unsupported bits.

Every check stands alone (one missing command does not hide the others); all
guests have the name prefix PREFIX and are removed / SIGKILLed at exit.
"""
import os
import shutil
import subprocess
import sys
import tempfile
import time
import xml.etree.ElementTree as ET

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import guest_assets as ga  # noqa: E402
import harness  # noqa: E402
import rawclient as rc  # noqa: E402
import snapshot_util as su  # noqa: E402
from harness import Skip, expect, expect_eq  # noqa: E402

import libvirt  # noqa: E402

libvirt.registerErrorHandler(lambda _ctx, _err: None, None)

PREFIX = "svmisc%04x%02x-" % (os.getpid() & 0xffff, int(time.time()) & 0xff)
G = PREFIX + "run"          # running, no OS
OFF = PREFIX + "off"        # shut off
REN = PREFIX + "ren"        # shut off, renamed to NEW
NEW = PREFIX + "renamed"
BB = PREFIX + "bb"          # busybox guest
NATIVE = PREFIX + "native"  # only ever converted, never defined
ALL = (G, OFF, REN, NEW, BB, NATIVE)
BOOT_TIMEOUT = float(os.environ.get("SV_BOOT_TIMEOUT", "60"))

VIR_FROM_QEMU, VIR_FROM_DOMAIN = 10, 20
ERR_NO_SUPPORT, ERR_INVALID_ARG, ERR_XML_ERROR, ERR_XML_DETAIL = 3, 8, 27, 35
ERR_ARGUMENT_UNSUPPORTED, ERR_OPERATION_INVALID = 74, 55
ERR_NO_DOMAIN_METADATA, ERR_OVERFLOW, ERR_OPERATION_UNSUPPORTED = 80, 82, 84
ERR_NO_DOMAIN = 42
META_DESC, META_TITLE, META_ELEM = 0, 1, 2
LIVE, CONFIG = 1, 2
MEM_MAXIMUM = VCPU_MAXIMUM = 4
VCPU_GUEST = 8
EVENT_ID_METADATA_CHANGE = 23

NOT_RUNNING = "Requested operation is not valid: domain is not running"
NO_META = "metadata not found: Requested metadata element is not present"
MEM_TOO_HIGH = "invalid argument: cannot set memory higher than max memory"
MAXMEM_LIVE = ("Requested operation is not valid: cannot resize the maximum memory on an "
               "active domain")
JOB_NONE = "Job type:         None        \n"
NS_A, NS_B = "http://example.org/a", "urn:splitvirt:b"
ELEM_A = '<foo bar="1"><baz>t</baz></foo>'
ELEM_A_OUT = '<foo bar="1">\n  <baz>t</baz>\n</foo>'


def unsupported(flags, fn, domain=VIR_FROM_QEMU):
    return (ERR_INVALID_ARG, domain, "unsupported flags (0x%x) in function %s" % (flags, fn))


def py_err(fn, *args):
    try:
        fn(*args)
    except libvirt.libvirtError as e:
        return (e.get_error_code(), e.get_error_domain(), e.get_error_message())
    return None


def snapshot_dir(target, name):
    """where the daemon keeps NAME's snapshot metadata (None: unknown)."""
    if isinstance(target, harness.RefDaemon):
        # /var/lib/libvirt of the reference is ROOT/root/lib
        return os.path.join(target.root, "root", "lib", "qemu", "snapshot", name)
    if isinstance(target, harness.Daemon):
        return os.path.join(target.root, "var", "lib", "libvirt", "qemu", "snapshot", name)
    return None


def qcow2_size(path):
    import json
    p = subprocess.run(["qemu-img", "info", "-U", "--output=json", path],
                       capture_output=True, text=True, timeout=30)
    if p.returncode:
        raise AssertionError("qemu-img info %s: %s" % (path, p.stderr.strip()))
    return json.loads(p.stdout)["virtual-size"]


class S:
    def __init__(self, target):
        self.t = target
        self.work = tempfile.mkdtemp(prefix="svmisc")
        os.chmod(self.work, 0o755)
        self.events = ga.EventCollector(target)
        self.conn = self.events.conn
        self.meta_reg_error = None
        self._register_metadata()
        try:
            self.kernel, self.initrd = ga.kernel_and_initrd()
            self.no_kernel = None
        except Skip as e:
            self.kernel = self.initrd = None
            self.no_kernel = str(e)
        self.shell = su.GuestShell()

    def _register_metadata(self):
        """METADATA_CHANGE events go into the collector as kind 'metadata'
        with payload (type, nsuri)."""
        ev = self.events

        def cb(_c, dom, mtype, nsuri, _o):
            with ev.cond:
                ev.records.append((time.monotonic(), dom.name(), "metadata", (mtype, nsuri)))
                ev.cond.notify_all()
        try:
            self.conn.domainEventRegisterAny(None, EVENT_ID_METADATA_CHANGE, cb, None)
            self.meta_reg_error = None
        except libvirt.libvirtError as e:
            self.meta_reg_error = "METADATA_CHANGE registration failed: %s" % e.get_error_message()

    def reconnect(self):
        self.events.open()
        self.conn = self.events.conn
        self._register_metadata()

    # -- virsh
    def virsh(self, *args, timeout=30):
        return self.t.virsh(*args, timeout=timeout)

    def ok(self, *args):
        code, out, err = self.virsh(*args)
        if code != 0:
            raise AssertionError("virsh %s -> rc %d: %s" % (" ".join(map(str, args)), code, err.strip()))
        return out

    def ok_out(self, args, want):
        """virsh succeeds and prints exactly want (virsh adds a final "\\n")."""
        expect_eq(self.ok(*args), want + "\n", "stdout of virsh %s" % " ".join(map(str, args)))

    def fails(self, args, *lines):
        """virsh exits 1 and each of lines is a line of its stderr."""
        code, _out, err = self.virsh(*args)
        got = err.splitlines()
        expect(code == 1 and all(line in got for line in lines),
               "virsh %s: rc %d, stderr %r; want lines %r"
               % (" ".join(map(str, args)), code, err, list(lines)))

    # -- domains
    def dom(self, name):
        return self.conn.lookupByName(name)

    def xml_file(self, name, boot=False, disk_size="64M"):
        kw = {}
        if boot:
            if self.no_kernel:
                raise Skip("no bootable test guest: " + self.no_kernel)
            kw = dict(kernel=self.kernel, initrd=self.initrd)
        disk = ga.make_qcow2(os.path.join(self.work, name + ".qcow2"), disk_size)
        path = os.path.join(self.work, name + ".xml")
        with open(path, "w") as f:
            f.write(ga.domain_xml(name, disk=disk, **kw))
        return path

    def disk(self, name):
        return os.path.join(self.work, name + ".qcow2")

    def xml(self, name, inactive=False):
        return self.dom(name).XMLDesc(libvirt.VIR_DOMAIN_XML_INACTIVE if inactive else 0)

    def root(self, name, inactive=False):
        return ET.fromstring(self.xml(name, inactive))

    def mem(self, name, inactive=False):
        """(<memory>, <currentMemory>) in KiB."""
        r = self.root(name, inactive)
        for tag in ("memory", "currentMemory"):
            expect_eq(r.find(tag).get("unit"), "KiB", "<%s unit>" % tag)
        return int(r.findtext("memory")), int(r.findtext("currentMemory"))

    def vcpu(self, name, inactive=False):
        """(<vcpu> text, current= attribute or None)."""
        v = self.root(name, inactive).find("vcpu")
        return int(v.text), v.get("current")

    def vcpucount(self, name):
        """`virsh vcpucount` lines as {(which, state): n}."""
        res = {}
        for line in self.ok("vcpucount", name).splitlines():
            w = line.split()
            if len(w) == 3:
                res[(w[0], w[1])] = int(w[2])
        return res

    # -- events
    def no_lifecycle(self, mark, *names):
        time.sleep(0.2)
        for n in names:
            expect_eq(self.events.since(mark, n), [], "lifecycle events of %s" % n)

    def meta_events(self, mark, name, n):
        """wait for n METADATA_CHANGE events of name after mark -> their payloads
        (exactly n: a straggler is waited for briefly)."""
        if self.meta_reg_error:
            raise AssertionError(self.meta_reg_error)
        self.events.wait(mark, name, lambda g: len(g) >= n, 3, kind="metadata")
        time.sleep(0.1)
        return self.events.since(mark, name, kind="metadata")


# ============================================================ desc / metadata
def t_desc_shutoff(s):
    """desc / desc --title on a shut-off guest: empty, set, read back (virsh +
    GET_METADATA), the XML, one METADATA_CHANGE per set, removal with ""."""
    d = s.dom(OFF)
    s.ok_out(("desc", OFF), "No description for domain: %s" % OFF)
    s.ok_out(("desc", OFF, "--title"), "No title for domain: %s" % OFF)
    expect_eq(py_err(d.metadata, META_DESC, None, 0),
              (ERR_NO_DOMAIN_METADATA, VIR_FROM_DOMAIN, NO_META), "metadata(DESCRIPTION) unset")
    expect_eq(py_err(d.metadata, META_TITLE, None, 0),
              (ERR_NO_DOMAIN_METADATA, VIR_FROM_DOMAIN, NO_META), "metadata(TITLE) unset")

    m = s.events.mark()
    s.ok_out(("desc", OFF, "--new-desc", "hello  world"), "Domain description updated successfully")
    s.ok_out(("desc", OFF, "--title", "My Title"), "Domain title updated successfully")
    expect_eq(s.meta_events(m, OFF, 2), [(META_DESC, None), (META_TITLE, None)],
              "METADATA_CHANGE events of desc + desc --title")
    s.ok_out(("desc", OFF), "hello  world")
    s.ok_out(("desc", OFF, "--title"), "My Title")
    s.ok_out(("desc", OFF, "--config"), "hello  world")
    expect_eq(d.metadata(META_DESC, None, 0), "hello  world", "metadata(DESCRIPTION)")
    expect_eq(d.metadata(META_TITLE, None, CONFIG), "My Title", "metadata(TITLE, CONFIG)")
    r = s.root(OFF, inactive=True)
    expect_eq((r.findtext("title"), r.findtext("description")), ("My Title", "hello  world"),
              "<title>/<description> in the XML")
    names = [c.tag for c in r]
    expect(names.index("title") < names.index("description") < names.index("memory"),
           "order of <title>, <description>, <memory>: %s" % names)
    # a shut-off guest has no live definition
    s.fails(("desc", OFF, "--live", "--new-desc", "x"),
            "error: Failed to set new domain description", "error: " + NOT_RUNNING)
    expect_eq(py_err(d.metadata, META_DESC, None, LIVE),
              (ERR_OPERATION_INVALID, VIR_FROM_DOMAIN, NOT_RUNNING), "metadata(DESC, LIVE) shut off")

    m = s.events.mark()
    s.ok_out(("desc", OFF, "--new-desc", ""), "Domain description updated successfully")
    expect_eq(d.setMetadata(META_TITLE, None, None, None, 0), 0, "setMetadata(TITLE, None)")
    expect_eq(s.meta_events(m, OFF, 2), [(META_DESC, None), (META_TITLE, None)],
              "METADATA_CHANGE events of the removals")
    s.ok_out(("desc", OFF), "No description for domain: %s" % OFF)
    expect_eq(py_err(d.metadata, META_TITLE, None, 0),
              (ERR_NO_DOMAIN_METADATA, VIR_FROM_DOMAIN, NO_META), "metadata(TITLE) removed")
    r = s.root(OFF, inactive=True)
    expect(r.find("title") is None and r.find("description") is None,
           "<title>/<description> still in the XML after removal")
    # the definition on disk changed too
    if s.t.defs_dir:
        with open(os.path.join(s.t.defs_dir, OFF + ".xml")) as f:
            expect("<description>" not in f.read(), "<description> left in the config file")


def t_desc_running(s):
    """running guest: --live and --config change only their definition, the
    default (current) is live; one event per call."""
    m = s.events.mark()
    s.ok_out(("desc", G, "--live", "--new-desc", "LIVE"), "Domain description updated successfully")
    s.ok_out(("desc", G, "--config", "--new-desc", "CONF"), "Domain description updated successfully")
    s.ok_out(("desc", G), "LIVE")
    s.ok_out(("desc", G, "--live"), "LIVE")
    s.ok_out(("desc", G, "--config"), "CONF")
    expect_eq(s.root(G).findtext("description"), "LIVE", "live <description>")
    expect_eq(s.root(G, inactive=True).findtext("description"), "CONF", "persistent <description>")
    s.ok_out(("desc", G, "--live", "--config", "--new-desc", "BOTH"),
             "Domain description updated successfully")
    s.ok_out(("desc", G, "--title", "--new-desc", "T"), "Domain title updated successfully")
    expect_eq((s.root(G).findtext("description"), s.root(G).findtext("title")), ("BOTH", "T"),
              "live <description>/<title>")
    expect_eq((s.root(G, True).findtext("description"), s.root(G, True).find("title")),
              ("BOTH", None), "persistent <description>/<title> (--title was live only)")
    expect_eq(s.meta_events(m, G, 4), [(META_DESC, None)] * 3 + [(META_TITLE, None)],
              "METADATA_CHANGE events")
    s.no_lifecycle(m, G)


def t_metadata(s):
    """metadata URI --key K --set XML / get / replace / --remove on the shut-off
    guest: XML, reformatted output, events."""
    d = s.dom(OFF)
    s.fails(("metadata", OFF, NS_A), "error: " + NO_META)
    m = s.events.mark()
    s.ok_out(("metadata", OFF, NS_A, "--key", "ex", "--set", ELEM_A), "Metadata modified\n")
    s.ok_out(("metadata", OFF, NS_A), ELEM_A_OUT + "\n")
    expect_eq(d.metadata(META_ELEM, NS_A, 0), ELEM_A_OUT, "metadata(ELEMENT, A)")
    raw = s.xml(OFF, inactive=True)
    for want in ('<ex:foo xmlns:ex="%s" bar="1">' % NS_A, "<ex:baz>t</ex:baz>"):
        expect(want in raw, "%r not in the XML:\n%s" % (want, raw))
    md = ET.fromstring(raw).find("metadata")
    expect(md is not None and [c.tag for c in md] == ["{%s}foo" % NS_A],
           "<metadata> children: %s" % (None if md is None else [c.tag for c in md]))

    # a second namespace, then replacing the first one (same uri, new key)
    expect_eq(d.setMetadata(META_ELEM, "<x>1</x>", "b", NS_B, 0), 0, "setMetadata(ELEMENT, B)")
    s.ok_out(("metadata", OFF, NS_A, "--key", "ex2", "--set", "<other/>"), "Metadata modified\n")
    s.ok_out(("metadata", OFF, NS_A), "<other/>\n")
    expect_eq(d.metadata(META_ELEM, NS_B, 0), "<x>1</x>", "metadata(ELEMENT, B)")
    md = s.root(OFF, inactive=True).find("metadata")
    expect_eq([c.tag for c in md], ["{%s}x" % NS_B, "{%s}other" % NS_A], "<metadata> children")
    expect('<ex2:other xmlns:ex2="%s"/>' % NS_A in s.xml(OFF, inactive=True),
           "replaced element not under the new key prefix")

    s.ok_out(("metadata", OFF, NS_A, "--remove"), "Metadata removed\n")
    s.fails(("metadata", OFF, NS_A), "error: " + NO_META)
    # removing what is not there succeeds (and still notifies)
    s.ok_out(("metadata", OFF, NS_A, "--remove"), "Metadata removed\n")
    expect_eq(s.meta_events(m, OFF, 5), [(META_ELEM, NS_A), (META_ELEM, NS_B), (META_ELEM, NS_A),
                                          (META_ELEM, NS_A), (META_ELEM, NS_A)],
              "METADATA_CHANGE events (type, nsuri)")
    expect_eq(d.setMetadata(META_ELEM, None, None, NS_B, 0), 0, "remove B")
    expect(s.root(OFF, inactive=True).find("metadata") is None
           or len(s.root(OFF, inactive=True).find("metadata")) == 0,
           "<metadata> still has children after removing everything")

    # running guest: --live only
    s.ok_out(("metadata", G, NS_A, "--live", "--key", "k", "--set", "<live/>"), "Metadata modified\n")
    s.ok_out(("metadata", G, NS_A), "<live/>\n")
    s.fails(("metadata", G, NS_A, "--config"), "error: " + NO_META)
    s.ok_out(("metadata", G, NS_A, "--remove", "--live"), "Metadata removed\n")
    s.no_lifecycle(m, OFF, G)


def t_metadata_errors(s):
    """malformed XML, unknown type, unknown flags, --live on a shut-off guest."""
    d = s.dom(OFF)
    m = s.events.mark()
    code, _out, err = s.virsh("metadata", OFF, NS_A, "--key", "ex", "--set", "<foo")
    expect(code == 1 and err.startswith("error: (metadata_xml):1: "),
           "virsh metadata --set '<foo': rc %d %r" % (code, err))
    e = py_err(d.setMetadata, META_ELEM, "<a/><b/>", "ex", NS_A, 0)
    expect(e and e[:2] == (ERR_XML_DETAIL, VIR_FROM_DOMAIN) and e[2].startswith("(metadata_xml):1: "),
           "setMetadata of two roots: %r" % (e,))
    expect_eq(py_err(d.metadata, 7, None, 0),
              (ERR_INVALID_ARG, VIR_FROM_DOMAIN, "invalid argument: unknown metadata type '7'"),
              "metadata(type 7)")
    expect_eq(py_err(d.setMetadata, 7, "x", None, None, 0),
              (ERR_INVALID_ARG, VIR_FROM_DOMAIN, "invalid argument: unknown metadata type '7'"),
              "setMetadata(type 7)")
    expect_eq(py_err(d.setMetadata, META_DESC, "x", None, None, 0xff4),
              unsupported(0xff4, "qemuDomainSetMetadata"), "setMetadata(flags 0xff4)")
    expect_eq(py_err(d.setMetadata, META_DESC, "x", None, None, 5),
              unsupported(0x4, "qemuDomainSetMetadata"), "setMetadata(flags 0x5)")
    expect_eq(py_err(d.metadata, META_DESC, None, 4),
              unsupported(0x4, "virDomainObjGetMetadata", VIR_FROM_DOMAIN), "metadata(flags 4)")
    s.fails(("metadata", OFF, NS_A, "--live", "--key", "k", "--set", "<a/>"), "error: " + NOT_RUNNING)
    expect_eq(py_err(d.metadata, META_ELEM, NS_A, LIVE),
              (ERR_OPERATION_INVALID, VIR_FROM_DOMAIN, NOT_RUNNING), "metadata(ELEMENT, LIVE) shut off")
    time.sleep(0.2)
    expect_eq(s.events.since(m, OFF, kind="metadata"), [], "METADATA_CHANGE events of failed calls")
    expect(s.root(OFF, inactive=True).find("description") is None, "failed call changed the XML")


# ============================================================ memory
def t_mem_shutoff(s):
    """setmem / setmaxmem of a shut-off guest (128 MiB)."""
    d = s.dom(OFF)
    m = s.events.mark()
    s.fails(("setmem", OFF, "100M"), "error: " + NOT_RUNNING)           # default is --live
    s.fails(("setmem", OFF, "100M", "--live"), "error: " + NOT_RUNNING)
    s.ok_out(("setmem", OFF, "100M", "--config"), "")
    expect_eq(s.mem(OFF), (131072, 102400), "memory after setmem --config 100M")
    s.ok_out(("setmem", OFF, "90M", "--current"), "")
    expect_eq(s.mem(OFF), (131072, 92160), "memory after setmem --current 90M")
    s.fails(("setmem", OFF, "200M", "--config"), "error: " + MEM_TOO_HIGH)
    expect_eq(py_err(d.setMemoryFlags, 200 * 1024, CONFIG),
              (ERR_INVALID_ARG, VIR_FROM_QEMU, MEM_TOO_HIGH), "setMemoryFlags(200M, CONFIG)")
    expect_eq(py_err(d.setMemory, 64 * 1024), (ERR_OPERATION_INVALID, VIR_FROM_DOMAIN, NOT_RUNNING),
              "setMemory of a shut-off guest")

    # setmaxmem: below <currentMemory> clamps it; above leaves it
    s.ok_out(("setmaxmem", OFF, "64M"), "")
    expect_eq(s.mem(OFF), (65536, 65536), "memory after setmaxmem 64M")
    s.ok_out(("setmaxmem", OFF, "256M", "--config"), "")
    expect_eq(s.mem(OFF), (262144, 65536), "memory after setmaxmem 256M --config")
    expect_eq(d.setMaxMemory(192 * 1024), 0, "setMaxMemory(192M)")
    expect_eq(d.setMemoryFlags(160 * 1024, CONFIG), 0, "setMemoryFlags(160M, CONFIG)")
    expect_eq(s.mem(OFF), (196608, 163840), "memory after setMaxMemory + setMemoryFlags")
    expect_eq(d.maxMemory(), 196608, "maxMemory()")
    expect_eq(d.info()[1:3], [196608, 163840], "info() maxMem, memory")
    s.fails(("setmaxmem", OFF, "256M", "--live"),
            "error: Unable to change MaxMemorySize", "error: " + NOT_RUNNING)
    expect_eq(py_err(d.setMemoryFlags, 64 * 1024, 8),
              unsupported(0x8, "qemuDomainSetMemoryFlags"), "setMemoryFlags(flags 8)")
    expect_eq(py_err(d.setMemoryFlags, 64 * 1024, 0xe),
              unsupported(0x8, "qemuDomainSetMemoryFlags"), "setMemoryFlags(flags 0xe)")
    s.no_lifecycle(m, OFF)
    if s.t.defs_dir:
        with open(os.path.join(s.t.defs_dir, OFF + ".xml")) as f:
            text = f.read()
        expect("<memory unit='KiB'>196608</memory>" in text
               and "<currentMemory unit='KiB'>163840</currentMemory>" in text,
               "config file not updated:\n%s" % text)
    expect_eq(d.setMaxMemory(128 * 1024), 0, "restore 128 MiB")
    expect_eq(d.setMemoryFlags(128 * 1024, CONFIG), 0, "restore 128 MiB current")


def t_mem_running(s):
    """setmem / setmaxmem of the running guest (128 MiB, balloon device, no
    guest driver: QEMU accepts the target but never reports a new size)."""
    d = s.dom(G)
    m = s.events.mark()
    s.ok_out(("setmem", G, "100M"), "")
    s.ok_out(("setmem", G, "110M", "--live"), "")
    expect_eq(d.setMemory(120 * 1024), 0, "setMemory(120M)")
    time.sleep(0.3)
    expect_eq(s.mem(G), (131072, 131072),
              "live memory (libvirt changes <currentMemory> only on QEMU's BALLOON_CHANGE)")
    expect_eq(s.mem(G, inactive=True), (131072, 131072), "persistent memory after live setmem")
    s.fails(("setmem", G, "200M"), "error: " + MEM_TOO_HIGH)
    expect_eq(py_err(d.setMemoryFlags, 200 * 1024, LIVE),
              (ERR_INVALID_ARG, VIR_FROM_QEMU, MEM_TOO_HIGH), "setMemoryFlags(200M, LIVE)")

    s.fails(("setmaxmem", G, "256M"), "error: Unable to change MaxMemorySize", "error: " + MAXMEM_LIVE)
    s.fails(("setmaxmem", G, "256M", "--live", "--config"), "error: " + MAXMEM_LIVE)
    expect_eq(py_err(d.setMaxMemory, 256 * 1024),
              (ERR_OPERATION_INVALID, VIR_FROM_QEMU, MAXMEM_LIVE), "setMaxMemory of a running guest")
    s.ok_out(("setmaxmem", G, "256M", "--config"), "")
    expect_eq(s.mem(G, inactive=True), (262144, 131072), "persistent memory after setmaxmem --config")
    expect_eq(s.mem(G), (131072, 131072), "live memory after setmaxmem --config")
    s.ok_out(("setmem", G, "200M", "--config"), "")
    expect_eq(s.mem(G, inactive=True), (262144, 204800), "persistent memory after setmem --config")
    # both definitions: the smaller maximum (live 128 MiB) limits
    s.fails(("setmem", G, "200M", "--live", "--config"), "error: " + MEM_TOO_HIGH)
    s.ok_out(("setmem", G, "100M", "--live", "--config"), "")
    expect_eq(s.mem(G, inactive=True), (262144, 102400), "persistent memory after --live --config")
    expect_eq(d.info()[1], 131072, "info() maxMem of the running guest")
    s.no_lifecycle(m, G)
    # back to the original persistent values (later checks convert G's XML)
    d.setMemoryFlags(128 * 1024, CONFIG | MEM_MAXIMUM)
    d.setMemoryFlags(128 * 1024, CONFIG)


# ============================================================ vcpus
def t_vcpus_shutoff(s):
    """setvcpus --config [--maximum] / vcpucount of a shut-off guest."""
    d = s.dom(OFF)
    m = s.events.mark()
    expect_eq(s.ok("vcpucount", OFF), "maximum      config         1\n"
                                      "current      config         1\n\n", "vcpucount")
    s.fails(("setvcpus", OFF, "2", "--config"),
            "error: invalid argument: requested vcpus is greater than max allowable vcpus for the "
            "persistent domain: 2 > 1")
    s.fails(("setvcpus", OFF, "1"), "error: " + NOT_RUNNING)          # SET_VCPUS = --live
    s.ok_out(("setvcpus", OFF, "4", "--config", "--maximum"), "")
    expect_eq(s.vcpu(OFF), (4, "1"), "<vcpu> after --maximum 4")
    s.ok_out(("setvcpus", OFF, "2", "--config"), "")
    expect_eq(s.vcpu(OFF), (4, "2"), "<vcpu> after setvcpus 2 --config")
    expect_eq(s.vcpucount(OFF), {("maximum", "config"): 4, ("current", "config"): 2}, "vcpucount")
    expect_eq((d.vcpusFlags(0), d.vcpusFlags(VCPU_MAXIMUM), d.vcpusFlags(CONFIG | VCPU_MAXIMUM)),
              (2, 4, 4), "vcpusFlags(0 / MAXIMUM / CONFIG|MAXIMUM)")
    expect_eq(d.setVcpusFlags(4, CONFIG), 0, "setVcpusFlags(4, CONFIG)")
    expect_eq(s.vcpu(OFF), (4, None), "<vcpu> when current == maximum")
    # lowering the maximum lowers the current count
    s.ok_out(("setvcpus", OFF, "1", "--config", "--maximum"), "")
    expect_eq(s.vcpu(OFF), (1, None), "<vcpu> after --maximum 1")
    expect_eq(py_err(d.setVcpusFlags, 1, 0x20),
              unsupported(0x20, "qemuDomainSetVcpusFlags"), "setVcpusFlags(flags 0x20)")
    expect_eq(py_err(d.setVcpusFlags, 1, 0x22),
              unsupported(0x20, "qemuDomainSetVcpusFlags"), "setVcpusFlags(flags 0x22)")
    expect_eq(py_err(d.vcpusFlags, 0x20),
              unsupported(0x20, "qemuDomainGetVcpusFlags"), "vcpusFlags(0x20)")
    expect_eq(py_err(d.vcpusFlags, LIVE), (ERR_OPERATION_INVALID, VIR_FROM_DOMAIN, NOT_RUNNING),
              "vcpusFlags(LIVE) shut off")
    s.no_lifecycle(m, OFF)


def t_vcpus_running(s):
    """running guest with 1 vCPU (maximum 1): live changes beyond it are
    refused; --config --maximum changes only the next boot."""
    d = s.dom(G)
    m = s.events.mark()
    expect_eq(s.vcpucount(G), {("maximum", "config"): 1, ("maximum", "live"): 1,
                               ("current", "config"): 1, ("current", "live"): 1}, "vcpucount")
    too_many = ("error: invalid argument: requested vcpus is greater than max allowable vcpus "
                "for the live domain: 2 > 1")
    s.fails(("setvcpus", G, "2"), too_many)
    s.fails(("setvcpus", G, "2", "--live"), too_many)
    s.fails(("setvcpus", G, "2", "--live", "--config"), too_many)
    s.ok_out(("setvcpus", G, "1", "--live"), "")                    # no change: fine
    s.ok_out(("setvcpus", G, "2", "--config", "--maximum"), "")
    expect_eq(s.vcpu(G, inactive=True), (2, "1"), "persistent <vcpu>")
    expect_eq(s.vcpu(G), (1, None), "live <vcpu>")
    s.ok_out(("setvcpus", G, "2", "--config"), "")
    expect_eq(s.vcpucount(G), {("maximum", "config"): 2, ("maximum", "live"): 1,
                               ("current", "config"): 2, ("current", "live"): 1}, "vcpucount")
    expect_eq(py_err(d.setVcpusFlags, 2, LIVE | CONFIG | VCPU_MAXIMUM),
              (ERR_OPERATION_UNSUPPORTED, VIR_FROM_QEMU,
               "Operation not supported: maximum vcpu count of a live domain can't be modified"),
              "setVcpusFlags(LIVE|CONFIG|MAXIMUM)")
    expect_eq(py_err(d.setVcpusFlags, 1, VCPU_GUEST),
              (ERR_ARGUMENT_UNSUPPORTED, VIR_FROM_QEMU,
               "argument unsupported: QEMU guest agent is not configured"), "setVcpusFlags(GUEST)")
    expect_eq((d.maxVcpus(), d.vcpusFlags(LIVE | VCPU_MAXIMUM), d.vcpusFlags(CONFIG)), (1, 1, 2),
              "maxVcpus(), vcpusFlags(LIVE|MAXIMUM), vcpusFlags(CONFIG)")
    s.no_lifecycle(m, G)
    d.setVcpusFlags(1, CONFIG | VCPU_MAXIMUM)


# ============================================================ jobs / control / errors
def t_jobinfo(s):
    """domjobinfo without any job; --completed; shut off."""
    d, off = s.dom(G), s.dom(OFF)
    s.ok_out(("domjobinfo", G), JOB_NONE)
    s.ok_out(("domjobinfo", G, "--completed"), JOB_NONE)
    s.ok_out(("domjobinfo", G, "--completed", "--keep-completed"), JOB_NONE)
    s.ok_out(("domjobinfo", OFF, "--completed"), JOB_NONE)
    s.fails(("domjobinfo", OFF), "error: " + NOT_RUNNING)
    expect_eq(d.jobInfo(), [0] * 12, "jobInfo()")
    expect_eq(d.jobStats(0), {"type": 0}, "jobStats(0)")
    expect_eq(d.jobStats(1), {"type": 0}, "jobStats(COMPLETED)")
    expect_eq(off.jobStats(1), {"type": 0}, "jobStats(COMPLETED) shut off")
    expect_eq(py_err(off.jobStats, 0), (ERR_OPERATION_INVALID, VIR_FROM_DOMAIN, NOT_RUNNING),
              "jobStats(0) shut off")
    expect_eq(py_err(off.jobInfo), (ERR_OPERATION_INVALID, VIR_FROM_DOMAIN, NOT_RUNNING),
              "jobInfo() shut off")
    expect_eq(py_err(d.jobStats, 0xd), unsupported(0xc, "qemuDomainGetJobStats"), "jobStats(0xd)")


def t_domcontrol(s):
    d = s.dom(G)
    s.ok_out(("domcontrol", G), "ok\n")
    s.fails(("domcontrol", OFF), "error: " + NOT_RUNNING)
    expect_eq(d.controlInfo(0), [0, 0, 0], "controlInfo()")
    expect_eq(py_err(d.controlInfo, 1), unsupported(0x1, "qemuDomainGetControlInfo"),
              "controlInfo(1)")
    expect_eq(py_err(s.dom(OFF).controlInfo, 0),
              (ERR_OPERATION_INVALID, VIR_FROM_DOMAIN, NOT_RUNNING), "controlInfo() shut off")


def t_domblkerror(s):
    """domblkerror with no I/O error; GET_DISK_ERRORS with maxerrors 0 answers
    the number of disks (what virsh sizes its array with)."""
    d = s.dom(G)
    s.ok_out(("domblkerror", G), "No errors found\n")
    s.fails(("domblkerror", OFF), "error: " + NOT_RUNNING)
    expect_eq(d.diskErrors(0), {}, "diskErrors()")
    expect_eq(py_err(s.dom(OFF).diskErrors, 0),
              (ERR_OPERATION_INVALID, VIR_FROM_DOMAIN, NOT_RUNNING), "diskErrors() shut off")
    if not s.t.sock:
        return
    c = rc.RawClient(s.t.sock)
    try:
        c.handshake()
        dom = rc.xdr_nonnull_domain(G, d.UUID(), d.ID())
        results = []
        for maxerrors, flags in ((0, 0), (1, 0), (1, 1)):
            hdr, body = c.call(263, dom + rc.xdr_u32(maxerrors) + rc.xdr_u32(flags))
            if hdr[5] != rc.OK:
                e = rc.decode_error(body)
                results.append(("error", e.args[:3] if e.args else str(e)))
                continue
            r = rc.Reader(body)
            n = r.u32()
            errs = [(r.string(), r.i32()) for _ in range(n)]
            results.append((errs, r.i32()))
        expect_eq(results[:2], [([], 1), ([], 0)], "raw GET_DISK_ERRORS (maxerrors 0, then 1)")
        expect(results[2][0] == "error" and "unsupported flags (0x1) in function "
               "qemuDomainGetDiskErrors" in str(results[2][1]),
               "raw GET_DISK_ERRORS flags 1: %r" % (results[2],))
    finally:
        c.close()


def t_inject_nmi(s):
    d = s.dom(G)
    m = s.events.mark()
    s.ok_out(("inject-nmi", G), "")
    expect_eq(d.injectNMI(0), 0, "injectNMI()")
    s.fails(("inject-nmi", OFF), "error: " + NOT_RUNNING)
    expect_eq(py_err(s.dom(OFF).injectNMI, 0),
              (ERR_OPERATION_INVALID, VIR_FROM_DOMAIN, NOT_RUNNING), "injectNMI() shut off")
    expect_eq(py_err(d.injectNMI, 1), unsupported(0x1, "qemuDomainInjectNMI"), "injectNMI(1)")
    expect_eq(d.state(), [libvirt.VIR_DOMAIN_RUNNING, libvirt.VIR_DOMAIN_RUNNING_BOOTED],
              "state after the NMIs")
    s.no_lifecycle(m, G)


def t_inject_nmi_guest(s):
    """the busybox guest's kernel reports the NMI on its console."""
    if s.no_kernel:
        raise Skip("no bootable test guest: " + s.no_kernel)
    d = s.dom(BB)
    s.shell.open(s.conn, d, boot=False, timeout=BOOT_TIMEOUT)
    con = s.shell.console
    start = len(con.buf)
    s.ok_out(("inject-nmi", BB), "")
    con.expect("NMI received for unknown reason", 15, start)
    expect_eq(s.shell.run("echo alive-$((6*7))").strip(), "alive-42", "shell after the NMI")
    expect_eq(d.state()[0], libvirt.VIR_DOMAIN_RUNNING, "state after the NMI")
    s.shell.close()


# ============================================================ blockresize
def t_blockresize(s):
    """running guest, qcow2 vda of 64 MiB: grow (KiB, bytes rounded up to
    512, by source path), shrink; QEMU's size follows."""
    d = s.dom(G)
    path = s.disk(G)
    m = s.events.mark()
    s.ok_out(("blockresize", G, "vda", "128M"), "Block device 'vda' is resized")
    expect_eq(qcow2_size(path), 128 << 20, "virtual size after 128M")
    out = s.ok("domblkinfo", G, "vda")
    expect("Capacity:       %d\n" % (128 << 20) in out, "domblkinfo after resize: %r" % out)
    s.ok_out(("blockresize", G, path, "130M"), "Block device '%s' is resized" % path)
    expect_eq(qcow2_size(path), 130 << 20, "virtual size after resize by path")
    expect_eq(d.blockResize("vda", 140 * 1024, 0), 0, "blockResize(KiB)")
    expect_eq(qcow2_size(path), 140 << 20, "virtual size after blockResize(KiB)")
    expect_eq(d.blockResize("vda", 150000001, libvirt.VIR_DOMAIN_BLOCK_RESIZE_BYTES), 0,
              "blockResize(BYTES)")
    expect_eq(qcow2_size(path), 150000128, "virtual size after 150000001 bytes (rounded to 512)")
    s.ok_out(("blockresize", G, "vda", "1000B"), "Block device 'vda' is resized")
    expect_eq(qcow2_size(path), 1024, "virtual size after 1000B")
    s.ok_out(("blockresize", G, "vda", "64M"), "Block device 'vda' is resized")
    expect_eq(qcow2_size(path), 64 << 20, "virtual size after shrinking back")
    s.no_lifecycle(m, G)


def t_blockresize_errors(s):
    d, off = s.dom(G), s.dom(OFF)
    s.fails(("blockresize", G, "vdb", "128M"), "error: Failed to resize block device 'vdb'",
            "error: invalid argument: disk 'vdb' was not found in the domain config")
    expect_eq(py_err(d.blockResize, "vdz", 1024, 0),
              (ERR_INVALID_ARG, VIR_FROM_QEMU,
               "invalid argument: disk 'vdz' was not found in the domain config"), "blockResize(vdz)")
    expect_eq(py_err(d.blockResize, "vda", 1024, 2), unsupported(0x2, "qemuDomainBlockResize"),
              "blockResize(flags 2)")
    expect_eq(py_err(d.blockResize, "vda", 1024, 3), unsupported(0x2, "qemuDomainBlockResize"),
              "blockResize(flags 3)")
    expect_eq(py_err(d.blockResize, "vda", 1 << 62, 0),
              (ERR_OVERFLOW, VIR_FROM_QEMU, "numerical overflow: size must be less than "
               "18014398509481983"), "blockResize(2^62 KiB)")
    before = qcow2_size(s.disk(OFF))
    s.fails(("blockresize", OFF, "vda", "128M"), "error: Failed to resize block device 'vda'",
            "error: " + NOT_RUNNING)
    expect_eq(py_err(off.blockResize, "vdz", 1024, 0),
              (ERR_OPERATION_INVALID, VIR_FROM_DOMAIN, NOT_RUNNING), "blockResize shut off")
    expect_eq(qcow2_size(s.disk(OFF)), before, "image of the shut-off guest")
    expect_eq(qcow2_size(s.disk(G)), 64 << 20, "image after the refused calls")


# ============================================================ domxml-to-native
def t_xml_to_native(s):
    """qemu-argv from a file (nothing defined or started) and from --domain;
    other formats; from-native is not implemented by the QEMU driver."""
    path = s.xml_file(NATIVE)
    out = s.ok("domxml-to-native", "qemu-argv", path)
    for want in ("/usr/bin/qemu-system-x86_64 ", "guest=%s" % NATIVE, s.disk(NATIVE)):
        expect(want in out, "%r not in domxml-to-native output %r" % (want, out[:600]))
    expect(NATIVE not in s.ok("list", "--all", "--name").split(), "domxml-to-native defined the XML")
    expect(not ga.qemu_pids(NATIVE), "domxml-to-native started a QEMU")
    for name in (G, OFF):
        out = s.ok("domxml-to-native", "qemu-argv", "--domain", name)
        expect("guest=%s" % name in out and s.disk(name) in out,
               "domxml-to-native --domain %s: %r" % (name, out[:600]))
    with open(path) as f:
        xml = f.read()
    out = s.conn.domainXMLToNative("qemu-argv", xml, 0)
    expect("guest=%s" % NATIVE in out, "domainXMLToNative: %r" % out[:600])

    s.fails(("domxml-to-native", "xen-xm", path), "error: invalid argument: unsupported config type xen-xm")
    expect_eq(py_err(s.conn.domainXMLToNative, "QEMU-ARGV", xml, 0),
              (ERR_INVALID_ARG, VIR_FROM_QEMU, "invalid argument: unsupported config type QEMU-ARGV"),
              "domainXMLToNative(QEMU-ARGV)")
    expect_eq(py_err(s.conn.domainXMLToNative, "xen-xm", xml, 1),
              unsupported(0x1, "qemuConnectDomainXMLToNative"), "domainXMLToNative(flags 1)")
    e = py_err(s.conn.domainXMLToNative, "qemu-argv", "<domain", 0)
    expect(e and e[:2] == (ERR_XML_DETAIL, VIR_FROM_DOMAIN), "domainXMLToNative('<domain'): %r" % (e,))
    expect_eq(py_err(s.conn.domainXMLToNative, "qemu-argv", "<domain type='qemu'/>", 0),
              (21, VIR_FROM_DOMAIN, "missing name information"), "domainXMLToNative(no name)")

    nosup = "this function is not supported by the connection driver: virConnectDomainXMLFromNative"
    argv = os.path.join(s.work, "argv.txt")
    with open(argv, "w") as f:
        f.write("/usr/bin/qemu-system-x86_64 -m 128\n")
    s.fails(("domxml-from-native", "qemu-argv", argv), "error: " + nosup)
    expect_eq(py_err(s.conn.domainXMLFromNative, "qemu-argv", "qemu-system-x86_64 -m 128", 0),
              (ERR_NO_SUPPORT, VIR_FROM_DOMAIN, nosup), "domainXMLFromNative")


# ============================================================ domrename
def autostart_dir(target):
    return os.path.join(target.defs_dir, "autostart") if target.defs_dir else None


def check_renamed(s, what):
    """NEW exists with REN's uuid, autostart on, snapshot s1; REN is gone (API
    and files)."""
    d = s.dom(NEW)
    expect_eq(d.UUIDString(), s.ren_uuid, "uuid of %s %s" % (NEW, what))
    expect_eq(d.autostart(), 1, "autostart of %s %s" % (NEW, what))
    expect_eq(d.snapshotListNames(0), ["s1"], "snapshots of %s %s" % (NEW, what))
    expect_eq(s.root(NEW, inactive=True).findtext("name"), NEW, "<name> %s" % what)
    expect_eq(py_err(s.conn.lookupByName, REN)[0], ERR_NO_DOMAIN, "lookup of the old name %s" % what)
    names = s.ok("list", "--all", "--name").split()
    expect(NEW in names and REN not in names, "list --all %s: %s" % (what, names))
    if s.t.defs_dir:
        dd, ad = s.t.defs_dir, autostart_dir(s.t)
        expect(os.path.exists(os.path.join(dd, NEW + ".xml"))
               and not os.path.exists(os.path.join(dd, REN + ".xml")),
               "config files %s: %s" % (what, sorted(os.listdir(dd))))
        link = os.path.join(ad, NEW + ".xml")
        expect(os.path.islink(link) and os.path.basename(os.readlink(link)) == NEW + ".xml"
               and not os.path.lexists(os.path.join(ad, REN + ".xml")),
               "autostart links %s: %s" % (what, sorted(os.listdir(ad))))
    sd_new, sd_old = snapshot_dir(s.t, NEW), snapshot_dir(s.t, REN)
    if sd_new:
        expect(os.path.exists(os.path.join(sd_new, "s1.xml")) and not os.path.exists(sd_old),
               "snapshot metadata %s: new %s, old dir exists %s"
               % (what, os.listdir(sd_new) if os.path.isdir(sd_new) else None, os.path.exists(sd_old)))


def t_rename(s):
    """domrename of a shut-off guest with autostart and an internal snapshot."""
    s.ok("define", s.xml_file(REN))
    s.ok("autostart", REN)
    s.ok("snapshot-create-as", REN, "s1")
    d = s.dom(REN)
    s.ren_uuid = d.UUIDString()
    m = s.events.mark()
    s.ok_out(("domrename", REN, NEW), "Domain successfully renamed\n")
    s.renamed = True
    ga.wait_events(s.events, m, REN, [(1, 1)])
    ga.wait_events(s.events, m, NEW, [(0, 2)])
    check_renamed(s, "after the rename")
    # python: the client renames its handle on success
    expect_eq(s.dom(NEW).rename(REN, 0), 0, "rename() back")
    d2 = s.dom(REN)
    expect_eq(d2.rename(NEW, 0), 0, "rename() again")
    expect_eq(d2.name(), NEW, "name() of the handle after rename()")
    # it starts under the new name
    s.ok("start", NEW)
    expect(ga.qemu_pids(NEW), "no QEMU named %s after start" % NEW)
    s.ok("destroy", NEW)


def t_rename_restart(s):
    """the rename survives a daemon restart."""
    if not s.t.can_restart:
        raise Skip("target cannot be restarted")
    if not getattr(s, "renamed", False):
        raise AssertionError("nothing to check: the rename itself failed")
    s.events.close()
    s.t.restart()
    s.reconnect()
    check_renamed(s, "after a daemon restart")


def t_rename_errors(s):
    """running / paused, name taken, itself, '/', managed save, flags."""
    names = s.ok("list", "--all", "--name").split()
    if NEW in names:
        sub = NEW
    else:                       # the rename check failed: a shut-off guest of its own
        sub = REN
        if REN not in names:
            s.ok("define", s.xml_file(REN))
    d, new = s.dom(G), s.dom(sub)
    active = "Requested operation is not valid: cannot rename active domain"
    s.fails(("domrename", G, PREFIX + "x"), "error: " + active)
    expect_eq(py_err(d.rename, PREFIX + "x", 0), (ERR_OPERATION_INVALID, VIR_FROM_QEMU, active),
              "rename() running")
    s.ok("suspend", G)
    expect_eq(py_err(d.rename, PREFIX + "x", 0), (ERR_OPERATION_INVALID, VIR_FROM_QEMU, active),
              "rename() paused")
    s.ok("resume", G)
    s.fails(("domrename", sub, OFF),
            "error: Requested operation is not valid: domain with name '%s' already exists" % OFF)
    expect_eq(py_err(new.rename, G, 0),
              (ERR_OPERATION_INVALID, VIR_FROM_DOMAIN,
               "Requested operation is not valid: domain with name '%s' already exists" % G),
              "rename() to a running guest's name")
    expect_eq(py_err(new.rename, sub, 0),
              (ERR_OPERATION_INVALID, VIR_FROM_DOMAIN,
               "Requested operation is not valid: Can't rename domain to itself"), "rename() to itself")
    expect_eq(py_err(new.rename, "a/b", 0),
              (ERR_XML_ERROR, VIR_FROM_QEMU, "XML error: name a/b cannot contain '/'"), "rename('a/b')")
    expect_eq(py_err(new.rename, PREFIX + "x", 1), unsupported(0x1, "qemuDomainRename"),
              "rename(flags 1)")
    m = s.events.mark()
    s.ok("managedsave", G)
    try:
        expect_eq(py_err(d.rename, PREFIX + "x", 0),
                  (ERR_OPERATION_INVALID, VIR_FROM_QEMU,
                   "Requested operation is not valid: domain with a managed saved state can't be "
                   "renamed"), "rename() with a managed save image")
    finally:
        s.virsh("managedsave-remove", G)
    expect(G in s.ok("list", "--all", "--name").split(), "%s gone after the refused renames" % G)
    time.sleep(0.2)
    for n in (sub, PREFIX + "x", "a/b"):
        expect_eq(s.events.since(m, n), [], "events of %s" % n)


# ============================================================ main
def setup(s):
    if not s.no_kernel:
        # boots while the other checks run
        s.ok("define", s.xml_file(BB, boot=True))
        s.ok("start", BB)
    s.ok("define", s.xml_file(OFF))
    s.ok("define", s.xml_file(G))
    s.ok("start", G)


def main():
    runner = harness.Runner("test_qemu_misc")
    target = harness.make_target()
    runner.start(target)
    s = None

    def mk():
        nonlocal s
        s = S(target)
    if not runner.check("event client (LIFECYCLE + METADATA_CHANGE) and work dir", mk):
        runner.finish()
    if s.no_kernel:
        print("NOTE: kernel guest unavailable: %s" % s.no_kernel, flush=True)
    try:
        if runner.check("define + start the guests", setup, s):
            for title, fn in [
                    ("desc / desc --title: shut-off guest", t_desc_shutoff),
                    ("desc: running guest, --live / --config", t_desc_running),
                    ("metadata: set / get / replace / remove, events", t_metadata),
                    ("metadata: errors", t_metadata_errors),
                    ("setmem / setmaxmem: shut-off guest", t_mem_shutoff),
                    ("setmem / setmaxmem: running guest", t_mem_running),
                    ("setvcpus / vcpucount: shut-off guest", t_vcpus_shutoff),
                    ("setvcpus / vcpucount: running guest, 1 vCPU max", t_vcpus_running),
                    ("domjobinfo / jobInfo / jobStats without a job", t_jobinfo),
                    ("domcontrol / controlInfo", t_domcontrol),
                    ("domblkerror / diskErrors", t_domblkerror),
                    ("inject-nmi", t_inject_nmi),
                    ("inject-nmi: the busybox guest's kernel sees it", t_inject_nmi_guest),
                    ("blockresize: running guest", t_blockresize),
                    ("blockresize: errors", t_blockresize_errors),
                    ("domxml-to-native / domxml-from-native", t_xml_to_native),
                    ("domrename: shut-off guest, autostart link, snapshot", t_rename),
                    ("domrename: refused cases", t_rename_errors),
                    ("domrename: survives a daemon restart", t_rename_restart),
            ]:
                runner.check(title, fn, s)
    finally:
        s.shell.close()
        for n in ALL:
            s.virsh("destroy", n)
            s.virsh("undefine", n, "--managed-save", "--snapshots-metadata")
        s.events.close()
        left = ga.qemu_guests(PREFIX)
        try:
            ga.kill_guests(PREFIX)
        except Exception:
            pass
        shutil.rmtree(s.work, ignore_errors=True)
        if left:
            runner.fail("no QEMU left behind", "still running: %s" % left)
    runner.finish()


if __name__ == "__main__":
    main()
