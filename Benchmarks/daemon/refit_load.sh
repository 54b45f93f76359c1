#!/bin/bash
# SIMILAR while a refit runs, two kindredd builds alternating in one run (issue #17: "queries stay
# fast meanwhile"). Each round starts each build in turn on the same state, measures SIMILAR from
# CLIENTS clients (default 2) on the idle daemon for LOAD_S seconds (default 30), asks for a refit,
# measures the same load again while it runs, and prints both lines and the refit's wall time.
# The load during the refit starts with it; a refit shorter than LOAD_S leaves idle time in that
# figure, so LOAD_S should stay under the refit's time. The daemon's CPU a request printed for the
# load during the refit counts the refit's CPU too.
#
# usage: Benchmarks/daemon/refit_load.sh STATE_DIR KINDREDD_A KINDREDD_B [ROUNDS]
#   STATE_DIR: a scale.sh work directory (Benchmarks/data/scale-N, holding state/ and kindred.toml);
#   KINDREDD_A/B: copies of .build/release/kindredd (build one, copy it aside, build the other).
set -euo pipefail
cd "$(dirname "$0")/../.."
work=$1; a=$2; b=$3; rounds=${4:-2}
sock=$work/k.sock
bin=.build/release
clients=${CLIENTS:-2}; seconds=${LOAD_S:-30}
. Benchmarks/daemon/serve.sh
swift build -c release --product kindred >/dev/null
load() {
  $bin/kindred bench load --socket "$sock" --state "$work/state" --clients "$clients" --seconds "$seconds" \
    --mix similar --space "${SPACE:-cnn}" |
    grep -oE '"(daemon_cpu_ms_per_request|p50_ms|p99_ms|qps)":[0-9.]*' | head -4 | paste -sd' '
}
for round in $(seq "$rounds"); do
  for daemon in "$a" "$b"; do
    start_settled "$daemon"
    label="round $round $(basename "$daemon") clients $clients"
    echo "$label idle: $(load)"
    t0=$(date +%s.%N)
    $bin/kindred refit --wait --socket "$sock" > /dev/null &
    refit=$!
    echo "$label during the refit: $(load)"
    wait "$refit" || true
    echo "$label refit wall $(echo "$(date +%s.%N) - $t0" | bc) s"
    kill -TERM "$pid"; wait "$pid" || true
  done
done
