#!/usr/bin/env bash
# PostgreSQL benchmark: a pgbench scale-N cluster (default 100, ~1.5 GB) backed up and restored by strata, by
# pgBackRest (compress-type=zst, process-max=2, AES-256 encryption like strata) and by `pg_basebackup | zstd -1`,
# in the same run on the same machine; then WAL push latency per 16 MiB segment, strata vs pgbackrest archive-push.
#
#   sudo bash bench/run_pg_bench.sh [path/to/strata]        (env SCALE=100 SEGMENTS=20)
#   WAL_ONLY=1 SCALE=25 sudo -E bash bench/run_pg_bench.sh   only the WAL push latencies
#   WAL_DATA=random ...   push segments written by inserts of random hex text (compress ~2:1) instead of the
#                         pgbench -i segments (which compress ~30:1): the worst case for push latency
#   ROUNDS=3              restores per tool (alternating which goes first); the table shows the median
#   KEEP=1                leave the temp dir (repositories, configs; server stopped) for profiling restores
#
# Runs everything as the unprivileged user strata-test (scripts/install-deps.sh creates it) in one temp dir on a
# free 127.0.0.1 port; removes it at the end. Needs STRATA_BENCH_DEPS=1 bash scripts/install-deps.sh (pgbackrest).
set -euo pipefail

STRATA=$(readlink -f "${1:-build/strata}")
SCALE=${SCALE:-100}
SEGMENTS=${SEGMENTS:-20}
WAL_ONLY=${WAL_ONLY:-0}
WAL_DATA=${WAL_DATA:-pgbench}
ROUNDS=${ROUNDS:-3}
KEEP=${KEEP:-0}
BIN=/usr/lib/postgresql/15/bin
OWNER=strata-test
[ "$(id -u)" -eq 0 ] || { echo "run as root (postgres and pgBackRest run as $OWNER)"; exit 2; }
command -v pgbackrest >/dev/null || { echo "pgbackrest missing: STRATA_BENCH_DEPS=1 bash scripts/install-deps.sh"; exit 2; }
[ -x "$STRATA" ] || { echo "strata binary $STRATA not found: build first or pass its path"; exit 2; }

ROOT=$(mktemp -d /tmp/strata-pgbench-XXXXXX)
chown $OWNER "$ROOT"
chmod 755 "$ROOT"
as_owner() { runuser -u $OWNER -- "$@"; }
PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
DATA=$ROOT/data
cleanup() {
  as_owner $BIN/pg_ctl -D "$DATA" -m immediate -w stop >/dev/null 2>&1 || true
  if [ "$KEEP" = 1 ]; then echo "kept $ROOT"; else rm -rf "$ROOT"; fi
}
trap cleanup EXIT
now() { date +%s.%N; }
secs() { python3 -c "print(f'{$2 - $1:.2f}')"; }
mbps() { python3 -c "print(f'{$1 / 1048576 / $2:.0f}')"; }
median() { python3 -c "import sys,statistics; print(f'{statistics.median(float(x) for x in sys.argv[1:]):.2f}')" "$@"; }
# This VM hands memory that has been free for a few seconds back to the host (free page reporting), and the next
# write into such a page costs a host fault (bench/run_core_bench.sh measured 10x the system time). Whoever runs
# after a pause would pay it for a whole data directory, so every restore starts on freshly recycled free memory.
warm_free_pages() {
  dd if=/dev/zero of="$ROOT/warm" bs=1M count=$(( DB_BYTES * 5 / 4 / 1048576 + 64 )) status=none
  rm -f "$ROOT/warm"
}

echo "== cluster: pgbench scale $SCALE on 127.0.0.1:$PORT in $ROOT"
as_owner $BIN/initdb -D "$DATA" -A trust -U postgres --no-sync -E UTF8 --locale=C >/dev/null
as_owner mkdir "$ROOT/walcopy"
cat >> "$DATA/postgresql.conf" <<CONF
port = $PORT
listen_addresses = '127.0.0.1'
unix_socket_directories = '$ROOT'
fsync = off
max_wal_size = 4GB
archive_mode = on
archive_command = 'test ! -f $ROOT/walcopy/%f && cp %p $ROOT/walcopy/%f'
CONF
as_owner $BIN/pg_ctl -D "$DATA" -l "$ROOT/server.log" -w start >/dev/null
$BIN/pgbench -h 127.0.0.1 -p $PORT -U postgres -i -s "$SCALE" -q postgres 2>&1 | tail -1
$BIN/psql -h 127.0.0.1 -p $PORT -U postgres -XAtqc "CHECKPOINT"
if [ "$WAL_DATA" = random ]; then
  # ~1 KB rows of md5 hex (below the TOAST threshold, so WAL carries them uncompressed), SEGMENTS+4 segments' worth.
  FIRST_RANDOM=$($BIN/psql -h 127.0.0.1 -p $PORT -U postgres -XAtqc "SELECT pg_walfile_name(pg_current_wal_insert_lsn())")
  $BIN/psql -h 127.0.0.1 -p $PORT -U postgres -XAtq -c "CREATE TABLE walrandom (x text)" \
    -c "INSERT INTO walrandom SELECT (SELECT string_agg(md5(random()::text || g), '') FROM generate_series(1, 31) g WHERE i > 0) FROM generate_series(1, $(( (SEGMENTS + 4) * 15000 ))) i"
  LAST_RANDOM=$($BIN/psql -h 127.0.0.1 -p $PORT -U postgres -XAtqc "SELECT pg_walfile_name(pg_current_wal_insert_lsn())")
  $BIN/psql -h 127.0.0.1 -p $PORT -U postgres -XAtqc "SELECT pg_switch_wal()" >/dev/null
  until [ -f "$ROOT/walcopy/$LAST_RANDOM" ]; do sleep 0.1; done   # the archiver has copied them all
fi
# What a base backup carries: the data directory without pg_wal (which holds max_wal_size of recycled segments).
DB_BYTES=$(du -sb --exclude=pg_wal "$DATA" | cut -f1)
echo "data directory without pg_wal: $((DB_BYTES / 1048576)) MiB"

# pgBackRest, encrypted like strata (strata always encrypts; AES-256-GCM here).
PASS=bench-passphrase-not-secret
cat > "$ROOT/pgbackrest.conf" <<CONF
[global]
repo1-path=$ROOT/pgbr-repo
repo1-cipher-type=aes-256-cbc
repo1-cipher-pass=$PASS
repo1-retention-full=10
compress-type=zst
process-max=2
start-fast=y
lock-path=$ROOT/pgbr-lock
log-path=$ROOT/pgbr-log
spool-path=$ROOT/pgbr-spool
log-level-console=warn
log-level-file=off

[bench]
pg1-path=$DATA
pg1-port=$PORT
pg1-socket-path=$ROOT
pg1-user=postgres

[walbench]
pg1-path=$DATA
pg1-port=$PORT
pg1-socket-path=$ROOT
pg1-user=postgres
CONF
chown $OWNER "$ROOT/pgbackrest.conf"
PGBR="pgbackrest --config=$ROOT/pgbackrest.conf"
as_owner $PGBR --stanza=bench stanza-create
# From now on pgBackRest archives; the copied segments above feed the WAL latency test.
$BIN/psql -h 127.0.0.1 -p $PORT -U postgres -XAtqc "ALTER SYSTEM SET archive_command = '$PGBR --stanza=bench archive-push %p'" -c "SELECT pg_reload_conf()" >/dev/null

cat > "$ROOT/strata.toml" <<CONF
repo = "$ROOT/strata-repo"
compression = "zstd:3"

[source.pg1]
engine = "postgres"
host = "127.0.0.1"
port = "$PORT"
user = "postgres"

[source.walbench]
engine = "postgres"
host = "127.0.0.1"
port = "$PORT"
user = "postgres"

[source.walasync]
engine = "postgres"
spool_dir = "$ROOT/spool"

[source.walzstd3]
engine = "postgres"
wal_compression = "zstd:3"

[source.wallz4]
engine = "postgres"
wal_compression = "lz4"
CONF
chown $OWNER "$ROOT/strata.toml"
export STRATA_PASSPHRASE=$PASS
as_owner "$STRATA" --config "$ROOT/strata.toml" repo init >/dev/null
S="$STRATA --config $ROOT/strata.toml -q"

if [ "$WAL_ONLY" != 1 ]; then
echo "== full backups"
t0=$(now); as_owner $PGBR --stanza=bench --type=full backup; t1=$(now)
PGBR_B=$(secs $t0 $t1); PGBR_SIZE=$(du -sb "$ROOT/pgbr-repo/backup" | cut -f1)
t0=$(now); as_owner $S backup --source pg1 >/dev/null; t1=$(now)
STRATA_B=$(secs $t0 $t1); STRATA_SIZE=$(du -sb "$ROOT/strata-repo/data" | cut -f1)
t0=$(now); as_owner bash -c "$BIN/pg_basebackup -h 127.0.0.1 -p $PORT -U postgres -Ft -D - -X fetch --checkpoint=fast | zstd -1 -q > $ROOT/basebackup.tar.zst"; t1=$(now)
PGBB_B=$(secs $t0 $t1); PGBB_SIZE=$(stat -c %s "$ROOT/basebackup.tar.zst")
rm -f "$ROOT/basebackup.tar.zst"

echo "== restores ($ROUNDS rounds, alternating order)"
restore_pgbr() {
  warm_free_pages
  local t0=$(now); as_owner $PGBR --stanza=bench --pg1-path="$ROOT/restore-pgbr-$1" restore; local t1=$(now)
  PGBR_RS+=("$(secs $t0 $t1)")
}
restore_strata() {
  warm_free_pages
  local t0=$(now); as_owner $S restore --source pg1 --latest --target-dir "$ROOT/restore-strata-$1"; local t1=$(now)
  STRATA_RS+=("$(secs $t0 $t1)")
}
# Restored directories stay until the end. This VM's ext4 has no journal, and there the inode allocator skips
# every inode deleted in the last ~30 s with a buffer-cache lookup each: creating a data directory's ~1,000 files
# right after deleting the previous restore cost either tool 0.3-0.6 s more.
PGBR_RS=(); STRATA_RS=()
for ((r = 0; r < ROUNDS; r++)); do
  if ((r % 2 == 0)); then restore_pgbr $r; restore_strata $r; else restore_strata $r; restore_pgbr $r; fi
done
rm -rf "$ROOT"/restore-pgbr-* "$ROOT"/restore-strata-*
PGBR_R=$(median "${PGBR_RS[@]}"); STRATA_R=$(median "${STRATA_RS[@]}")
fi

echo "== WAL push latency ($SEGMENTS segments of 16 MiB, one process per segment as archive_command runs it)"
as_owner $PGBR --stanza=walbench --repo1-path="$ROOT/pgbr-walrepo" stanza-create
if [ "$WAL_DATA" = random ]; then
  mapfile -t SEGS < <(ls "$ROOT/walcopy" | grep -E '^[0-9A-F]{24}$' | sort | awk -v f="$FIRST_RANDOM" '$0 > f' | head -n "$SEGMENTS")
else
  mapfile -t SEGS < <(ls "$ROOT/walcopy" | grep -E '^[0-9A-F]{24}$' | sort | head -n "$SEGMENTS")
fi
as_owner mkdir "$ROOT/walsrc"
for f in "${SEGS[@]}"; do cp "$ROOT/walcopy/$f" "$ROOT/walsrc/$f"; done
chown -R $OWNER "$ROOT/walsrc"
time_each() {  # prints per-push milliseconds, one per line
  for f in "${SEGS[@]}"; do
    t0=$(now); as_owner "$@" "$ROOT/walsrc/$f"; t1=$(now)
    python3 -c "print(($t1 - $t0) * 1000)"
  done
}
stats() { python3 -c "import sys,statistics as s; v=sorted(float(x) for x in sys.stdin); print(f'{s.mean(v):.0f} {v[len(v)//2]:.0f} {v[-1]:.0f}')"; }
# Write-only: no passphrase reaches the WAL pusher.
repo_bytes() { du -sb "$ROOT/strata-repo" | cut -f1; }
per_seg() { python3 -c "print(f'{($2 - $1) / 1048576 / $SEGMENTS:.2f}')"; }
b0=$(repo_bytes)
STRATA_WAL=$(STRATA_PASSPHRASE= time_each $S wal push --source walbench | stats); b1=$(repo_bytes)
STRATA_WAL_Z3=$(STRATA_PASSPHRASE= time_each $S wal push --source walzstd3 | stats); b2=$(repo_bytes)
STRATA_WAL_LZ4=$(STRATA_PASSPHRASE= time_each $S wal push --source wallz4 | stats); b3=$(repo_bytes)
T_ASYNC0=$(now)
STRATA_ASYNC=$(STRATA_PASSPHRASE= time_each $S wal push --source walasync --async | stats)
# Until the detached drainer has moved everything into the repository.
while [ -n "$(ls "$ROOT/spool" | grep -E '^[0-9A-F]{24}$' || true)" ]; do sleep 0.05; done
ASYNC_TOTAL=$(secs $T_ASYNC0 $(now))
PGBR_WAL=$(time_each $PGBR --stanza=walbench --repo1-path="$ROOT/pgbr-walrepo" archive-push | stats)

echo
echo "PostgreSQL benchmark (WAL segments: $WAL_DATA): pgbench scale $SCALE, data directory $((DB_BYTES / 1048576)) MiB without pg_wal, $(nproc) cores, load average $(cut -d' ' -f1 /proc/loadavg)"
if [ "$WAL_ONLY" != 1 ]; then
printf "%-34s %9s %9s %11s\n" "full backup" "seconds" "MiB/s" "stored MiB"
printf "%-34s %9s %9s %11s\n" "strata (zstd:3, AES-256-GCM)" "$STRATA_B" "$(mbps $DB_BYTES $STRATA_B)" "$((STRATA_SIZE / 1048576))"
printf "%-34s %9s %9s %11s\n" "pgBackRest (zst, process-max=2)" "$PGBR_B" "$(mbps $DB_BYTES $PGBR_B)" "$((PGBR_SIZE / 1048576))"
printf "%-34s %9s %9s %11s\n" "pg_basebackup -Ft | zstd -1" "$PGBB_B" "$(mbps $DB_BYTES $PGBB_B)" "$((PGBB_SIZE / 1048576))"
printf "%-34s %9s %9s   %s\n" "restore (median of $ROUNDS)" "seconds" "MiB/s" "each round"
printf "%-34s %9s %9s   %s\n" "strata" "$STRATA_R" "$(mbps $DB_BYTES $STRATA_R)" "${STRATA_RS[*]}"
printf "%-34s %9s %9s   %s\n" "pgBackRest" "$PGBR_R" "$(mbps $DB_BYTES $PGBR_R)" "${PGBR_RS[*]}"
fi
stored_mib() { python3 -c "print(f'{$(du -sb "$1" | cut -f1) / 1048576 / $SEGMENTS:.2f}')"; }
printf "%-40s %6s %6s %6s %16s\n" "WAL push, ms per segment" "mean" "p50" "max" "stored MiB/seg"
printf "%-40s %6s %6s %6s %16s\n" "strata wal push (default, zstd:1)" $STRATA_WAL "$(per_seg $b0 $b1)"
printf "%-40s %6s %6s %6s %16s\n" "strata wal push wal_compression=zstd:3" $STRATA_WAL_Z3 "$(per_seg $b1 $b2)"
printf "%-40s %6s %6s %6s %16s\n" "strata wal push wal_compression=lz4" $STRATA_WAL_LZ4 "$(per_seg $b2 $b3)"
printf "%-40s %6s %6s %6s %16s\n" "pgbackrest archive-push (zst:3)" $PGBR_WAL "$(stored_mib "$ROOT/pgbr-walrepo/archive")"
printf "%-40s %6s %6s %6s   (all $SEGMENTS in the repository after ${ASYNC_TOTAL}s)\n" "strata wal push --async (spool)" $STRATA_ASYNC
[ "$WAL_ONLY" = 1 ] || python3 -c "print(f'backup: strata/pgBackRest = {$PGBR_B / $STRATA_B:.2f}x   restore: strata/pgBackRest = {$PGBR_R / $STRATA_R:.2f}x')"
