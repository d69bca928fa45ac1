#!/usr/bin/env bash
# S3 benchmark (issue 3): backup and restore throughput and peak RSS of strata to a loopback S3 server (moto),
# against strata to a local directory and `aws s3 cp` of the same file to the same server, in one run.
#
#   bash bench/run_s3_bench.sh [CORPUS_BYTES] [CORPUS_KIND]     # default 512 MiB of random bytes
#   STRATA_S3_OPTIONS='checksum=crc32' bash bench/run_s3_bench.sh  # S3 options (docs/S3.md) for the strata runs
#
# Random bytes by default so strata's compression cannot flatter it: every tool moves the same number of bytes.
# Besides throughput and peak RSS it prints each run's CPU seconds of the client and of moto_server, which is
# where the loopback ceiling is (docs/BENCHMARKS.md, S3).
# Needs the build (scripts/build.sh, or STRATA_BUILD_DIR=...) plus moto_server and aws on PATH.
set -euo pipefail
cd "$(dirname "$0")/.."
SIZE=${1:-536870912}
KIND=${2:-random}
BUILD=${STRATA_BUILD_DIR:-$PWD/build}
STRATA=$BUILD/strata
GEN=$BUILD/bench/strata_gen_corpus
for tool in "$STRATA" "$GEN" /usr/bin/time moto_server aws curl; do
  command -v "$tool" >/dev/null || { echo "missing $tool: run scripts/build.sh and scripts/install-deps.sh" >&2; exit 1; }
done

work=$(mktemp -d "${BENCH_TMP:-/tmp}/strata-s3-bench.XXXXXX")
moto_pid=
cleanup() {
  [ -n "$moto_pid" ] && kill "$moto_pid" 2>/dev/null && wait "$moto_pid" 2>/dev/null
  rm -rf "$work"
}
trap cleanup EXIT

source bench/moto.sh
start_moto
export STRATA_PASSPHRASE=bench-pass

corpus=$work/corpus
"$GEN" "$KIND" "$SIZE" 42 > "$corpus"
want=$(sha256sum "$corpus" | cut -d' ' -f1)
cat "$corpus" > /dev/null

results=$work/results.tsv
: > "$results"
# CPU seconds (user + system) of moto_server so far: what each tool's requests cost the server.
server_cpu() { awk -v t="$(getconf CLK_TCK)" '{printf "%.2f", ($14 + $15) / t}' "/proc/$moto_pid/stat"; }
measure() {
  local name=$1 phase=$2
  shift 2
  local t0 t1 c0 c1
  c0=$(server_cpu)
  t0=$(date +%s.%N)
  /usr/bin/time -f "%M %U %S" -o "$work/rss" "$@"
  t1=$(date +%s.%N)
  c1=$(server_cpu)
  read -r rss ucpu scpu < "$work/rss"
  printf '%s\t%s\t%s\t%s\t%s\t%s\n' "$name" "$phase" "$(echo "$t1 - $t0" | bc -l)" "$rss" \
    "$(echo "$ucpu + $scpu" | bc -l)" "$(echo "$c1 - $c0" | bc -l)" >> "$results"
}
check_restore() {
  local got
  got=$(sha256sum "$2" | cut -d' ' -f1)
  [ "$got" = "$want" ] || { echo "$1 restore differs from the corpus" >&2; exit 1; }
  rm -f "$2"
}

STRATA_FLAGS=(--compression "${STRATA_COMPRESSION:-lz4}")  # random bytes do not compress: spend no CPU trying

# moto keeps every object in its one Python process and slows down as it fills: each tool's objects are deleted
# after its turn so every tool meets the same, empty server.
drop() { aws s3 rm --quiet --recursive "s3://bench/$1"; }

# Rounds alternate the tools so that a change in machine load hits all of them; the table keeps each tool's best
# round (and its worst peak RSS). Default 64 MiB data objects, then 8 MiB ones: moto re-reads a whole object for
# every ranged GET and concatenates parts on completion, so smaller objects (one PUT each) cost it less CPU.
ROUNDS=${ROUNDS:-2}
for round in $(seq "$ROUNDS"); do
  measure "aws s3 cp" backup aws s3 cp --quiet "$corpus" "s3://bench/aws-$round/corpus"
  measure "aws s3 cp" restore aws s3 cp --quiet "s3://bench/aws-$round/corpus" "$work/out"
  check_restore "aws s3 cp" "$work/out"
  drop "aws-$round"

  for objsize in 64MiB 8MiB; do
    name="strata s3 objects=$objsize${STRATA_S3_OPTIONS:+ $STRATA_S3_OPTIONS}"
    loc="s3://bench/strata-$objsize-$round${STRATA_S3_OPTIONS:+?$STRATA_S3_OPTIONS}"
    "$STRATA" -q repo init --repo "$loc" --kdf-memory 8MiB --kdf-ops 1
    measure "$name" backup sh -c "'$STRATA' -q --repo '$loc' backup --source bench ${STRATA_FLAGS[*]} --object-size $objsize --from-file '$corpus' > /dev/null"
    measure "$name" restore sh -c "'$STRATA' -q --repo '$loc' restore latest --source bench --to - > '$work/out'"
    check_restore "$name" "$work/out"
    drop "strata-$objsize-$round"
  done

  "$STRATA" -q repo init --repo "$work/local-$round" --kdf-memory 8MiB --kdf-ops 1
  measure "strata local" backup sh -c "'$STRATA' -q --repo '$work/local-$round' backup --source bench ${STRATA_FLAGS[*]} --from-file '$corpus' > /dev/null"
  measure "strata local" restore sh -c "'$STRATA' -q --repo '$work/local-$round' restore latest --source bench --to - > '$work/out'"
  check_restore "strata local" "$work/out"
  rm -rf "$work/local-$round"
done

python3 - "$results" "$SIZE" "$KIND" <<'PY'
import sys
rows = [l.rstrip("\n").split("\t") for l in open(sys.argv[1])]
total, kind = int(sys.argv[2]), sys.argv[3]
mib = 1024 * 1024
data = {}
cpu = {}  # (name, phase) -> [(client CPU s, server CPU s)] per round
for name, phase, secs, rss, ccpu, scpu in rows:
    prev = data.setdefault(name, {}).get(phase)
    secs, rss = float(secs), int(rss) // 1024
    data[name][phase] = (min(secs, prev[0]), max(rss, prev[1])) if prev else (secs, rss)
    cpu.setdefault((name, phase), []).append((float(ccpu), float(scpu)))
load = " ".join(open("/proc/loadavg").read().split()[:3])
rounds = sum(1 for r in rows if r[0] == "aws s3 cp" and r[1] == "backup")
print(f"corpus: {total / mib:.0f} MiB of {kind} bytes; moto_server on 127.0.0.1; 2 cores shared by every process; "
      f"best of {rounds} alternating rounds; load average at the end {load}\n")
print("| tool | backup MiB/s | backup peak RSS MiB | restore MiB/s | restore peak RSS MiB |")
print("|---|---:|---:|---:|---:|")
for name, ph in data.items():
    b, r = ph["backup"], ph["restore"]
    print(f"| {name} | {total / mib / b[0]:.0f} | {b[1]} | {total / mib / r[0]:.0f} | {r[1]} |")
print()
print("CPU seconds per run, client / moto_server, each round (backup; restore):")
for name in data:
    fmt = lambda ph: ", ".join(f"{c:.2f}/{m:.2f}" for c, m in cpu[(name, ph)])
    print(f"  {name}: {fmt('backup')}; {fmt('restore')}")
print()
for name in data:
    if not name.startswith("strata s3"):
        continue
    up = data["aws s3 cp"]["backup"][0] / data[name]["backup"][0]
    down = data["aws s3 cp"]["restore"][0] / data[name]["restore"][0]
    print(f"{name} vs aws s3 cp: backup {up:.2f}x, restore {down:.2f}x (target >= 1.5x each)")
PY
