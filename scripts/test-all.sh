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
exit $rc
