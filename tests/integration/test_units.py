#!/usr/bin/python3
"""Checks the systemd units generated from SV_DAEMONS (units/CMakeLists.txt).

* socket paths, socket modes, FD names and dependencies match libvirt 9.0
  (protocol.md 5.1 and 6.1);
* `systemd-analyze verify` accepts every unit, twice: the build-tree variant
  (ExecStart = the built binary) and the installed variant under a private
  --root (environment.md 5). Daemons whose binary is not built yet are
  skipped, except virtqemud, which is required;
* `systemd-analyze security --offline=true --threshold=50` passes (exposure
  <= 5.0) for every service, and a few per-daemon sandbox rules hold.

Env: SV_BUILD_DIR, SV_SOURCE_DIR (set by ctest). Prints "N passed, M failed".
"""

import os
import re
import shutil
import subprocess
import sys
import tempfile

BUILD = os.environ.get("SV_BUILD_DIR", "")
SOURCE = os.environ.get("SV_SOURCE_DIR", "")

# libvirt 9.0: daemon -> socket prefix. Deliberately not read from SV_DAEMONS,
# so a wrong entry there is caught here.
LIBVIRT_PREFIX = {
    "virtqemud": "virtqemud",
    "virtnetworkd": "virtnetworkd",
    "virtstoraged": "virtstoraged",
    "virtlxcd": "virtlxcd",
    "virtxend": "virtxend",
    "virtproxyd": "libvirt",
}
# Upstream KillMode=process: guests / dnsmasq outlive a daemon restart.
KILLMODE_PROCESS = {"virtqemud", "virtlxcd", "virtxend", "virtnetworkd"}
REQUIRED = {"virtqemud"}
TARGETS = ["sysinit.target", "basic.target", "sockets.target", "network.target",
           "multi-user.target", "local-fs.target", "remote-fs.target",
           "shutdown.target", "paths.target", "timers.target", "slices.target"]

passed = 0
failed = 0


def ok(msg):
    global passed
    passed += 1
    print(f"PASS {msg}")


def bad(msg, detail=""):
    global failed
    failed += 1
    print(f"FAIL {msg}")
    if detail:
        for line in detail.rstrip().splitlines():
            print(f"     {line}")


def check(cond, msg, detail=""):
    if cond:
        ok(msg)
    else:
        bad(msg, detail)
    return cond


def parse_unit(path):
    """{section: {key: [values in order]}}; an empty assignment resets."""
    sections = {}
    cur = None
    with open(path, encoding="utf-8") as f:
        for raw in f:
            line = raw.strip()
            if not line or line[0] in "#;":
                continue
            if line.startswith("[") and line.endswith("]"):
                cur = sections.setdefault(line[1:-1], {})
                continue
            key, _, val = line.partition("=")
            key, val = key.strip(), val.strip()
            if val == "":
                cur[key] = []
            else:
                cur.setdefault(key, []).append(val)
    return sections


def get(unit, section, key):
    return unit.get(section, {}).get(key, [])


def words(unit, section, key):
    out = []
    for v in get(unit, section, key):
        out.extend(v.split())
    return out


def sv_daemons():
    """Parse set(SV_DAEMONS "name|prefix|scheme|desc" ...) from CMakeLists.txt."""
    with open(os.path.join(SOURCE, "CMakeLists.txt"), encoding="utf-8") as f:
        text = f.read()
    m = re.search(r"set\(\s*SV_DAEMONS\s+(.*?)\)", text, re.S)
    if not m:
        return []
    return [tuple(e.split("|")) for e in re.findall(r'"([^"]+)"', m.group(1))]


def run(cmd, **kw):
    return subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                          text=True, timeout=60, **kw)


def socket_units(name):
    units = [f"{name}.socket", f"{name}-ro.socket", f"{name}-admin.socket"]
    if name == "virtproxyd":
        units += [f"{name}-tcp.socket", f"{name}-tls.socket"]
    return units


def check_names(name, prefix, udir):
    """Socket paths/modes/dependencies against libvirt 9.0."""
    exp_prefix = LIBVIRT_PREFIX.get(name)
    check(exp_prefix == prefix, f"{name}: SV_DAEMONS socket prefix '{prefix}' is libvirt's",
          f"libvirt 9.0 uses '{exp_prefix}'")
    svc = f"{name}.service"
    socks = {
        f"{name}.socket": (f"/run/libvirt/{exp_prefix}-sock", "0600"),
        f"{name}-ro.socket": (f"/run/libvirt/{exp_prefix}-sock-ro", "0666"),
        f"{name}-admin.socket": (f"/run/libvirt/{exp_prefix}-admin-sock", "0600"),
    }
    if name == "virtproxyd":
        socks[f"{name}-tcp.socket"] = ("16509", None)
        socks[f"{name}-tls.socket"] = ("16514", None)
    for sname, (path, mode) in socks.items():
        p = os.path.join(udir, sname)
        if not check(os.path.exists(p), f"{sname}: generated"):
            continue
        u = parse_unit(p)
        errs = []
        if get(u, "Socket", "ListenStream") != [path]:
            errs.append(f"ListenStream={get(u, 'Socket', 'ListenStream')} want {path}")
        if mode and get(u, "Socket", "SocketMode") != [mode]:
            errs.append(f"SocketMode={get(u, 'Socket', 'SocketMode')} want {mode}")
        if get(u, "Socket", "Service") != [svc]:
            errs.append(f"Service={get(u, 'Socket', 'Service')} want {svc}")
        # the daemon matches LISTEN_FDNAMES against the unit names
        if get(u, "Socket", "FileDescriptorName"):
            errs.append("FileDescriptorName= set: FD name would not be the unit name")
        if svc not in words(u, "Unit", "Before"):
            errs.append(f"missing Before={svc}")
        if sname == f"{name}.socket":
            if get(u, "Socket", "RemoveOnStop") != ["yes"]:
                errs.append("main socket lacks RemoveOnStop=yes")
        else:
            for k in ("BindsTo", "After"):
                if f"{name}.socket" not in words(u, "Unit", k):
                    errs.append(f"missing {k}={name}.socket")
        if "sockets.target" not in words(u, "Install", "WantedBy"):
            errs.append("missing WantedBy=sockets.target")
        check(not errs, f"{sname}: matches libvirt 9.0 ({path})", "\n".join(errs))

    p = os.path.join(udir, svc)
    if not check(os.path.exists(p), f"{svc}: generated"):
        return
    u = parse_unit(p)
    errs = []
    upper = name.upper()
    if get(u, "Service", "Type") != ["notify"]:
        errs.append("Type is not notify")
    if f'{upper}_ARGS="--timeout 120"' not in get(u, "Service", "Environment"):
        errs.append(f'missing Environment={upper}_ARGS="--timeout 120"')
    ex = get(u, "Service", "ExecStart")
    if len(ex) != 1 or not re.fullmatch(rf"/\S*/{name} \${upper}_ARGS", ex[0]):
        errs.append(f"ExecStart={ex}")
    if get(u, "Service", "Restart") != ["on-failure"]:
        errs.append("Restart is not on-failure")
    km = get(u, "Service", "KillMode")
    if name in KILLMODE_PROCESS and km != ["process"]:
        errs.append(f"KillMode={km}, want process")
    req = words(u, "Unit", "Requires")
    for s in (f"{name}.socket", f"{name}-ro.socket", f"{name}-admin.socket"):
        if s not in req:
            errs.append(f"missing Requires={s}")
    if "libvirtd.service" not in words(u, "Unit", "Conflicts"):
        errs.append("missing Conflicts=libvirtd.service")
    check(not errs, f"{svc}: matches libvirt 9.0", "\n".join(errs))
    return u


def check_sandbox(name, u):
    """Per-daemon rules from architecture.md 4.11 that the score alone misses."""
    errs = []
    # virtstoraged mounts fs pools for virtqemud and QEMU to see: any option
    # that gives it a private mount namespace would hide them (systemd.exec).
    mounts_for_host = name == "virtstoraged"
    wanted = [("NoNewPrivileges", "yes"), ("SystemCallArchitectures", "native")]
    if not mounts_for_host:
        wanted += [("ProtectSystem", "strict"), ("ProtectHome", "yes"), ("PrivateTmp", "yes")]
    for key, want in wanted:
        if get(u, "Service", key) != [want]:
            errs.append(f"{key}={get(u, 'Service', key)} want {want}")
    if mounts_for_host:
        for key in ("ProtectSystem", "ProtectHome", "PrivateTmp", "PrivateMounts", "ReadWritePaths",
                    "ProtectKernelTunables", "ProtectKernelModules", "ProtectKernelLogs", "ProtectControlGroups"):
            if get(u, "Service", key):
                errs.append(f"{key}= would hide fs pool mounts from the host")
    if not any(k == "CapabilityBoundingSet" for k in u.get("Service", {})):
        errs.append("no CapabilityBoundingSet=")
    caps = words(u, "Service", "CapabilityBoundingSet")
    if any(c.startswith("~") for c in caps):
        errs.append("CapabilityBoundingSet is a deny list")
    fams = words(u, "Service", "RestrictAddressFamilies")
    if not fams or fams[0].startswith("~"):
        errs.append("RestrictAddressFamilies is not an allow list")
    devs = " ".join(get(u, "Service", "DeviceAllow"))
    if name in ("virtstoraged", "virtnetworkd", "virtproxyd"):
        if "/dev/kvm" in devs:
            errs.append("has /dev/kvm")
        if "CAP_NET_ADMIN" in caps and name != "virtnetworkd":
            errs.append("has CAP_NET_ADMIN")
    if name == "virtstoraged" and "AF_NETLINK" in fams:
        errs.append("storage must not have AF_NETLINK")
    if name == "virtqemud" and "/dev/kvm" not in devs:
        errs.append("virtqemud cannot open /dev/kvm")
    rw = words(u, "Service", "ReadWritePaths")
    for d in () if mounts_for_host else ("/run/libvirt",) if name == "virtproxyd" else ("/etc/libvirt", "/run/libvirt"):
        if d not in rw:
            errs.append(f"{d} not in ReadWritePaths")
    check(not errs, f"{name}.service: sandbox rules", "\n".join(errs))


def security(name, path):
    r = run(["systemd-analyze", "security", "--offline=true", "--threshold=50",
             "--no-pager", path])
    m = re.search(r"Overall exposure level for \S+: ([0-9.]+) (\S+)", r.stdout)
    score = f"{m.group(1)} {m.group(2)}" if m else "?"
    check(r.returncode == 0 and m is not None,
          f"{name}.service: systemd-analyze security exposure {score} (<= 5.0)",
          "" if r.returncode == 0 else "\n".join(r.stdout.splitlines()[-15:]))
    return score


def find_target(t):
    for d in ("/usr/lib/systemd/system", "/lib/systemd/system"):
        if os.path.exists(os.path.join(d, t)):
            return os.path.join(d, t)
    return None


def verify_build_tree(name, udir, units):
    paths = [os.path.join(udir, "build-tree", f) for f in units]
    with tempfile.TemporaryDirectory() as tmp:
        r = run(["systemd-analyze", "verify", "--man=no"] + paths, cwd=tmp)
    check(r.returncode == 0 and not r.stdout.strip(),
          f"{name}: systemd-analyze verify (build-tree units)", r.stdout)


def verify_installed(name, udir, units, binary):
    """environment.md 5: units in ROOT/etc/systemd/system, targets copied,
    ExecStart binaries present inside ROOT."""
    svc = parse_unit(os.path.join(udir, f"{name}.service"))
    exe = get(svc, "Service", "ExecStart")[0].split()[0]
    with tempfile.TemporaryDirectory() as root:
        sysd = os.path.join(root, "etc/systemd/system")
        lib = os.path.join(root, "usr/lib/systemd/system")
        os.makedirs(sysd)
        os.makedirs(lib)
        for f in units:
            shutil.copy(os.path.join(udir, f), sysd)
        for t in TARGETS:
            src = find_target(t)
            if src:
                shutil.copy(src, lib)
        for path, src in ((exe, binary), ("/bin/kill", shutil.which("kill") or "/bin/kill")):
            dst = os.path.join(root, path.lstrip("/"))
            os.makedirs(os.path.dirname(dst), exist_ok=True)
            shutil.copy(src, dst)
        r = run(["systemd-analyze", "verify", "--man=no", f"--root={root}"] + units, cwd=root)
    check(r.returncode == 0 and not r.stdout.strip(),
          f"{name}: systemd-analyze verify --root (installed units, ExecStart={exe})", r.stdout)


def main():
    if not BUILD or not SOURCE:
        bad("SV_BUILD_DIR and SV_SOURCE_DIR must be set (ctest sets them)")
        return
    if not check(shutil.which("systemd-analyze") is not None, "systemd-analyze available"):
        return
    udir = os.path.join(BUILD, "units")
    daemons = sv_daemons()
    check(sorted(d[0] for d in daemons) == sorted(LIBVIRT_PREFIX),
          "SV_DAEMONS lists the six split daemons",
          f"got {[d[0] for d in daemons]}")
    scores = {}
    for entry in daemons:
        if len(entry) != 4:
            bad(f"SV_DAEMONS entry {entry!r} is not name|prefix|scheme|description")
            continue
        name, prefix = entry[0], entry[1]
        units = [f"{name}.service"] + socket_units(name)
        u = check_names(name, prefix, udir)
        for f in units:
            check(os.path.exists(os.path.join(udir, "build-tree", f)),
                  f"{f}: build-tree variant generated")
        if u is None:
            continue
        check_sandbox(name, u)
        scores[name] = security(name, os.path.join(udir, f"{name}.service"))
        binary = os.path.join(BUILD, name, name)
        if not (os.path.isfile(binary) and os.access(binary, os.X_OK)):
            if name in REQUIRED:
                bad(f"{name}: binary {binary} not built (required)")
            else:
                print(f"SKIP {name}: verify (binary {binary} not built yet)")
            continue
        verify_build_tree(name, udir, units)
        verify_installed(name, udir, units, binary)
    print("exposure: " + ", ".join(f"{n} {s}" for n, s in scores.items()))


if __name__ == "__main__":
    try:
        main()
    except Exception as e:  # report, don't traceback past the summary
        import traceback
        traceback.print_exc()
        bad(f"unexpected error: {e}")
    print(f"{passed} passed, {failed} failed")
    sys.exit(1 if failed else 0)
