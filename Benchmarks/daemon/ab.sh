#!/bin/bash
# Two kindredd builds compared on one state, alternating in one run (this machine's noise between
# runs is ±15 %, so only pairs taken side by side mean anything): each round starts each build in
# turn and measures SIMILAR (`space=cnn`, or SPACE=fused|style) under 8 clients and 1 client, with
# the CPU kindredd spent a request.
#
# usage: Benchmarks/daemon/ab.sh STATE_DIR KINDREDD_A KINDREDD_B [ROUNDS]
#   STATE_DIR: a scale.sh work directory (Benchmarks/data/scale-N, holding state/ and kindred.toml);
#   KINDREDD_A/B: copies of .build/release/kindredd (build one, copy it aside, build the other).
#   ROUNDS default 3; SECONDS_8 (default 15) sets the 8-client load's length.
set -euo pipefail
cd "$(dirname "$0")/../.."
work=$1; a=$2; b=$3; rounds=${4:-3}
sock=$work/k.sock
bin=.build/release
. Benchmarks/daemon/serve.sh
swift build -c release --product kindred >/dev/null
for round in $(seq "$rounds"); do
  for daemon in "$a" "$b"; do
    start_settled "$daemon"
    similar_loads "round $round $(basename "$daemon")"
    kill -TERM "$pid"; wait "$pid" || true
  done
done
