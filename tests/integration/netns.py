"""netns - network namespaces for the virtual network tests.

* NetNS(prefix): a named namespace (`ip netns add`), lo up; run()/ip()/nft()
  inside it; links(), addrs(dev), procs(comm), nft_tables(); delete() kills
  every process left in it (dnsmasq, QEMU, a daemon), waits for them to go and
  removes it (which also removes its bridges, veths and nft tables).
  NetNS.attach(pid) names the namespace another process already lives in
  (the reference libvirtd's), delete() then only detaches the name.
* Client(host_ns, bridge, mac): a namespace with eth0 (MAC mac) whose veth peer
  is plugged into BRIDGE in HOST_NS; dhcp() runs busybox udhcpc there and
  returns the lease it got ({'ip':..., 'mask':..., 'router':...}).
* cleanup_all(): every namespace created here and not deleted yet (also at
  exit and, through harness's signal handlers, on SIGTERM/SIGINT).

Names are short and random (svXXXXXX): interface names must fit in 15 bytes.
"""
import atexit
import json
import os
import shutil
import signal
import subprocess
import tempfile
import time
import uuid

_live = []

# the udhcpc hook: configure eth0 and print the lease on one parseable line
UDHCPC_SCRIPT = """#!/bin/sh
case "$1" in
  deconfig) ip addr flush dev "$interface"; ip link set "$interface" up ;;
  bound|renew)
    ip addr flush dev "$interface"
    ip addr add "$ip/${mask:-24}" dev "$interface"
    [ -n "${router:-}" ] && ip route replace default via "${router%% *}" dev "$interface"
    echo "SV-LEASE ip=$ip mask=${mask:-} router=${router:-} dns=${dns:-} domain=${domain:-} lease=${lease:-}" ;;
esac
exit 0
"""


def short_id(n=6):
    return uuid.uuid4().hex[:n]


def _run(cmd, check=True, timeout=60, input=None):
    p = subprocess.run([str(c) for c in cmd], capture_output=True, text=True, timeout=timeout,
                       input=input, env=dict(os.environ, LC_ALL="C"))
    if check and p.returncode != 0:
        raise RuntimeError("%s -> rc %d: %s" % (" ".join(str(c) for c in cmd), p.returncode,
                                                (p.stderr or p.stdout).strip()))
    return p


def _alive(pid):
    """pid exists and is not a zombie."""
    try:
        with open("/proc/%d/stat" % pid) as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


def proc_cmdline(pid):
    try:
        with open("/proc/%d/cmdline" % pid, "rb") as f:
            return f.read().replace(b"\0", b" ").decode(errors="replace").strip()
    except OSError:
        return ""


def proc_comm(pid):
    try:
        with open("/proc/%d/comm" % pid) as f:
            return f.read().strip()
    except OSError:
        return ""


def wait_until(pred, timeout=10.0, interval=0.02, what="condition"):
    """Poll pred() until it returns a true value (-> that value) or raise."""
    deadline = time.monotonic() + timeout
    while True:
        v = pred()
        if v:
            return v
        if time.monotonic() > deadline:
            raise AssertionError("timed out after %.0fs waiting for %s" % (timeout, what))
        time.sleep(interval)


class NetNS:
    def __init__(self, prefix="sv", name=None, create=True):
        self.name = name or (prefix + short_id(8 - len(prefix) if len(prefix) < 6 else 4))
        self.owned = False
        self.tmp = None
        if create:
            _run(["ip", "netns", "add", self.name])
            self.owned = True
            _live.append(self)
            self.ip("link", "set", "lo", "up")

    @classmethod
    def attach(cls, pid, prefix="svr"):
        """Name the network namespace of process PID (ip netns attach)."""
        ns = cls(prefix=prefix, create=False)
        _run(["ip", "netns", "attach", ns.name, str(pid)])
        _live.append(ns)
        return ns

    # ---- running things inside
    def exec_prefix(self):
        return ["ip", "netns", "exec", self.name]

    def run(self, *cmd, check=False, timeout=60, input=None):
        """-> CompletedProcess of CMD inside the namespace (text, captured)."""
        return _run(self.exec_prefix() + list(cmd), check=check, timeout=timeout, input=input)

    def ip(self, *args, check=True):
        return _run(["ip", "-n", self.name] + list(args), check=check)

    def ip_json(self, *args):
        p = _run(["ip", "-j", "-n", self.name] + list(args), check=False)
        if p.returncode != 0 or not p.stdout.strip():
            return []
        return json.loads(p.stdout)

    def nft(self, *args, check=False):
        return self.run("nft", *args, check=check)

    # ---- facts
    def links(self):
        """{ifname: ip -j link entry}"""
        return {l["ifname"]: l for l in self.ip_json("link", "show")}

    def link(self, dev):
        l = self.ip_json("link", "show", "dev", dev)
        return l[0] if l else None

    def has_link(self, dev):
        return dev in self.links()

    def ports(self, bridge):
        """Interfaces enslaved to BRIDGE."""
        return sorted(l["ifname"] for l in self.ip_json("link", "show", "master", bridge))

    def port_state(self, dev):
        """STP state of bridge port DEV ('forwarding', 'learning', ...) or None."""
        p = self.run("bridge", "-j", "link", "show", "dev", dev)
        try:
            entries = json.loads(p.stdout or "[]")
        except ValueError:
            return None
        return entries[0].get("state") if entries else None

    def addrs(self, dev, family="inet"):
        """['10.0.0.1/24', ...] on DEV."""
        out = []
        for l in self.ip_json("-f", family, "addr", "show", "dev", dev):
            for a in l.get("addr_info", []):
                out.append("%s/%s" % (a["local"], a["prefixlen"]))
        return out

    def routes(self):
        return self.ip_json("route", "show")

    def pids(self):
        p = _run(["ip", "netns", "pids", self.name], check=False)
        return [int(x) for x in p.stdout.split() if x.isdigit()]

    def procs(self, comm=None):
        """[(pid, cmdline)] of live processes in the namespace (comm filter)."""
        out = []
        for pid in self.pids():
            if comm and proc_comm(pid) != comm:
                continue
            if _alive(pid):
                out.append((pid, proc_cmdline(pid)))
        return out

    def nft_tables(self):
        """[(family, name)] of nft tables in the namespace."""
        p = self.nft("-j", "list", "tables")
        if p.returncode != 0:
            raise RuntimeError("nft list tables: " + p.stderr)
        data = json.loads(p.stdout or '{"nftables": []}')
        return [(e["table"]["family"], e["table"]["name"]) for e in data.get("nftables", [])
                if "table" in e]

    def nft_ruleset(self):
        return self.nft("list", "ruleset").stdout

    def sysctl(self, key):
        """Value of sysctl KEY as seen inside the namespace (no procps needed)."""
        return self.run("cat", "/proc/sys/" + key.replace(".", "/")).stdout.strip()

    def tmpdir(self):
        """A private temp dir (0755: dnsmasq drops to nobody) removed by delete()."""
        if not self.tmp:
            self.tmp = tempfile.mkdtemp(prefix="svns", dir="/tmp")
            os.chmod(self.tmp, 0o755)
        return self.tmp

    # ---- teardown
    def kill_all(self, timeout=10.0):
        """SIGKILL every process in the namespace and wait until they are gone."""
        me = os.getpid()
        deadline = time.monotonic() + timeout
        while True:
            left = [p for p in self.pids() if p != me and _alive(p)]
            if not left:
                return True
            for p in left:
                try:
                    os.kill(p, signal.SIGKILL)
                except OSError:
                    pass
            if time.monotonic() > deadline:
                return False
            time.sleep(0.02)

    def delete(self):
        if self in _live:
            _live.remove(self)
        if self.owned:
            self.kill_all()
        _run(["ip", "netns", "del", self.name], check=False)
        if self.tmp:
            shutil.rmtree(self.tmp, ignore_errors=True)
            self.tmp = None

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.delete()
        return False


class Client(NetNS):
    """A 'guest': its own namespace, eth0 with MAC, veth peer in HOST_NS's
    BRIDGE (created only when plug() is called or bridge is given)."""

    def __init__(self, host_ns, bridge=None, mac=None, prefix="svc"):
        super().__init__(prefix=prefix)
        self.host_ns = host_ns
        self.mac = mac or "52:54:00:%02x:%02x:%02x" % tuple(os.urandom(3))
        self.host_if = "v" + self.name[-8:] if len(self.name) > 8 else "v" + self.name
        self.plugged = False
        if bridge:
            self.plug(bridge)

    def plug(self, bridge):
        """veth pair: eth0 here, self.host_if in the host namespace's BRIDGE."""
        self.host_ns.ip("link", "add", self.host_if, "type", "veth", "peer", "name", "eth0",
                        "netns", self.name)
        self.plugged = True
        self.host_ns.ip("link", "set", self.host_if, "master", bridge, "up")
        self.ip("link", "set", "eth0", "address", self.mac, "up")
        # with STP on, the port listens and learns (2 x forward delay) before
        # it forwards; a DHCP client started earlier only loses its packets
        wait_until(lambda: self.host_ns.port_state(self.host_if) == "forwarding", 20,
                   what="bridge port %s forwarding" % self.host_if)

    def unplug(self):
        if self.plugged:
            self.host_ns.ip("link", "del", self.host_if, check=False)
            self.plugged = False

    def dhcp(self, tries=12, wait=1, hostname=None, timeout=None):
        """busybox udhcpc on eth0 -> lease dict (ip, mask, router, dns, domain,
        lease, seconds); raises AssertionError with udhcpc's output if none.
        udhcpc itself bounds the time: TRIES discovers WAIT s apart."""
        script = os.path.join(self.tmpdir(), "udhcpc.script")
        if not os.path.exists(script):
            with open(script, "w") as f:
                f.write(UDHCPC_SCRIPT)
            os.chmod(script, 0o755)
        cmd = ["busybox", "udhcpc", "-i", "eth0", "-f", "-q", "-n", "-t", str(tries),
               "-T", str(wait), "-s", script]
        if hostname:
            cmd += ["-x", "hostname:" + hostname]
        t0 = time.monotonic()
        p = self.run(*cmd, timeout=timeout or (tries * (wait + 1) + 30))
        secs = time.monotonic() - t0
        for line in p.stdout.splitlines():
            if line.startswith("SV-LEASE "):
                lease = dict(kv.split("=", 1) for kv in line[len("SV-LEASE "):].split())
                lease["seconds"] = secs
                return lease
        raise AssertionError("%s (mac %s): no DHCP lease after %.1fs (udhcpc rc %d): %s %s"
                             % (self.name, self.mac, secs, p.returncode, p.stdout.strip(),
                                p.stderr.strip()))

    def ping(self, addr, count=1, wait=2):
        p = self.run("busybox", "ping", "-c", str(count), "-W", str(wait), addr)
        return p.returncode == 0

    def delete(self):
        self.unplug()
        super().delete()


def cleanup_all():
    for ns in list(reversed(_live)):
        try:
            ns.delete()
        except Exception:
            pass


atexit.register(cleanup_all)
