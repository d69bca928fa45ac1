#!/usr/bin/env bash
# Source index benchmark (issue 14 part 5): what `strata list --source S` and the resolution of `latest --source S`
# (`strata show latest --source S`, the same Repository::latest_id that `restore latest` calls) cost in a repository
# of BACKUPS backups over SOURCES sources, on a local directory and on S3 (moto_server on 127.0.0.1), along the
# two paths a reader takes (docs/FORMAT.md "Source index"):
#   index: the repository has index/v1 — one listing of index/src/S/ and a manifest read per backup of S;
#   scan:  the same repository without index/v1, as one made by a strata before the index — every manifest read.
# Then `strata repo reindex` (what turns an old repository into an indexed one) is timed, and the index path again.
#
#   bash bench/run_index_bench.sh [BACKUPS] [SOURCES] [BACKENDS]      # default 100000 1000 "local s3"
#   env: REPS=3 (runs per index-path timing, the median is printed; the scan path runs once), GEN_THREADS=8,
#        REINDEX=0 skips `repo reindex` and the runs after it (on moto at 100k it reads 200k objects: ~15 min)
#
# The repository comes from build/bench/strata_gen_index_repo (manifests and index entries written directly, no
# data objects: it is for timing listings only). Needs the build, plus moto_server, aws and curl for s3.
set -euo pipefail
cd "$(dirname "$0")/.."
BACKUPS=${1:-100000}
SOURCES=${2:-1000}
BACKENDS=${3:-local s3}
REPS=${REPS:-3}
REINDEX=${REINDEX:-1}
GEN_THREADS=${GEN_THREADS:-8}
BUILD=${STRATA_BUILD_DIR:-$PWD/build}
STRATA=$BUILD/strata
GEN=$BUILD/bench/strata_gen_index_repo
for tool in "$STRATA" "$GEN" python3; do
  command -v "$tool" >/dev/null || { echo "missing $tool: run scripts/build.sh" >&2; exit 1; }
done
SOURCE=src-$(printf '%04d' $((SOURCES / 2)))  # one source in the middle of the key space
PER_SOURCE=$(( (BACKUPS - SOURCES / 2 + SOURCES - 1) / SOURCES ))

work=$(mktemp -d "${BENCH_TMP:-/tmp}/strata-index-bench.XXXXXX")
moto_pid=
cleanup() {
  [ -n "$moto_pid" ] && kill "$moto_pid" 2>/dev/null && wait "$moto_pid" 2>/dev/null
  rm -rf "$work"
}
trap cleanup EXIT

source bench/moto.sh

now() { date +%s.%N; }
results=$work/results.tsv
: > "$results"
# timed BACKEND PATH WHAT CMD...: runs CMD once, records its seconds; the output's line count is checked by the caller.
timed() {
  local backend=$1 path=$2 what=$3
  shift 3
  local t0 t1
  t0=$(now)
  "$@" > "$work/out" 2> "$work/err" || { echo "$what failed: $(tail -3 "$work/err")" >&2; exit 1; }
  t1=$(now)
  printf '%s\t%s\t%s\t%s\n' "$backend" "$path" "$what" "$(echo "$t1 - $t0" | bc -l)" >> "$results"
}
# queries BACKEND PATH REPO RUNS: list --source and show latest --source, RUNS times each.
queries() {
  local backend=$1 path=$2 repo=$3 runs=$4 i
  for i in $(seq "$runs"); do
    timed "$backend" "$path" "list --source" "$STRATA" -q --repo "$repo" list --source "$SOURCE" --json
    local got
    got=$(python3 -c 'import json,sys; print(len(json.load(open(sys.argv[1]))))' "$work/out")
    [ "$got" = "$PER_SOURCE" ] || { echo "$path list --source $SOURCE listed $got backups, not $PER_SOURCE" >&2; exit 1; }
    timed "$backend" "$path" "latest --source" "$STRATA" -q --repo "$repo" show latest --source "$SOURCE" --no-key
    grep -q "$SOURCE" "$work/out" || { echo "$path show latest printed no backup of $SOURCE" >&2; exit 1; }
  done
}

for backend in $BACKENDS; do
  case $backend in
    local) repo=$work/repo; drop_marker() { rm "$repo/index/v1"; } ;;
    s3) [ -n "$moto_pid" ] || start_moto; repo=s3://bench/index; drop_marker() { aws s3 rm --quiet "s3://bench/index/index/v1"; } ;;
    *) echo "unknown backend $backend (local, s3)" >&2; exit 2 ;;
  esac
  timed "$backend" gen "generate" "$GEN" "$repo" "$BACKUPS" "$SOURCES" "$GEN_THREADS"
  queries "$backend" index "$repo" "$REPS"
  drop_marker
  queries "$backend" scan "$repo" 1
  [ "$REINDEX" = 1 ] || continue
  timed "$backend" reindex "repo reindex" "$STRATA" -q --repo "$repo" repo reindex
  queries "$backend" "index after reindex" "$repo" "$REPS"
done

python3 - "$results" "$BACKUPS" "$SOURCES" "$SOURCE" "$PER_SOURCE" <<'PY'
import statistics, sys
rows = [l.rstrip("\n").split("\t") for l in open(sys.argv[1])]
backups, sources, source, per = sys.argv[2:6]
t = {}
for backend, path, what, secs in rows:
    t.setdefault((backend, path, what), []).append(float(secs))
med = lambda k: statistics.median(t[k]) if k in t else float("nan")
print(f"{backups} backups over {sources} sources ({per} of {source}); 2 cores; median of the index-path runs\n")
print("| backend | generate s | list --source: scan s | index s | latest --source: scan s | index s | repo reindex s | index after reindex: list / latest s |")
print("|---|---:|---:|---:|---:|---:|---:|---:|")
for backend in dict.fromkeys(r[0] for r in rows):
    g = lambda p, w: med((backend, p, w))
    print(f"| {backend} | {g('gen','generate'):.1f} | {g('scan','list --source'):.2f} | {g('index','list --source'):.3f} | "
          f"{g('scan','latest --source'):.2f} | {g('index','latest --source'):.3f} | {g('reindex','repo reindex'):.1f} | "
          f"{g('index after reindex','list --source'):.3f} / {g('index after reindex','latest --source'):.3f} |".replace("nan", "-"))
PY
