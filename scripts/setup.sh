#!/usr/bin/env bash
# One command for a fresh Debian 12 machine (run as root):
#   sudo bash scripts/setup.sh [RUNDIR]
# installs the build and test dependencies, builds splitvirt into ./build
# and starts every built daemon under RUNDIR (scripts/start-daemons.sh),
# printing the virsh URI to use. Only apt touches the system; the daemons
# live entirely inside RUNDIR.
#
#   --deps-only   install the dependencies, nothing else (used by test-all.sh)
#   --no-start    install and build, but do not start daemons
# Env: SV_APT=auto  skip apt when every package is already installed and
#                   CI is not "true" (default for --deps-only; plain setup
#                   always runs apt-get update + install)
set -euo pipefail

REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
ARGS="$*"
cd "$REPO"

BUILD_PKGS=(build-essential cmake ninja-build pkgconf ccache
  libboost1.81-dev libboost-json1.81-dev libssl-dev openssl
  libxml2-dev libxml2-utils libsystemd-dev doctest-dev)
RUNTIME_PKGS=(qemu-system-x86 qemu-utils libvirt-clients python3-libvirt libvirt0
  socat systemd iproute2
  dnsmasq-base nftables  # virtnetworkd: one dnsmasq per network, rules in its own nft table
  busybox-static cpio)  # the test guest: busybox initramfs around a Debian kernel

deps_only=0 start=1 rundir=()
for a in "$@"; do
  case "$a" in
    --deps-only) deps_only=1 ;;
    --no-start) start=0 ;;
    -h|--help) sed -n '2,15p' "$0"; exit 0 ;;
    -*) echo "setup.sh: unknown option $a" >&2; exit 2 ;;
    *) rundir=("$a") ;;
  esac
done
apt_mode=${SV_APT:-$([ $deps_only = 1 ] && echo auto || echo always)}

all_installed() {
  local p st
  for p in "$@"; do
    st=$(dpkg-query -W -f='${db:Status-Status}' "$p" 2>/dev/null || true)
    [ "$st" = installed ] || return 1
  done
}

install_deps() {
  local pkgs=("${BUILD_PKGS[@]}" "${RUNTIME_PKGS[@]}")
  if [ "$apt_mode" = auto ] && [ "${CI:-}" != true ] && all_installed "${pkgs[@]}"; then
    echo "setup: all ${#pkgs[@]} packages already installed, skipping apt"
    return 0
  fi
  if [ "$(id -u)" != 0 ]; then
    echo "setup: installing packages needs root: sudo bash $0 $ARGS" >&2
    exit 1
  fi
  export DEBIAN_FRONTEND=noninteractive
  apt-get update
  # No recommends: python3-libvirt would pull libvirt-daemon, qemu-system-x86
  # a GUI stack; seabios and ipxe-qemu (the guest firmware) are hard deps.
  apt-get install -y --no-install-recommends "${pkgs[@]}"
}

install_deps
[ $deps_only = 1 ] && exit 0

cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo
cmake --build build -j"$(nproc)"

[ $start = 1 ] || exit 0
exec bash "$REPO/scripts/start-daemons.sh" "${rundir[@]}"
