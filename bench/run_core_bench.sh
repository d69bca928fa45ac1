#!/usr/bin/env bash
# Core pipeline benchmark (issue 2): backup and restore throughput and peak RSS of strata (zstd:1 and lz4,
# encrypted) against `zstd -1 -T0`, restic (backup --stdin / dump) and borg (create / extract --stdout), in one
# run, on the same corpus: half database-like rows, half low-redundancy bytes.
#
#   bash bench/run_core_bench.sh [CORPUS_BYTES]      # default 1 GiB
#
# Needs the build (scripts/build.sh) and STRATA_BENCH_DEPS=1 bash scripts/install-deps.sh (restic, borgbackup).
set -euo pipefail
cd "$(dirname "$0")/.."
SIZE=${1:-1073741824}
STRATA=$PWD/build/strata
GEN=$PWD/build/bench/strata_gen_corpus
for tool in "$STRATA" "$GEN" /usr/bin/time zstd restic borg; do
  command -v "$tool" >/dev/null || { echo "missing $tool: run scripts/build.sh and STRATA_BENCH_DEPS=1 scripts/install-deps.sh" >&2; exit 1; }
done

work=$(mktemp -d "${BENCH_TMP:-/tmp}/strata-bench.XXXXXX")
trap 'rm -rf "$work"' EXIT
corpus=$work/corpus
"$GEN" mixed "$SIZE" 42 > "$corpus"
want=$(sha256sum "$corpus" | cut -d' ' -f1)
cat "$corpus" > /dev/null  # warm the page cache so every tool reads it from memory

export STRATA_PASSPHRASE=bench-pass RESTIC_PASSWORD=bench-pass BORG_PASSPHRASE=bench-pass
export BORG_UNKNOWN_UNENCRYPTED_REPO_ACCESS_IS_OK=yes BORG_RELOCATED_REPO_ACCESS_IS_OK=yes
export BORG_BASE_DIR=$work/borg-home RESTIC_CACHE_DIR=$work/restic-cache

results=$work/results.tsv
: > "$results"
# On a VM with free page reporting (this project's CI/bench machines: virtio-balloon), memory that has been free
# for a few seconds is handed back to the host, and the next write into it costs a host page fault per page:
# writing 330 MB into the page cache measured 0.07 s of system time on recently freed pages and 0.74 s on pages
# free for 15 s. Whichever tool happened to run after a pause paid up to 10x for its output. So before every
# measurement all tools get the same start: freshly recycled free memory, enough for their whole output.
warm_free_pages() {
  dd if=/dev/zero of="$work/warm" bs=1M count=$(( SIZE * 3 / 2 / 1048576 + 64 )) status=none
  rm -f "$work/warm"
}
# measure NAME PHASE CMD...: runs CMD under /usr/bin/time, records seconds and peak RSS.
measure() {
  local name=$1 phase=$2
  shift 2
  local t0 t1
  warm_free_pages
  t0=$(date +%s.%N)
  /usr/bin/time -f "%M" -o "$work/rss" "$@"
  t1=$(date +%s.%N)
  printf '%s\t%s\t%s\t%s\n' "$name" "$phase" "$(echo "$t1 - $t0" | bc -l)" "$(cat "$work/rss")" >> "$results"
}
check_restore() {
  local got
  got=$(sha256sum "$2" | cut -d' ' -f1)
  [ "$got" = "$want" ] || { echo "$1 restore differs from the corpus" >&2; exit 1; }
  rm -f "$2"
}
stored() { du -sb "$1" | cut -f1; }
sizes=$work/sizes.tsv
: > "$sizes"

for comp in zstd:1 lz4; do
  repo=$work/strata-${comp/:/}
  "$STRATA" -q repo init --repo "$repo"
  measure "strata $comp" backup "$STRATA" -q --repo "$repo" backup --source bench --compression "$comp" --from-file "$corpus"
  printf 'strata %s\t%s\n' "$comp" "$(stored "$repo/data")" >> "$sizes"
  measure "strata $comp" restore sh -c "'$STRATA' -q --repo '$repo' restore latest --source bench --to - > '$work/out'"
  check_restore "strata $comp" "$work/out"
done

measure "zstd -1 -T0" backup zstd -q -1 -T0 "$corpus" -o "$work/corpus.zst"
printf 'zstd -1 -T0\t%s\n' "$(stored "$work/corpus.zst")" >> "$sizes"
measure "zstd -1 -T0" restore sh -c "zstd -q -d -T0 -c '$work/corpus.zst' > '$work/out'"
check_restore zstd "$work/out"

restic init -q --repo "$work/restic" >/dev/null
measure "restic 0.14" backup sh -c "restic -q --repo '$work/restic' backup --stdin --stdin-filename corpus < '$corpus'"
printf 'restic 0.14\t%s\n' "$(stored "$work/restic/data")" >> "$sizes"
measure "restic 0.14" restore sh -c "restic -q --repo '$work/restic' dump latest corpus > '$work/out'"
check_restore restic "$work/out"

borg init -e repokey "$work/borg" >/dev/null 2>&1
measure "borg 1.2" backup sh -c "cd '$work' && borg create --compression zstd,1 '$work/borg::a' corpus"
printf 'borg 1.2\t%s\n' "$(stored "$work/borg/data")" >> "$sizes"
measure "borg 1.2" restore sh -c "cd '$work' && borg extract --stdout '$work/borg::a' corpus > '$work/out'"
check_restore borg "$work/out"

python3 - "$results" "$sizes" "$SIZE" <<'PY'
import sys
rows = [l.rstrip("\n").split("\t") for l in open(sys.argv[1])]
sizes = dict(l.rstrip("\n").split("\t") for l in open(sys.argv[2]))
total = int(sys.argv[3])
mib = 1024 * 1024
data = {}
for name, phase, secs, rss in rows:
    data.setdefault(name, {})[phase] = (float(secs), int(rss) // 1024)
print(f"corpus: {total / mib:.0f} MiB (half generated table rows, half random bytes); 2 cores\n")
print(f"| tool | backup MiB/s | backup peak RSS MiB | restore MiB/s | restore peak RSS MiB | stored MiB |")
print(f"|---|---:|---:|---:|---:|---:|")
for name, ph in data.items():
    b, r = ph["backup"], ph["restore"]
    print(f"| {name} | {total / mib / b[0]:.0f} | {b[1]} | {total / mib / r[0]:.0f} | {r[1]} | {int(sizes[name]) / mib:.0f} |")
def rate(n, p): return total / data[n][p][0]
print()
for comp in ("zstd:1", "lz4"):
    n = f"strata {comp}"
    print(f"{n}: backup {rate(n,'backup')/rate('restic 0.14','backup'):.2f}x restic (target >= 2), "
          f"{rate(n,'backup')/rate('zstd -1 -T0','backup')*100:.0f}% of zstd CLI (target >= 85%), "
          f"restore {rate(n,'restore')/rate('restic 0.14','restore'):.2f}x restic (target >= 2), "
          f"peak RSS {max(data[n]['backup'][1], data[n]['restore'][1])} MiB (target <= 256)")
PY
