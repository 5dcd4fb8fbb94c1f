#!/usr/bin/python3
"""Checks the tree against architecture.md 3.1 and 2.1:
  * an area of libshared includes only areas at its level or below;
  * libshared never includes a daemon; daemons never include each other;
  * no .cpp/.hpp over the hard cap of 1500 lines (800 is the soft cap: reported).
Prints 'N passed, M failed' and exits nonzero on violations."""
import os, re, sys

SRC = os.environ.get("SV_SOURCE_DIR") or os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
LEVEL = {"util": 0, "io": 1, "xdr": 1, "conf": 1, "host": 1, "protocol": 2, "objects": 2,
         "rpc": 3, "events": 3, "driver": 4, "access": 4, "remote": 4, "daemon": 5}
# Allowed edges beyond "lower level": none. Same-level includes are allowed only within an area.
DAEMONS = {"virtqemud", "virtxend", "virtlxcd", "virtstoraged", "virtnetworkd", "virtproxyd"}
INC = re.compile(r'^\s*#\s*include\s+"([^"]+)"')

failures, checks, soft = [], 0, []
for top in ["libshared"] + sorted(DAEMONS):
    base = os.path.join(SRC, top)
    for dirpath, _, files in os.walk(base):
        for f in files:
            if not f.endswith((".cpp", ".hpp")):
                continue
            path = os.path.join(dirpath, f)
            rel = os.path.relpath(path, SRC)
            lines = open(path, encoding="utf-8", errors="replace").read().split("\n")
            checks += 1
            if len(lines) > 1500 and "remote_proc_table" not in f:
                failures.append(f"{rel}: {len(lines)} lines, over the hard cap of 1500")
            elif len(lines) > 800 and "remote_proc_table" not in f:
                soft.append(f"{rel}: {len(lines)} lines (soft cap 800)")
            parts = rel.split(os.sep)
            for ln, line in enumerate(lines, 1):
                m = INC.match(line)
                if not m:
                    continue
                inc = m.group(1)
                head = inc.split("/")[0]
                checks += 1
                if top == "libshared":
                    area = parts[1]
                    if head in DAEMONS:
                        failures.append(f"{rel}:{ln}: libshared includes daemon header {inc}")
                    elif head in LEVEL and area in LEVEL and head != area and LEVEL[head] >= LEVEL[area]:
                        failures.append(f"{rel}:{ln}: {area} (level {LEVEL[area]}) includes {inc} (level {LEVEL[head]})")
                else:
                    if head in DAEMONS and head != top:
                        failures.append(f"{rel}:{ln}: {top} includes another daemon's header {inc}")

for s in soft:
    print("note:", s)
for f in failures:
    print("FAIL:", f)
print(f"{checks - len(failures)} passed, {len(failures)} failed")
sys.exit(1 if failures else 0)
