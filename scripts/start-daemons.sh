#!/usr/bin/env bash
# Start every built splitvirt daemon under systemd-socket-activate, inside a
# private root directory, the way systemd would start it from its units
# (same socket names, same LISTEN_FDNAMES, READY=1 to NOTIFY_SOCKET).
#
#   scripts/start-daemons.sh [RUNDIR]         start; prints the virsh URIs
#   scripts/start-daemons.sh --stop RUNDIR    stop what a start left there
#
# RUNDIR defaults to $PWD/run-root, or a short mktemp -d directory when that
# path is too long for a UNIX socket (108 bytes). Everything is under RUNDIR:
#   RUNDIR/run/libvirt/<prefix>-sock{,-ro} <prefix>-admin-sock   the sockets
#   RUNDIR/run/<name>.pid   RUNDIR/run/<name>.log                 pid, stdout+stderr
#   RUNDIR/{etc,var/lib,var/log,var/cache}/libvirt                daemon --root DIR
# Env: SV_BUILD_DIR (default <repo>/build), SV_DAEMON_ARGS (extra daemon
# arguments, e.g. "-v"), SV_START_TIMEOUT (seconds to wait for READY=1,
# default 60), SV_LAZY=1 (do not start the daemons now: leave them to be
# exec'd by the first client connection, as systemd would).
set -euo pipefail

REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BUILD=${SV_BUILD_DIR:-$REPO/build}
PY=/usr/bin/python3
TIMEOUT=${SV_START_TIMEOUT:-60}
SUN_PATH_MAX=107   # sizeof(sockaddr_un.sun_path) - 1

die() { echo "start-daemons: $*" >&2; exit 1; }
say() { echo "start-daemons: $*"; }

# name|sock_prefix|uri_scheme|description, from the one list in CMakeLists.txt
daemons() {
  sed -n '/^set(SV_DAEMONS/,/)/p' "$REPO/CMakeLists.txt" | grep -o '"[^"]*"' | tr -d '"'
}

# the pid is ours only if its command line still names RUNDIR (pid reuse)
is_ours() {
  local pid=$1 run=$2
  [ -r "/proc/$pid/cmdline" ] && tr '\0' ' ' <"/proc/$pid/cmdline" | grep -qF -- "$run"
}

stop() {
  local run=$1 pidf pid name n prefix
  [ -d "$run/run" ] || die "$run: no run/ directory (nothing started there?)"
  shopt -s nullglob
  for pidf in "$run"/run/*.pid; do
    name=$(basename "$pidf" .pid)
    pid=$(cat "$pidf" 2>/dev/null || true)
    if [[ "$pid" =~ ^[0-9]+$ ]] && is_ours "$pid" "$run"; then
      kill -TERM "$pid" 2>/dev/null || true
      for ((n = 0; n < 100; n++)); do is_ours "$pid" "$run" || break; sleep 0.1; done
      if is_ours "$pid" "$run"; then
        say "$name ($pid) ignored SIGTERM for 10 s, sending SIGKILL"
        kill -KILL "$pid" 2>/dev/null || true
      fi
      say "stopped $name ($pid)"
    fi
    rm -f "$pidf"
  done
  # what RemoveOnStop= does for the units (activator and daemon leave them)
  while IFS='|' read -r name prefix _; do
    rm -f "$run/run/libvirt/$prefix-sock" "$run/run/libvirt/$prefix-sock-ro" \
      "$run/run/libvirt/$prefix-admin-sock"
  done < <(daemons)
  # Guests and helpers outlive their daemon (KillMode=process semantics).
  # Stop those that belong to this RUNDIR: QEMU / dnsmasq / qemu-nbd whose
  # command line names it.
  local p exe
  for p in /proc/[0-9]*; do
    pid=${p#/proc/}
    exe=$(basename "$(readlink "$p/exe" 2>/dev/null)" 2>/dev/null || true)
    case "$exe" in qemu-system-*|qemu-nbd|dnsmasq) ;; *) continue ;; esac
    if is_ours "$pid" "$run"; then
      say "stopping leftover $exe ($pid)"
      kill -TERM "$pid" 2>/dev/null || true
    fi
  done
  return 0
}

if [ "${1:-}" = "--stop" ]; then
  [ $# -eq 2 ] || die "usage: $0 --stop RUNDIR"
  stop "$(cd "$2" && pwd)"
  exit 0
fi
case "${1:-}" in -h|--help) sed -n '2,20p' "$0"; exit 0 ;; -*) die "unknown option $1" ;; esac

command -v systemd-socket-activate >/dev/null || die "systemd-socket-activate not found (package systemd)"
[ -x "$PY" ] || die "$PY not found"

# longest socket name: <prefix>-admin-sock
longest=0
while IFS='|' read -r name prefix _; do
  l=$(( ${#prefix} + 11 )); (( l > longest )) && longest=$l
done < <(daemons)
# RUNDIR + "/run/libvirt/" (13) + longest socket name
fits() { (( ${#1} + 13 + longest <= SUN_PATH_MAX )); }

if [ $# -ge 1 ]; then
  RUN=$1
  mkdir -p "$RUN"
  RUN=$(cd "$RUN" && pwd)
  fits "$RUN" || die "$RUN is too long: $RUN/run/libvirt/<prefix>-admin-sock must fit in $SUN_PATH_MAX bytes"
else
  RUN=$PWD/run-root
  if fits "$RUN"; then mkdir -p "$RUN"; else RUN=$(mktemp -d /tmp/sv.XXXXXX); fi
fi
RUN=$(cd "$RUN" && pwd)

for d in run/libvirt etc/libvirt var/lib/libvirt var/log/libvirt var/cache/libvirt; do
  mkdir -p "$RUN/$d"
done
chmod 0755 "$RUN/run/libvirt"
# virtnetworkd's dnsmasq drops root to `nobody` and must still reach its
# hosts files under var/lib/libvirt/dnsmasq (mktemp -d makes RUN 0700).
chmod 0755 "$RUN"

# Refuse to start twice into one RUNDIR.
shopt -s nullglob
for pidf in "$RUN"/run/*.pid; do
  pid=$(cat "$pidf" 2>/dev/null || true)
  if [[ "$pid" =~ ^[0-9]+$ ]] && is_ours "$pid" "$RUN"; then
    die "$(basename "$pidf" .pid) already running in $RUN (pid $pid); use --stop $RUN first"
  fi
done
shopt -u nullglob

started=()    # "name|prefix|scheme"
failed=0
read -r -a extra_args <<<"${SV_DAEMON_ARGS:-}"

# 1. one activator per built daemon; all sockets exist before any daemon runs
while IFS='|' read -r name prefix scheme _; do
  bin=$BUILD/$name/$name
  if [ ! -x "$bin" ]; then
    say "skipping $name: $bin not built"
    continue
  fi
  sock=$RUN/run/libvirt/$prefix
  rm -f "$sock-sock" "$sock-sock-ro" "$sock-admin-sock" "$RUN/run/$name.notify" "$RUN/run/$name.ready"
  (
    # sockets are created 0600; -sock-ro is opened up below
    umask 0177
    exec setsid systemd-socket-activate \
      -l "$sock-sock" -l "$sock-sock-ro" -l "$sock-admin-sock" \
      --fdname="$name.socket:$name-ro.socket:$name-admin.socket" \
      -E NOTIFY_SOCKET="$RUN/run/$name.notify" -E LANG=C.UTF-8 \
      "$bin" --root "$RUN" "${extra_args[@]}" \
      </dev/null >>"$RUN/run/$name.log" 2>&1
  ) &
  echo $! >"$RUN/run/$name.pid"
  started+=("$name|$prefix|$scheme")
done < <(daemons)

[ ${#started[@]} -gt 0 ] || die "no daemon is built in $BUILD (run: cmake --build build)"

# 2. socket modes as the units set them: 0600 rw, 0666 ro, 0600 admin
for e in "${started[@]}"; do
  IFS='|' read -r name prefix scheme <<<"$e"
  sock=$RUN/run/libvirt/$prefix
  for ((n = 0; n < 100; n++)); do
    [ -S "$sock-sock" ] && [ -S "$sock-sock-ro" ] && [ -S "$sock-admin-sock" ] && break
    sleep 0.05
  done
  if [ ! -S "$sock-admin-sock" ]; then
    say "ERROR: $name: activator did not create its sockets; see $RUN/run/$name.log"
    failed=1; continue
  fi
  chmod 0600 "$sock-sock" "$sock-admin-sock"
  chmod 0666 "$sock-sock-ro"
done

# 3. unless lazy: make each activator exec its daemon now (one connection to
#    the admin socket, closed at once) and wait for READY=1 on NOTIFY_SOCKET.
wait_ready() {  # name prefix pid
  local name=$1 prefix=$2 pid=$3 notify=$RUN/run/$1.notify ready=$RUN/run/$1.ready lpid n
  # Listener first: the daemon may notify as soon as it is exec'd.
  "$PY" - "$notify" "$ready" "$TIMEOUT" <<'EOF' &
import os, socket, sys, time
path, ready, timeout = sys.argv[1], sys.argv[2], float(sys.argv[3])
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.bind(path)
deadline = time.monotonic() + timeout
while time.monotonic() < deadline:
    s.settimeout(max(0.1, deadline - time.monotonic()))
    try:
        msg = s.recv(4096).decode(errors="replace")
    except socket.timeout:
        break
    if "READY=1" in msg.split("\n"):
        with open(ready, "w") as f:
            f.write(msg)
        break
os.unlink(path)
EOF
  lpid=$!
  for ((n = 0; n < 100; n++)); do [ -S "$notify" ] && break; sleep 0.02; done
  "$PY" -c 'import socket,sys; s=socket.socket(socket.AF_UNIX); s.connect(sys.argv[1]); s.close()' \
    "$RUN/run/libvirt/$prefix-admin-sock" || true
  for ((n = 0; n < TIMEOUT * 10; n++)); do
    [ -e "$ready" ] && break
    is_ours "$pid" "$RUN" || break
    sleep 0.1
  done
  kill "$lpid" 2>/dev/null || true
  wait "$lpid" 2>/dev/null || true
  rm -f "$notify"
  if [ -e "$ready" ]; then
    rm -f "$ready"
    say "$name ready (pid $pid)"
    return 0
  fi
  if is_ours "$pid" "$RUN"; then
    say "ERROR: $name (pid $pid) sent no READY=1 within ${TIMEOUT}s; see $RUN/run/$name.log"
  else
    say "ERROR: $name exited during start-up; last lines of $RUN/run/$name.log:"
    tail -n 20 "$RUN/run/$name.log" | sed 's/^/    /'
    rm -f "$RUN/run/$name.pid"
  fi
  return 1
}

if [ "${SV_LAZY:-0}" != 1 ]; then
  for e in "${started[@]}"; do
    IFS='|' read -r name prefix scheme <<<"$e"
    [ -S "$RUN/run/libvirt/$prefix-admin-sock" ] || continue
    wait_ready "$name" "$prefix" "$(cat "$RUN/run/$name.pid")" || failed=1
  done
fi

echo
echo "splitvirt daemons in $RUN (stop: $0 --stop $RUN)"
qemu_uri=""
for e in "${started[@]}"; do
  IFS='|' read -r name prefix scheme <<<"$e"
  [ -e "$RUN/run/$name.pid" ] || continue
  [ "$scheme" = proxy ] && scheme=qemu
  uri="$scheme:///system?socket=$RUN/run/libvirt/$prefix-sock"
  printf '  %-13s %s\n' "$name" "$uri"
  [ "$name" = virtqemud ] && qemu_uri=$uri
done
if [ -n "$qemu_uri" ]; then
  echo
  echo "virsh -c '$qemu_uri' list --all"
  echo "URI: $qemu_uri"
fi
exit $failed
