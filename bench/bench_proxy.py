#!/usr/bin/python3
"""virtproxyd benchmark: what the proxy hop costs.

    /usr/bin/python3 bench/bench_proxy.py                  # everything
    /usr/bin/python3 bench/bench_proxy.py --quick          # smoke test
    /usr/bin/python3 bench/bench_proxy.py --targets direct,proxy,relay

Client: python3-libvirt 9.0 (/usr/bin/python3). Targets, all in one run:
  direct  virtqemud's own socket (socket-activated, harness.Virtqemud)
  proxy   virtproxyd's libvirt-sock in front of it (proxy_harness.Virtproxyd)
  relay   socat relaying bytes to virtqemud's socket: the floor of any hop
  ref     Debian's libvirtd 9.0 (libvirt-ref), direct, for scale
See bench/README.md.
"""
import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
SOURCE_DIR = os.environ.get("SV_SOURCE_DIR", os.path.dirname(HERE))
sys.path.insert(0, os.path.join(SOURCE_DIR, "tests", "integration"))
import harness  # noqa: E402
import proxy_harness as ph  # noqa: E402

PY = "/usr/bin/python3"
DOMAIN = "bench-proxy-dom"
TARGET_ADDED_US = 35.0      # issue 7: proxy median - direct median


def domain_xml():
    return ("<domain type='qemu'><name>%s</name><memory unit='MiB'>64</memory><vcpu>1</vcpu>"
            "<os><type arch='x86_64' machine='pc'>hvm</type></os></domain>" % DOMAIN)


# ---------------------------------------------------------------- workers
def worker_main(argv):
    """--worker URI START DURATION THREADS: THREADS connections, each looping
    getLibVersion + lookupByName from START for DURATION seconds."""
    import libvirt
    libvirt.registerErrorHandler(lambda _c, _e: None, None)
    uri, start_at, duration, nthreads = argv[0], float(argv[1]), float(argv[2]), int(argv[3])
    res = {"calls": 0, "errors": 0, "fail": []}
    lock = threading.Lock()
    conns = []
    for _ in range(nthreads):
        try:
            conns.append(libvirt.open(uri))
        except libvirt.libvirtError as e:
            res["errors"] += 1
            res["fail"].append(str(e))

    def run(c):
        calls = errors = 0
        while time.time() < start_at:
            time.sleep(min(0.01, max(0.0, start_at - time.time())))
        end = start_at + duration
        while time.time() < end:
            try:
                c.getLibVersion()
                c.lookupByName(DOMAIN)
                calls += 2
            except libvirt.libvirtError as e:
                errors += 1
                with lock:
                    if len(res["fail"]) < 3:
                        res["fail"].append(str(e))
        with lock:
            res["calls"] += calls
            res["errors"] += errors
    ts = [threading.Thread(target=run, args=(c,)) for c in conns]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    for c in conns:
        try:
            c.close()
        except libvirt.libvirtError:
            res["errors"] += 1
    print(json.dumps(res), flush=True)


def concurrency(uri, clients, procs, duration):
    per = [clients // procs + (1 if i < clients % procs else 0) for i in range(procs)]
    start_at = time.time() + 2.0 + 0.1 * procs
    ps = [subprocess.Popen([PY, os.path.abspath(__file__), "--worker", uri, "%.6f" % start_at, str(duration),
                            str(n)], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                           preexec_fn=harness._pdeathsig) for n in per if n]
    calls = errors = 0
    fails = []
    for p in ps:
        out, err = p.communicate(timeout=300)
        if p.returncode or not out.strip():
            errors += 1
            fails.append(err.strip()[-200:])
            continue
        r = json.loads(out.strip().splitlines()[-1])
        calls += r["calls"]
        errors += r["errors"]
        fails += r["fail"]
    return {"calls_per_s": calls / duration, "errors": errors, "fail": fails[:3]}


# ---------------------------------------------------------------- latency
def cpu_ns(pid):
    """CPU time a process has used, all threads, in ns (schedstat: exact)."""
    total = 0
    for t in os.listdir("/proc/%d/task" % pid):
        try:
            with open("/proc/%d/task/%s/schedstat" % (pid, t)) as f:
                total += int(f.read().split()[0])
        except OSError:
            pass
    return total


def latency(uris, calls, rounds, hop_pids=None):
    """Interleaved rounds over all targets (a busy machine drifts; every
    target sees the same drift). -> ({name: {op: [[µs samples] per round]}},
    {name: CPU ns the hop process used per call}); hop_pids: {name: callable
    -> pid of the process in the middle} for the targets that have one."""
    import libvirt
    libvirt.registerErrorHandler(lambda _c, _e: None, None)
    conns = {n: libvirt.open(u) for n, u in uris.items()}
    hops = {n: f() for n, f in (hop_pids or {}).items() if n in conns}
    hop_cpu = {n: 0 for n in hops}
    ncalls = {n: 0 for n in conns}
    ops = {"getLibVersion": lambda c: c.getLibVersion(), "lookupByName": lambda c: c.lookupByName(DOMAIN)}
    for c in conns.values():
        for _ in range(200):
            for f in ops.values():
                f(c)
    samples = {n: {op: [[] for _ in range(rounds)] for op in ops} for n in conns}
    per_round = max(1, calls // rounds)
    clock = time.perf_counter_ns
    for r in range(rounds):
        for n, c in conns.items():
            cpu0 = cpu_ns(hops[n]) if hops.get(n) else 0
            for op, f in ops.items():
                s = samples[n][op][r]
                for _ in range(per_round):
                    t0 = clock()
                    f(c)
                    s.append((clock() - t0) / 1000.0)
            ncalls[n] += per_round * len(ops)
            if hops.get(n):
                hop_cpu[n] += cpu_ns(hops[n]) - cpu0
    for c in conns.values():
        c.close()
    return samples, {n: hop_cpu[n] / ncalls[n] for n in hop_cpu}


def pct(v, p):
    v = sorted(v)
    return v[min(len(v) - 1, int(len(v) * p))]


# ---------------------------------------------------------------- main
def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--targets", default="direct,proxy,relay,ref")
    ap.add_argument("--calls", type=int, default=5000, help="timed calls per operation and target")
    ap.add_argument("--rounds", type=int, default=20)
    ap.add_argument("--clients", type=int, default=64)
    ap.add_argument("--procs", type=int, default=8, help="client processes the clients are spread over")
    ap.add_argument("--duration", type=float, default=3.0)
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--json")
    ap.add_argument("--worker", nargs=argparse.REMAINDER)
    a = ap.parse_args()
    if a.worker:
        return worker_main(a.worker)
    if a.quick:
        a.calls, a.rounds, a.duration = 1000, 5, 1.0
    want = a.targets.split(",")

    import libvirt
    libvirt.registerErrorHandler(lambda _c, _e: None, None)
    cleanup = []
    uris = {}
    report = {"args": vars(a)}
    try:
        be = ph.Backends(network=False)
        cleanup.append(be.cleanup)
        be.start()
        c = libvirt.open(be.qemu.uri)
        c.defineXML(domain_xml())
        c.close()
        if "direct" in want:
            uris["direct"] = be.qemu.uri
        if "proxy" in want:
            proxy = ph.Virtproxyd(root=be.root)
            cleanup.append(proxy.cleanup)
            proxy.start()
            uris["proxy"] = proxy.uri
        if "relay" in want and shutil.which("socat"):
            d = tempfile.mkdtemp(prefix="svrl", dir="/tmp")
            cleanup.append(lambda: shutil.rmtree(d, ignore_errors=True))
            sock = os.path.join(d, "relay.sock")
            socat = subprocess.Popen(["socat", "UNIX-LISTEN:%s,fork" % sock, "UNIX-CONNECT:%s" % be.qemu.sock],
                                     preexec_fn=harness._pdeathsig)
            cleanup.append(lambda: (socat.kill(), socat.wait()))
            deadline = time.monotonic() + 10
            while not os.path.exists(sock) and time.monotonic() < deadline:
                time.sleep(0.01)
            uris["relay"] = "qemu:///system?socket=" + sock
        if "ref" in want:
            try:
                ref = harness.RefDaemon()
                cleanup.append(ref.cleanup)
                ref.start()
                c = libvirt.open(ref.uri)
                c.defineXML(domain_xml())
                c.close()
                uris["ref"] = ref.uri
            except Exception as e:      # noqa: BLE001
                print("ref: skipped (%s)" % e)

        print("latency: %d calls x 2 ops per target in %d interleaved rounds" % (a.calls, a.rounds), flush=True)
        hop_pids = {}
        if "proxy" in uris:
            hop_pids["proxy"] = lambda: proxy.pid
        if "relay" in uris:
            # socat forks one child per connection: the one relaying ours
            def relay_child():
                with open("/proc/%d/task/%d/children" % (socat.pid, socat.pid)) as f:
                    kids = f.read().split()
                return int(kids[-1]) if kids else None
            hop_pids["relay"] = relay_child
        samples, hop_cpu = latency(uris, a.calls, a.rounds, hop_pids)
        report["hop_cpu_us_per_call"] = {n: v / 1000.0 for n, v in hop_cpu.items()}
        lat = {}
        for n, ops in samples.items():
            lat[n] = {}
            for op, per_round in ops.items():
                v = [x for r in per_round for x in r]
                lat[n][op] = {"p50": statistics.median(v), "p99": pct(v, 0.99)}
                # Paired: each round's median minus direct's in the same
                # round, then the median over rounds (cancels load drift).
                if n != "direct" and "direct" in samples:
                    lat[n][op]["added_paired"] = statistics.median(
                        statistics.median(r) - statistics.median(d)
                        for r, d in zip(per_round, samples["direct"][op]))
        report["latency_us"] = lat

        conc = {}
        for n in [t for t in ("direct", "proxy") if t in uris]:
            print("concurrency: %s, %d clients over %d processes, %.1fs" % (n, a.clients, a.procs, a.duration),
                  flush=True)
            conc[n] = concurrency(uris[n], a.clients, a.procs, a.duration)
        report["concurrency"] = conc
        if "proxy" in uris:
            report["proxy_rss_kib"] = vmrss_kib(proxy.pid)
    finally:
        for f in reversed(cleanup):
            try:
                f()
            except Exception:      # noqa: BLE001
                pass

    print()
    print("%-8s %-14s %10s %10s %12s %12s" % ("target", "op", "p50 µs", "p99 µs", "p50 - direct",
                                               "paired"))
    for n, ops in report["latency_us"].items():
        for op, v in ops.items():
            d = report["latency_us"].get("direct", {}).get(op)
            added = "%+.1f" % (v["p50"] - d["p50"]) if d and n != "direct" else ""
            paired = "%+.1f" % v["added_paired"] if "added_paired" in v else ""
            print("%-8s %-14s %10.1f %10.1f %12s %12s" % (n, op, v["p50"], v["p99"], added, paired))
    if "proxy" in report["latency_us"] and "direct" in report["latency_us"]:
        for op in ("getLibVersion", "lookupByName"):
            added = report["latency_us"]["proxy"][op]["added_paired"]
            print("proxy adds %.1f µs median to %s (paired rounds; target <= %.0f): %s"
                  % (added, op, TARGET_ADDED_US, "met" if added <= TARGET_ADDED_US else "NOT met"))
    for n, v in report.get("hop_cpu_us_per_call", {}).items():
        print("CPU used by the %s process per round trip: %.1f µs" % (n, v))
    for n, r in report["concurrency"].items():
        print("%d clients via %s: %.0f calls/s, %d errors%s" % (a.clients, n, r["calls_per_s"], r["errors"],
                                                              (" " + repr(r["fail"])) if r["fail"] else ""))
    if report.get("proxy_rss_kib"):
        print("virtproxyd RSS after the load: %.1f MiB" % (report["proxy_rss_kib"] / 1024))
    if a.json:
        with open(a.json, "w") as f:
            json.dump(report, f, indent=1)


def vmrss_kib(pid):
    try:
        with open("/proc/%d/status" % pid) as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
    except (OSError, TypeError):
        pass
    return None


if __name__ == "__main__":
    main()
