#!/usr/bin/env bash
# Builds and runs every test: the full suite (unit + end-to-end against real servers on loopback), then the unit
# tests again under AddressSanitizer + UndefinedBehaviorSanitizer, then the libFuzzer targets for a fixed time each
# (scripts/fuzz.sh, clang). STRATA_SKIP_SANITIZE=1 / STRATA_SKIP_FUZZ=1 skip those parts.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-deps.sh
bash scripts/build.sh
(cd build && ctest --output-on-failure -j 2 --timeout 900)
if [ "${STRATA_SKIP_SANITIZE:-0}" != "1" ]; then
  BUILD_DIR=build-asan BUILD_TYPE=Debug bash scripts/build.sh -DSTRATA_SANITIZE=ON -DSTRATA_BUILD_BENCH=OFF -DSTRATA_BUILD_E2E=OFF
  (cd build-asan && ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=print_stacktrace=1 ctest --output-on-failure -j 2 -L unit --timeout 900)
fi
if [ "${STRATA_SKIP_FUZZ:-0}" != "1" ]; then
  bash scripts/fuzz.sh
fi
