#!/usr/bin/env bash
# Tiering benchmark: the demo game schema (players with ~22 child rows each) in a PostgreSQL 15 on 127.0.0.1;
# cooldown, freeze and thaw throughput (entities/s) through strata to a local repository, single-entity on-demand
# thaw latency (p50/p95/p99, with the load average before and after each measurement) in-process and through the thaw service (`tier serve`, 20 concurrent callers), and — in the same run, on a copy of the same database — a bare batched
# `DELETE ... RETURNING` of the same rows into a file, without archive, verification or re-checks. Then the same
# freeze/thaw on a smaller database to S3 (moto_server on loopback), if moto_server is installed.
#
#   sudo bash bench/run_tier_bench.sh [path/to/strata]        (env PLAYERS=100000 LATENCY_KEYS=2000 S3_PLAYERS=20000
#                                                               SERVE_KEYS=4000 SERVE_CALLERS=20 SERVE_RATE=200 SERVE_WORKERS=20)
#
# Runs postgres as the unprivileged user strata-test (scripts/install-deps.sh creates it) in one temp dir on a
# free port; removes it at the end. Only 127.0.0.1.
set -euo pipefail

STRATA=$(readlink -f "${1:-build/strata}")
PLAYERS=${PLAYERS:-100000}
LATENCY_KEYS=${LATENCY_KEYS:-2000}
BIN=/usr/lib/postgresql/15/bin
OWNER=strata-test
[ "$(id -u)" -eq 0 ] || { echo "run as root (postgres runs as $OWNER)"; exit 2; }
[ -x "$STRATA" ] || { echo "strata binary $STRATA not found: build first or pass its path"; exit 2; }

ROOT=$(mktemp -d /tmp/strata-tierbench-XXXXXX)
chown $OWNER "$ROOT"
chmod 755 "$ROOT"
as_owner() { runuser -u $OWNER -- "$@"; }
PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
DATA=$ROOT/data
MOTO_PID=
cleanup() {
  if [ -n "$MOTO_PID" ]; then kill "$MOTO_PID" 2>/dev/null || true; fi
  as_owner $BIN/pg_ctl -D "$DATA" -m immediate -w stop >/dev/null 2>&1 || true
  rm -rf "$ROOT"
}
trap cleanup EXIT
now() { date +%s.%N; }
rate() { python3 -c "print(f'{$1 / ($3 - $2):.0f}')"; }
secs() { python3 -c "print(f'{$2 - $1:.1f}')"; }
PSQL() { $BIN/psql -h 127.0.0.1 -p $PORT -U postgres -XAtq "$@"; }
loadavg() { cut -d' ' -f1-3 /proc/loadavg; }
# A latency measurement, with the load average (1/5/15 min) before and after it: the machine may be shared.
# Starts from a CHECKPOINT and a sync, so it measures logins, not the writeback of the freeze that ran just before
# (measured right after freezing the whole database, every commit's WAL flush queued behind that writeback: one A/B
# at load ~4.5 gave p99 97 ms without the checkpoint and 11 ms with it).
# Also prints the WAL flushes PostgreSQL made during the measurement and their mean time (pg_stat_wal, with
# track_wal_io_timing): every thaw commits synchronously, so on a shared disk this is where a latency tail comes from.
measure() {
  PSQL -c CHECKPOINT; sync
  PSQL -c "SELECT pg_stat_reset_shared('wal')" >/dev/null
  echo "   load before: $(loadavg)"
  S "$@"
  echo "   load after:  $(loadavg); WAL: $(PSQL -c "SELECT wal_sync || ' flushes, mean ' || round((wal_sync_time / greatest(wal_sync, 1))::numeric, 2) || ' ms, ' || round(wal_sync_time::numeric) || ' ms in total' FROM pg_stat_wal")"
}

as_owner $BIN/initdb -D "$DATA" -A trust -U postgres --no-sync -E UTF8 --locale=C >/dev/null
cat >> "$DATA/postgresql.conf" <<CONF
port = $PORT
listen_addresses = '127.0.0.1'
unix_socket_directories = '$ROOT'
shared_buffers = 512MB
max_wal_size = 8GB
track_wal_io_timing = on
CONF
as_owner $BIN/pg_ctl -D "$DATA" -l "$ROOT/server.log" -w start >/dev/null
PSQL -c "CREATE DATABASE game"
CONNINFO="host=127.0.0.1 port=$PORT user=postgres dbname=game"
"$STRATA" tier demo --database "$CONNINFO" --print-config > "$ROOT/tier.toml"
export STRATA_PASSPHRASE=bench-passphrase-not-secret
S() { "$STRATA" --config "$ROOT/tier.toml" --repo "$ROOT/repo" "$@"; }
S repo init >/dev/null

echo "== machine: $(nproc) cores, load average $(cut -d' ' -f1-3 /proc/loadavg) before the run"
echo "== demo data: $PLAYERS players, ~22 child rows each (fsync on, synchronous_commit on)"
t0=$(now); S tier demo --database "$CONNINFO" --players "$PLAYERS" --inactive-percent 100 -q; t1=$(now)
S tier setup --apply -q
PSQL -d game -c "VACUUM ANALYZE"
echo "generated in $(secs $t0 $t1) s; $(PSQL -d game -c "SELECT pg_size_pretty(pg_database_size('game'))")"

echo "== cooldown (hot -> warm, batches of 5000)"
t0=$(now); S tier cooldown -q; t1=$(now)
echo "cooldown: $PLAYERS entities in $(secs $t0 $t1) s = $(rate $PLAYERS $t0 $t1) entities/s"

# The bare script works on an identical copy made now, so both start from the same warm rows.
PSQL -c "CREATE DATABASE bare TEMPLATE game"
BATCHES=$(( (PLAYERS + 499) / 500 ))
{
  echo "CREATE TEMP TABLE b (id uuid);"
  for i in $(seq 1 $BATCHES); do
    cat <<SQL
BEGIN;
TRUNCATE b; INSERT INTO b SELECT id FROM players WHERE tier = 'warm' ORDER BY last_active LIMIT 500; ANALYZE b;
DELETE FROM equipment_mods m USING equipment e, b WHERE m.equipment_id = e.id AND e.player_id = b.id RETURNING m.*;
DELETE FROM equipment e USING b WHERE e.player_id = b.id RETURNING e.*;
DELETE FROM player_stats s USING b WHERE s.player_id = b.id RETURNING s.*;
DELETE FROM bank_items x USING b WHERE x.player_id = b.id RETURNING x.*;
DELETE FROM friends f USING b WHERE f.player_id = b.id RETURNING f.*;
SELECT p.* FROM players p JOIN b ON p.id = b.id;
UPDATE players p SET tier = 'archived' FROM b WHERE p.id = b.id;
COMMIT;
SQL
  done
} > "$ROOT/bare.sql"
echo "== bare script: batched DELETE ... RETURNING into a file (500 players per transaction)"
t0=$(now); PSQL -d bare -f "$ROOT/bare.sql" > "$ROOT/bare.out"; t1=$(now)
BARE_RATE=$(rate $PLAYERS $t0 $t1)
echo "bare: $PLAYERS entities in $(secs $t0 $t1) s = $BARE_RATE entities/s ($(du -h "$ROOT/bare.out" | cut -f1) plain text)"

echo "== freeze (snapshot, document, zstd, AEAD, pack of 500, verify, re-check + delete; 2 workers)"
t0=$(now); S tier freeze -q; t1=$(now)
FREEZE_RATE=$(rate $PLAYERS $t0 $t1)
echo "freeze: $PLAYERS entities in $(secs $t0 $t1) s = $FREEZE_RATE entities/s; repository $(du -sh "$ROOT/repo" | cut -f1)"
echo "archived: $(PSQL -d game -c "SELECT count(*) FROM players WHERE tier = 'archived'")"

echo "== on-demand thaw latency ($LATENCY_KEYS single-entity thaws, one at a time)"
PSQL -d game -c "SELECT id FROM players ORDER BY random() LIMIT $LATENCY_KEYS" > "$ROOT/keys.txt"
measure tier thaw --keys-from "$ROOT/keys.txt"

# ---- on-demand thaw with SERVE_CALLERS concurrent callers, in-process (each caller a Tierer with its own connection)
# and through the thaw service (`strata tier serve` on a Unix socket, each caller its own connection), timed by the
# caller from request to answer (`tier thaw --keys-from --callers [--via] [--rate]`). Closed loop: each caller sends
# its next login as soon as the last is answered (the machine saturated, the worst case). Paced: SERVE_RATE logins/s
# in total, like logins arriving.
SERVE_KEYS=${SERVE_KEYS:-4000}
SERVE_CALLERS=${SERVE_CALLERS:-20}
SERVE_RATE=${SERVE_RATE:-200}
# Database connections of the service: one per caller by default, like the in-process callers (each has its own),
# so the two rows compare the path, not the pool size. With fewer workers than callers, a commit's WAL flush that
# stalls holds its worker and the requests behind it queue (8 workers for 20 paced callers: p95 66-93 ms where the
# in-process callers had 15-56 ms, in the same runs).
SERVE_WORKERS=${SERVE_WORKERS:-$SERVE_CALLERS}
PSQL -d game -c "SELECT id FROM players WHERE tier = 'archived' ORDER BY random() LIMIT $((4 * SERVE_KEYS))" > "$ROOT/many-keys.txt"
split -n l/4 -d "$ROOT/many-keys.txt" "$ROOT/keys-part-"
echo "== on-demand thaw, $SERVE_CALLERS callers in-process, closed loop"
measure tier thaw --keys-from "$ROOT/keys-part-00" --callers "$SERVE_CALLERS"
echo "== on-demand thaw, $SERVE_CALLERS callers in-process, paced at $SERVE_RATE logins/s"
measure tier thaw --keys-from "$ROOT/keys-part-01" --callers "$SERVE_CALLERS" --rate "$SERVE_RATE"
rm -f "$ROOT/serve.out"
# The binary itself in the background (not the S function, whose subshell would be what gets the SIGTERM).
"$STRATA" --config "$ROOT/tier.toml" --repo "$ROOT/repo" tier serve --socket "$ROOT/thaw.sock" --workers "$SERVE_WORKERS" \
  > "$ROOT/serve.out" 2> "$ROOT/serve.log" &
SERVE_PID=$!
until grep -q listening "$ROOT/serve.out" 2>/dev/null; do
  kill -0 "$SERVE_PID" 2>/dev/null || { echo "tier serve died: $(tail -3 "$ROOT/serve.log")"; exit 1; }
  sleep 0.05   # waiting for the service to come up, polled
done
echo "== on-demand thaw, $SERVE_CALLERS callers through strata tier serve ($SERVE_WORKERS workers, Unix socket), closed loop"
measure tier thaw --keys-from "$ROOT/keys-part-02" --callers "$SERVE_CALLERS" --via "$ROOT/thaw.sock"
echo "== on-demand thaw, $SERVE_CALLERS callers through strata tier serve ($SERVE_WORKERS workers, Unix socket), paced at $SERVE_RATE logins/s"
measure tier thaw --keys-from "$ROOT/keys-part-03" --callers "$SERVE_CALLERS" --via "$ROOT/thaw.sock" --rate "$SERVE_RATE"
kill -TERM "$SERVE_PID"; wait "$SERVE_PID" || true

echo "== batch thaw (all archived, 500 per transaction, 2 workers)"
REST=$(PSQL -d game -c "SELECT count(*) FROM players WHERE tier = 'archived'")
t0=$(now); S tier thaw --all-archived -q; t1=$(now)
THAW_RATE=$(rate $REST $t0 $t1)
echo "thaw: $REST entities in $(secs $t0 $t1) s = $THAW_RATE entities/s"
echo "hot again: $(PSQL -d game -c "SELECT count(*) FROM players WHERE tier = 'hot'") of $PLAYERS"
echo "== load average after the run: $(cut -d' ' -f1-3 /proc/loadavg)"
echo "== freeze $(python3 -c "print(f'{100*$FREEZE_RATE/$BARE_RATE:.0f}')")% and thaw $(python3 -c "print(f'{100*$THAW_RATE/$BARE_RATE:.0f}')")% of the bare script's rate"

# ---- S3: the same freeze / thaw against a loopback S3 server (moto), on a smaller database of its own, since moto
# keeps every object in one Python process. Skipped when moto_server is missing (scripts/install-deps.sh).
S3_PLAYERS=${S3_PLAYERS:-20000}
if [ "$S3_PLAYERS" -gt 0 ] && command -v moto_server >/dev/null; then
  MPORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
  mkdir -p "$ROOT/moto"
  (cd "$ROOT/moto" && exec moto_server -H 127.0.0.1 -p "$MPORT" > "$ROOT/moto/log" 2>&1) &
  MOTO_PID=$!
  for _ in $(seq 300); do
    curl -sf -o /dev/null "http://127.0.0.1:$MPORT/" && break
    kill -0 "$MOTO_PID" 2>/dev/null || { echo "moto_server died: $(tail -3 "$ROOT/moto/log")"; exit 1; }
    sleep 0.1
  done
  # Credentials through the environment only, never on a command line.
  export AWS_ACCESS_KEY_ID=bench AWS_SECRET_ACCESS_KEY=bench-secret AWS_REGION=us-east-1 AWS_ENDPOINT_URL_S3=http://127.0.0.1:$MPORT
  curl -sf -X PUT "http://127.0.0.1:$MPORT/tierbench" >/dev/null
  PSQL -c "CREATE DATABASE game_s3"
  CONNINFO_S3="host=127.0.0.1 port=$PORT user=postgres dbname=game_s3"
  "$STRATA" tier demo --database "$CONNINFO_S3" --print-config > "$ROOT/tier-s3.toml"
  S3() { "$STRATA" --config "$ROOT/tier-s3.toml" --repo "s3://tierbench/repo" "$@"; }
  S3 repo init >/dev/null
  echo "== S3 (moto on 127.0.0.1): $S3_PLAYERS players"
  S3 tier demo --database "$CONNINFO_S3" --players "$S3_PLAYERS" --inactive-percent 100 -q
  S3 tier setup --apply -q
  PSQL -d game_s3 -c "VACUUM ANALYZE"
  S3 tier cooldown -q
  t0=$(now); S3 tier freeze -q; t1=$(now)
  echo "S3 freeze: $S3_PLAYERS entities in $(secs $t0 $t1) s = $(rate $S3_PLAYERS $t0 $t1) entities/s"
  PSQL -d game_s3 -c "SELECT id FROM players ORDER BY random() LIMIT 500" > "$ROOT/keys-s3.txt"
  S3 tier thaw --keys-from "$ROOT/keys-s3.txt"
  REST=$(PSQL -d game_s3 -c "SELECT count(*) FROM players WHERE tier = 'archived'")
  t0=$(now); S3 tier thaw --all-archived -q; t1=$(now)
  echo "S3 thaw: $REST entities in $(secs $t0 $t1) s = $(rate $REST $t0 $t1) entities/s"
  kill "$MOTO_PID" 2>/dev/null || true
  wait "$MOTO_PID" 2>/dev/null || true
  MOTO_PID=
fi
