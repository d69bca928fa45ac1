#!/usr/bin/env bash
# Builds the libFuzzer targets (fuzz/CMakeLists.txt, clang, ASan+UBSan) into build-fuzz/ and runs each one for a
# fixed time over its seed corpus fuzz/corpus/<target>: manifests, key files, lock files, data objects.
# STRATA_FUZZ_SECONDS sets the time per target (default 20). New inputs go to a temp dir, never into the repository;
# a crashing input is kept under build-fuzz/crashes/ and the script fails.
set -euo pipefail
cd "$(dirname "$0")/.."
if ! command -v clang++ >/dev/null; then
  echo "fuzz: clang++ is missing; scripts/install-deps.sh installs it (Debian packages clang, libclang-rt-14-dev)" >&2
  exit 1
fi
BUILD_DIR=${FUZZ_BUILD_DIR:-build-fuzz}
GEN=()
command -v ninja >/dev/null && GEN=(-G Ninja)
if [ ! -f "$BUILD_DIR/CMakeCache.txt" ]; then
  cmake -S fuzz -B "$BUILD_DIR" "${GEN[@]}" -DCMAKE_CXX_COMPILER=clang++ -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
fi
cmake --build "$BUILD_DIR" -j 2
secs=${STRATA_FUZZ_SECONDS:-20}
mkdir -p "$BUILD_DIR/crashes"
status=0
for target in manifest key_file lock_file data_object; do
  work=$(mktemp -d)
  echo "fuzz: $target for ${secs}s"
  if ! "$BUILD_DIR/fuzz_$target" -max_total_time="$secs" -timeout=10 -rss_limit_mb=2048 -max_len=65536 \
      -artifact_prefix="$BUILD_DIR/crashes/$target-" "$work" "fuzz/corpus/$target" 2>"$work.log"; then
    tail -n 40 "$work.log" >&2
    echo "fuzz: $target failed; the input is in $BUILD_DIR/crashes/" >&2
    status=1
  else
    grep -E "^(#[0-9]+ +DONE|Done [0-9]+ runs)" "$work.log" | tail -n 1 || true
  fi
  rm -rf "$work" "$work.log"
done
exit $status
