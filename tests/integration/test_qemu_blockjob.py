#!/usr/bin/python3
"""Block jobs on running guests through stock virsh 9.0 and python3-libvirt:
blockcommit (non-active --top/--base --wait; active --pivot --wait), blockpull
(--base, --wait), blockjob --info/--abort/--pivot/--bandwidth, the BLOCK_JOB
(id 2) and BLOCK_JOB_2 (id 16) events, and the error cases.

Guests (no OS: SeaBIOS idles; all named PREFIX*, SIGKILLed at exit) with a
qcow2 chain base <- mid <- top made by qemu-img before `define` (source = top,
no <backingStore> in the XML: the daemon detects the chain).  Data patterns
(snapshot_util slots) are written with qemu-io into every layer before start;
after every job the active image is read through its chain with
`qemu-io -r -U` and must show every pattern (mid overrides base in slot 4).

Behaviour taken from the reference libvirtd 9.0 (SV_TARGET=ref):
  events      BLOCK_JOB carries the disk's *current source path* (top while the
              job runs; after a pivot the new source, e.g. base), BLOCK_JOB_2 the
              target 'vda'; type 1 PULL, 3 COMMIT, 4 ACTIVE_COMMIT; status 0
              COMPLETED, 2 CANCELED, 3 READY.  Non-active commit and pull: one
              COMPLETED.  Active commit: READY, then COMPLETED after a pivot
              (path = new source) or CANCELED after an abort.
  commit      mid into base: live chain top -> base (mid file left on disk).
  pivot       live and persistent <source> become base, live <backingStore/>
              empty; top and mid files stay.
  pull        --base base: chain top -> base; full pull: top alone.
  data        read with qemu-io after `virsh destroy` (QEMU flushes on SIGTERM);
              qemu-io -U on the running guest missed a pull's writes.
  info        no job: GET_BLOCK_JOB_INFO returns 0 (python {}), virsh prints
              "No current block job for vda"; bandwidth in MiB/s unless flag
              BANDWIDTH_BYTES (1).
Errors: see ERR_* below.

virsh --wait relies on the events (polling GET_BLOCK_JOB_INFO every 0.5 s
meanwhile): every virsh call has a timeout so a daemon that never sends the
event fails the check instead of hanging.
"""
import os
import re
import shutil
import subprocess
import sys
import tempfile
import threading
import time
import xml.etree.ElementTree as ET

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import guest_assets as ga  # noqa: E402
import harness  # noqa: E402
import snapshot_util as su  # noqa: E402
from harness import Skip, expect, expect_eq  # noqa: E402

import libvirt  # noqa: E402

libvirt.registerErrorHandler(lambda _ctx, _err: None, None)

PREFIX = "svbj%04x%02x-" % (os.getpid() & 0xffff, int(time.time()) & 0xff)
VIRSH_TIMEOUT = 20
EVENT_TIMEOUT = 10.0

PULL, COMMIT, ACTIVE_COMMIT = 1, 3, 4
COMPLETED, CANCELED, READY = 0, 2, 3
ABORT_PIVOT, INFO_BYTES = 2, 1
COMMIT_ACTIVE = 4

ERR_NO_DISK = (8, 10, "invalid argument: disk 'vdz' not found in domain")
ERR_NO_JOB = (8, 10, "invalid argument: disk vda does not have an active block job")
ERR_BUSY = (84, 10, "Operation not supported: disk 'vda' already in active block job")
ERR_NEED_ACTIVE = (8, 10, "invalid argument: commit of 'vda' active layer requires active flag")
ERR_NO_BASE = (8, 18, "invalid argument: could not find base image in chain for 'vda'")
ERR_NOT_RUNNING = (55, 20, "Requested operation is not valid: domain is not running")
# job names differ between daemons ('pull-vda-libvirt-1-format' on 9.0)
NOT_READY_RE = r"block copy still active: block job '[^']+' not ready for pivot yet"
ERR_NOT_READY_CODE = (83, 10)

# slot -> byte per layer; the expected view through the chain
LAYERS = {"base": {1: 0x11, 4: 0x44}, "mid": {2: 0x22, 4: 0x45}, "top": {3: 0x33, 5: 0x55}}
VIEW = {1: 0x11, 2: 0x22, 3: 0x33, 4: 0x45, 5: 0x55}
# bulk data that makes a 1 MiB/s job last long enough to poke at: in base for
# a pull, in top for an active commit (disjoint ranges: allocated clusters in
# top are not pulled)
BULK = {"base": "write -P 0x66 8M 24M", "top": "write -P 0x67 32M 24M"}


def unsupported(flags, fn):
    return (8, 10, "unsupported flags (0x%x) in function %s" % (flags, fn))


def py_err(fn, *args):
    try:
        fn(*args)
    except libvirt.libvirtError as e:
        return (e.get_error_code(), e.get_error_domain(), e.get_error_message())
    return None


class S:
    def __init__(self, target):
        self.t = target
        self.work = tempfile.mkdtemp(prefix="svbj")
        os.chmod(self.work, 0o755)
        ga.start_event_loop()
        self.conn = target.open()
        self.ev = []            # (domain, 'bj' | 'bj2', path-or-dst, type, status)
        self.cond = threading.Condition()

        def add(kind, dom, path, typ, status):
            with self.cond:
                self.ev.append((dom.name(), kind, path, typ, status))
                self.cond.notify_all()
        self.conn.domainEventRegisterAny(
            None, libvirt.VIR_DOMAIN_EVENT_ID_BLOCK_JOB,
            lambda _c, d, p, ty, st, _o: add("bj", d, p, ty, st), None)
        self.conn.domainEventRegisterAny(
            None, libvirt.VIR_DOMAIN_EVENT_ID_BLOCK_JOB_2,
            lambda _c, d, p, ty, st, _o: add("bj2", d, p, ty, st), None)
        self.guests = []

    def close(self):
        try:
            self.conn.close()
        except Exception:
            pass

    def virsh(self, *args, ok=True):
        try:
            rc, out, err = self.t.virsh(*args, timeout=VIRSH_TIMEOUT)
        except subprocess.TimeoutExpired:
            raise AssertionError("virsh %s hung (> %ds)" % (" ".join(args), VIRSH_TIMEOUT))
        if ok and rc:
            raise AssertionError("virsh %s -> rc %d: %s" % (" ".join(args), rc, err.strip()))
        return rc, out, err

    def virsh_err(self, *args):
        rc, out, err = self.virsh(*args, ok=False)
        expect(rc == 1, "virsh %s should fail: rc %d %r" % (" ".join(args), rc, out))
        return err.strip()

    def mark(self):
        with self.cond:
            return len(self.ev)

    def events(self, mark, name, want_bj, want_bj2):
        """Wait until the BLOCK_JOB / BLOCK_JOB_2 events of name since mark
        are want_bj / want_bj2 (lists of (path, type, status)), then assert."""
        def split():
            got = [e for e in self.ev[mark:] if e[0] == name]
            return ([e[2:] for e in got if e[1] == "bj"], [e[2:] for e in got if e[1] == "bj2"])
        deadline = time.monotonic() + EVENT_TIMEOUT
        with self.cond:
            while True:
                bj, bj2 = split()
                if (len(bj) >= len(want_bj) and len(bj2) >= len(want_bj2)) \
                        or time.monotonic() > deadline:
                    break
                self.cond.wait(0.1)
        time.sleep(0.1)        # a straggler must match, too
        with self.cond:
            bj, bj2 = split()
        expect_eq(bj, want_bj, "BLOCK_JOB events")
        expect_eq(bj2, want_bj2, "BLOCK_JOB_2 events")


class Guest:
    """Running no-OS guest on a base <- mid <- top chain with patterns."""

    def __init__(self, s, tag, bulk_in=()):
        self.s = s
        self.name = PREFIX + tag
        self.f = {}
        prev = None
        for layer in ("base", "mid", "top"):
            path = os.path.join(s.work, "%s-%s.qcow2" % (tag, layer))
            cmd = ["qemu-img", "create", "-q", "-f", "qcow2"]
            if prev:
                cmd += ["-F", "qcow2", "-b", prev]
            p = su.run(cmd + [path, "64M"])
            expect(p.returncode == 0, "qemu-img create: %s" % p.stderr)
            for slot, byte in LAYERS[layer].items():
                su.qemu_io_write(path, slot, byte)
            if layer in bulk_in:
                p = su.run(["qemu-io", "-f", "qcow2", "-c", BULK[layer], path])
                expect(p.returncode == 0, "bulk write: %s" % p.stderr)
            self.f[layer] = prev = path
        xml = os.path.join(s.work, self.name + ".xml")
        with open(xml, "w") as fh:
            fh.write(ga.domain_xml(self.name, disk=self.f["top"], serial=False))
        s.guests.append(self.name)
        s.virsh("define", xml)
        s.virsh("start", self.name)
        self.dom = s.conn.lookupByName(self.name)

    def chain_xml(self, inactive=False):
        """[source file, its backingStore source, ...] from the domain XML."""
        x = ET.fromstring(self.dom.XMLDesc(libvirt.VIR_DOMAIN_XML_INACTIVE if inactive else 0))
        d = x.find("devices/disk[@device='disk']")
        out = [d.find("source").get("file")]
        b = d.find("backingStore")
        while b is not None and b.find("source") is not None:
            out.append(b.find("source").get("file"))
            b = b.find("backingStore")
        return out

    def mirror(self):
        x = ET.fromstring(self.dom.XMLDesc(0))
        m = x.find("devices/disk[@device='disk']/mirror")
        return None if m is None else m.get("job")

    def files(self, *layers):
        return [self.f[x] for x in layers]

    def check_data(self, checks, restart=True):
        """checks: [(image, {slot: byte})].  QEMU keeps qcow2 metadata
        written by a job in its cache, so `qemu-io -U` on a running guest's
        images can miss it: destroy (SIGTERM: QEMU flushes), read, restart."""
        self.s.virsh("destroy", self.name)
        for image, expected in checks:
            bad = su.qemu_io_check(image, expected)
            expect(not bad, "data through %s: %s" % (os.path.basename(image),
                                                     su.describe_mismatch(bad)))
        if restart:
            self.s.virsh("start", self.name)

    def domblklist(self):
        _rc, out, _err = self.s.virsh("domblklist", self.name)
        return [ln.split() for ln in out.splitlines()[2:] if ln.strip()]


# ------------------------------------------------------------------ checks
def t_initial(s, g):
    expect_eq(g.chain_xml(), g.files("top", "mid", "base"), "live chain detected from the images")
    expect_eq(g.chain_xml(inactive=True), g.files("top"), "persistent source")
    expect_eq(g.domblklist(), [["vda", g.f["top"]]], "domblklist")


def t_info_no_job(s, g):
    expect_eq(g.dom.blockJobInfo("vda", 0), {}, "blockJobInfo without a job")
    expect_eq(g.dom.blockJobInfo("vda", INFO_BYTES), {}, "blockJobInfo(BYTES) without a job")
    _rc, out, _err = s.virsh("blockjob", g.name, "vda", "--info")
    expect_eq(out, "No current block job for vda\n", "blockjob --info stdout")
    _rc, out, _err = s.virsh("blockjob", g.name, g.f["top"], "--info")
    expect_eq(out, "No current block job for %s\n" % g.f["top"], "blockjob PATH --info stdout")


def t_commit_mid(s, g):
    m = s.mark()
    _rc, out, err = s.virsh("blockcommit", g.name, "vda", "--top", g.f["mid"],
                            "--base", g.f["base"], "--wait", "--verbose")
    expect_eq(out, "\nCommit complete\n", "stdout")
    expect(err.endswith("Block commit: [100 %]"), "stderr progress: %r" % err)
    s.events(m, g.name, [(g.f["top"], COMMIT, COMPLETED)], [("vda", COMMIT, COMPLETED)])
    expect_eq(g.dom.blockJobInfo("vda", 0), {}, "blockJobInfo after the job")
    expect_eq(g.chain_xml(), g.files("top", "base"), "live chain")
    expect_eq(su.chain_files(g.f["top"]), g.files("top", "base"), "qemu-img backing chain")
    expect(os.path.exists(g.f["mid"]), "mid file is left in place")
    # base now holds mid's data (its own slot 4 overwritten by mid's)
    g.check_data([(g.f["top"], VIEW), (g.f["base"], {1: 0x11, 2: 0x22, 4: 0x45})])
    expect_eq(g.chain_xml(), g.files("top", "base"), "live chain after a restart")


def t_active_pivot(s, g):
    m = s.mark()
    _rc, out, err = s.virsh("blockcommit", g.name, "vda", "--active", "--pivot", "--wait",
                            "--verbose")
    expect_eq(out, "\nSuccessfully pivoted\n", "stdout")
    expect(err.endswith("Block commit: [100 %]"), "stderr progress: %r" % err)
    s.events(m, g.name,
             [(g.f["top"], ACTIVE_COMMIT, READY), (g.f["base"], ACTIVE_COMMIT, COMPLETED)],
             [("vda", ACTIVE_COMMIT, READY), ("vda", ACTIVE_COMMIT, COMPLETED)])
    expect_eq(g.dom.blockJobInfo("vda", 0), {}, "blockJobInfo after the pivot")
    expect_eq(g.chain_xml(), g.files("base"), "live chain after the pivot")
    expect_eq(g.chain_xml(inactive=True), g.files("base"), "persistent source after the pivot")
    expect_eq(g.domblklist(), [["vda", g.f["base"]]], "domblklist")
    expect_eq(g.mirror(), None, "no <mirror> left")
    expect_eq(su.chain_files(g.f["base"]), g.files("base"), "qemu-img chain of base")
    for f in ("top", "mid"):
        expect(os.path.exists(g.f[f]), "%s file is left in place" % f)
    g.check_data([(g.f["base"], VIEW)])
    expect_eq(g.chain_xml(), g.files("base"), "live chain after a restart")


def t_no_backing(s, g):
    """g runs on base alone now."""
    expect_eq(py_err(g.dom.blockCommit, "vda", None, None, 0, COMMIT_ACTIVE), ERR_NO_BASE,
              "active commit without backing")
    expect_eq(py_err(g.dom.blockCommit, "vda", None, None, 0, 0), ERR_NO_BASE,
              "commit without backing")
    err = s.virsh_err("blockcommit", g.name, "vda", "--active", "--pivot")
    expect_eq(err, "error: " + ERR_NO_BASE[2], "virsh stderr")


def t_pull(s, g):
    m = s.mark()
    _rc, out, _err = s.virsh("blockpull", g.name, "vda", "--base", g.f["base"], "--wait")
    expect_eq(out, "\nPull complete\n", "--base stdout")
    s.events(m, g.name, [(g.f["top"], PULL, COMPLETED)], [("vda", PULL, COMPLETED)])
    expect_eq(g.chain_xml(), g.files("top", "base"), "live chain after pull --base")
    expect_eq(su.chain_files(g.f["top"]), g.files("top", "base"), "qemu-img chain after --base")
    g.check_data([(g.f["top"], VIEW)])
    m = s.mark()
    _rc, out, err = s.virsh("blockpull", g.name, "vda", "--wait", "--verbose")
    expect_eq(out, "\nPull complete\n", "stdout")
    expect(err.endswith("Block Pull: [100 %]"), "stderr progress: %r" % err)
    s.events(m, g.name, [(g.f["top"], PULL, COMPLETED)], [("vda", PULL, COMPLETED)])
    expect_eq(g.dom.blockJobInfo("vda", 0), {}, "blockJobInfo after the job")
    expect_eq(g.chain_xml(), g.files("top"), "live chain after the full pull")
    expect_eq(su.chain_files(g.f["top"]), g.files("top"), "qemu-img chain after the full pull")
    expect_eq(g.chain_xml(inactive=True), g.files("top"), "persistent source unchanged")
    g.check_data([(g.f["top"], VIEW)], restart=False)
    expect_eq(su.chain_files(g.f["top"]), g.files("top"), "qemu-img chain after the guest stops")


def t_slow_pull(s, g):
    """A 1 MiB/s pull: info, a second job, pivot, speed, abort."""
    m = s.mark()
    _rc, out, _err = s.virsh("blockpull", g.name, "vda", "--bandwidth", "1")
    expect_eq(out, "Block Pull started\n", "stdout")
    try:
        i = g.dom.blockJobInfo("vda", 0)
        expect_eq((i.get("type"), i.get("bandwidth")), (PULL, 1), "info type/bandwidth (MiB/s)")
        expect(0 <= i["cur"] < i["end"], "cur < end while running: %r" % i)
        i = g.dom.blockJobInfo("vda", INFO_BYTES)
        expect_eq(i.get("bandwidth"), 1 << 20, "info bandwidth with BANDWIDTH_BYTES")
        _rc, out, _err = s.virsh("blockjob", g.name, "vda", "--info", "--raw")
        expect(re.match(r" type=Block Pull\n bandwidth=1\n cur=\d+\n end=\d+\n$", out),
               "blockjob --info --raw: %r" % out)
        _rc, out, err = s.virsh("blockjob", g.name, "vda", "--info")
        expect(re.search(r"Block Pull: \[ *\d+ %\]$", err), "blockjob --info stderr: %r" % err)
        expect_eq(out, "    Bandwidth limit: 1048576 bytes/s (1.000 MiB/s)\n\n", "--info stdout")
        expect_eq(py_err(g.dom.blockCommit, "vda", g.f["base"], g.f["mid"], 0, 0), ERR_BUSY,
                  "commit while a job runs")
        expect_eq(py_err(g.dom.blockPull, "vda", 0, 0), ERR_BUSY, "pull while a job runs")
        e = py_err(g.dom.blockJobAbort, "vda", ABORT_PIVOT)
        expect(e and e[:2] == ERR_NOT_READY_CODE and re.fullmatch(NOT_READY_RE, e[2]),
               "pivot of a pull: %r" % (e,))
        s.virsh("blockjob", g.name, "vda", "--bandwidth", "2")
        expect_eq(g.dom.blockJobInfo("vda", 0).get("bandwidth"), 2, "bandwidth after --bandwidth 2")
    finally:
        rc, out, _err = s.virsh("blockjob", g.name, "vda", "--abort", ok=False)
    expect_eq((rc, out), (0, "\n"), "blockjob --abort")
    s.events(m, g.name, [(g.f["top"], PULL, CANCELED)], [("vda", PULL, CANCELED)])
    expect_eq(g.dom.blockJobInfo("vda", 0), {}, "no job after the abort")
    expect_eq(g.chain_xml(), g.files("top", "mid", "base"), "chain unchanged")
    expect_eq(su.chain_files(g.f["top"]), g.files("top", "mid", "base"), "qemu-img chain")


def t_slow_active(s, g):
    """A 1 MiB/s active commit: pivot before READY is refused, abort cancels."""
    m = s.mark()
    _rc, out, _err = s.virsh("blockcommit", g.name, "vda", "--active", "--bandwidth", "1")
    expect_eq(out, "Active Block Commit started\n", "stdout")
    try:
        i = g.dom.blockJobInfo("vda", 0)
        expect_eq((i.get("type"), i.get("bandwidth")), (ACTIVE_COMMIT, 1), "info")
        expect_eq(g.mirror(), "active-commit", "live <mirror job=...>")
        err = s.virsh_err("blockjob", g.name, "vda", "--pivot")
        expect(re.fullmatch("error: " + NOT_READY_RE, err), "pivot too early: %r" % err)
        expect_eq(g.chain_xml(), g.files("top", "mid", "base"), "chain while running")
    finally:
        rc, _out, err = s.virsh("blockjob", g.name, "vda", "--abort", ok=False)
    expect_eq(rc, 0, "abort: %s" % err)
    s.events(m, g.name, [(g.f["top"], ACTIVE_COMMIT, CANCELED)], [("vda", ACTIVE_COMMIT, CANCELED)])
    expect_eq(g.mirror(), None, "no <mirror> after the abort")
    expect_eq(g.chain_xml(), g.files("top", "mid", "base"), "chain after the abort")


def t_errors(s, g):
    d = g.dom
    for what, fn, args in [("commit", d.blockCommit, ("vdz", None, None, 0, 0)),
                           ("pull", d.blockPull, ("vdz", 0, 0)),
                           ("rebase", d.blockRebase, ("vdz", None, 0, 0)),
                           ("info", d.blockJobInfo, ("vdz", 0)),
                           ("abort", d.blockJobAbort, ("vdz", 0)),
                           ("set speed", d.blockJobSetSpeed, ("vdz", 1, 0))]:
        expect_eq(py_err(fn, *args), ERR_NO_DISK, "unknown disk: " + what)
    expect_eq(py_err(d.blockJobAbort, "vda", 0), ERR_NO_JOB, "abort without a job")
    expect_eq(py_err(d.blockJobAbort, "vda", ABORT_PIVOT), ERR_NO_JOB, "pivot without a job")
    expect_eq(py_err(d.blockJobSetSpeed, "vda", 1, 0), ERR_NO_JOB, "set speed without a job")
    expect_eq(py_err(d.blockCommit, "vda", None, None, 0, 0), ERR_NEED_ACTIVE,
              "commit of the active layer without ACTIVE")
    expect_eq(py_err(d.blockCommit, "vda", g.f["base"], g.f["mid"], 0, COMMIT_ACTIVE),
              (8, 10, "invalid argument: active commit requested but '%s' is not active"
               % g.f["mid"]), "ACTIVE with a non-active top")
    expect_eq(py_err(d.blockCommit, "vda", None, "/nonexistent.qcow2", 0, 0),
              (8, 18, "invalid argument: could not find image '/nonexistent.qcow2' in chain "
               "for 'vda'"), "unknown top")
    expect_eq(py_err(d.blockCommit, "vda", None, g.f["base"], 0, 0), ERR_NO_BASE,
              "top = the last image")
    expect_eq(py_err(d.blockCommit, "vda", None, None, 0, 0x400 | COMMIT_ACTIVE),
              unsupported(0x400, "qemuDomainBlockCommit"), "commit flags")
    expect_eq(py_err(d.blockJobAbort, "vda", 0x4 | ABORT_PIVOT),
              unsupported(0x4, "qemuDomainBlockJobAbort"), "abort flags")
    expect_eq(py_err(d.blockJobInfo, "vda", 0x2),
              unsupported(0x2, "qemuDomainGetBlockJobInfo"), "info flags")
    expect_eq(py_err(d.blockPull, "vda", 0, 0x1), unsupported(0x1, "qemuDomainBlockPull"),
              "pull flags")
    expect_eq(py_err(d.blockRebase, "vda", None, 0, 0x80),
              unsupported(0x80, "qemuDomainBlockRebase"), "rebase flags")
    expect_eq(py_err(d.blockJobSetSpeed, "vda", 1, 0x2),
              unsupported(0x2, "qemuDomainBlockJobSetSpeed"), "set speed flags")
    expect_eq(s.virsh_err("blockjob", g.name, "vdz", "--info"), "error: " + ERR_NO_DISK[2],
              "virsh blockjob vdz")
    expect_eq(s.virsh_err("blockjob", g.name, "vda", "--abort"), "error: " + ERR_NO_JOB[2],
              "virsh blockjob --abort")
    expect_eq(s.virsh_err("blockcommit", g.name, "vdz", "--wait"), "error: " + ERR_NO_DISK[2],
              "virsh blockcommit vdz")
    expect_eq(s.virsh_err("blockcommit", g.name, "vda", "--wait"), "error: " + ERR_NEED_ACTIVE[2],
              "virsh blockcommit without --active")


def t_shut_off(s, g):
    """after the aborted jobs: data intact, chain unchanged; APIs refused."""
    g.check_data([(g.f["top"], VIEW)], restart=False)
    expect_eq(su.chain_files(g.f["top"]), g.files("top", "mid", "base"), "qemu-img chain")
    d = g.dom
    expect_eq(py_err(d.blockPull, "vda", 0, 0), ERR_NOT_RUNNING, "pull")
    expect_eq(py_err(d.blockRebase, "vda", None, 0, 0), ERR_NOT_RUNNING, "rebase")
    expect_eq(py_err(d.blockJobInfo, "vda", 0), ERR_NOT_RUNNING, "info")
    expect_eq(py_err(d.blockJobAbort, "vda", 0), ERR_NOT_RUNNING, "abort")
    expect_eq(py_err(d.blockJobSetSpeed, "vda", 1, 0), ERR_NOT_RUNNING, "set speed")
    expect_eq(s.virsh_err("blockjob", g.name, "vda", "--info"), "error: " + ERR_NOT_RUNNING[2],
              "virsh blockjob --info")
    expect_eq(s.virsh_err("blockpull", g.name, "vda", "--wait"), "error: " + ERR_NOT_RUNNING[2],
              "virsh blockpull --wait")


def main():
    runner = harness.Runner("test_qemu_blockjob")
    target = harness.make_target()
    runner.start(target)
    s = None

    def mk():
        nonlocal s
        s = S(target)
    if not runner.check("event client (BLOCK_JOB + BLOCK_JOB_2) and work dir", mk):
        runner.finish()
    g = {}

    def guest(key, tag, bulk_in=()):
        def fn():
            g[key] = Guest(s, tag, bulk_in)
        return runner.check("guest %s on base <- mid <- top starts" % tag, fn)

    def run(title, fn, key):
        if key in g:
            return runner.check(title, fn, s, g[key])
        return runner.check(title, lambda: (_ for _ in ()).throw(Skip("guest did not start")))
    try:
        guest("a", "commit")
        run("live XML / domblklist show the detected chain", t_initial, "a")
        run("blockjob --info / blockJobInfo without a job", t_info_no_job, "a")
        run("error cases on a running guest (no job)", t_errors, "a")
        if run("blockcommit --top mid --base base --wait", t_commit_mid, "a"):
            if run("blockcommit --active --pivot --wait: guest on base", t_active_pivot, "a"):
                run("blockcommit on a disk without backing", t_no_backing, "a")
        guest("p", "pull")
        run("blockpull --base base --wait, blockpull --wait", t_pull, "p")
        guest("x", "slow", bulk_in=("base", "top"))
        run("slow blockpull: info, busy disk, pivot refused, --bandwidth, --abort",
            t_slow_pull, "x")
        run("slow active commit: early pivot refused, --abort", t_slow_active, "x")
        run("block job APIs on a shut-off guest", t_shut_off, "x")
    finally:
        for n in s.guests:
            s.t.virsh("destroy", n, timeout=VIRSH_TIMEOUT)
            s.t.virsh("undefine", n, timeout=VIRSH_TIMEOUT)
        s.close()
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
