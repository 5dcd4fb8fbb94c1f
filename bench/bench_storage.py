#!/usr/bin/python3
"""splitvirt storage benchmark: our virtstoraged vs the reference libvirtd 9.0
(storage driver, storage:///system), python3-libvirt 9.0 as the client, dir pools.

    /usr/bin/python3 bench/bench_storage.py                   # ours,ref
    /usr/bin/python3 bench/bench_storage.py --targets ref --quick

Measured per target (each in its own temp root, pool dir inside it):
  create+delete N qcow2   one client, sequential: N x pool.createXML(qcow2, 1 MiB)
                          then N x vol.delete(0); wall time of each phase and total
  listAllVolumes          pool of --pool-size volumes (raw files made in the pool
                          dir, then one pool.refresh()); median of 5 timed
                          listAllVolumes(0) after one warm-up (the refresh time is
                          printed too)
  upload / download       a --mib MiB raw volume: vol.upload + stream.sendAll from
                          memory (random data), vol.download + stream.recvAll into a
                          counting sink; MiB/s, median of --runs; the download is
                          checked byte-exact once
Issue targets: ours at least as fast as the reference on each row (time ratio
ours/ref <= 1, throughput ratio >= 1).  Not part of ctest; see bench/README.md.
"""
import argparse
import hashlib
import json
import os
import statistics
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
SOURCE_DIR = os.environ.get("SV_SOURCE_DIR", os.path.dirname(HERE))
sys.path.insert(0, os.path.join(SOURCE_DIR, "tests", "integration"))
import harness  # noqa: E402

MiB = 1 << 20
TAG = "%06x" % (os.getpid() & 0xffffff)


def make(kind):
    if kind == "ours":
        return harness.Virtstoraged()
    if kind == "ref":
        return harness.RefDaemon(scheme="storage")
    raise ValueError(kind)


def new_pool(conn, root, name):
    path = os.path.join(root, "bench-" + name)
    p = conn.storagePoolDefineXML("<pool type='dir'><name>%s</name><target><path>%s</path>"
                                  "</target></pool>" % (name, path), 0)
    p.build(0)
    p.create(0)
    return p, path


def drop_pool(p):
    try:
        if p.isActive():
            p.destroy()
        p.undefine()
    except Exception:
        pass


def bench_create_delete(conn, root, n):
    p, _ = new_pool(conn, root, "cd" + TAG)
    xml = ("<volume><name>v%05d</name><capacity>1048576</capacity>"
           "<target><format type='qcow2'/></target></volume>")
    w = p.createXML(xml % 99999, 0)      # warm-up (qemu-img paths, caches)
    w.delete(0)
    t0 = time.monotonic()
    vols = [p.createXML(xml % i, 0) for i in range(n)]
    t1 = time.monotonic()
    for v in vols:
        v.delete(0)
    t2 = time.monotonic()
    left = p.numOfVolumes()
    drop_pool(p)
    if left:
        raise RuntimeError("%d volumes left after deleting" % left)
    return {"create_s": t1 - t0, "delete_s": t2 - t1, "create_delete_s": t2 - t0}


def bench_list(conn, root, n):
    p, path = new_pool(conn, root, "ls" + TAG)
    for i in range(n):
        with open(os.path.join(path, "f%05d.img" % i), "wb") as f:
            f.truncate(MiB)
    t0 = time.monotonic()
    p.refresh(0)
    t_refresh = time.monotonic() - t0
    got = len(p.listAllVolumes(0))
    if got != n:
        raise RuntimeError("listAllVolumes: %d volumes, want %d" % (got, n))
    times = []
    for _ in range(5):
        t0 = time.monotonic()
        p.listAllVolumes(0)
        times.append(time.monotonic() - t0)
    drop_pool(p)
    return {"refresh_s": t_refresh, "list_all_s": statistics.median(times)}


def bench_stream(conn, root, mib, runs):
    p, _ = new_pool(conn, root, "st" + TAG)
    size = mib * MiB
    v = p.createXML("<volume><name>big</name><capacity>%d</capacity><allocation>0</allocation>"
                    "<target><format type='raw'/></target></volume>" % size, 0)
    data = os.urandom(size)
    digest = hashlib.sha256(data).hexdigest()
    up, down = [], []
    for r in range(runs):
        pos = [0]

        def src(_s, nbytes, _o):
            chunk = data[pos[0]:pos[0] + nbytes]
            pos[0] += len(chunk)
            return chunk
        st = conn.newStream(0)
        t0 = time.monotonic()
        v.upload(st, 0, 0, 0)
        st.sendAll(src, None)
        st.finish()
        up.append(time.monotonic() - t0)

        h = hashlib.sha256() if r == 0 else None
        n = [0]

        def sink(_s, buf, _o):
            n[0] += len(buf)
            if h is not None:
                h.update(buf)
            return len(buf)
        st = conn.newStream(0)
        t0 = time.monotonic()
        v.download(st, 0, 0, 0)
        st.recvAll(sink, None)
        st.finish()
        t = time.monotonic() - t0
        if n[0] != size:
            raise RuntimeError("downloaded %d bytes, want %d" % (n[0], size))
        if h is not None:
            if h.hexdigest() != digest:
                raise RuntimeError("downloaded data differs from the upload")
            # hashing slows the first download: not counted
        else:
            down.append(t)
    if not down:      # --runs 1: count the hashed one
        down.append(t)
    v.delete(0)
    drop_pool(p)
    return {"upload_mibs": mib / statistics.median(up), "download_mibs": mib / statistics.median(down)}


def measure(kind, args):
    tgt = None
    try:
        tgt = make(kind)
        tgt.start()
    except Exception as e:
        if tgt:
            tgt.cleanup()
        return {"skipped": str(e).splitlines()[0] if str(e) else type(e).__name__}
    try:
        conn = tgt.open()
        res = {}
        print("[%s] create+delete %d qcow2 ..." % (kind, args.volumes), flush=True)
        res.update(bench_create_delete(conn, tgt.root, args.volumes))
        print("[%s] list a %d-volume pool ..." % (kind, args.pool_size), flush=True)
        res.update(bench_list(conn, tgt.root, args.pool_size))
        print("[%s] upload/download %d MiB x %d ..." % (kind, args.mib, args.runs), flush=True)
        res.update(bench_stream(conn, tgt.root, args.mib, args.runs))
        conn.close()
        return res
    except Exception as e:
        return {"skipped": "%s: %s" % (type(e).__name__, e)}
    finally:
        tgt.cleanup()


ROWS = [  # key, label, unit, better ("lower"/"higher"), issue target on ours/ref
    ("create_s", "create N qcow2", "s", "lower", None),
    ("delete_s", "delete N", "s", "lower", None),
    ("create_delete_s", "create+delete N qcow2", "s", "lower", 1.0),
    ("refresh_s", "pool-refresh (M files)", "s", "lower", None),
    ("list_all_s", "listAllVolumes (M vols) p50", "ms", "lower", 1.0),
    ("upload_mibs", "upload", "MiB/s", "higher", 1.0),
    ("download_mibs", "download", "MiB/s", "higher", 1.0),
]


def report(res, args):
    kinds = list(res)
    print()
    print("N=%d volumes, M=%d-volume pool, %d MiB streams" % (args.volumes, args.pool_size, args.mib))
    for k in kinds:
        if "skipped" in res[k]:
            print("%s: skipped (%s)" % (k, res[k]["skipped"]))
    hdr = "%-36s" % "metric" + "".join("%12s" % k for k in kinds) + "%12s  %s" % ("ours/ref", "target")
    print(hdr)
    print("-" * len(hdr))
    for key, label, unit, better, target in ROWS:
        label = label.replace("N", str(args.volumes)).replace("M", str(args.pool_size))
        cells = []
        for k in kinds:
            v = res[k].get(key)
            if v is None:
                cells.append("%12s" % "n/a")
            elif unit == "ms":
                cells.append("%10.2fms" % (v * 1000))
            elif unit == "s":
                cells.append("%11.3fs" % v)
            else:
                cells.append("%12.1f" % v)
        o, r = res.get("ours", {}).get(key), res.get("ref", {}).get(key)
        ratio = tgt = ""
        if o and r:
            ratio = "%.2f" % (o / r)
            if target is not None:
                ok = (o / r <= target) if better == "lower" else (o / r >= target)
                tgt = "%s %.1f %s" % ("<=" if better == "lower" else ">=", target,
                                      "met" if ok else "NOT met")
        print("%-36s%s%12s  %s" % (label + " [" + unit + "]", "".join(cells), ratio, tgt))


def main():
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--targets", default="ours,ref")
    ap.add_argument("--volumes", type=int, default=500)
    ap.add_argument("--pool-size", type=int, default=2000)
    ap.add_argument("--mib", type=int, default=256)
    ap.add_argument("--runs", type=int, default=3, help="stream runs (median)")
    ap.add_argument("--quick", action="store_true", help="50 volumes, 200-volume pool, 32 MiB")
    ap.add_argument("--json", help="also write the raw results to this file")
    args = ap.parse_args()
    if args.quick:
        args.volumes, args.pool_size, args.mib = 50, 200, 32
    import libvirt
    libvirt.registerErrorHandler(lambda *_a: None, None)
    res = {}
    for kind in args.targets.split(","):
        res[kind] = measure(kind, args)
    report(res, args)
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"args": vars(args), "results": res}, f, indent=1)


if __name__ == "__main__":
    main()
