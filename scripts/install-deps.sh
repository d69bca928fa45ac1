#!/usr/bin/env bash
# Installs every Debian 12 package Strata needs to build, test and benchmark.
# Idempotent; run as root (or via sudo). Nothing is downloaded outside apt.
set -euo pipefail

if [ "$(id -u)" -ne 0 ]; then
  exec sudo -E bash "$0" "$@"
fi

export DEBIAN_FRONTEND=noninteractive

BUILD_PKGS=(
  build-essential cmake pkg-config ninja-build
  libssl-dev libsodium-dev libzstd-dev liblz4-dev libxxhash-dev
  nlohmann-json3-dev libcli11-dev libtomlplusplus-dev
  libsqlite3-dev libpq-dev libcurl4-openssl-dev
  libboost1.81-dev   # Boost.Beast (header-only): the HTTP server of `strata server` (server/http)
  libgtest-dev libgmock-dev libbenchmark-dev
  librabbitmq-dev   # AMQP notices (platform/notify)
  libhowardhinnant-date-dev libdate-tz3 tzdata   # time zones for the scheduler (g++ 12 has no std::chrono tzdb)
  clang libclang-rt-14-dev   # libFuzzer targets only (fuzz/, scripts/fuzz.sh); the product builds with g++
)
# Real components used by the end-to-end tests and by bench/ peers.
TEST_PKGS=(
  zstd lz4 python3 procps util-linux
  openssl   # the HTTPS test of strata server makes a self-signed certificate
  postgresql-15 postgresql-client-15
  mariadb-server mariadb-backup mariadb-client redis-server redis-tools sysbench
  rabbitmq-server   # started by tests/support/rabbitmq_fixture in a temp dir (the package's own service stays off)
)
BENCH_PKGS=(
  restic borgbackup
  pgbackrest
)

want=("${BUILD_PKGS[@]}" "${TEST_PKGS[@]}")
if [ "${STRATA_BENCH_DEPS:-0}" = "1" ]; then
  want+=("${BENCH_PKGS[@]}")
fi

missing=()
for p in "${want[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed'; then
    missing+=("$p")
  fi
done

if [ "${#missing[@]}" -gt 0 ]; then
  echo "install-deps: installing ${missing[*]}"
  apt-get update -qq
  # Servers the tests start themselves (rabbitmq-server, redis, mariadb...) must not start as system services on
  # install: a policy-rc.d that denies starts, for the install only, unless the machine already has one.
  own_policy=0
  if [ ! -e /usr/sbin/policy-rc.d ]; then
    printf '#!/bin/sh\nexit 101\n' > /usr/sbin/policy-rc.d && chmod 755 /usr/sbin/policy-rc.d && own_policy=1
  fi
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  if [ "$own_policy" = 1 ]; then rm -f /usr/sbin/policy-rc.d; fi
else
  echo "install-deps: all Debian packages present"
fi

# postgres refuses to run as root: the PostgreSQL test fixture runs the server as this unprivileged user.
if ! id -u strata-test >/dev/null 2>&1; then
  useradd --system --no-create-home --shell /usr/sbin/nologin strata-test
fi

# moto's S3 server (S3 tests) and awscli (S3 benchmark peer) come with the machine image's Python (pyenv), not apt.
if ! command -v moto_server >/dev/null 2>&1; then
  echo "install-deps: moto_server is not on PATH; the S3 tests need it (it ships on the machine image under pyenv: check that ~/.pyenv/shims is on PATH)" >&2
  exit 1
fi
if ! command -v aws >/dev/null 2>&1; then
  echo "install-deps: warning: aws (awscli) is not on PATH; bench/run_s3_bench.sh compares against it and will refuse to run" >&2
fi
