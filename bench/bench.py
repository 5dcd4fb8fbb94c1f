#!/usr/bin/python3
"""splitvirt benchmark: our virtqemud vs the reference libvirtd 9.0 vs floorserver.

Run by hand (not in ctest), as root, on an otherwise idle machine:

    /usr/bin/python3 bench/bench.py                      # all three targets
    /usr/bin/python3 bench/bench.py --targets ours,ref --domains 300
    /usr/bin/python3 bench/bench.py --quick              # small numbers, smoke test

Client is always python3-libvirt 9.0 (/usr/bin/python3). See bench/README.md.
"""
import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
SOURCE_DIR = os.environ.get("SV_SOURCE_DIR", os.path.dirname(HERE))
sys.path.insert(0, os.path.join(SOURCE_DIR, "tests", "integration"))
import harness  # noqa: E402

FLOOR_SRC = os.environ.get("SV_FLOORSERVER_SRC", "/work/shared/tools/floorserver.c")
PY = "/usr/bin/python3"

TARGETS = {  # issue targets
    "latency_vs_floor": 1.25,      # ours p50 <= 1.25 x floor
    "concurrency_vs_ref": 3.0,     # ours calls/s >= 3 x reference
    "define_vs_ref": 0.5,          # ours define-1000 wall time <= 0.5 x reference
    "rss_vs_ref": 1 / 3,           # ours idle RSS <= 1/3 reference
}


def domain_xml(i):
    return ("<domain type='qemu'><name>bench-%05d</name>"
            "<uuid>b0000000-0000-4000-8000-%012d</uuid>"
            "<memory unit='MiB'>64</memory><vcpu>1</vcpu>"
            "<os><type arch='x86_64' machine='pc'>hvm</type></os></domain>" % (i, i))


# ====================================================================== workers
# Run as separate processes (`bench.py --worker KIND ...`) so that 16 clients
# really are 16 client processes with their own libvirt connection.
def worker_main(argv):
    import libvirt
    libvirt.registerErrorHandler(lambda _c, _e: None, None)
    kind, uri, start_at = argv[0], argv[1], float(argv[2])
    conn = libvirt.open(uri)
    conn.getLibVersion()
    while time.time() < start_at:                         # common start barrier
        time.sleep(min(0.01, max(0.0, start_at - time.time())))
    res = {"calls": 0, "errors": 0}
    if kind == "loop":
        end = start_at + float(argv[3])
        while time.time() < end:
            try:
                conn.getLibVersion()
                res["calls"] += 1
            except libvirt.libvirtError:
                res["errors"] += 1
    elif kind in ("define", "undefine"):
        first, count = int(argv[3]), int(argv[4])
        for i in range(first, first + count):
            try:
                if kind == "define":
                    conn.defineXML(domain_xml(i))
                else:
                    conn.lookupByName("bench-%05d" % i).undefine()
                res["calls"] += 1
            except libvirt.libvirtError:
                res["errors"] += 1
    res["end"] = time.time()
    try:
        conn.close()
    except libvirt.libvirtError:
        pass
    print(json.dumps(res), flush=True)


def run_workers(kind, uri, nproc, args_for):
    """Start nproc worker processes, let them connect, start them together.
    -> (wall seconds from the common start to the last finisher, [results])."""
    start_at = time.time() + 1.0 + 0.05 * nproc           # time to spawn + connect
    procs = [subprocess.Popen([PY, os.path.abspath(__file__), "--worker", kind, uri,
                               "%.6f" % start_at] + [str(a) for a in args_for(i)],
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                              preexec_fn=harness._pdeathsig)
             for i in range(nproc)]
    results = []
    for p in procs:
        out, err = p.communicate(timeout=600)
        if p.returncode != 0 or not out.strip():
            results.append({"calls": 0, "errors": 1, "end": time.time(), "fail": err.strip()[-300:]})
        else:
            results.append(json.loads(out.strip().splitlines()[-1]))
    if time.time() < start_at:
        raise RuntimeError("workers finished before the start barrier?")
    return max(r["end"] for r in results) - start_at, results


# ====================================================================== targets
class Floor:
    name = "floor"

    def __init__(self):
        self.dir = tempfile.mkdtemp(prefix="svf", dir="/tmp")
        self.sock = os.path.join(self.dir, "sock")
        self.uri = "qemu:///system?socket=" + self.sock
        self.proc = None

    def start(self):
        exe = os.path.join(self.dir, "floorserver")
        subprocess.run(["gcc", "-O2", "-pthread", "-o", exe, FLOOR_SRC], check=True)
        self.proc = subprocess.Popen([exe, self.sock], preexec_fn=harness._pdeathsig)
        deadline = time.monotonic() + 10
        while not os.path.exists(self.sock):
            if self.proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError("floorserver did not start")
            time.sleep(0.005)

    @property
    def pid(self):
        return self.proc.pid

    def cleanup(self):
        if self.proc and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        shutil.rmtree(self.dir, ignore_errors=True)


class Ours:
    name = "ours"

    def __init__(self):
        self.t = harness.Virtqemud(activation=False)
        self.uri = self.t.uri

    def start(self):
        self.t.start()

    @property
    def pid(self):
        return self.t.pid

    def cleanup(self):
        self.t.cleanup()


class Ref:
    name = "ref"

    def __init__(self):
        self.t = harness.RefDaemon()
        self.uri = self.t.uri

    def start(self):
        self.t.start()

    @property
    def pid(self):
        # libvirtd's pid as reported by `libvirt-ref status DIR` ("pid N")
        out = subprocess.run([harness.LIBVIRT_REF, "status", self.t.root], capture_output=True,
                             text=True).stdout
        for line in out.splitlines():
            if line.startswith("pid "):
                return int(line.split()[1])
        return self.t.pid

    def cleanup(self):
        self.t.cleanup()


def vmrss_kib(pid):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return None


# ====================================================================== measurements
def measure(tgt, a):
    import libvirt
    libvirt.registerErrorHandler(lambda _c, _e: None, None)
    r = {}
    # idle RSS: after start-up and one client connect/close, before any load
    c = libvirt.open(tgt.uri)
    c.getLibVersion()
    c.close()
    time.sleep(0.5)
    r["rss_idle_kib"] = vmrss_kib(tgt.pid)

    # 1. round-trip latency, one client
    c = libvirt.open(tgt.uri)
    for _ in range(200):
        c.getLibVersion()
    lat = []
    pc = time.perf_counter_ns
    for _ in range(a.calls):
        t0 = pc()
        c.getLibVersion()
        lat.append(pc() - t0)
    c.close()
    lat.sort()
    r["lat_p50_us"] = statistics.median(lat) / 1000
    r["lat_p99_us"] = lat[min(len(lat) - 1, int(len(lat) * 0.99))] / 1000
    print("  [%s] getLibVersion x%d: p50 %.1f us, p99 %.1f us" %
          (tgt.name, a.calls, r["lat_p50_us"], r["lat_p99_us"]), flush=True)

    # 2. concurrency: N processes in a getLibVersion loop
    wall, res = run_workers("loop", tgt.uri, a.procs, lambda i: [a.duration])
    calls = sum(x["calls"] for x in res)
    r["conc_calls_per_s"] = calls / a.duration
    r["conc_errors"] = sum(x["errors"] for x in res)
    fails = [x["fail"] for x in res if x.get("fail")]
    print("  [%s] %d procs x %.1fs: %.0f calls/s, %d errors%s" %
          (tgt.name, a.procs, a.duration, r["conc_calls_per_s"], r["conc_errors"],
           (" (%s)" % fails[0]) if fails else ""), flush=True)

    if tgt.name == "floor":
        return r          # floorserver cannot define domains (empty replies)

    # 3. define N domains from one client, then undefine them (after one
    #    warm-up define: the reference loads its QEMU capabilities lazily)
    c = libvirt.open(tgt.uri)
    c.defineXML(domain_xml(99999)).undefine()
    t0 = time.perf_counter()
    for i in range(a.domains):
        c.defineXML(domain_xml(i))
    r["define_seq_s"] = time.perf_counter() - t0
    t0 = time.perf_counter()
    for i in range(a.domains):
        c.lookupByName("bench-%05d" % i).undefine()
    r["undefine_seq_s"] = time.perf_counter() - t0
    c.close()
    print("  [%s] define %d sequential: %.2fs, undefine %.2fs" %
          (tgt.name, a.domains, r["define_seq_s"], r["undefine_seq_s"]), flush=True)

    # 4. the same with N parallel clients (each its share of the domains)
    share = [a.domains // a.procs + (1 if i < a.domains % a.procs else 0) for i in range(a.procs)]
    firsts = [sum(share[:i]) for i in range(a.procs)]
    wall, res = run_workers("define", tgt.uri, a.procs, lambda i: [firsts[i], share[i]])
    r["define_par_s"] = wall
    r["define_par_errors"] = sum(x["errors"] for x in res)
    wall, res = run_workers("undefine", tgt.uri, a.procs, lambda i: [firsts[i], share[i]])
    r["undefine_par_s"] = wall
    r["undefine_par_errors"] = sum(x["errors"] for x in res)
    print("  [%s] define %d with %d clients: %.2fs (%d errors), undefine %.2fs (%d errors)" %
          (tgt.name, a.domains, a.procs, r["define_par_s"], r["define_par_errors"],
           r["undefine_par_s"], r["undefine_par_errors"]), flush=True)

    c = libvirt.open(tgt.uri)
    left = len(c.listAllDomains(0))
    c.close()
    if left:
        print("  [%s] WARNING: %d domains left after undefine" % (tgt.name, left))
    time.sleep(0.5)
    r["rss_after_kib"] = vmrss_kib(tgt.pid)
    return r


# ====================================================================== report
def fmt(v, unit=""):
    if v is None:
        return "n/a"
    if isinstance(v, float):
        return ("%.2f" % v if v < 100 else "%.0f" % v) + unit
    return str(v) + unit


def ratio(a, b):
    if a is None or b is None or b == 0:
        return None
    return a / b


def report(results, a):
    cols = ["ours", "ref", "floor"]
    rows = [
        ("getLibVersion p50 (us)", "lat_p50_us"),
        ("getLibVersion p99 (us)", "lat_p99_us"),
        ("%d procs calls/s" % a.procs, "conc_calls_per_s"),
        ("%d procs errors" % a.procs, "conc_errors"),
        ("define %d seq (s)" % a.domains, "define_seq_s"),
        ("undefine %d seq (s)" % a.domains, "undefine_seq_s"),
        ("define %d x%d clients (s)" % (a.domains, a.procs), "define_par_s"),
        ("undefine %d x%d clients (s)" % (a.domains, a.procs), "undefine_par_s"),
        ("idle VmRSS (KiB)", "rss_idle_kib"),
        ("VmRSS after load (KiB)", "rss_after_kib"),
    ]
    g = lambda t, k: results.get(t, {}).get(k)  # noqa: E731
    print()
    print("%-30s %12s %12s %12s %10s %10s" % ("metric", "ours", "ref", "floor", "ours/ref", "ours/floor"))
    print("-" * 92)
    for label, k in rows:
        print("%-30s %12s %12s %12s %10s %10s" % (
            label, fmt(g("ours", k)), fmt(g("ref", k)), fmt(g("floor", k)),
            fmt(ratio(g("ours", k), g("ref", k))), fmt(ratio(g("ours", k), g("floor", k)))))
    print()
    print("Issue targets:")
    checks = [
        ("latency p50 <= 1.25 x floor", ratio(g("ours", "lat_p50_us"), g("floor", "lat_p50_us")),
         lambda x: x <= TARGETS["latency_vs_floor"], "x floor"),
        ("concurrency >= 3 x reference", ratio(g("ours", "conc_calls_per_s"), g("ref", "conc_calls_per_s")),
         lambda x: x >= TARGETS["concurrency_vs_ref"], "x ref"),
        ("define-%d <= 0.5 x reference" % a.domains, ratio(g("ours", "define_seq_s"), g("ref", "define_seq_s")),
         lambda x: x <= TARGETS["define_vs_ref"], "x ref"),
        ("idle RSS <= 1/3 reference", ratio(g("ours", "rss_idle_kib"), g("ref", "rss_idle_kib")),
         lambda x: x <= TARGETS["rss_vs_ref"], "x ref"),
    ]
    for label, v, ok, unit in checks:
        if v is None:
            print("  %-34s n/a" % label)
        else:
            print("  %-34s %6.2f %-6s %s" % (label, v, unit, "MET" if ok(v) else "NOT MET"))
    ceil = ratio(g("floor", "conc_calls_per_s"), g("ref", "conc_calls_per_s"))
    if ceil is not None:
        # the clients need CPU too: no daemon can beat the do-nothing floor
        print("  note: concurrency ceiling on this machine = floor/ref = %.2f x ref (%d CPUs)"
              % (ceil, os.cpu_count()))
    errs = sum((results.get(t, {}).get("conc_errors") or 0) for t in cols)
    if errs:
        print("  note: %d errors in the concurrency runs" % errs)


def main():
    if len(sys.argv) > 1 and sys.argv[1] == "--worker":
        return worker_main(sys.argv[2:])
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--targets", default="ours,ref,floor")
    ap.add_argument("--calls", type=int, default=5000, help="latency samples")
    ap.add_argument("--procs", type=int, default=16, help="concurrent client processes")
    ap.add_argument("--duration", type=float, default=3.0, help="seconds of the concurrency run")
    ap.add_argument("--domains", type=int, default=1000, help="domains to define/undefine")
    ap.add_argument("--quick", action="store_true", help="500 calls, 4 procs, 1 s, 50 domains")
    ap.add_argument("--json", help="also write the raw results to this file")
    a = ap.parse_args()
    if a.quick:
        a.calls, a.procs, a.duration, a.domains = 500, 4, 1.0, 50
    kinds = {"ours": Ours, "ref": Ref, "floor": Floor}
    results = {}
    for name in a.targets.split(","):
        print("== %s" % name, flush=True)
        tgt = None
        try:
            tgt = kinds[name]()
            tgt.start()
            results[name] = measure(tgt, a)
        except Exception as e:
            print("  [%s] skipped: %s: %s" % (name, type(e).__name__, str(e).splitlines()[0] if str(e) else ""))
        finally:
            if tgt:
                tgt.cleanup()
    report(results, a)
    if a.json:
        with open(a.json, "w") as f:
            json.dump(results, f, indent=1)


if __name__ == "__main__":
    main()
