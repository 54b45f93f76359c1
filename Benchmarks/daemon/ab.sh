#!/bin/bash
# Two kindredd builds compared on one state, alternating in one run (this machine's noise between
# runs is ±15 %, so only pairs taken side by side mean anything): each round starts each build in
# turn and measures SIMILAR (`space=cnn`, or SPACE=fused|style) under 8 clients and 1 client, with
# the CPU kindredd spent a request.
#
# usage: Benchmarks/daemon/ab.sh STATE_DIR KINDREDD_A KINDREDD_B [ROUNDS]
#   STATE_DIR: a scale.sh work directory (Benchmarks/data/scale-N, holding state/ and kindred.toml);
#   KINDREDD_A/B: copies of .build/release/kindredd (build one, copy it aside, build the other).
#   ROUNDS default 4 (even: each build first as often as second); SECONDS_8 (default 15) sets the
#   8-client load's length. Each line is labelled A or B and the binary's directory.
set -euo pipefail
cd "$(dirname "$0")/../.."
work=$1; a=$2; b=$3; rounds=${4:-4}
sock=$work/k.sock
bin=.build/release
. Benchmarks/daemon/serve.sh
swift build -c release --product kindred >/dev/null
# The order alternates (A B, then B A): with one binary on both sides, the second daemon of each
# round measured 11 % less CPU a request with 8 clients over three rounds (RESULTS.md, "Labels
# looked up in one cache line"), so a fixed order favours B. Use an even ROUNDS.
for round in $(seq "$rounds"); do
  order=("$a" "$b"); [ $((round % 2)) = 0 ] && order=("$b" "$a")
  for daemon in "${order[@]}"; do
    start_settled "$daemon"
    similar_loads "round $round $([ "$daemon" = "$a" ] && echo A || echo B) $(basename "$(dirname "$daemon")")"
    kill -TERM "$pid"; wait "$pid" || true
  done
done
