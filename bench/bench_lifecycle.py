#!/usr/bin/python3
"""splitvirt lifecycle benchmark: guest start/destroy latency of our virtqemud
vs the reference libvirtd 9.0 vs QEMU alone.

    /usr/bin/python3 bench/bench_lifecycle.py                    # qemu,ours,ref; 10 runs each
    /usr/bin/python3 bench/bench_lifecycle.py --targets qemu,ref --runs 5

Measured (median of --runs, after one warm-up run that is not counted):
  qemu   exec qemu-system-x86_64 with the command line the reference builds for
         the same guest (TCG, pc-i440fx-7.2, 128 MiB, qcow2 virtio disk, pty
         serial, -S, monitor on a unix socket) -> QMP greeting ->
         qmp_capabilities -> cont answered; then `quit`.
  ours / ref
         create: python dom.create() of a defined guest until it returns (the
                 guest is running then: checked with dom.state() and /proc)
         virsh start: wall time of `virsh start NAME` (includes virsh's own
                 start-up and connection, ~30-60 ms)
         destroy: dom.destroy() until it returns (QEMU must be gone then)
Issue targets: create -> running <= 1.5 x QEMU alone; destroy <= 50 ms.
Run as root on an idle machine; not part of ctest. See bench/README.md.
"""
import argparse
import json
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
SOURCE_DIR = os.environ.get("SV_SOURCE_DIR", os.path.dirname(HERE))
sys.path.insert(0, os.path.join(SOURCE_DIR, "tests", "integration"))
import harness  # noqa: E402
import guest_assets as ga  # noqa: E402

QEMU = "/usr/bin/qemu-system-x86_64"
TARGETS = {"create_vs_qemu": 1.5, "destroy_ms": 50.0}
PREFIX = "svb%04x-" % (os.getpid() & 0xffff)


# ====================================================================== QEMU alone
def qmp_cmd(f, name):
    f.write((json.dumps({"execute": name}) + "\n").encode())
    while True:
        line = f.readline()
        if not line:
            raise RuntimeError("QMP closed during %s" % name)
        r = json.loads(line)
        if "event" in r:
            continue
        if "error" in r:
            raise RuntimeError("QMP %s: %s" % (name, r["error"]))
        return r


def qemu_once(work, disk, i):
    """-> seconds from exec to the answer of `cont`."""
    sock = os.path.join(work, "q%d.qmp" % i)
    # the command line the reference libvirtd 9.0 builds for ga.domain_xml(disk=...),
    # minus its master-key secret object, with the monitor on a path instead of an fd
    argv = [QEMU, "-name", "guest=%sqemu,debug-threads=on" % PREFIX, "-S",
            "-machine", "pc-i440fx-7.2,usb=off,dump-guest-core=off,memory-backend=pc.ram",
            "-accel", "tcg", "-cpu", "qemu64", "-m", "128",
            "-object", '{"qom-type":"memory-backend-ram","id":"pc.ram","size":134217728}',
            "-overcommit", "mem-lock=off", "-smp", "1,sockets=1,cores=1,threads=1",
            "-display", "none", "-no-user-config", "-nodefaults",
            "-chardev", "socket,id=charmonitor,path=%s,server=on,wait=off" % sock,
            "-mon", "chardev=charmonitor,id=monitor,mode=control",
            "-rtc", "base=utc", "-no-shutdown", "-boot", "strict=on",
            "-device", '{"driver":"piix3-usb-uhci","id":"usb","bus":"pci.0","addr":"0x1.0x2"}',
            "-blockdev", json.dumps({"driver": "file", "filename": disk, "node-name": "f0",
                                     "auto-read-only": True, "discard": "unmap"}),
            "-blockdev", '{"node-name":"d0","read-only":false,"driver":"qcow2","file":"f0","backing":null}',
            "-device", '{"driver":"virtio-blk-pci","bus":"pci.0","addr":"0x2","drive":"d0",'
                       '"id":"virtio-disk0","bootindex":1}',
            "-chardev", "pty,id=charserial0",
            "-device", '{"driver":"isa-serial","chardev":"charserial0","id":"serial0","index":0}',
            "-audiodev", '{"id":"audio1","driver":"none"}',
            "-device", '{"driver":"virtio-balloon-pci","id":"balloon0","bus":"pci.0","addr":"0x3"}',
            "-sandbox", "on,obsolete=deny,elevateprivileges=deny,spawn=deny,resourcecontrol=deny",
            "-msg", "timestamp=on"]
    t0 = time.perf_counter()
    p = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                         stderr=subprocess.DEVNULL, preexec_fn=harness._pdeathsig)
    try:
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        while True:
            try:
                s.connect(sock)
                break
            except (FileNotFoundError, ConnectionRefusedError):
                if p.poll() is not None:
                    raise RuntimeError("qemu exited with %s" % p.returncode)
                if time.perf_counter() - t0 > 30:
                    raise RuntimeError("no QMP socket within 30 s")
                time.sleep(0.001)
        f = s.makefile("rwb", buffering=0)
        json.loads(f.readline())                     # greeting
        qmp_cmd(f, "qmp_capabilities")
        qmp_cmd(f, "cont")
        dt = time.perf_counter() - t0
        qmp_cmd(f, "quit")
        p.wait(10)
        s.close()
        return dt
    finally:
        if p.poll() is None:
            p.kill()
            p.wait()
        try:
            os.unlink(sock)
        except FileNotFoundError:
            pass


def measure_qemu(work, runs):
    disk = ga.make_qcow2(os.path.join(work, "qemu-alone.qcow2"), "64M")
    qemu_once(work, disk, 99)                                          # warm-up (page cache)
    t = [qemu_once(work, disk, i) for i in range(runs)]
    r = {"qemu_cont_s": statistics.median(t), "qemu_cont_all": t}
    print("  [qemu] exec -> greeting + qmp_capabilities + cont: median %.0f ms (min %.0f, max %.0f)"
          % (r["qemu_cont_s"] * 1000, min(t) * 1000, max(t) * 1000), flush=True)
    return r


# ====================================================================== daemons
def measure_daemon(kind, work, runs):
    import libvirt
    libvirt.registerErrorHandler(lambda _c, _e: None, None)
    tgt = harness.Virtqemud(activation=False) if kind == "ours" else harness.RefDaemon()
    name = PREFIX + kind
    try:
        tgt.start()
        disk = ga.make_qcow2(os.path.join(work, name + ".qcow2"), "64M")
        conn = tgt.open()
        dom = conn.defineXML(ga.domain_xml(name, disk=disk))
        # warm-up: the reference probes QEMU capabilities on first use
        dom.create()
        dom.destroy()
        create, destroy, vstart, gone_after = [], [], [], []
        for _ in range(runs):
            t0 = time.perf_counter()
            dom.create()
            create.append(time.perf_counter() - t0)
            st = dom.state()[0]
            if st != libvirt.VIR_DOMAIN_RUNNING or len(ga.qemu_pids(name)) != 1:
                raise RuntimeError("after create(): state %s, QEMU pids %s" % (st, ga.qemu_pids(name)))
            time.sleep(0.2)
            t0 = time.perf_counter()
            dom.destroy()
            destroy.append(time.perf_counter() - t0)
            # QEMU must be gone when destroy() returns; measure any lag
            while ga.qemu_pids(name):
                time.sleep(0.001)
            gone_after.append(time.perf_counter() - t0)
        for _ in range(runs):
            t0 = time.perf_counter()
            rc, _out, err = tgt.virsh("start", name)
            vstart.append(time.perf_counter() - t0)
            if rc:
                raise RuntimeError("virsh start: " + err.strip())
            dom.destroy()
        r = {"create_s": statistics.median(create), "destroy_s": statistics.median(destroy),
             "virsh_start_s": statistics.median(vstart), "qemu_gone_s": statistics.median(gone_after),
             "create_all": create, "destroy_all": destroy, "virsh_start_all": vstart}
        print("  [%s] create() median %.0f ms (min %.0f, max %.0f); virsh start %.0f ms; "
              "destroy() %.1f ms (QEMU gone after %.1f ms)"
              % (kind, r["create_s"] * 1000, min(create) * 1000, max(create) * 1000,
                 r["virsh_start_s"] * 1000, r["destroy_s"] * 1000, r["qemu_gone_s"] * 1000),
              flush=True)
        try:
            dom.undefine()
            conn.close()
        except libvirt.libvirtError:
            pass
        return r
    finally:
        ga.kill_guests(name)
        tgt.cleanup()


# ====================================================================== report
def report(res):
    g = lambda t, k: res.get(t, {}).get(k)  # noqa: E731

    def ms(v):
        return "n/a" if v is None else "%.1f" % (v * 1000)
    print()
    print("%-36s %10s %10s %10s" % ("metric (median, ms)", "qemu", "ours", "ref"))
    print("-" * 70)
    print("%-36s %10s %10s %10s" % ("exec -> QMP cont (QEMU alone)", ms(g("qemu", "qemu_cont_s")), "", ""))
    for label, k in (("create() -> running", "create_s"), ("virsh start (wall)", "virsh_start_s"),
                     ("destroy()", "destroy_s"), ("destroy() -> QEMU gone", "qemu_gone_s")):
        print("%-36s %10s %10s %10s" % (label, "", ms(g("ours", k)), ms(g("ref", k))))
    print()
    print("Issue targets:")
    q = g("qemu", "qemu_cont_s")
    for t in ("ours", "ref"):
        c = g(t, "create_s")
        if c is not None and q:
            v = c / q
            print("  %-4s create -> running <= 1.5 x QEMU alone: %5.2f x  %s"
                  % (t, v, "MET" if v <= TARGETS["create_vs_qemu"] else "NOT MET"))
        d = g(t, "destroy_s")
        if d is not None:
            print("  %-4s destroy <= 50 ms:                   %5.1f ms %s"
                  % (t, d * 1000, "MET" if d * 1000 <= TARGETS["destroy_ms"] else "NOT MET"))
    if g("ours", "create_s") and g("ref", "create_s"):
        print("  ours/ref: create %.2f x, destroy %.2f x" % (
            g("ours", "create_s") / g("ref", "create_s"),
            g("ours", "destroy_s") / g("ref", "destroy_s")))


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--targets", default="qemu,ours,ref")
    ap.add_argument("--runs", type=int, default=10)
    ap.add_argument("--json", help="also write the raw results to this file")
    a = ap.parse_args()
    work = tempfile.mkdtemp(prefix="svbl")
    res = {}
    try:
        for t in a.targets.split(","):
            print("== %s" % t, flush=True)
            try:
                res[t] = measure_qemu(work, a.runs) if t == "qemu" else measure_daemon(t, work, a.runs)
            except Exception as e:
                print("  [%s] skipped: %s: %s" % (t, type(e).__name__,
                                                  str(e).splitlines()[0] if str(e) else ""), flush=True)
    finally:
        ga.kill_guests(PREFIX)
        shutil.rmtree(work, ignore_errors=True)
    report(res)
    if a.json:
        with open(a.json, "w") as f:
            json.dump(res, f, indent=1)


if __name__ == "__main__":
    main()
