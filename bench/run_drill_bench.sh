#!/usr/bin/env bash
# Drill overhead (issue 17): what a level 2 drill adds to the bare restore of the same backup — starting the copy
# and the engine's checks — per engine, and the RTO per GiB. Target: overhead < 40% of the bare restore.
#
#   sudo bash bench/run_drill_bench.sh [path/to/strata]
#   env: ENGINES="pg redis mysql"  SCALE=100 (pgbench)  REDIS_KEYS=1000000  MYSQL_ROWS=1500000 (~1 KiB rows)
#        STATUS_SOURCES=1000 (backups of distinct sources for the `strata status` timing; 0 skips it)
#
# PostgreSQL runs as the unprivileged user strata-test (scripts/install-deps.sh creates it), like the tests; the
# bare restore is `strata restore --target-dir` (no start: recovery and checks are the drill's extra), the drill
# is `strata drill run --level 2 --json` (restore, recovery to the consistent point, pg_amcheck --heapallindexed,
# fingerprint, clean stop, pg_checksums when on). Everything lives in one temp dir, removed at the end.
set -euo pipefail

STRATA=$(readlink -f "${1:-build/strata}")
ENGINES=${ENGINES:-"pg redis mysql"}
SCALE=${SCALE:-100}
REDIS_KEYS=${REDIS_KEYS:-1000000}
MYSQL_ROWS=${MYSQL_ROWS:-1500000}
STATUS_SOURCES=${STATUS_SOURCES:-1000}
BIN=/usr/lib/postgresql/15/bin
OWNER=strata-test
[ "$(id -u)" -eq 0 ] || { echo "run as root (postgres runs as $OWNER)"; exit 2; }
[ -x "$STRATA" ] || { echo "strata binary $STRATA not found: build first or pass its path"; exit 2; }

ROOT=$(mktemp -d /tmp/strata-drillbench-XXXXXX)
chown $OWNER "$ROOT"
chmod 755 "$ROOT"
as_owner() { runuser -u $OWNER -- "$@"; }
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
now() { date +%s.%N; }
secs() { python3 -c "print(f'{$2 - $1:.2f}')"; }
field() { python3 -c "import json,sys; print(json.load(open(sys.argv[1]))[sys.argv[2]])" "$1" "$2"; }
PG_PORT=$(free_port)
cleanup() {
  as_owner $BIN/pg_ctl -D "$ROOT/pgdata" -m immediate -w stop >/dev/null 2>&1 || true
  [ -f "$ROOT/redis.pid" ] && kill "$(cat "$ROOT/redis.pid")" 2>/dev/null || true
  [ -f "$ROOT/mysql.pid" ] && kill "$(cat "$ROOT/mysql.pid")" 2>/dev/null || true
  sleep 1
  rm -rf "$ROOT"
}
trap cleanup EXIT
export STRATA_PASSPHRASE=bench-passphrase-not-secret
cat > "$ROOT/strata.toml" <<TOML
repo = "$ROOT/repo"
[backup]
compression = "zstd:1"
[drill]
scratch_dir = "$ROOT/scratch"
time_limit = "6h"
TOML
chown $OWNER "$ROOT/strata.toml"
S() { "$STRATA" --config "$ROOT/strata.toml" -q "$@"; }
S_OWNER() { as_owner env STRATA_PASSPHRASE=$STRATA_PASSPHRASE "$STRATA" --config "$ROOT/strata.toml" -q "$@"; }
S_OWNER repo init >/dev/null
RESULTS=()

# One engine's numbers: bare restore seconds, drill wall seconds, the drill record.
report() {  # name plain_bytes bare_s drill_s record.json
  local rto restore start checks
  rto=$(field "$5" rto_seconds); restore=$(field "$5" restore_seconds); start=$(field "$5" start_seconds)
  checks=$(field "$5" checks_seconds)
  local result; result=$(field "$5" result)
  RESULTS+=("$(python3 -c "
gib = $2 / 2**30
over = ($4 - $3) / $3 * 100
print(f'| $1 | {$2 / 2**20:.0f} | {$3:.1f} | {$4:.1f} | {$restore:.1f} | {$start:.1f} | {$checks:.1f} | {over:+.0f}% | {$rto / gib:.1f} | $result |')")")
}

if [[ " $ENGINES " == *" pg "* ]]; then
  echo "== PostgreSQL: pgbench scale $SCALE on 127.0.0.1:$PG_PORT"
  as_owner $BIN/initdb -D "$ROOT/pgdata" -A trust -U postgres --no-sync -E UTF8 --locale=C -k >/dev/null
  cat >> "$ROOT/pgdata/postgresql.conf" <<CONF
port = $PG_PORT
listen_addresses = '127.0.0.1'
unix_socket_directories = '$ROOT'
fsync = off
max_wal_size = 4GB
CONF
  as_owner $BIN/pg_ctl -D "$ROOT/pgdata" -l "$ROOT/pg.log" -w start >/dev/null
  $BIN/pgbench -h 127.0.0.1 -p $PG_PORT -U postgres -i -s "$SCALE" -q postgres 2>&1 | tail -1
  $BIN/psql -h 127.0.0.1 -p $PG_PORT -U postgres -XAtqc "CHECKPOINT"
  cat >> "$ROOT/strata.toml" <<TOML
[source.pg1]
engine = "postgres"
host = "127.0.0.1"
port = "$PG_PORT"
user = "postgres"
TOML
  PGID=$(S_OWNER backup --source pg1 2>/dev/null)
  PLAIN=$(S_OWNER show "$PGID" --json | python3 -c 'import json,sys; print(json.load(sys.stdin)["plain_bytes"])')
  t0=$(now); S_OWNER restore "$PGID" --source pg1 --target-dir "$ROOT/bare" 2>/dev/null; BARE=$(secs $t0 $(now))
  rm -rf "$ROOT/bare" "$ROOT/bare.strata-restore.log"
  t0=$(now); S_OWNER drill run "$PGID" --source pg1 --json > "$ROOT/pg.json"; DRILL=$(secs $t0 $(now))
  report "PostgreSQL (pgbench -s $SCALE)" "$PLAIN" "$BARE" "$DRILL" "$ROOT/pg.json"
fi

if [[ " $ENGINES " == *" redis "* ]]; then
  RPORT=$(free_port)
  echo "== Redis: $REDIS_KEYS keys on 127.0.0.1:$RPORT"
  redis-server --port $RPORT --bind 127.0.0.1 --dir "$ROOT" --daemonize yes --pidfile "$ROOT/redis.pid" \
    --logfile "$ROOT/redis.log" --save '' --appendonly no --enable-debug-command yes >/dev/null
  for _ in $(seq 100); do redis-cli -p $RPORT PING 2>/dev/null | grep -q PONG && break; sleep 0.1; done
  redis-cli -p $RPORT DEBUG POPULATE "$REDIS_KEYS" key 200 >/dev/null
  printf '[source.cache]\nengine = "redis"\nhost = "127.0.0.1"\nport = %s\n' "$RPORT" >> "$ROOT/strata.toml"
  RID=$(S backup --source cache)
  PLAIN=$(S show "$RID" --json | python3 -c 'import json,sys; print(json.load(sys.stdin)["plain_bytes"])')
  t0=$(now); S restore "$RID" --source cache --target-dir "$ROOT/redis-bare" 2>/dev/null; BARE=$(secs $t0 $(now))
  rm -rf "$ROOT/redis-bare"
  t0=$(now); S drill run "$RID" --source cache --json > "$ROOT/redis.json"; DRILL=$(secs $t0 $(now))
  report "Redis ($REDIS_KEYS keys)" "$PLAIN" "$BARE" "$DRILL" "$ROOT/redis.json"
fi

if [[ " $ENGINES " == *" mysql "* ]]; then
  echo "== MariaDB: $MYSQL_ROWS rows of ~1 KiB"
  MDATA=$ROOT/mysql; MSOCK=$ROOT/mysql.sock
  mkdir -p "$ROOT/mysqltmp"
  mariadb-install-db --no-defaults --datadir="$MDATA" --tmpdir="$ROOT/mysqltmp" --user=root --skip-test-db >/dev/null 2>&1
  mariadbd --no-defaults --datadir="$MDATA" --socket="$MSOCK" --pid-file="$ROOT/mysql.pid" --tmpdir="$ROOT/mysqltmp" \
    --skip-networking --user=root --innodb-buffer-pool-size=512M --log-error="$ROOT/mysql.err" &
  for _ in $(seq 300); do mariadb-admin --no-defaults --socket="$MSOCK" ping >/dev/null 2>&1 && break; sleep 0.2; done
  mariadb --no-defaults --socket="$MSOCK" -u root -e "CREATE DATABASE app; CREATE TABLE app.t (id INT PRIMARY KEY, v TEXT) ENGINE=InnoDB;
    USE app; INSERT INTO app.t SELECT seq, REPEAT(MD5(seq), 32) FROM seq_1_to_$MYSQL_ROWS;"
  printf '[source.db]\nengine = "mysql"\nsocket = "%s"\nuser = "root"\ndatadir = "%s"\nrun_as = "root"\n' "$MSOCK" "$MDATA" >> "$ROOT/strata.toml"
  MID=$(S backup --source db --type full)
  PLAIN=$(S show "$MID" --json | python3 -c 'import json,sys; print(json.load(sys.stdin)["plain_bytes"])')
  t0=$(now); S restore "$MID" --source db --target-dir "$ROOT/mysql-bare" 2>/dev/null; BARE=$(secs $t0 $(now))
  rm -rf "$ROOT/mysql-bare"
  t0=$(now); S drill run "$MID" --source db --json > "$ROOT/mysql.json"; DRILL=$(secs $t0 $(now))
  report "MariaDB ($MYSQL_ROWS rows)" "$PLAIN" "$BARE" "$DRILL" "$ROOT/mysql.json"
fi

echo
echo "| engine | restored MiB | bare restore s | drill s | drill: restore s | start s | checks s | overhead | RTO s/GiB | result |"
echo "|---|---:|---:|---:|---:|---:|---:|---:|---:|---|"
for r in "${RESULTS[@]}"; do echo "$r"; done

if [ "$STATUS_SOURCES" -gt 0 ]; then
  echo
  echo "== strata status over $STATUS_SOURCES sources (one small backup each)"
  head -c 1024 /dev/urandom > "$ROOT/small"
  for i in $(seq "$STATUS_SOURCES"); do S backup --source "s$i" --from-file "$ROOT/small" >/dev/null; done
  t0=$(now); S status --json > /dev/null || true; ST=$(secs $t0 $(now))
  echo "strata status --json over $STATUS_SOURCES sources: $ST s"
fi
