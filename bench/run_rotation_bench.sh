#!/usr/bin/env bash
# Rotation benchmark (issue 16): `strata forget --policy --now` expiring and deleting ~10% of a repository on a
# loopback S3 server (moto), in objects deleted per second, against `aws s3 rm --recursive` of as many objects of
# the same sizes on the same server, in one run. Plan time and peak RSS of the run are printed too.
#
#   bash bench/run_rotation_bench.sh [SOURCES] [BACKUPS_PER_SOURCE] [BYTES_PER_BACKUP]   # default 20 50 200000
#
# The repository is made by real `strata backup` runs (64 KiB objects, so a backup is a manifest, an index entry
# and a few data objects); the policy keeps the newest 90% of each source (keep_last), so the rotation writes a
# tombstone per expired backup, then deletes its manifest, index entry, objects and tombstone. moto answers one
# request at a time in one Python process: the ratio of the two tools is the comparable number.
# Needs the build (scripts/build.sh, or STRATA_BUILD_DIR=...) plus moto_server and aws on PATH.
set -euo pipefail
cd "$(dirname "$0")/.."
SOURCES=${1:-20}
PER=${2:-50}
BYTES=${3:-200000}
BUILD=${STRATA_BUILD_DIR:-$PWD/build}
STRATA=$BUILD/strata
for tool in "$STRATA" /usr/bin/time moto_server aws curl python3; do
  command -v "$tool" >/dev/null || { echo "missing $tool: run scripts/build.sh and scripts/install-deps.sh" >&2; exit 1; }
done

work=$(mktemp -d "${BENCH_TMP:-/tmp}/strata-rotation-bench.XXXXXX")
moto_pid=
cleanup() {
  [ -n "$moto_pid" ] && kill "$moto_pid" 2>/dev/null && wait "$moto_pid" 2>/dev/null
  rm -rf "$work"
}
trap cleanup EXIT

source bench/moto.sh
start_moto
export STRATA_PASSPHRASE=bench-pass STRATA_REPO=s3://bench/repo
keep=$(( PER - PER / 10 ))
cat > "$work/strata.toml" <<TOML
[retention.default]
keep_last = $keep
min_good = 1
TOML
export STRATA_CONFIG=$work/strata.toml
"$STRATA" -q repo init --kdf-memory 8MiB --kdf-ops 1 >/dev/null

echo "making $((SOURCES * PER)) backups over $SOURCES sources ($BYTES bytes each, 64 KiB objects)..." >&2
head -c "$BYTES" /dev/urandom > "$work/input"
for b in $(seq "$PER"); do
  pids=()
  for s in $(seq "$SOURCES"); do
    "$STRATA" -q backup --source "src$s" --from-file "$work/input" --object-size 64KiB --frame-size 64KiB \
      --compression none > /dev/null &
    pids+=($!)
  done
  for p in "${pids[@]}"; do wait "$p"; done  # not a bare wait: moto_server is a child too
done

keys() { aws s3api list-objects-v2 --bucket bench --prefix "$1" --query 'Contents[].[Key,Size]' --output text; }
keys repo/ | sort > "$work/before"

t0=$(date +%s.%N)
/usr/bin/time -f "%M %U %S" -o "$work/rss" "$STRATA" forget --policy --now > "$work/forget.out" 2> "$work/forget.err" || {
  cat "$work/forget.err" >&2
  exit 1
}
t1=$(date +%s.%N)
read -r rss ucpu scpu < "$work/rss"
keys repo/ | sort > "$work/after"
written=$(grep -c . <(comm -13 "$work/before" "$work/after") || true)  # tombstones are deleted again: expect 0
deleted=$(comm -23 "$work/before" "$work/after" | wc -l)


# The peer: as many objects of the same sizes under one prefix, deleted by `aws s3 rm --recursive`.
mkdir -p "$work/peer"
comm -23 "$work/before" "$work/after" | awk -v dir="$work/peer" '{printf "%s\t%s/%06d\n", $2, dir, NR}' |
  while IFS=$'\t' read -r size path; do head -c "$size" /dev/zero > "$path"; done
aws s3 cp --quiet --recursive "$work/peer" s3://bench/peer/
p0=$(date +%s.%N)
aws s3 rm --quiet --recursive s3://bench/peer/
p1=$(date +%s.%N)
left=$(aws s3 ls s3://bench/peer/ | wc -l || true)

python3 - "$t0" "$t1" "$p0" "$p1" "$deleted" "$rss" "$ucpu" "$scpu" "$SOURCES" "$PER" "$written" "$left" <<'PY'
import sys
t0, t1, p0, p1 = map(float, sys.argv[1:5])
deleted, rss = int(sys.argv[5]), int(sys.argv[6])
cpu = float(sys.argv[7]) + float(sys.argv[8])
sources, per, written, left = int(sys.argv[9]), int(sys.argv[10]), int(sys.argv[11]), int(sys.argv[12])
s, p = t1 - t0, p1 - p0
print(f"repository: {sources * per} backups over {sources} sources on moto; objects deleted: {deleted}")
print(f"{'tool':<36}{'objects':>9}{'seconds':>10}{'objects/s':>11}{'peak RSS':>11}")
print(f"{'strata forget --policy --now':<36}{deleted:>9}{s:>10.2f}{deleted / s:>11.0f}{rss / 1024:>8.1f} MiB")
print(f"{'aws s3 rm --recursive':<36}{deleted:>9}{p:>10.2f}{deleted / p:>11.0f}")
print(f"strata / aws throughput: {p / s:.2f}x   (strata CPU {cpu:.2f} s; keys left behind: {written} new, {left} peer)")
PY
