#!/bin/sh
# Kindred's HNSW against hnswlib, FAISS and USearch on the referee's data, in one run.
# usage: Benchmarks/ann/run.sh [N] [D]      (default 100000 256; results go to stdout as JSON lines)
# ENCODINGS="float32 int8 float16" picks Kindred's row encodings (default: all three). Compact
# encodings search with --exact base.npy: the walk on codes, the candidates re-ranked exactly.
# Needs: ../shared/bench/setup-peers.sh (the peers' venv) and a release build of kindred.
# On a noisy machine compare against hnswlib with interleaved.py, which alternates the two in rounds.
set -eu
cd "$(dirname "$0")/../.."
n=${1:-100000}; d=${2:-256}
py=$(../shared/bench/setup-peers.sh)
data=Benchmarks/data/v${n}x${d}
if [ ! -f "$data/truth.npy" ]; then
  # vectors.py holds an n x 24 x d tensor at once; past 200k rows generate in chunks instead.
  if [ "$n" -le 200000 ]; then "$py" ../shared/bench/vectors.py "$data" --n "$n" --d "$d"
  else "$py" Benchmarks/ann/vectors_chunked.py "$data" --n "$n" --d "$d"; fi
fi
swift build -c release --product kindred >&2
k=.build/release/kindred
for enc in ${ENCODINGS:-float32 int8 float16}; do
  index="$data/kindred-$enc.hnsw"
  /usr/bin/time -f "{\"lib\": \"kindred-$enc\", \"build_max_rss_kb\": %M}" $k index build --vectors "$data/base.npy" --out "$index" --M 16 --ef-construction 200 --threads 2 --encoding $enc
  for ef in 16 32 64 128 256; do
    $k index search --index "$index" --queries "$data/queries.npy" --k 10 --ef $ef --out "$data/ids.npy" --exact "$data/base.npy"
    "$py" -c "
import json, numpy as np; f = np.load('$data/ids.npy'); t = np.load('$data/truth.npy')
print(json.dumps({'lib': 'kindred-$enc', 'ef': $ef, 'recall': round(sum(len(set(a) & set(b[:10])) for a, b in zip(f, t)) / 10 / len(t), 4)}))"
  done
  Benchmarks/ann/memory_kindred.sh "$data" "$index" | sed "s/\"kindred\"/\"kindred-$enc\"/"
done
if [ "${PEERS:-1}" = 1 ]; then  # PEERS=0 measures Kindred alone (the 1M figures)
  "$py" ../shared/bench/ann_peers.py "$data" --M 16 --efc 200 --ef 16,32,64,128,256 --threads 2
  "$py" Benchmarks/ann/memory_peer.py "$data"
fi
