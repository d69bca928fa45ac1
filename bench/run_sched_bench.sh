#!/usr/bin/env bash
# Scheduler benchmark (issue 15 part 4): one scheduler pass over 30,000 schedules of 10,000 sources in 26 zones,
# cold, in steady state over a simulated week (a pass every 60 s on a manual clock) and after a week of downtime.
# Target: a pass < 200 ms. Hermetic: no servers, no network.
#
#   bash bench/run_sched_bench.sh [build dir]        (env SOURCES=10000 DAYS=7 RUNS=2)
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD=${1:-build}
SOURCES=${SOURCES:-10000}
DAYS=${DAYS:-7}
RUNS=${RUNS:-2}
cmake --build "$BUILD" --target strata_sched_bench -j 2 >/dev/null
echo "commit $(git rev-parse --short HEAD), $(nproc) cores, $(date -u +%Y-%m-%dT%H:%MZ)"
for run in $(seq 1 "$RUNS"); do
  echo
  echo "run $run:"
  "$BUILD/bench/strata_sched_bench" "$SOURCES" "$DAYS"
done
