#!/usr/bin/python3
"""splitvirt snapshot benchmark: internal and external (disk-only) domain
snapshots on our virtqemud vs the reference libvirtd 9.0, in one run, on the
same machine and the same guest (busybox TCG guest, qcow2 disk).

    /usr/bin/python3 bench/bench_snapshot.py                  # ours,ref; 10 runs each
    /usr/bin/python3 bench/bench_snapshot.py --quick          # 3 runs each
    /usr/bin/python3 bench/bench_snapshot.py --targets ref --runs 5

Per target one domain (guest_assets.domain_xml: 128 MiB, kernel + busybox
initrd, 64 MiB qcow2 virtio disk) is booted to its shell prompt; then, each
row the median of --runs python3-libvirt calls (fresh snapshot names; one
uncounted warm-up create/revert/delete on the running guest first):

  internal, running guest (full system: disks + memory, flags 0)
    create        snapshotCreateXML  -> chain r0..rN-1
    revert        revertToSnapshot(r[i]) of the running guest; the QEMU pid is
                  compared before/after (ours loads the state in place through
                  QMP, libvirt 9.0 restarts QEMU)
    delete        r[N-1]..r[0].delete(0), each one a leaf when deleted
  internal, shut-off guest (qemu-img snapshot)
    create / revert (to a shut-off snapshot) / delete leaf, as above
  external disk-only (flag DISK_ONLY, libvirt's default overlay names)
    create        running guest (blockdev-snapshot), then shut off (qemu-img create -b)
    revert        revertToSnapshot(e[i]) (running guest: flag REVERT_RUNNING)
    delete        e[N-1]..e[0].delete(0), each the current leaf when deleted
  external with memory (--memspec, running guest)
    create / revert (a new QEMU loads the memory file) / delete, as above
                  where our daemon refuses the first call (unsupported), the
                  row is "n/a (not yet)" and the reference is not timed either
                  (libvirt 9.0 itself refuses every external revert); any other
                  error ends the row as FAILED (the reference is still timed)
The internal snapshots are all deleted before the external phase (libvirt
refuses to mix them on one disk chain).  Not part of ctest; see bench/README.md.
"""
import argparse
import json
import os
import shutil
import statistics
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
SOURCE_DIR = os.environ.get("SV_SOURCE_DIR", os.path.dirname(HERE))
sys.path.insert(0, os.path.join(SOURCE_DIR, "tests", "integration"))
import harness  # noqa: E402
import guest_assets as ga  # noqa: E402

PREFIX = "svbs%04x-" % (os.getpid() & 0xffff)
BOOT_TIMEOUT = float(os.environ.get("SV_BOOT_TIMEOUT", "90"))
# the issue's reference figures (seconds)
ISSUE_REF = {"int_create_run": 0.11, "int_revert_run": 1.5, "int_delete_run": 0.03}

ROWS = [  # key, label
    ("int_create_run", "internal create, running (+memory)"),
    ("int_create_off", "internal create, shut off"),
    ("int_revert_run", "internal revert, running -> running"),
    ("int_revert_off", "internal revert, shut off -> shut off"),
    ("int_delete_run", "internal delete leaf, running"),
    ("int_delete_off", "internal delete leaf, shut off"),
    ("ext_create_run", "external disk-only create, running"),
    ("ext_create_off", "external disk-only create, shut off"),
    ("ext_revert_run", "external revert, running"),
    ("ext_revert_off", "external revert, shut off"),
    ("ext_delete_run", "external delete leaf, running"),
    ("ext_delete_off", "external delete leaf, shut off"),
    ("mem_create_run", "external +memory create, running"),
    ("mem_revert_run", "external +memory revert, running"),
    ("mem_delete_run", "external +memory delete leaf, running"),
]
EXT_PROBED = ("ext_revert_run", "ext_delete_run", "ext_revert_off", "ext_delete_off")


def snap_xml(name):
    return "<domainsnapshot><name>%s</name></domainsnapshot>" % name


def timed(fn, *args):
    t0 = time.perf_counter()
    fn(*args)
    return time.perf_counter() - t0


class Bench:
    def __init__(self, kind, work, runs, skip_ops):
        import libvirt
        self.lv = libvirt
        self.kind = kind
        self.work = work
        self.runs = runs
        self.skip_ops = skip_ops        # {key: reason}: not timed on this target
        self.name = PREFIX + kind
        self.res = {}
        self.tgt = None
        self.conn = None
        self.dom = None
        self.seq = 0

    # ---------------------------------------------------------------- setup
    def start(self, kernel, initrd):
        self.tgt = harness.Virtqemud(activation=False) if self.kind == "ours" else harness.RefDaemon()
        self.tgt.start()
        self.disk = ga.make_qcow2(os.path.join(self.work, self.name + ".qcow2"), "64M")
        self.conn = self.tgt.open()
        self.kernel = kernel
        self.dom = self.conn.defineXML(ga.domain_xml(self.name, kernel=kernel, initrd=initrd,
                                                     disk=self.disk))

    def boot(self):
        """start the guest; with a kernel, wait for its shell prompt."""
        t0 = time.perf_counter()
        self.dom.create()
        if self.kernel:
            con = ga.Console(self.conn, self.dom, force=True)
            try:
                off = con.expect(ga.GUEST_MARKER, BOOT_TIMEOUT)
                con.expect(ga.SHELL_PROMPT, 30, off)
            finally:
                con.close()
        self.say("guest up in %.1f s" % (time.perf_counter() - t0))
        time.sleep(0.5)

    def shut_off(self):
        self.dom.destroy()
        deadline = time.monotonic() + 10
        while ga.qemu_pids(self.name) and time.monotonic() < deadline:
            time.sleep(0.01)

    def fresh(self, tag):
        self.seq += 1
        return "%s%02d" % (tag, self.seq)

    def say(self, msg):
        print("  [%s] %s" % (self.kind, msg), flush=True)

    def record(self, key, times, **extra):
        r = {"median_s": statistics.median(times), "min_s": min(times), "max_s": max(times),
             "all_s": times}
        r.update(extra)
        self.res[key] = r
        self.say("%-40s median %8.1f ms (min %.1f, max %.1f)%s"
                 % (dict(ROWS)[key], r["median_s"] * 1000, r["min_s"] * 1000, r["max_s"] * 1000,
                    "".join("; %s %s" % kv for kv in extra.items())))

    def state(self):
        return self.dom.state()[0]

    def expect_state(self, want, what):
        st = self.state()
        if st != want:
            raise RuntimeError("%s: domain state %d, want %d" % (what, st, want))

    # ---------------------------------------------------------------- internal
    def internal(self, live):
        sfx = "run" if live else "off"
        lv = self.lv
        tag = "r" if live else "s"
        names = [self.fresh(tag) for _ in range(self.runs)]
        want_state = lv.VIR_DOMAIN_RUNNING if live else lv.VIR_DOMAIN_SHUTOFF

        t = [timed(self.dom.snapshotCreateXML, snap_xml(n), 0) for n in names]
        self.expect_state(want_state, "after internal create")
        got = sorted(s.getName() for s in self.dom.listAllSnapshots(0))
        if got != sorted(names):
            raise RuntimeError("snapshots after create: %s" % got)
        tags = _image_tags(self.disk)
        if tags is not None and not set(names) <= set(tags):
            raise RuntimeError("qcow2 tags after create: %s" % tags)
        st = _snap_state(self.dom.snapshotLookupByName(names[0]))
        if st != ("running" if live else "shutoff"):
            raise RuntimeError("internal snapshot %s has state %s" % (names[0], st))
        self.record("int_create_" + sfx, t)

        t, same = [], 0
        for i in range(self.runs):
            snap = self.dom.snapshotLookupByName(names[i % len(names)])
            pids0 = ga.qemu_pids(self.name)
            t.append(timed(self.dom.revertToSnapshot, snap, 0))
            pids1 = ga.qemu_pids(self.name)
            self.expect_state(want_state, "after internal revert")
            if live:
                if len(pids1) != 1:
                    raise RuntimeError("QEMU processes after revert: %s" % pids1)
                same += pids0 == pids1
            elif pids1:
                raise RuntimeError("QEMU started by a shut-off revert: %s" % pids1)
        extra = {"same_pid": "%d/%d" % (same, self.runs)} if live else {}
        self.record("int_revert_" + sfx, t, **extra)

        t = []
        for n in reversed(names):
            snap = self.dom.snapshotLookupByName(n)
            if snap.numChildren(0):
                raise RuntimeError("snapshot %s is not a leaf" % n)
            t.append(timed(snap.delete, 0))
        left = self.dom.listAllSnapshots(0)
        if left:
            raise RuntimeError("snapshots left after delete: %s" % [s.getName() for s in left])
        tags = _image_tags(self.disk)
        if tags:
            raise RuntimeError("qcow2 tags left after delete: %s" % tags)
        self.record("int_delete_" + sfx, t)

    def warm_up(self):
        """one uncounted create/revert/delete on the running guest (first-use
        costs: capability probes, page cache)."""
        n = self.fresh("w")
        snap = self.dom.snapshotCreateXML(snap_xml(n), 0)
        self.dom.revertToSnapshot(snap, 0)
        snap.delete(0)

    # ---------------------------------------------------------------- external
    REFUSALS = (3, 67, 84)      # NO_SUPPORT, CONFIG_UNSUPPORTED, OPERATION_UNSUPPORTED

    def series(self, key, calls):
        """time calls (callables) one after the other.  A refusal of the
        first one (unsupported: error codes REFUSALS) records the row as n/a;
        any other error records it as failed and ends the series."""
        if key in self.skip_ops:
            self.res[key] = {"na": self.skip_ops[key]}
            self.say("%-40s %s" % (dict(ROWS)[key], self.skip_ops[key]))
            return
        t = []
        for i, fn in enumerate(calls):
            try:
                t.append(timed(fn))
            except self.lv.libvirtError as e:
                msg = "(code %d, domain %d): %s" % (e.get_error_code(), e.get_error_domain(),
                                                   e.get_error_message())
                if i == 0 and e.get_error_code() in self.REFUSALS:
                    self.res[key] = {"na": "refused " + msg}
                else:
                    self.res[key] = {"failed": "call %d of %d failed %s" % (i + 1, len(calls), msg),
                                     "all_s": t}
                self.say("%-40s %s" % (dict(ROWS)[key], list(self.res[key].values())[0]))
                return
        self.record(key, t)

    def external(self, live):
        sfx = "run" if live else "off"
        lv = self.lv
        tag = "e" if live else "f"
        names = [self.fresh(tag) for _ in range(self.runs)]
        flags = lv.VIR_DOMAIN_SNAPSHOT_CREATE_DISK_ONLY
        want_state = lv.VIR_DOMAIN_RUNNING if live else lv.VIR_DOMAIN_SHUTOFF

        top0 = _disk_source(self.dom)
        t = [timed(self.dom.snapshotCreateXML, snap_xml(n), flags) for n in names]
        self.expect_state(want_state, "after external create")
        top = _disk_source(self.dom)
        if top == top0 or not top.endswith("." + names[-1]):
            raise RuntimeError("disk source after %d external snapshots: %s (was %s)"
                               % (len(names), top, top0))
        self.record("ext_create_" + sfx, t)

        # revert: disk-only snapshots hold no memory; keep the guest running
        rflags = lv.VIR_DOMAIN_SNAPSHOT_REVERT_RUNNING if live else 0
        self.series("ext_revert_" + sfx, [
            (lambda n=n: self.dom.revertToSnapshot(self.dom.snapshotLookupByName(n), rflags))
            for n in names])
        self.series("ext_delete_" + sfx, [
            (lambda n=n: self.dom.snapshotLookupByName(n).delete(0)) for n in reversed(names)])

    def external_memory(self):
        """full system external snapshots (--memspec) of the running guest;
        revert = a new QEMU loading the memory file (libvirt 9.0 refuses)."""
        names = [self.fresh("m") for _ in range(self.runs)]

        def xml(n):
            return ("<domainsnapshot><name>%s</name><memory snapshot='external' file='%s'/>"
                    "<disks><disk name='vda' snapshot='external'/></disks></domainsnapshot>"
                    % (n, os.path.join(self.work, self.name + "." + n + ".mem")))
        self.series("mem_create_run", [(lambda n=n: self.dom.snapshotCreateXML(xml(n), 0)) for n in names])
        self.expect_state(self.lv.VIR_DOMAIN_RUNNING, "after external memory snapshots")
        self.series("mem_revert_run", [
            (lambda n=n: self.dom.revertToSnapshot(self.dom.snapshotLookupByName(n), 0)) for n in names])
        self.series("mem_delete_run", [
            (lambda n=n: self.dom.snapshotLookupByName(n).delete(0)) for n in reversed(names)])

    # ---------------------------------------------------------------- run
    def run(self):
        lv = self.lv
        self.boot()
        self.warm_up()
        self.internal(live=True)
        self.shut_off()
        self.internal(live=False)
        self.boot()
        self.external(live=True)
        self.external_memory()
        self.shut_off()
        self.external(live=False)
        self.expect_state(lv.VIR_DOMAIN_SHUTOFF, "at the end")

    def cleanup(self):
        try:
            if self.dom is not None:
                if self.dom.isActive():
                    self.dom.destroy()
                self.dom.undefineFlags(self.lv.VIR_DOMAIN_UNDEFINE_SNAPSHOTS_METADATA)
        except Exception:
            pass
        try:
            if self.conn is not None:
                self.conn.close()
        except Exception:
            pass
        ga.kill_guests(self.name)
        if self.tgt is not None:
            self.tgt.cleanup()


def _image_tags(img):
    """internal snapshot tags of img (qemu-img info -U), None if unreadable."""
    import subprocess
    p = subprocess.run(["qemu-img", "info", "-U", "--output=json", img], capture_output=True,
                       text=True, timeout=60)
    if p.returncode:
        return None
    return [s["name"] for s in json.loads(p.stdout).get("snapshots", [])]


def _snap_state(snap):
    """<state> of a snapshot, and for a running one also whether its memory
    was saved ('running' only with <memory snapshot='internal'/>)."""
    import xml.etree.ElementTree as ET
    x = ET.fromstring(snap.getXMLDesc(0))
    st = x.findtext("state")
    mem = x.find("memory")
    if st == "running" and (mem is None or mem.get("snapshot") != "internal"):
        return "running without memory"
    return st


def _disk_source(dom):
    import xml.etree.ElementTree as ET
    src = ET.fromstring(dom.XMLDesc(0)).find("./devices/disk/source")
    return src.get("file") if src is not None else None


def measure(kind, work, runs, kernel, initrd, skip_ops):
    b = Bench(kind, work, runs, skip_ops)
    try:
        b.start(kernel, initrd)
        b.run()
    except Exception as e:
        first = str(e).splitlines()[0] if str(e) else ""
        b.res["error"] = "%s: %s" % (type(e).__name__, first)
        print("  [%s] stopped: %s" % (kind, b.res["error"]), flush=True)
        if b.tgt is not None and kind == "ours":
            tail = b.tgt.log_tail(15)
            if tail:
                print("  [ours] daemon log tail:\n" + tail, flush=True)
    finally:
        b.cleanup()
    return b.res


# ====================================================================== report
def report(res, kinds, runs):
    print()
    print("median of %d runs per row, milliseconds" % runs)
    for k in kinds:
        if "error" in res.get(k, {}):
            print("%s: stopped early (%s)" % (k, res[k]["error"]))
    w = 16
    hdr = "%-40s" % "operation" + "".join("%*s" % (w, k) for k in kinds) + "%10s%12s" % (
        "ours/ref", "issue ref")
    print(hdr)
    print("-" * len(hdr))
    notes = []
    failed = []

    def cell(k, key):
        r = res.get(k, {}).get(key)
        if r is None:
            return "n/a"
        if "na" in r:
            if (k, r["na"]) not in notes:
                notes.append((k, r["na"]))
            return "refused" if r["na"].startswith("refused") else "n/a (not yet)"
        if "failed" in r:
            failed.append((k, key, r["failed"]))
            return "FAILED"
        return "%.1f" % (r["median_s"] * 1000)

    for key, label in ROWS:
        cells = "".join("%*s" % (w, cell(k, key)) for k in kinds)
        o = res.get("ours", {}).get(key, {}).get("median_s")
        r = res.get("ref", {}).get(key, {}).get("median_s")
        ratio = "%.2f" % (o / r) if o and r else ""
        iref = "%.0f" % (ISSUE_REF[key] * 1000) if key in ISSUE_REF else ""
        print("%-40s%s%10s%12s" % (label, cells, ratio, iref))
        if key == "int_revert_run":
            pids = "".join("%*s" % (w, res.get(k, {}).get(key, {}).get("same_pid", "n/a"))
                           for k in kinds)
            print("%-40s%s" % ("  same QEMU pid after revert", pids))
    if notes:
        print()
        print("refused / not timed:")
        for k, n in notes:
            print("  %-5s %s" % (k + ":", n))
    if failed:
        print()
        print("failed:")
        for k, key, msg in failed:
            print("  %-5s %s: %s" % (k + ":", dict(ROWS)[key], msg))
    same = res.get("ours", {}).get("int_revert_run", {}).get("same_pid")
    if same:
        a, b = same.split("/")
        print()
        print("ours: revert of a running guest kept the QEMU process in %s reverts: %s"
              % (same, "MET (state loaded in place)" if a == b else "NOT MET"))


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--targets", default="ours,ref")
    ap.add_argument("--runs", type=int, default=10)
    ap.add_argument("--quick", action="store_true", help="3 runs per row")
    ap.add_argument("--json", help="also write the raw results to this file")
    a = ap.parse_args()
    if a.quick:
        a.runs = 3
    if a.runs < 1:
        ap.error("--runs must be >= 1")
    import libvirt
    libvirt.registerErrorHandler(lambda _c, _e: None, None)
    ga.start_event_loop()          # the console (boot wait) needs it before the first open
    try:
        kernel, initrd = ga.kernel_and_initrd()
    except harness.Skip as e:
        print("no bootable test guest (%s): the guest runs SeaBIOS only" % e, flush=True)
        kernel = initrd = None
    kinds = a.targets.split(",")
    print("load average at start: %s" % " ".join(open("/proc/loadavg").read().split()[:3]), flush=True)
    work = tempfile.mkdtemp(prefix="svbs")
    os.chmod(work, 0o755)
    res = {}
    skip = {}
    try:
        for k in kinds:
            print("== %s" % k, flush=True)
            res[k] = measure(k, work, a.runs, kernel, initrd, dict(skip))
            if k == "ours":
                # time only where both daemons work (a failure is timed on
                # the reference: it is a bug of ours, not a missing feature)
                for key in EXT_PROBED:
                    if "na" in res[k].get(key, {}):
                        skip[key] = "not timed (ours refuses it)"
    finally:
        ga.kill_guests(PREFIX)
        shutil.rmtree(work, ignore_errors=True)
    report(res, kinds, a.runs)
    if a.json:
        with open(a.json, "w") as f:
            json.dump({"runs": a.runs, "results": res}, f, indent=1)


if __name__ == "__main__":
    main()
