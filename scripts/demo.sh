#!/bin/sh
# The main job, as far as Kindred does it today (image decoding and the CNN come next): vectors in
# the LMDB store, the daemon opening and repairing the state, an HNSW index built from the store,
# and "find similar" answered from it.
set -eu
cd "$(dirname "$0")/.."
bin=.build/release
cache=${KINDRED_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/kindred}
state=$cache/demo-state
rm -rf "$state"
mkdir -p "$state"

echo "== 20,000 synthetic 256-d embedding-like vectors into the vector store"
python3 scripts/synthetic_vectors.py "$cache/demo-vectors.npy" 20000 256
$bin/kindred store import --state "$state" --space demo --in "$cache/demo-vectors.npy"

echo "== kindredd opens the state, checks it against the catalog, and stops on SIGTERM"
$bin/kindredd --state "$state" &
pid=$!
sleep 1
$bin/kindred store info --state "$state"
kill -TERM $pid
wait $pid

echo "== an HNSW index over the stored vectors"
$bin/kindred store export --state "$state" --space demo --out "$cache/demo-export.npy" --ids-out "$cache/demo-ids.npy"
$bin/kindred index build --vectors "$cache/demo-export.npy" --out "$state/index.hnsw"
$bin/kindred index check --index "$state/index.hnsw"

echo "== find similar: the 5 nearest stored vectors to rows 0, 1 and 2 (row numbers; row i is item i+1)"
python3 -c "import numpy as np; np.save('$cache/demo-queries.npy', np.load('$cache/demo-export.npy')[:3])"
$bin/kindred index search --index "$state/index.hnsw" --queries "$cache/demo-queries.npy" --k 5 --ef 64 --out "$cache/demo-neighbours.npy"
python3 -c "
import numpy as np
for i, row in enumerate(np.load('$cache/demo-neighbours.npy')): print(f'row {i}:', ' '.join(map(str, row)))"
