#!/bin/sh
# The main job, as far as Kindred does it today: a state directory holding embedding-like
# vectors in the LMDB store, the daemon opening (and repairing) it, and the CLI reading it back.
set -eu
cd "$(dirname "$0")/.."
bin=.build/release
cache=${KINDRED_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/kindred}
state=$cache/demo-state
rm -rf "$state"
mkdir -p "$state"

echo "== 5,000 synthetic 256-d embedding-like vectors into the store"
python3 scripts/synthetic_vectors.py "$cache/demo-vectors.npy" 5000 256
$bin/kindred store import --state "$state" --space demo --in "$cache/demo-vectors.npy"

echo "== kindredd opens the state"
$bin/kindredd --state "$state" &
pid=$!
sleep 1
$bin/kindred store info --state "$state"
kill -TERM $pid
wait $pid
echo "== kindredd stopped cleanly"
