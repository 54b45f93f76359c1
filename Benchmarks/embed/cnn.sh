#!/bin/bash
# The CNN alone, against onnxruntime on the oracle graph, same input, same run: throughput at
# batch 8 and single-image latency (batch 1, each image alone), 1 and 2 threads.
# usage: Benchmarks/embed/cnn.sh [IMAGES] [STATE]   (IMAGES random inputs, default 128)
# ROUNDS=N repeats the whole alternation N times (default 1): on a shared machine compare the
# ratios within a round, and their median over rounds. PRECISIONS="fp32 int16" adds a row for each
# of kindred's CNN precisions (default fp32).
set -eu
cd "$(dirname "$0")/../.."
n=${1:-128}; state=${2:-Benchmarks/data/embed-state}
. Benchmarks/embed/model.sh
tensor=$out/tensor$n.npy
[ -f "$tensor" ] || "$py" -c "import numpy as np, sys; np.save(sys.argv[1], np.random.default_rng(7).uniform(-1, 1, (int(sys.argv[2]), 3, 224, 224)).astype(np.float32))" "$tensor" "$n"
for round in $(seq "${ROUNDS:-1}"); do
for t in 1 2; do
  for batch in 8 1; do
    "$py" ../shared/bench/cnn_oracle.py bench "$out/model.onnx" "$tensor" --threads $t --batch $batch | sed 's/^/onnxruntime /'
    if [ $batch = 1 ]; then one=--one-at-a-time; else one=; fi
    for p in ${PRECISIONS:-fp32}; do
      $k embed --state "$state" --tensor "$tensor" --threads $t --batch $batch $one --precision $p --out "$out/cnn-features.npy" 2>&1 | tail -1 | sed "s/^/kindred $p threads=$t batch=$batch /"
    done
  done
done
done
