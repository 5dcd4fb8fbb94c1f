#!/usr/bin/python3
"""Per-domain statistics on the busybox test guest (guest_assets), through
stock virsh 9.0 and python3-libvirt: what virt-manager, virt-top and the
libvirt exporters read.

* CONNECT_GET_ALL_DOMAIN_STATS (344; `virsh domstats`, getAllDomainStats,
  domainListGetStats): per stats group the exact typed-parameter names and
  types (decoded from the raw reply, python hides the types), for a shut-off
  and a running guest, values that are fixed (state, balloon, vcpu counts,
  capacity, the image's sizes when shut off) and counters that must move when
  the guest reads/writes its disk and sends on its NIC from its console shell;
  unknown group bits, unknown flags, list filters, stale domains;
* DOMAIN_BLOCK_STATS(_FLAGS) (64/243, `domblkstat [--human]`),
  DOMAIN_INTERFACE_STATS (65, `domifstat`), DOMAIN_MEMORY_STATS (159,
  `dommemstat`, with `--period` = SET_MEMORY_STATS_PERIOD 308),
  DOMAIN_GET_VCPUS (20) / GET_VCPU_PIN_INFO (230) (`vcpuinfo`),
  DOMAIN_GET_BLOCK_INFO (194, `domblkinfo`), DOMAIN_GET_CPU_STATS (262,
  `cpu-stats`): output shapes and the errors (shut-off guest, unknown disk or
  interface, unsupported flags), as the reference libvirtd 9.0 gives them.

The NIC is <interface type='ethernet'>: the daemon makes a tap (vnetN) that
is plugged nowhere; the guest's ARP/IPv6 packets still count on it (the
guest's tx is the tap's rx: libvirt swaps them).

Host-dependent things are not pinned down: the shut-off guest's cpu.* (libvirt
9.0 reports its OWN process times there: /proc/self/stat, as vm->pid is 0),
cpu-stats (needs a cpuacct cgroup; the reference here runs without cgroups and
refuses), vcpu wait/delay values, and rx counters of the tap."""
import os
import re
import shutil
import struct
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

PREFIX = "svstat%04x%02x-" % (os.getpid() & 0xffff, int(time.time()) & 0xff)
NAME = PREFIX + "g"        # the booted guest: qcow2 vda + ethernet NIC
FNAME = PREFIX + "f"       # defined only, never started (list filters)
MAC = "52:54:00:5a:7e:01"
MEM_KIB = 128 * 1024
DISK_SIZE = 64 << 20
BOOT_TIMEOUT = float(os.environ.get("SV_BOOT_TIMEOUT", "60"))
VIR_FROM_QEMU, VIR_FROM_DOMAIN = 10, 20
PROC_GET_ALL_DOMAIN_STATS, PROC_MEMORY_STATS = 344, 159
GROUPS = ["state", "cpu-total", "balloon", "vcpu", "interface", "block", "perf", "iothread",
          "memory", "dirtyrate", "vm"]
BIT = {g: 1 << i for i, g in enumerate(GROUPS)}
TYPE_NAMES = {1: "int", 2: "uint", 3: "llong", 4: "ullong", 5: "double", 6: "boolean", 7: "string"}
NOT_RUNNING = "Requested operation is not valid: domain is not running"
NO_CGROUP = "Requested operation is not valid: cgroup CPUACCT controller is not mounted"
ULL, INT, LL, STR, UINT = "ullong", "int", "llong", "string", "uint"

# (name, type) in libvirt's order, per group; {} = the group adds nothing
OFF = {
    "state": [("state.state", INT), ("state.reason", INT)],
    "balloon": [("balloon.current", ULL), ("balloon.maximum", ULL)],
    "vcpu": [("vcpu.current", UINT), ("vcpu.maximum", UINT)],
    "interface": [],
    "block": [("block.count", UINT), ("block.0.name", STR), ("block.0.path", STR),
              ("block.0.allocation", ULL), ("block.0.capacity", ULL), ("block.0.physical", ULL)],
    "perf": [], "iothread": [], "memory": [], "dirtyrate": [], "vm": [],
}
# cpu-total of a shut-off guest: nothing, or libvirt 9.0's quirk (its own times)
OFF_CPU = ([], [("cpu.time", ULL), ("cpu.user", ULL), ("cpu.system", ULL)])
_COUNTERS = [(k, ULL) for k in ("rd.reqs", "rd.bytes", "rd.times", "wr.reqs", "wr.bytes",
                              "wr.times", "fl.reqs", "fl.times")]
RUN = {
    "state": OFF["state"],
    "cpu-total": [("cpu.time", ULL), ("cpu.user", ULL), ("cpu.system", ULL),
                  ("cpu.cache.monitor.count", UINT), ("cpu.haltpoll.success.time", ULL),
                  ("cpu.haltpoll.fail.time", ULL)],
    "balloon": OFF["balloon"] + [("balloon.last-update", ULL), ("balloon.rss", ULL)],
    "vcpu": OFF["vcpu"] + [("vcpu.0.state", INT), ("vcpu.0.time", ULL), ("vcpu.0.wait", ULL),
                           ("vcpu.0.delay", ULL)],
    "interface": [("net.count", UINT), ("net.0.name", STR)]
    + [("net.0.%s.%s" % (d, k), ULL) for d in ("rx", "tx") for k in ("bytes", "pkts", "errs", "drop")],
    "block": [("block.count", UINT), ("block.0.name", STR), ("block.0.path", STR),
              ("block.0.backingIndex", UINT)]
    + [("block.0." + k, t) for k, t in _COUNTERS]
    + [("block.0.allocation", ULL), ("block.0.capacity", ULL), ("block.0.physical", ULL)],
    "perf": [], "iothread": [], "memory": [],
    "dirtyrate": [("dirtyrate.calc_status", INT), ("dirtyrate.calc_start_time", LL),
                  ("dirtyrate.calc_period", INT), ("dirtyrate.calc_mode", STR)],
    "vm": [],
}
BLKSTAT_LEGACY = ["rd_req", "rd_bytes", "wr_req", "wr_bytes", "flush_operations",
                  "rd_total_times", "wr_total_times", "flush_total_times"]
BLKSTAT_HUMAN = ["number of read operations:", "number of bytes read:",
                 "number of write operations:", "number of bytes written:",
                 "number of flush operations:", "total duration of reads (ns):",
                 "total duration of writes (ns):", "total duration of flushes (ns):"]
BLKSTAT_FLAGS = {"rd_bytes", "rd_operations", "rd_total_times", "wr_bytes", "wr_operations",
                 "wr_total_times", "flush_operations", "flush_total_times"}
IFSTAT = ["rx_bytes", "rx_packets", "rx_errs", "rx_drop", "tx_bytes", "tx_packets",
          "tx_errs", "tx_drop"]


def cpu_list(path):
    out = set()
    with open(path) as f:
        for part in f.read().strip().split(","):
            if part:
                a, _, b = part.partition("-")
                out.update(range(int(a), int(b or a) + 1))
    return out


PRESENT = max(cpu_list("/sys/devices/system/cpu/present")) + 1
ONLINE = cpu_list("/sys/devices/system/cpu/online")


def affinity(cpus):
    """virsh's `CPU Affinity:` column: y/- per present host CPU."""
    return "".join("y" if i in cpus else "-" for i in range(PRESENT))


# ------------------------------------------------------------ raw 344 reply
def _typed_params(r):
    out = []
    for _ in range(r.u32()):
        field, t = r.string(), r.i32()
        if t in (1, 6):
            v = r.i32()
        elif t == 2:
            v = r.u32()
        elif t == 3:
            v = struct.unpack(">q", r._take(8))[0]
        elif t == 4:
            v = r.u64()
        elif t == 5:
            v = struct.unpack(">d", r._take(8))[0]
        elif t == 7:
            v = r.string()
        else:
            raise AssertionError("typed param %s: unknown type %d" % (field, t))
        out.append((field, TYPE_NAMES[t], v))
    return out


class S:
    """target, python connection, raw client, work dir, the guest's shell."""

    def __init__(self, target):
        self.t = target
        self.work = tempfile.mkdtemp(prefix="svstat")
        os.chmod(self.work, 0o755)
        ga.start_event_loop()           # console streams need it before open
        self.conn = target.open()
        self.raw = None
        try:
            self.kernel, self.initrd = ga.kernel_and_initrd()
            self.no_kernel = None
        except Skip as e:
            self.kernel = self.initrd = None
            self.no_kernel = str(e)
        self.disk = os.path.join(self.work, NAME + ".qcow2")
        self.shell = su.GuestShell()
        self.tap = None

    def virsh(self, *args, ok=True):
        rc_, out, err = self.t.virsh(*args)
        if ok and rc_:
            raise AssertionError("virsh %s -> rc %d: %s" % (" ".join(args), rc_, err.strip()))
        return rc_, out, err

    def virsh_fail(self, *args):
        """(stdout, stderr lines) of a virsh command that must fail."""
        rc_, out, err = self.t.virsh(*args)
        if rc_ != 1:
            raise AssertionError("virsh %s should have failed: rc %d %r %r"
                                 % (" ".join(args), rc_, out, err))
        return out, [x for x in err.splitlines() if x.strip()]

    def dom(self, name=NAME):
        return self.conn.lookupByName(name)

    def rawc(self):
        if self.raw is None:
            if not self.t.sock:
                raise Skip("no socket path for raw calls on this target")
            self.raw = rc.RawClient(self.t.sock, timeout=30)
            self.raw.handshake()
        return self.raw

    def raw_stats(self, stats, doms=(), flags=0):
        """CONNECT_GET_ALL_DOMAIN_STATS -> [(name, [(field, type, value)])]."""
        payload = rc.xdr_u32(len(doms)) + b"".join(
            rc.xdr_nonnull_domain(d.name(), d.UUID(), d.ID()) for d in doms)
        body = self.rawc().call_ok(PROC_GET_ALL_DOMAIN_STATS,
                                   payload + rc.xdr_u32(stats) + rc.xdr_u32(flags))
        r = rc.Reader(body)
        recs = []
        for _ in range(r.u32()):
            name = r.string()
            r._take(16)
            r.i32()
            recs.append((name, _typed_params(r)))
        return recs

    def group(self, g, name=NAME):
        recs = [p for n, p in self.raw_stats(BIT[g], [self.dom(name)]) if n == name]
        expect_eq(len(recs), 1, "records for %s (%s)" % (name, g))
        return recs[0]

    def stats(self, name=NAME, stats=0):
        """python domainListGetStats -> {field: value} of one guest."""
        recs = self.conn.domainListGetStats([self.dom(name)], stats, 0)
        expect_eq([d.name() for d, _ in recs], [name], "records")
        return recs[0][1]

    def close(self):
        self.shell.close()
        if self.raw:
            self.raw.close()
        try:
            self.conn.close()
        except Exception:
            pass


def shape(params):
    return [(f, t) for f, t, _v in params]


def values(params):
    return {f: v for f, _t, v in params}


def py_err(fn, *args):
    return su.py_err(fn, *args)


def file_sizes(path):
    st = os.stat(path)
    return st.st_blocks * 512, st.st_size


def domstats_text(out):
    """`virsh domstats` stdout -> [(domain, [(field, value text)])]."""
    recs = []
    for block in out.strip("\n").split("\n\n"):
        lines = block.split("\n")
        if not lines or not lines[0]:
            continue
        m = re.fullmatch(r"Domain: '(.*)'", lines[0])
        expect(m, "domstats header %r" % lines[0])
        fields = []
        for line in lines[1:]:
            m2 = re.fullmatch(r"  ([^=]+)=(.*)", line)
            expect(m2, "domstats line %r" % line)
            fields.append((m2.group(1), m2.group(2)))
        recs.append((m.group(1), fields))
    return recs


# ============================================================ shut-off guest
def t_define(s):
    ga.make_qcow2(s.disk, str(DISK_SIZE))
    nic = ("    <interface type='ethernet'>\n      <mac address='%s'/>\n"
           "      <model type='virtio'/>\n    </interface>" % MAC)
    for name, xml in ((NAME, ga.domain_xml(NAME, kernel=s.kernel, initrd=s.initrd,
                                           disk=s.disk,
                                           extra_devices=nic)),
                      (FNAME, ga.domain_xml(FNAME, serial=False))):
        path = os.path.join(s.work, name + ".xml")
        with open(path, "w") as f:
            f.write(xml)
        s.virsh("define", path)


def t_off_groups(s):
    alloc, size = file_sizes(s.disk)
    want_vals = {"state.state": 5, "state.reason": 0, "balloon.current": MEM_KIB,
                 "balloon.maximum": MEM_KIB, "vcpu.current": 1, "vcpu.maximum": 1,
                 "block.count": 1, "block.0.name": "vda", "block.0.path": s.disk,
                 "block.0.allocation": alloc, "block.0.capacity": DISK_SIZE,
                 "block.0.physical": size}
    for g in GROUPS:
        got = s.group(g)
        if g == "cpu-total":
            expect(shape(got) in OFF_CPU, "cpu-total of a shut-off guest: %s" % shape(got))
            continue
        expect_eq(shape(got), OFF[g], "group %s (names, types, order)" % g)
        for f, v in values(got).items():
            expect_eq(v, want_vals[f], f)
    # all groups at once (stats=0) = the groups in libvirt's order
    allp = [p for n, p in s.raw_stats(0, [s.dom()]) if n == NAME]
    expect_eq(len(allp), 1, "records for stats=0")
    names = [f for f, _t in shape(allp[0]) if not f.startswith("cpu.")]
    expect_eq(names, [f for g in GROUPS for f, _t in OFF.get(g, [])], "stats=0 of a shut-off guest")
    # python, both entry points
    py = s.stats()
    expect_eq({k: v for k, v in py.items() if not k.startswith("cpu.")},
              {f: v for f, v in want_vals.items()}, "python domainListGetStats")
    recs = [(d.name(), p) for d, p in s.conn.getAllDomainStats(BIT["state"], 0)]
    expect((NAME, {"state.state": 5, "state.reason": 0}) in recs, "getAllDomainStats: %s" % recs)


def t_off_virsh_domstats(s):
    _rc, out, _err = s.virsh("domstats", "--state", NAME)
    expect_eq(out, "Domain: '%s'\n  state.state=5\n  state.reason=0\n\n" % NAME, "domstats --state")
    _rc, out, _err = s.virsh("domstats", "--block", "--balloon", "--vcpu", "--interface", NAME)
    alloc, size = file_sizes(s.disk)
    expect_eq(domstats_text(out), [(NAME, [
        ("balloon.current", str(MEM_KIB)), ("balloon.maximum", str(MEM_KIB)),
        ("vcpu.current", "1"), ("vcpu.maximum", "1"),
        ("block.count", "1"), ("block.0.name", "vda"), ("block.0.path", s.disk),
        ("block.0.allocation", str(alloc)), ("block.0.capacity", str(DISK_SIZE)),
        ("block.0.physical", str(size))])], "domstats --block --balloon --vcpu --interface")


def t_off_info(s):
    alloc, size = file_sizes(s.disk)
    _rc, out, _err = s.virsh("domblkinfo", NAME, "vda")
    expect_eq(out, "Capacity:       %d\nAllocation:     %d\nPhysical:       %d\n\n"
              % (DISK_SIZE, alloc, size), "domblkinfo (shut off)")
    expect_eq(s.dom().blockInfo("vda", 0), [DISK_SIZE, alloc, size], "blockInfo (shut off)")
    expect_eq(s.dom().blockInfo(s.disk, 0), [DISK_SIZE, alloc, size], "blockInfo by path")
    _rc, out, _err = s.virsh("vcpuinfo", NAME)
    expect_eq(out, "VCPU:           0\nCPU:            N/A\nState:          N/A\n"
              "CPU time        N/A\nCPU Affinity:   %s\n\n" % affinity(ONLINE), "vcpuinfo (shut off)")
    want = [tuple(i in ONLINE for i in range(PRESENT))]
    expect_eq(s.dom().vcpuPinInfo(0), want, "vcpuPinInfo(0) shut off")
    expect_eq(s.dom().vcpuPinInfo(libvirt.VIR_DOMAIN_AFFECT_CONFIG), want, "vcpuPinInfo(CONFIG)")


def t_off_refused(s):
    d = s.dom()
    nr = (55, VIR_FROM_DOMAIN, NOT_RUNNING)
    expect_eq(py_err(d.blockStats, "vda"), nr, "blockStats")
    expect_eq(py_err(d.blockStatsFlags, "vda", 0), nr, "blockStatsFlags")
    expect_eq(py_err(d.interfaceStats, MAC), nr, "interfaceStats")
    expect_eq(py_err(d.memoryStats), nr, "memoryStats")
    expect_eq(py_err(d.getCPUStats, True, 0), nr, "getCPUStats")
    expect_eq(py_err(d.vcpuPinInfo, libvirt.VIR_DOMAIN_AFFECT_LIVE), nr, "vcpuPinInfo(LIVE)")
    expect_eq(py_err(d.vcpus), (55, VIR_FROM_QEMU, "Requested operation is not valid: cannot "
                                "retrieve vcpu information for inactive domain"), "vcpus")
    err = "error: " + NOT_RUNNING
    expect_eq(s.virsh_fail("domblkstat", NAME, "vda")[1], [err], "domblkstat")
    expect_eq(s.virsh_fail("domifstat", NAME, MAC)[1],
              ["error: Failed to get interface stats %s %s" % (NAME, MAC), err], "domifstat")
    expect_eq(s.virsh_fail("dommemstat", NAME)[1],
              ["error: Failed to get memory statistics for domain %s" % NAME, err], "dommemstat")
    expect_eq(s.virsh_fail("cpu-stats", NAME)[1],
              ["error: Failed to retrieve CPU statistics for domain '%s'" % NAME, err], "cpu-stats")


def t_flags_filters(s):
    d, f = s.dom(), s.dom(FNAME)
    recs = s.conn.domainListGetStats([d], 0x1000, 0)
    expect_eq([(x.name(), p) for x, p in recs], [(NAME, {})], "an unknown group bit is dropped")
    expect_eq(py_err(s.conn.domainListGetStats, [d], 0x1000,
                     libvirt.VIR_CONNECT_GET_ALL_DOMAINS_STATS_ENFORCE_STATS),
              (74, VIR_FROM_QEMU, "argument unsupported: Stats types bits 0x1000 are not "
               "supported by this daemon or QEMU"), "--enforce with an unknown group bit")
    expect_eq(py_err(s.conn.getAllDomainStats, 1, 1 << 20),
              (8, VIR_FROM_QEMU, "unsupported flags (0x100000) in function "
               "qemuConnectGetAllDomainStats"), "unknown flag")
    # perf and memory (no perf events, no resctrl) add nothing, also enforced;
    # iothread, dirtyrate and vm depend on the capabilities of a running QEMU
    enforce = libvirt.VIR_CONNECT_GET_ALL_DOMAINS_STATS_ENFORCE_STATS
    recs = s.conn.domainListGetStats([d], BIT["perf"] | BIT["memory"], enforce)
    expect_eq([(x.name(), p) for x, p in recs], [(NAME, {})], "perf/memory --enforce")
    expect_eq(py_err(s.conn.domainListGetStats, [d], 0x7ff, enforce),
              (74, VIR_FROM_QEMU, "argument unsupported: Stats types bits 0x680 are not "
               "supported by this daemon or QEMU"), "--enforce iothread/dirtyrate/vm, shut off")
    ours = lambda flags: sorted(x.name() for x, _p in s.conn.getAllDomainStats(1, flags)
                                if x.name().startswith(PREFIX))
    expect_eq(ours(0), sorted([NAME, FNAME]), "getAllDomainStats: all")
    expect_eq(ours(libvirt.VIR_CONNECT_GET_ALL_DOMAINS_STATS_ACTIVE), [], "ACTIVE")
    expect_eq(ours(libvirt.VIR_CONNECT_GET_ALL_DOMAINS_STATS_SHUTOFF), sorted([NAME, FNAME]), "SHUTOFF")
    recs = s.conn.domainListGetStats([d, f], 1, libvirt.VIR_CONNECT_GET_ALL_DOMAINS_STATS_RUNNING)
    expect_eq(recs, [], "domainListGetStats filtered by RUNNING")
    _rc, out, _err = s.virsh("domstats", "--state", NAME, FNAME)
    expect_eq([n for n, _f in domstats_text(out)], [NAME, FNAME], "domstats with two domains")
    # a domain object of an undefined guest is skipped, not an error
    s.virsh("undefine", FNAME)
    recs = s.conn.domainListGetStats([d, f], 1, 0)
    expect_eq([x.name() for x, _p in recs], [NAME], "stale domain skipped")
    _out, err = s.virsh_fail("domstats", "--state", PREFIX + "nosuch")
    expect_eq(err[0], "error: failed to get domain '%snosuch'" % PREFIX, "domstats nosuch")


# ============================================================ running guest
def t_boot(s):
    if s.no_kernel:
        raise Skip("no bootable test guest: " + s.no_kernel)
    s.virsh("start", NAME)
    s.shell.open(s.conn, s.dom(), boot=True, timeout=BOOT_TIMEOUT)
    root = ET.fromstring(s.dom().XMLDesc(0))
    tgt = root.find("devices/interface/target")
    expect(tgt is not None and tgt.get("dev"), "live XML names no tap")
    s.tap = tgt.get("dev")


def t_run_groups(s):
    idx = root_index(s)
    for g in GROUPS:
        got = s.group(g)
        expect_eq(shape(got), RUN[g], "group %s (names, types, order)" % g)
    v = values(s.raw_stats(0, [s.dom()])[0][1])
    want = {"state.state": 1, "state.reason": 1, "balloon.current": MEM_KIB,
            "balloon.maximum": MEM_KIB, "balloon.last-update": 0, "vcpu.current": 1,
            "vcpu.maximum": 1, "vcpu.0.state": 1, "cpu.cache.monitor.count": 0,
            "cpu.haltpoll.success.time": 0, "cpu.haltpoll.fail.time": 0,
            "net.count": 1, "net.0.name": s.tap, "block.count": 1, "block.0.name": "vda",
            "block.0.path": s.disk, "block.0.backingIndex": idx,
            "block.0.capacity": DISK_SIZE, "dirtyrate.calc_status": 0,
            "dirtyrate.calc_start_time": 0, "dirtyrate.calc_period": 0,
            "dirtyrate.calc_mode": "page-sampling"}
    expect_eq({k: v.get(k) for k in want}, want, "fixed values")
    expect(v["cpu.time"] > 0 and v["cpu.time"] >= v["cpu.user"], "cpu.time %s" % v["cpu.time"])
    expect(v["vcpu.0.time"] > 0, "vcpu.0.time %s" % v["vcpu.0.time"])
    expect(0 < v["balloon.rss"] < 4 << 20, "balloon.rss %s KiB" % v["balloon.rss"])
    expect(v["block.0.rd.reqs"] > 0, "the guest probed its disk at boot: rd.reqs 0")
    # stats=0 = every group, in libvirt's order
    allp = [f for f, _t, _v in s.raw_stats(0, [s.dom()])[0][1]]
    expect_eq(allp, [f for g in GROUPS for f, _t in RUN[g]], "stats=0 of a running guest")
    # virsh prints the same fields, one per line
    _rc, out, _err = s.virsh("domstats", NAME)
    recs = domstats_text(out)
    expect_eq([(n, [f for f, _x in fs]) for n, fs in recs], [(NAME, allp)], "virsh domstats")
    expect_eq(dict(recs[0][1])["block.0.path"], s.disk, "virsh domstats block.0.path")
    py = s.stats()
    expect_eq(sorted(py), sorted(allp), "python domainListGetStats names")
    enforce = libvirt.VIR_CONNECT_GET_ALL_DOMAINS_STATS_ENFORCE_STATS
    recs = s.conn.domainListGetStats([s.dom()], 0x7ff, enforce)
    expect_eq(sorted(recs[0][1]), sorted(allp), "every known group, --enforce")
    expect_eq(py_err(s.conn.domainListGetStats, [s.dom()], 0x1000 | 1, enforce),
              (74, VIR_FROM_QEMU, "argument unsupported: Stats types bits 0x1000 are not "
               "supported by this daemon or QEMU"), "--enforce with an unknown bit, running")
    expect(isinstance(py["net.0.name"], str) and isinstance(py["state.state"], int), "python types")


def root_index(s):
    """block.0.backingIndex: libvirt's node index of vda's image, shown as
    <source index='N'/> in the live XML (1 for a lone disk without backing)."""
    src = ET.fromstring(s.dom().XMLDesc(0)).find("devices/disk/source")
    return int(src.get("index") or 1) if src is not None else 1


def t_growth(s):
    a = values(s.raw_stats(BIT["cpu-total"] | BIT["vcpu"] | BIT["interface"] | BIT["block"],
                           [s.dom()])[0][1])
    s.shell.run("dd if=/dev/vda of=/dev/null bs=64k count=16 skip=32 iflag=direct 2>/dev/null; "
                "dd if=/dev/zero of=/dev/vda bs=64k count=8 seek=200 oflag=direct conv=fsync "
                "2>/dev/null; sync", timeout=60)
    s.shell.run("ip link set eth0 up; ip addr add 192.0.2.2/24 dev eth0; "
                "ping -c 1 -W 1 192.0.2.1 >/dev/null 2>&1; true", timeout=60)
    b = values(s.raw_stats(BIT["cpu-total"] | BIT["vcpu"] | BIT["interface"] | BIT["block"],
                           [s.dom()])[0][1])
    delta = {k: b[k] - a[k] for k in a if isinstance(a[k], int) and k in b}
    for k, least in (("cpu.time", 1), ("vcpu.0.time", 1), ("block.0.rd.bytes", 1 << 20),
                     ("block.0.rd.reqs", 1), ("block.0.rd.times", 1), ("block.0.wr.bytes", 512 << 10),
                     ("block.0.wr.reqs", 1), ("block.0.wr.times", 1), ("block.0.fl.reqs", 1),
                     ("net.0.tx.pkts", 1), ("net.0.tx.bytes", 42)):
        expect(delta[k] >= least, "%s grew by %d (want >= %d): %s -> %s" % (k, delta[k], least,
                                                                           a[k], b[k]))
    alloc, size = file_sizes(s.disk)
    expect(0 < b["block.0.allocation"] <= size,
           "block.0.allocation (highest written offset) %d, file size %d" % (b["block.0.allocation"], size))
    expect_eq(b["block.0.physical"], alloc, "block.0.physical (actual-size = st_blocks*512)")
    expect_eq(b["block.0.capacity"], DISK_SIZE, "block.0.capacity")


def parse_lines(out, prefix):
    """'<prefix> name value' lines (plus virsh's final empty line) -> [(name, int)]."""
    expect(out.endswith("\n\n"), "no trailing empty line: %r" % out)
    res = []
    for line in out[:-2].split("\n"):
        m = re.fullmatch(re.escape(prefix) + r" (\S+) (-?\d+)", line)
        expect(m, "line %r" % line)
        res.append((m.group(1), int(m.group(2))))
    return res


def t_domblkstat(s):
    d = s.dom()
    st = d.blockStats("vda")
    expect(len(st) == 5 and st[4] == -1 and st[0] > 0 and st[2] > 0, "blockStats %s" % (st,))
    expect_eq(d.blockStats(""), st, "blockStats('') (all disks) == vda")
    fl = d.blockStatsFlags("vda", 0)
    expect_eq(set(fl), BLKSTAT_FLAGS, "blockStatsFlags names")
    expect((fl["rd_operations"], fl["rd_bytes"], fl["wr_operations"], fl["wr_bytes"]) == st[:4],
           "blockStatsFlags %s vs blockStats %s" % (fl, st))
    _rc, out, _err = s.virsh("domblkstat", NAME, "vda")
    got = parse_lines(out, "vda")
    expect_eq([n for n, _v in got], BLKSTAT_LEGACY, "domblkstat fields")
    expect_eq(got[:4], list(zip(BLKSTAT_LEGACY[:4], st[:4])), "domblkstat values")
    _rc, out, _err = s.virsh("domblkstat", NAME)
    expect_eq([n for n, _v in parse_lines(out, "")], BLKSTAT_LEGACY, "domblkstat (all disks)")
    _rc, out, _err = s.virsh("domblkstat", NAME, "vda", "--human")
    lines = out.split("\n")
    expect_eq(lines[0], "Device: vda", "--human header")
    for line, label in zip(lines[1:9], BLKSTAT_HUMAN):
        expect(re.fullmatch(" %s \\d+" % re.escape("%-31s" % label), line), "--human line %r" % line)
    expect_eq(lines[9:], ["", ""], "--human tail")


def t_domifstat(s):
    d = s.dom()
    st = d.interfaceStats(s.tap)
    expect(len(st) == 8 and st[5] > 0 and st[4] > 0, "interfaceStats %s (guest sent packets)" % (st,))
    by_mac = d.interfaceStats(MAC)
    expect(len(by_mac) == 8 and by_mac[5] >= st[5], "interfaceStats by MAC %s" % (by_mac,))
    for dev in (s.tap, MAC):
        _rc, out, _err = s.virsh("domifstat", NAME, dev)
        got = parse_lines(out, dev)
        expect_eq([n for n, _v in got], IFSTAT, "domifstat %s fields" % dev)
        expect(dict(got)["tx_packets"] >= st[5], "domifstat tx_packets %s" % got)


def t_dommemstat(s):
    d = s.dom()
    pids = ga.qemu_pids(NAME)
    expect_eq(len(pids), 1, "QEMU processes of the guest")
    m = d.memoryStats()
    expect_eq(sorted(m), ["actual", "last_update", "rss"], "memoryStats tags (no balloon driver)")
    expect_eq((m["actual"], m["last_update"]), (MEM_KIB, 0), "actual, last_update")
    with open("/proc/%d/status" % pids[0]) as f:
        vmrss = int(re.search(r"VmRSS:\s+(\d+)", f.read()).group(1))
    expect(vmrss // 2 < m["rss"] < vmrss * 2, "rss %d KiB, QEMU's VmRSS %d KiB" % (m["rss"], vmrss))
    _rc, out, _err = s.virsh("dommemstat", NAME)
    got = re.fullmatch(r"actual (\d+)\nlast_update (\d+)\nrss (\d+)\n\n", out)
    expect(got and got.group(1) == str(MEM_KIB) and got.group(2) == "0", "dommemstat %r" % out)
    # raw: maxStats cuts the list, flags are refused
    dom = rc.xdr_nonnull_domain(NAME, d.UUID(), d.ID())
    body = s.rawc().call_ok(PROC_MEMORY_STATS, dom + rc.xdr_u32(1) + rc.xdr_u32(0))
    r = rc.Reader(body)
    expect_eq((r.u32(), r.i32(), r.u64()), (1, 6, MEM_KIB), "MEMORY_STATS maxStats=1 -> actual only")
    e = s.rawc().call_error(PROC_MEMORY_STATS, dom + rc.xdr_u32(13) + rc.xdr_u32(1))
    expect(e is not None, "MEMORY_STATS flags=1 accepted")
    expect_eq((e.code, e.domain, e.message), (8, VIR_FROM_QEMU, "unsupported flags (0x1) in "
                                              "function qemuDomainMemoryStats"), "MEMORY_STATS flags")
    # --period: the live balloon polls, the persistent definition is untouched
    _rc, out, _err = s.virsh("dommemstat", NAME, "--period", "2")
    expect_eq(out, "\n", "dommemstat --period stdout")
    period = lambda flags: [x.get("period") for x in
                            ET.fromstring(d.XMLDesc(flags)).findall("devices/memballoon/stats")]
    expect_eq(period(0), ["2"], "live <memballoon><stats period>")
    expect_eq(period(libvirt.VIR_DOMAIN_XML_INACTIVE), [], "persistent <memballoon><stats>")
    expect_eq(sorted(d.memoryStats()), ["actual", "last_update", "rss"], "memoryStats after --period")
    _out, err = s.virsh_fail("dommemstat", NAME, "--period", "-1")
    expect_eq(err, ["error: Invalid collection period value '-1'"], "--period -1")


def t_vcpuinfo(s):
    d = s.dom()
    info, maps = d.vcpus()
    expect(len(info) == 1 and info[0][0] == 0 and info[0][1] == 1 and info[0][2] > 0
           and 0 <= info[0][3] < PRESENT, "vcpus() info %s" % (info,))
    mine = os.sched_getaffinity(0)
    expect_eq(maps, [tuple(i in mine for i in range(PRESENT))], "vcpus() cpumap")
    expect_eq(d.vcpuPinInfo(libvirt.VIR_DOMAIN_AFFECT_LIVE), [tuple(i in ONLINE for i in range(PRESENT))],
              "vcpuPinInfo(LIVE)")
    _rc, out, _err = s.virsh("vcpuinfo", NAME)
    expect(re.fullmatch(r"VCPU:           0\nCPU:            \d+\nState:          running\n"
                        r"CPU time:       \d+\.\ds\nCPU Affinity:   %s\n\n" % affinity(mine), out),
           "vcpuinfo %r" % out)
    _rc, out, _err = s.virsh("vcpuinfo", NAME, "--pretty")
    expect(out.endswith("CPU Affinity:   %s (out of %d)\n\n"
                        % (cpuset_text(mine), PRESENT)), "vcpuinfo --pretty %r" % out)


def cpuset_text(cpus):
    """virBitmapFormat: 0-1,3."""
    out, c = [], sorted(cpus)
    i = 0
    while i < len(c):
        j = i
        while j + 1 < len(c) and c[j + 1] == c[j] + 1:
            j += 1
        out.append(str(c[i]) if i == j else "%d-%d" % (c[i], c[j]))
        i = j + 1
    return ",".join(out)


def t_domblkinfo(s):
    alloc, size = file_sizes(s.disk)
    _rc, out, _err = s.virsh("domblkinfo", NAME, "vda")
    # running qcow2: allocation = QEMU's actual-size, physical = the file's size
    expect_eq(out, "Capacity:       %d\nAllocation:     %d\nPhysical:       %d\n\n"
              % (DISK_SIZE, alloc, size), "domblkinfo")
    expect_eq(s.dom().blockInfo("vda", 0), [DISK_SIZE, alloc, size], "blockInfo")
    _rc, out, _err = s.virsh("domblkinfo", NAME, "vda", "--human")
    expect(re.fullmatch(r"Capacity:       64\.000 MiB\nAllocation:     \d+\.\d{3} [KMG]iB\n"
                        r"Physical:       \d+\.\d{3} [KMG]iB\n\n", out), "domblkinfo --human %r" % out)
    _rc, out, _err = s.virsh("domblkinfo", NAME, "--all")
    expect_eq(out.split("\n")[0].split(), ["Target", "Capacity", "Allocation", "Physical"], "--all header")
    expect_eq(out.split("\n")[2].split(), ["vda", str(DISK_SIZE), str(alloc), str(size)], "--all row")


def t_cpu_stats(s):
    """the reference here has no cgroups: libvirt refuses; with a cpuacct
    cgroup it prints `Total:` and cpu_time/user_time/system_time."""
    d = s.dom()
    e = py_err(d.getCPUStats, True, 0)
    rc_, out, err = s.t.virsh("cpu-stats", NAME, "--total")
    if e is not None:
        expect_eq(e, (55, VIR_FROM_QEMU, NO_CGROUP), "getCPUStats(total)")
        expect_eq((rc_, [x for x in err.splitlines() if x]),
                  (1, ["error: Failed to retrieve CPU statistics for domain '%s'" % NAME,
                       "error: " + NO_CGROUP]), "cpu-stats --total")
    else:
        tot = d.getCPUStats(True, 0)
        expect(len(tot) == 1 and set(tot[0]) == {"cpu_time", "user_time", "system_time"}
               and tot[0]["cpu_time"] > 0, "getCPUStats(total) %s" % tot)
        expect(rc_ == 0 and re.fullmatch(r"Total:\n(\t(cpu|user|system)_time +\d+\.\d{9} seconds\n){3}\n",
                                         out), "cpu-stats --total %r %r" % (out, err))
    expect_eq(py_err(d.getCPUStats, True, 0x80),
              (8, VIR_FROM_QEMU, "unsupported flags (0x80) in function qemuDomainGetCPUStats"),
              "getCPUStats flags")


def t_errors(s):
    d = s.dom()
    expect_eq(py_err(d.blockStats, "vdz"), (8, VIR_FROM_QEMU, "invalid argument: invalid path: vdz"),
              "blockStats(vdz)")
    expect_eq(py_err(d.blockStatsFlags, "vdz", 0),
              (8, VIR_FROM_QEMU, "invalid argument: invalid path: vdz"), "blockStatsFlags(vdz)")
    expect_eq(py_err(d.blockStatsFlags, "vda", 0x80),
              (8, VIR_FROM_QEMU, "unsupported flags (0x80) in function qemuDomainBlockStatsFlags"),
              "blockStatsFlags flags")
    expect_eq(s.virsh_fail("domblkstat", NAME, "vdz")[1], ["error: invalid argument: invalid path: vdz"],
              "domblkstat vdz")
    msg = "invalid argument: 'nosuch0' is not a known interface"
    expect_eq(py_err(d.interfaceStats, "nosuch0"), (8, VIR_FROM_DOMAIN, msg), "interfaceStats(nosuch0)")
    expect_eq(s.virsh_fail("domifstat", NAME, "nosuch0")[1],
              ["error: Failed to get interface stats %s nosuch0" % NAME, "error: " + msg], "domifstat")
    msg = "invalid argument: invalid path vdz not assigned to domain"
    expect_eq(py_err(d.blockInfo, "vdz", 0), (8, VIR_FROM_QEMU, msg), "blockInfo(vdz)")
    expect_eq(s.virsh_fail("domblkinfo", NAME, "vdz")[1], ["error: " + msg], "domblkinfo vdz")
    expect_eq(py_err(d.blockInfo, "vda", 1),
              (8, VIR_FROM_QEMU, "unsupported flags (0x1) in function qemuDomainGetBlockInfo"),
              "blockInfo flags")
    expect_eq(py_err(d.vcpuPinInfo, 0x80),
              (8, VIR_FROM_QEMU, "unsupported flags (0x80) in function qemuDomainGetVcpuPinInfo"),
              "vcpuPinInfo flags")
    expect_eq(py_err(d.vcpuPinInfo, libvirt.VIR_DOMAIN_AFFECT_LIVE | libvirt.VIR_DOMAIN_AFFECT_CONFIG),
              (8, VIR_FROM_DOMAIN, "Flags 'VIR_DOMAIN_AFFECT_LIVE' and 'VIR_DOMAIN_AFFECT_CONFIG' "
               "are mutually exclusive"), "vcpuPinInfo(LIVE|CONFIG)")


def t_paused(s):
    s.virsh("suspend", NAME)
    try:
        v = s.stats(stats=BIT["state"] | BIT["block"] | BIT["vcpu"])
        expect_eq((v["state.state"], v["state.reason"]), (3, 1), "paused state/reason")
        expect("block.0.rd.reqs" in v and "vcpu.0.time" in v, "paused guest stats %s" % sorted(v))
        expect_eq(len(s.dom().blockStats("vda")), 5, "blockStats while paused")
    finally:
        s.virsh("resume", NAME)
    v = s.stats(stats=BIT["state"])
    expect_eq(v, {"state.state": 1, "state.reason": 5}, "resumed (unpaused)")


def t_destroyed(s):
    s.shell.close()
    s.virsh("destroy", NAME)
    v = s.stats()
    expect_eq((v["state.state"], v["state.reason"]), (5, 2), "destroyed state/reason")
    expect(not any(k.startswith(("net.", "vcpu.0.", "dirtyrate.", "balloon.rss")) for k in v),
           "live-only stats after destroy: %s" % sorted(v))
    alloc, size = file_sizes(s.disk)
    expect_eq((v["block.0.allocation"], v["block.0.physical"]), (alloc, size), "block sizes from the file")


def main():
    runner = harness.Runner("test_qemu_stats")
    target = harness.make_target()
    runner.start(target)
    s = None

    def mk():
        nonlocal s
        s = S(target)
    if not runner.check("python connection + work dir", mk):
        runner.finish()
    try:
        if runner.check("define a guest (qcow2 vda, ethernet NIC) and a second one", t_define, s):
            for title, fn in [
                    ("shut off: every group's names/types/values (raw 344), stats=0, python", t_off_groups),
                    ("shut off: virsh domstats output", t_off_virsh_domstats),
                    ("shut off: domblkinfo from the image, vcpuinfo N/A, vcpuPinInfo", t_off_info),
                    ("shut off: block/interface/memory/cpu stats and vcpus refused", t_off_refused),
                    ("unknown group bits (--enforce), unknown flags, list filters, stale domains",
                     t_flags_filters),
            ]:
                runner.check(title, fn, s)
            for title, fn in [
                    ("boot the guest to its shell", t_boot),
                    ("running: every group's names/types/values, stats=0, virsh domstats", t_run_groups),
                    ("guest reads/writes vda and sends on eth0: counters and times grow", t_growth),
                    ("domblkstat (plain, all disks, --human), blockStats(Flags)", t_domblkstat),
                    ("domifstat by tap and MAC, interfaceStats", t_domifstat),
                    ("dommemstat / memoryStats, MEMORY_STATS maxStats/flags, --period", t_dommemstat),
                    ("vcpuinfo (--pretty), vcpus(), vcpuPinInfo", t_vcpuinfo),
                    ("domblkinfo (plain, --human, --all), blockInfo", t_domblkinfo),
                    ("cpu-stats / getCPUStats", t_cpu_stats),
                    ("unknown disk/interface, unsupported flags", t_errors),
                    ("paused guest: state 3/1, stats still there; resume: 1/5", t_paused),
                    ("destroyed guest: state 5/2, offline stats again", t_destroyed),
            ]:
                if not runner.check(title, fn, s):
                    if fn in (t_boot,):
                        print("  (skipping the running guest's checks)", flush=True)
                        break
    finally:
        s.shell.close()
        for n in (NAME, FNAME):
            target.virsh("destroy", n)
            target.virsh("undefine", n)
        s.close()
        try:
            ga.kill_guests(PREFIX)
        except Exception:
            pass
        shutil.rmtree(s.work, ignore_errors=True)
    runner.finish()


if __name__ == "__main__":
    main()
