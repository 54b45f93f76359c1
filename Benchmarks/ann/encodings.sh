#!/bin/bash
# One graph, its rows in int8 and int4: recall@10 (exact re-rank against the .npy) and
# single-thread QPS at each ef, alternating the two indexes in one run.
#
# usage: Benchmarks/ann/encodings.sh DATA INDEX_INT8 [ROUNDS]
#   DATA holds base.npy, queries.npy and truth.npy (vectors_chunked.py); INDEX_INT8 an int8 index
#   of DATA/base.npy (`kindred index build --encoding int8`). Its int4 twin is written next to it
#   by `kindred index reencode` (the graph kept, only the rows re-encoded).
set -euo pipefail
cd "$(dirname "$0")/../.."
data=$1; int8=$2; rounds=${3:-2}
k=.build/release/kindred
swift build -c release --product kindred >/dev/null
py=$(../shared/bench/setup-peers.sh)
int4=${int8%.hnsw}-int4.hnsw
$k index reencode --index "$int8" --vectors "$data/base.npy" --encoding int4 --out "$int4"
for round in $(seq "$rounds"); do
  for ef in 32 64 96 128; do
    for index in "$int8" "$int4"; do
      line=$($k index search --index "$index" --queries "$data/queries.npy" --k 10 --ef "$ef" --out "$data/ids-enc.npy" \
        --exact "$data/base.npy" --threads 1)
      "$py" -c "
import json, numpy as np, sys
r = json.loads(sys.argv[1]); f = np.load('$data/ids-enc.npy'); t = np.load('$data/truth.npy')
recall = sum(len(set(a) & set(b[:10])) for a, b in zip(f, t)) / 10 / len(t)
print(json.dumps({'round': $round, 'encoding': r['encoding'], 'ef': $ef, 'recall': round(recall, 4), 'qps': r['qps']}))" "$line"
    done
  done
done
