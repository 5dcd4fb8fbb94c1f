#!/usr/bin/env bash
# Install dependencies (idempotent; always apt-get update + install when
# CI=true), build into ./build and run the whole ctest suite.
#   sudo bash scripts/test-all.sh
# Exit status: ctest's. Env: SV_JOBS (build parallelism, default nproc),
# SV_CTEST_ARGS (extra ctest arguments, e.g. "-R units").
set -euo pipefail

REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$REPO"

SV_APT=auto bash scripts/setup.sh --deps-only

cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo
cmake --build build -j"${SV_JOBS:-$(nproc)}"

# -j1: integration tests start daemons and guests; they share the machine's
# 2 cores and must not race for them (or for time-outs).
read -r -a extra <<<"${SV_CTEST_ARGS:-}"
set +e
ctest --test-dir build --output-on-failure -j1 "${extra[@]}"
rc=$?
set -e
echo "test-all: ctest exit status $rc"

# The same suite once more against an ASan+UBSan build (architecture.md
# 2.5): memory errors and undefined behaviour abort the daemon, which the
# integration tests notice. On in CI; SV_SANITIZE=0 skips it, =1 forces it.
if [ "$rc" -eq 0 ] && { [ "${SV_SANITIZE:-}" = 1 ] || { [ "${CI:-}" = true ] && [ "${SV_SANITIZE:-}" != 0 ]; }; }; then
  cmake -S . -B build-asan -G Ninja -DCMAKE_BUILD_TYPE=Debug \
    -DCMAKE_CXX_FLAGS="-fsanitize=address,undefined -fno-omit-frame-pointer" \
    -DCMAKE_EXE_LINKER_FLAGS="-fsanitize=address,undefined"
  cmake --build build-asan -j"${SV_JOBS:-$(nproc)}"
  set +e
  ASAN_OPTIONS=detect_leaks=0:abort_on_error=1 UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1 \
    ctest --test-dir build-asan --output-on-failure -j1 "${extra[@]}"
  rc=$?
  set -e
  echo "test-all: sanitizer ctest exit status $rc"
fi
exit $rc
