#!/usr/bin/python3
"""virsh acceptance list, compared with golden output captured from the
reference libvirtd 9.0 (tests/golden/virsh/ref/*.txt).

    /usr/bin/python3 tests/integration/test_virsh_compat.py              # our virtqemud
    SV_TARGET=ref /usr/bin/python3 ...test_virsh_compat.py               # the reference itself
    SV_TARGET=ref ... --capture-ref     re-capture the reference goldens (developer only)
    ... --capture-ours                  (re)write tests/golden/virsh/ours/* from our daemon

Every step runs stock `virsh` (LC_ALL=C) and compares rc, stdout and stderr
with the golden file after filling host placeholders and normalizing (see
NORMALIZER below). For `dumpxml` and `capabilities` libvirt adds post-parse
defaults, so those are compared exactly with a separate golden of OUR output
(tests/golden/virsh/ours/) and additionally checked structurally: the key
elements of the reference output must be present, with equal values, in ours.
"""
import os
import re
import socket
import sys
import xml.etree.ElementTree as ET

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402
from harness import expect, expect_eq  # noqa: E402

GOLDEN = harness.GOLDEN_DIR
INPUT = os.path.join(GOLDEN, "input")
REF_DIR = os.path.join(GOLDEN, "ref")
OURS_DIR = os.path.join(GOLDEN, "ours")
CAPTURE_REF = "--capture-ref" in sys.argv
CAPTURE_OURS = "--capture-ours" in sys.argv


# ------------------------------------------------------------- host facts
qemu_version = harness.qemu_version
online_cpus = harness.online_cpus


def placeholders(target):
    # @URI@: `virsh uri` echoes the per-run socket path; the rest are host facts
    # that a correct daemon must report (filled in, then compared exactly).
    return {"@URI@": target.uri, "@HOSTNAME@": socket.gethostname(),
            "@QEMU_VERSION@": qemu_version(), "@NCPUS@": str(online_cpus())}


# ------------------------------------------------------------- NORMALIZER
# Applied to BOTH expected and actual text. Every rule is for a value that
# legitimately differs per run/host, not per implementation:
#   R1 nodeinfo "CPU frequency": read from cpufreq/cpuinfo, changes between reads.
#   R2 nodeinfo "Memory size" and capabilities <memory>/<pages> counts: host RAM
#      (libvirt reads NUMA node meminfo), differs per host/VM size.
#   R3 capabilities host <uuid>: host-specific (dmidecode / machine-id).
#   R4 capabilities TSC <counter frequency>: host clock.
#   R5 malformed-XML define: the 2nd..n-th stderr lines are the XML parser's
#      diagnostic (libxml2 text with line/column caret), parser-specific. Only
#      "error: Failed to define domain from F" + "error: " prefix are compared.
def normalize(case, text):
    text = re.sub(r"(CPU frequency:\s+)\d+( MHz)", r"\1<N>\2", text)                 # R1
    text = re.sub(r"(Memory size:\s+)\d+( KiB)", r"\1<N>\2", text)                   # R2
    if case.startswith("capabilities"):
        text = re.sub(r"(<memory unit='KiB'>)\d+(</memory>)", r"\1<N>\2", text)      # R2
        text = re.sub(r"(<pages unit='KiB' size='\d+'>)\d+(</pages>)", r"\1<N>\2", text)
        text = re.sub(r"(<host>\s*<uuid>)[0-9a-f-]{36}(</uuid>)", r"\1<UUID>\2", text)  # R3
        text = re.sub(r"(<counter name='tsc' frequency=')\d+'", r"\1<N>'", text)     # R4
    if case.startswith("define-malformed"):                                          # R5
        lines = text.split("\n")
        for i, l in enumerate(lines):
            if l.startswith("error: Failed to define domain"):
                lines = lines[:i + 1] + ["error: <xml parser message>"]
                break
        text = "\n".join(lines)
    return text


# ------------------------------------------------------------- golden files
def golden_path(kind_dir, case):
    return os.path.join(kind_dir, case + ".txt")


def write_golden(path, cmd, rc, out, err):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w") as f:
        f.write("# virsh %s\nrc: %d\n--- stdout\n%s--- stderr\n%s" % (" ".join(cmd), rc, out, err))


def read_golden(path):
    with open(path) as f:
        data = f.read()
    _comment, rest = data.split("\n", 1)
    rcline, rest = rest.split("\n", 1)
    assert rest.startswith("--- stdout\n"), path
    out, err = rest[len("--- stdout\n"):].split("--- stderr\n", 1)
    return int(rcline.split(":")[1]), out, err


def templatize(text, ph, case):
    """Capture: replace per-run/host values by placeholders."""
    text = text.replace(ph["@URI@"], "@URI@")
    if case == "hostname":
        text = text.replace(ph["@HOSTNAME@"], "@HOSTNAME@")
    if case == "version":
        text = text.replace("QEMU " + ph["@QEMU_VERSION@"] + "\n", "QEMU @QEMU_VERSION@\n")
    if case == "nodeinfo":
        text = re.sub(r"(CPU\(s\):\s+)\d+", r"\g<1>@NCPUS@", text)
    return text


def fill(text, ph):
    for k, v in ph.items():
        text = text.replace(k, v)
    return text


def diff(a, b):
    import difflib
    d = list(difflib.unified_diff(a.splitlines(), b.splitlines(), "expected", "actual",
                                  lineterm="", n=1))
    return "\n".join(d[:40]) + ("\n..." if len(d) > 40 else "")


# ------------------------------------------------------------- structure
def _kib(el):
    unit = (el.get("unit") or "KiB").lower()
    mult = {"b": 1 / 1024, "bytes": 1 / 1024, "k": 1, "kib": 1, "kb": 1000 / 1024,
            "m": 1024, "mib": 1024, "mb": 1e6 / 1024, "g": 1024 ** 2, "gib": 1024 ** 2}[unit]
    return int(int(el.text) * mult)


def domain_facts(xml_text):
    """Key elements of a domain XML: path -> value. Deliberately excludes what
    libvirt adds as post-parse defaults that a new implementation may legitimately
    leave out (controllers, addresses, memballoon, input, audio, cpu, clock)."""
    r = ET.fromstring(xml_text)
    f = {"domain@type": r.get("type")}
    for tag in ("name", "uuid", "title", "on_poweroff", "on_reboot", "on_crash"):
        e = r.find(tag)
        if e is not None:
            f[tag] = e.text
    for tag in ("memory", "currentMemory"):
        e = r.find(tag)
        if e is not None:
            f[tag + "(KiB)"] = _kib(e)
    v = r.find("vcpu")
    if v is not None:
        f["vcpu"] = v.text
    t = r.find("os/type")
    if t is not None:
        f["os/type"] = t.text
        f["os/type@arch"] = t.get("arch")
        f["os/type@machine"] = t.get("machine")
    for b in r.findall("os/boot"):
        f["os/boot@dev=" + b.get("dev")] = True
    for feat in r.findall("features/*"):
        f["features/" + feat.tag] = True
    dev = r.find("devices")
    if dev is not None:
        e = dev.find("emulator")
        if e is not None:
            f["devices/emulator"] = e.text
        for d in dev.findall("disk"):
            tgt = d.find("target").get("dev")
            p = "disk[%s]" % tgt
            f[p + "@type"] = d.get("type")
            f[p + "@device"] = d.get("device")
            f[p + "/target@bus"] = d.find("target").get("bus")
            src = d.find("source")
            if src is not None:
                f[p + "/source@file"] = src.get("file")
            drv = d.find("driver")
            if drv is not None:
                f[p + "/driver@type"] = drv.get("type")
        for n in dev.findall("interface"):
            mac = n.find("mac").get("address")
            p = "interface[%s]" % mac
            f[p + "@type"] = n.get("type")
            src = n.find("source")
            if src is not None:
                f[p + "/source"] = sorted(src.attrib.items())
            m = n.find("model")
            if m is not None:
                f[p + "/model@type"] = m.get("type")
        for tag in ("serial", "console"):
            for i, s in enumerate(dev.findall(tag)):
                f["%s[%d]@type" % (tag, i)] = s.get("type")
                tg = s.find("target")
                if tg is not None and tg.get("port") is not None:
                    f["%s[%d]/target@port" % (tag, i)] = tg.get("port")
    return f


def check_domain_structure(ref_xml, ours_xml, input_xml):
    ref, ours = domain_facts(ref_xml), domain_facts(ours_xml)
    inp = domain_facts(input_xml)
    problems = []
    for k, v in ref.items():
        if k == "os/type@machine":
            # machine canonicalisation (pc -> pc-i440fx-7.2) is a post-parse
            # default: accept the canonical name or the alias from the input
            if ours.get(k) not in (v, inp.get(k)):
                problems.append("%s: reference %r, input %r, ours %r" % (k, v, inp.get(k), ours.get(k)))
        elif k not in ours:
            problems.append("%s missing (reference has %r)" % (k, v))
        elif ours[k] != v:
            problems.append("%s: reference %r, ours %r" % (k, v, ours[k]))
    expect(not problems, "; ".join(problems))


def caps_facts(xml_text):
    r = ET.fromstring(xml_text)
    f = {"root": r.tag}
    host = r.find("host")
    f["host/uuid-valid"] = bool(re.fullmatch(r"[0-9a-f]{8}-([0-9a-f]{4}-){3}[0-9a-f]{12}",
                                             host.findtext("uuid") or ""))
    f["host/cpu/arch"] = host.findtext("cpu/arch")
    cells = host.find("topology/cells")
    if cells is not None:
        f["host/topology/cells@num"] = cells.get("num")
        f["host/topology/cpus@num"] = sorted(c.get("num") for c in cells.findall("cell/cpus"))
    sm = host.find("secmodel/model")
    f["host/secmodel[0]/model"] = sm.text if sm is not None else None
    for g in r.findall("guest"):
        a = g.find("arch")
        p = "guest[%s,%s]" % (g.findtext("os_type"), a.get("name"))
        f[p] = True
        f[p + "/wordsize"] = a.findtext("wordsize")
        f[p + "/emulator"] = a.findtext("emulator")
        f[p + "/machines"] = sorted(m.text for m in a.findall("machine"))
        f[p + "/canonical"] = sorted((m.text, m.get("canonical")) for m in a.findall("machine")
                                     if m.get("canonical"))
        f[p + "/domain types"] = sorted(d.get("type") for d in a.findall("domain"))
    return f


def check_caps_structure(ref_xml, ours_xml):
    ref, ours = caps_facts(ref_xml), caps_facts(ours_xml)
    problems = []
    for k, v in ref.items():
        if k not in ours:
            problems.append("%s missing" % k)
        elif ours[k] != v:
            if isinstance(v, list) and isinstance(ours[k], list):
                miss = [x for x in v if x not in ours[k]]
                problems.append("%s: missing %r" % (k, miss[:8]) if miss else
                                "%s: extra %r" % (k, [x for x in ours[k] if x not in v][:8]))
            else:
                problems.append("%s: reference %r, ours %r" % (k, v, ours[k]))
    expect(not problems, "; ".join(problems))


# ------------------------------------------------------------- the steps
# (case name, virsh args, ro, kind) kind: "exact" = compare with the reference
# golden; "xml" = dumpxml/capabilities (ours golden + structure vs reference).
STEPS = [
    ("version", ["version"], False, "exact"),
    ("uri", ["uri"], False, "exact"),
    ("hostname", ["hostname"], False, "exact"),
    ("nodeinfo", ["nodeinfo"], False, "exact"),
    ("capabilities", ["capabilities"], False, "xml"),
    ("list-all-empty", ["list", "--all"], False, "exact"),
    ("define-basic", ["define", "dom-basic.xml"], False, "exact"),
    ("define-full", ["define", "dom-full.xml"], False, "exact"),
    ("list-all", ["list", "--all"], False, "exact"),
    ("list-active", ["list"], False, "exact"),
    ("list-inactive", ["list", "--inactive"], False, "exact"),
    ("dominfo-basic", ["dominfo", "sv-basic"], False, "exact"),
    ("dominfo-full", ["dominfo", "sv-full"], False, "exact"),
    ("dominfo-by-uuid", ["dominfo", "0f4c2a9e-8d31-4b6a-a2c7-5e9b1d3f7a20"], False, "exact"),
    ("dumpxml-basic", ["dumpxml", "sv-basic"], False, "xml:dom-basic.xml"),
    ("dumpxml-full", ["dumpxml", "sv-full"], False, "xml:dom-full.xml"),
    ("dumpxml-full-inactive", ["dumpxml", "--inactive", "sv-full"], False, "xml:dom-full.xml"),
    ("autostart", ["autostart", "sv-basic"], False, "exact"),
    ("dominfo-autostart", ["dominfo", "sv-basic"], False, "exact"),
    ("list-autostart", ["list", "--all", "--autostart"], False, "exact"),
    ("list-no-autostart", ["list", "--all", "--no-autostart"], False, "exact"),
    ("autostart-disable", ["autostart", "--disable", "sv-basic"], False, "exact"),
    ("dominfo-noautostart", ["dominfo", "sv-basic"], False, "exact"),
    ("domstate", ["domstate", "sv-basic"], False, "exact"),
    ("domstate-reason", ["domstate", "--reason", "sv-basic"], False, "exact"),
    ("list-name", ["list", "--all", "--name"], False, "exact"),
    ("list-uuid", ["list", "--all", "--uuid"], False, "exact"),
    # read-only socket: listing works, define is refused
    ("ro-list-all", ["list", "--all"], True, "exact"),
    ("ro-dominfo", ["dominfo", "sv-full"], True, "exact"),
    ("ro-define", ["define", "dom-basic.xml"], True, "exact"),
    ("ro-autostart", ["autostart", "sv-basic"], True, "exact"),
    ("ro-undefine", ["undefine", "sv-basic"], True, "exact"),
    # errors
    ("dominfo-unknown", ["dominfo", "nosuch"], False, "exact"),
    ("dumpxml-unknown", ["dumpxml", "nosuch"], False, "exact"),
    ("define-malformed", ["define", "bad-notwellformed.xml"], False, "exact"),
    ("define-dup-name", ["define", "dup-name.xml"], False, "exact"),
    ("define-dup-uuid", ["define", "dup-uuid.xml"], False, "exact"),
    # redefining the reference's own canonical output must round-trip exactly
    ("define-canonical", ["define", "dom-canonical.xml"], False, "exact"),
    ("dumpxml-canonical", ["dumpxml", "sv-basic"], False, "roundtrip"),
    ("undefine-basic", ["undefine", "sv-basic"], False, "exact"),
    ("undefine-full", ["undefine", "sv-full"], False, "exact"),
    ("undefine-unknown", ["undefine", "nosuch"], False, "exact"),
    ("list-all-after", ["list", "--all"], False, "exact"),
    ("domstate-gone", ["domstate", "sv-basic"], False, "exact"),
]


def main():
    runner = harness.Runner("test_virsh_compat")
    is_ref = harness.target_is_reference()
    if CAPTURE_REF and not is_ref:
        sys.exit("--capture-ref needs SV_TARGET=ref")
    target = harness.make_target()
    runner.start(target)
    ph = placeholders(target)

    for case, args, ro, kind in STEPS:
        if case == "define-canonical" and CAPTURE_REF:
            # the canonical input IS the reference's dumpxml of dom-basic
            _rc, out, _err = target.virsh("dumpxml", "sv-basic")
            with open(os.path.join(INPUT, "dom-canonical.xml"), "w") as f:
                f.write(out.rstrip("\n") + "\n")

        def step(case=case, args=args, ro=ro, kind=kind):
            rc, out, err = target.virsh(*args, ro=ro, cwd=INPUT)
            refp = golden_path(REF_DIR, case)
            if CAPTURE_REF:
                write_golden(refp, args, rc, templatize(out, ph, case), templatize(err, ph, case))
            if CAPTURE_OURS and kind.startswith("xml") and not is_ref:
                write_golden(golden_path(OURS_DIR, case), args, rc, out, err)
            erc, eout, eerr = read_golden(refp)
            eout, eerr = fill(eout, ph), fill(eerr, ph)
            if kind == "exact" or kind == "roundtrip" or is_ref:
                expect_eq(rc, erc, "exit status (stderr %r)" % err.strip())
                no, neo = normalize(case, out), normalize(case, eout)
                expect(no == neo, "stdout differs from reference:\n" + diff(neo, no))
                ne, nee = normalize(case, err), normalize(case, eerr)
                expect(ne == nee, "stderr differs from reference:\n" + diff(nee, ne))
                return
            # xml kinds against our daemon: structure vs reference ...
            expect_eq(rc, erc, "exit status (stderr %r)" % err.strip())
            if case == "capabilities":
                check_caps_structure(eout, out)
            else:
                with open(os.path.join(INPUT, kind.split(":", 1)[1])) as f:
                    check_domain_structure(eout, out, f.read())
            # ... and exact against our own golden, when one was captured
            oursp = golden_path(OURS_DIR, case)
            if not os.path.exists(oursp):
                print("  note: %s: no golden of ours yet (run with --capture-ours)" % case)
                return
            orc, oout, oerr = read_golden(oursp)
            expect_eq(rc, orc, "exit status vs ours-golden")
            no, neo = normalize(case, out), normalize(case, oout)
            expect(no == neo, "stdout differs from ours-golden:\n" + diff(neo, no))

        runner.check("virsh %s%s [%s]" % ("-r " if ro else "", " ".join(args), case), step)

    def daemon_alive():
        expect(target.alive(), "daemon died\n" + target.log_tail())
    runner.check("daemon still running", daemon_alive)
    runner.finish()


if __name__ == "__main__":
    main()
