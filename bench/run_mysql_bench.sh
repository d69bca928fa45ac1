#!/usr/bin/env bash
# MariaDB benchmark: a sysbench dataset (default 8 tables x 600k rows, ~1.2 GB datadir) backed up by
#   raw:    mariadb-backup --backup --stream=xbstream | zstd -1 > file
#   strata: strata backup --type full (same mariadb-backup stream, zstd:1, AES-256-GCM, into a local repository)
# alternately, REPEAT times each in the same run; then restore time including prepare for both, and Redis
# (redis-cli --rdb - | zstd -1 vs strata) on a redis-benchmark keyspace.
#
#   sudo bash bench/run_mysql_bench.sh [path/to/strata]      (env TABLES=8 TABLE_SIZE=600000 REPEAT=2 REDIS_KEYS=2000000)
#
# Everything lives in one temp dir on free 127.0.0.1 ports and is removed at the end; system services are not touched.
set -euo pipefail

STRATA=$(readlink -f "${1:-build/strata}")
TABLES=${TABLES:-8}
TABLE_SIZE=${TABLE_SIZE:-600000}
REPEAT=${REPEAT:-2}
REDIS_KEYS=${REDIS_KEYS:-2000000}
[ "$(id -u)" -eq 0 ] || { echo "run as root (mariadbd runs with --user=root in the temp dir)"; exit 2; }
[ -x "$STRATA" ] || { echo "strata binary $STRATA not found: build first or pass its path"; exit 2; }
for t in mariadbd mariadb-backup mbstream sysbench zstd redis-server redis-benchmark; do
  command -v $t >/dev/null || [ -x /usr/sbin/$t ] || { echo "$t missing: bash scripts/install-deps.sh"; exit 2; }
done

ROOT=$(mktemp -d /tmp/strata-mybench-XXXXXX)
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
PORT=$(free_port)
RPORT=$(free_port)
DATA=$ROOT/data
SOCK=$ROOT/mysqld.sock
cleanup() {
  [ -f "$ROOT/mariadbd.pid" ] && kill "$(cat "$ROOT/mariadbd.pid")" 2>/dev/null || true
  [ -f "$ROOT/redis.pid" ] && kill "$(cat "$ROOT/redis.pid")" 2>/dev/null || true
  for p in "$ROOT"/restore-*/strata-mariadbd.pid; do [ -f "$p" ] && kill "$(cat "$p")" 2>/dev/null || true; done
  # Wait for the servers to let go of the files before removing them.
  for _ in $(seq 100); do pgrep -f "$ROOT" >/dev/null || break; sleep 0.1; done
  rm -rf "$ROOT"
}
trap cleanup EXIT
now() { date +%s.%N; }
secs() { python3 -c "print(f'{$2 - $1:.1f}')"; }
mbps() { python3 -c "print(f'{$1 / 1048576 / $2:.0f}')"; }
min() { python3 -c "import sys; print(min(float(x) for x in sys.argv[1:]))" "$@"; }

echo "== MariaDB $(mariadbd --version | awk '{print $3}') on 127.0.0.1:$PORT in $ROOT"
mariadb-install-db --no-defaults --datadir="$DATA" --user=root --auth-root-authentication-method=normal --skip-test-db >/dev/null
setsid /usr/sbin/mariadbd --no-defaults --datadir="$DATA" --user=root --port=$PORT --bind-address=127.0.0.1 \
  --socket="$SOCK" --pid-file="$ROOT/mariadbd.pid" --log-error="$ROOT/error.log" --log-bin="$DATA/binlog" --server-id=1 \
  --innodb-buffer-pool-size=1G --innodb-log-file-size=512M --innodb-flush-log-at-trx-commit=2 >/dev/null 2>&1 </dev/null &
for _ in $(seq 600); do mariadb-admin --no-defaults -uroot --socket="$SOCK" ping >/dev/null 2>&1 && break; sleep 0.2; done
mariadb --no-defaults -uroot --socket="$SOCK" -e "CREATE DATABASE sbtest"
t0=$(now)
sysbench oltp_read_write --db-driver=mysql --mysql-socket="$SOCK" --mysql-user=root --mysql-db=sbtest \
  --tables=$TABLES --table-size=$TABLE_SIZE --threads=2 prepare >/dev/null
echo "sysbench prepare: $(secs $t0 $(now)) s"
mariadb --no-defaults -uroot --socket="$SOCK" -e "SET GLOBAL innodb_max_dirty_pages_pct=0; FLUSH TABLES"
DB_BYTES=$(du -sb "$DATA" | cut -f1)
echo "datadir: $((DB_BYTES / 1048576)) MiB"

cat > "$ROOT/client.cnf" <<CNF
[client]
user=root
socket=$SOCK
CNF
chmod 600 "$ROOT/client.cnf"
cat > "$ROOT/strata.toml" <<TOML
[source.db]
engine = "mysql"
socket = "$SOCK"
user = "root"
datadir = "$DATA"
run_as = "root"
[source.cache]
engine = "redis"
port = $RPORT
TOML
export STRATA_PASSPHRASE=bench-passphrase-not-secret
S() { "$STRATA" --repo "$ROOT/repo" --config "$ROOT/strata.toml" -q "$@"; }
S repo init >/dev/null

raw_t=(); strata_t=()
for i in $(seq "$REPEAT"); do
  rm -rf "$ROOT/raw.xb.zst" "$ROOT/lsn" && mkdir -p "$ROOT/lsn"
  t0=$(now)
  mariadb-backup --defaults-file="$ROOT/client.cnf" --backup --stream=xbstream --target-dir="$ROOT/lsn" \
    --datadir="$DATA" 2>"$ROOT/raw.log" | zstd -1 -q > "$ROOT/raw.xb.zst"
  raw_t+=("$(secs $t0 $(now))")
  RAW_BYTES=$(stat -c %s "$ROOT/raw.xb.zst")
  t0=$(now)
  ID=$(S backup --source db --type full --compression zstd:1)
  strata_t+=("$(secs $t0 $(now))")
  echo "round $i: raw ${raw_t[-1]} s, strata ${strata_t[-1]} s"
done
STREAM_BYTES=$(S show "$ID" --json | python3 -c 'import json,sys; print(json.load(sys.stdin)["plain_bytes"])')
STORED_BYTES=$(S show "$ID" --json | python3 -c 'import json,sys; print(json.load(sys.stdin)["stored_bytes"])')
RAW_BEST=$(min "${raw_t[@]}")
STRATA_BEST=$(min "${strata_t[@]}")

# Restore including prepare: raw = zstd -d | mbstream -x, --prepare, --move-back; strata = one command.
mkdir -p "$ROOT/raw-x"
t0=$(now)
zstd -d -q -c "$ROOT/raw.xb.zst" | mbstream -x -C "$ROOT/raw-x"
mariadb-backup --no-defaults --prepare --target-dir="$ROOT/raw-x" >/dev/null 2>&1
mariadb-backup --no-defaults --move-back --target-dir="$ROOT/raw-x" --datadir="$ROOT/restore-raw" >/dev/null 2>&1
RAW_RESTORE=$(secs $t0 $(now))
rm -rf "$ROOT/restore-raw" "$ROOT/raw-x" "$ROOT/raw.xb.zst"
t0=$(now)
S restore "$ID" --source db --target-dir "$ROOT/restore-strata" 2>/dev/null
STRATA_RESTORE=$(secs $t0 $(now))
rm -rf "$ROOT/restore-strata"

# Redis: a redis-benchmark keyspace, RDB over the replication protocol.
redis-server --port $RPORT --bind 127.0.0.1 --dir "$ROOT" --daemonize yes --pidfile "$ROOT/redis.pid" \
  --logfile "$ROOT/redis.log" --save '' --appendonly no >/dev/null
for _ in $(seq 100); do redis-cli -p $RPORT PING 2>/dev/null | grep -q PONG && break; sleep 0.1; done
redis-benchmark -p $RPORT -q -t set -n "$REDIS_KEYS" -r "$REDIS_KEYS" -d 200 -P 64 >/dev/null
REDIS_KEYS_N=$(redis-cli -p $RPORT DBSIZE)
t0=$(now)
redis-cli -p $RPORT --rdb - 2>/dev/null | zstd -1 -q > "$ROOT/raw.rdb.zst"
REDIS_RAW=$(secs $t0 $(now))
t0=$(now)
RID=$(S backup --source cache --compression zstd:1)
REDIS_STRATA=$(secs $t0 $(now))
RDB_BYTES=$(S show "$RID" --json | python3 -c 'import json,sys; print(json.load(sys.stdin)["plain_bytes"])')
t0=$(now)
S restore "$RID" --source cache --target-dir "$ROOT/redis-restore" --start --port "$(free_port)" 2>/dev/null
REDIS_RESTORE=$(secs $t0 $(now))
kill "$(cat "$ROOT/redis-restore/redis.pid")" 2>/dev/null || true

pct() { python3 -c "print(f'{($2 / $1 - 1) * 100:+.1f}%')"; }
echo
echo "MariaDB full backup: datadir $((DB_BYTES / 1048576)) MiB, xbstream $((STREAM_BYTES / 1048576)) MiB; best of $REPEAT"
printf '%-58s %9s %9s %12s\n' "method" "seconds" "MiB/s" "stored MiB"
printf '%-58s %9s %9s %12s\n' "mariadb-backup --stream=xbstream | zstd -1 > file" "$RAW_BEST" "$(mbps $STREAM_BYTES $RAW_BEST)" "$((RAW_BYTES / 1048576))"
printf '%-58s %9s %9s %12s\n' "strata backup --type full (zstd:1, AES-256-GCM)" "$STRATA_BEST" "$(mbps $STREAM_BYTES $STRATA_BEST)" "$((STORED_BYTES / 1048576))"
echo "strata vs raw pipe: $(pct $RAW_BEST $STRATA_BEST)"
echo
printf '%-58s %9s\n' "restore incl. prepare + move-back" "seconds"
printf '%-58s %9s\n' "zstd -d | mbstream -x; --prepare; --move-back" "$RAW_RESTORE"
printf '%-58s %9s\n' "strata restore --target-dir (fetch, verify, same steps)" "$STRATA_RESTORE"
echo
echo "Redis: $REDIS_KEYS_N keys, RDB $((RDB_BYTES / 1048576)) MiB"
printf '%-58s %9s\n' "method" "seconds"
printf '%-58s %9s\n' "redis-cli --rdb - | zstd -1 > file" "$REDIS_RAW"
printf '%-58s %9s\n' "strata backup (redis engine, zstd:1, AES-256-GCM)" "$REDIS_STRATA"
printf '%-58s %9s\n' "strata restore --start (write dump.rdb, load, check)" "$REDIS_RESTORE"
