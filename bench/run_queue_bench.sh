#!/usr/bin/env bash
# Job queue benchmark (issue 15 part 3): claim+complete throughput and queued->running latency on the embedded SQLite
# catalog and on PostgreSQL 15, with a plain SQL SKIP LOCKED loop as the reference, in one run (bench/queue_bench.cpp).
# Targets: >= 1,000 jobs/s on PostgreSQL, >= 150 jobs/s on SQLite; queued->running p50 < 50 ms, p99 < 1 s.
#
#   sudo bash bench/run_queue_bench.sh [build dir]        (env JOBS=5000 WORKERS=8 RATE=200 LATENCY_JOBS=1000)
# Each catalog runs twice: with a fleet-wide limit (one row every claim and completion updates) and without.
#
# PostgreSQL runs as the unprivileged user strata-test (scripts/install-deps.sh) in a temp dir on a free 127.0.0.1
# port, with the settings of a dedicated catalog server on a battery-backed disk (synchronous_commit = off is NOT
# used: commits wait for the WAL flush); the SQLite file is in the same temp dir (WAL mode, synchronous = NORMAL).
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD=${1:-build}
JOBS=${JOBS:-5000}
WORKERS=${WORKERS:-8}
RATE=${RATE:-200}
LATENCY_JOBS=${LATENCY_JOBS:-1000}
BIN=/usr/lib/postgresql/15/bin
OWNER=strata-test
[ "$(id -u)" -eq 0 ] || { echo "run as root (postgres runs as $OWNER)"; exit 2; }
cmake --build "$BUILD" --target strata_queue_bench -j 2 >/dev/null
BENCH=$(readlink -f "$BUILD/bench/strata_queue_bench")
ROOT=$(mktemp -d /tmp/strata-queuebench-XXXXXX)
chown $OWNER "$ROOT"
as_owner() { runuser -u $OWNER -- "$@"; }
PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
cleanup() {
  as_owner $BIN/pg_ctl -D "$ROOT/data" -m immediate -w stop >/dev/null 2>&1 || true
  rm -rf "$ROOT"
}
trap cleanup EXIT
as_owner $BIN/initdb -D "$ROOT/data" -U postgres -A trust >/dev/null
cat >> "$ROOT/data/postgresql.conf" <<CONF
port = $PORT
listen_addresses = '127.0.0.1'
unix_socket_directories = '$ROOT'
max_connections = 100
shared_buffers = 256MB
CONF
as_owner $BIN/pg_ctl -D "$ROOT/data" -l "$ROOT/pg.log" -w start >/dev/null
as_owner $BIN/psql -h 127.0.0.1 -p "$PORT" -U postgres -qc "CREATE DATABASE catalog"
echo "commit $(git rev-parse --short HEAD), $(nproc) cores, load $(cut -d' ' -f1-3 /proc/loadavg), $(date -u +%Y-%m-%dT%H:%MZ)"
echo
for fleet_limit in yes no; do
  env=()
  [ $fleet_limit = no ] && env=(NO_FLEET_LIMIT=1)
  as_owner env "${env[@]}" "$BENCH" "postgresql://postgres@127.0.0.1:$PORT/catalog" "$JOBS" "$WORKERS" "$RATE" "$LATENCY_JOBS"
  echo
  rm -f "$ROOT"/catalog.db*
  as_owner env "${env[@]}" "$BENCH" "sqlite://$ROOT/catalog.db" "$JOBS" "$WORKERS" "$RATE" "$LATENCY_JOBS"
  echo
done
