#!/bin/bash
# What the stored pooling changes beyond retrieval (pooling_effects.py): answers while a collection
# is half re-extracted, and the refit's clusters (UMAP to 5-D, HDBSCAN: the refit's settings,
# seeds 1-3) of both poolings against the top folders. Needs pooling-maps.sh's maps.
# usage: Benchmarks/quality/pooling-effects.sh [CATEGORY_DIR] [ROOT] [OUT]
set -euo pipefail
cd "$(dirname "$0")/../.."
category=${1:-Benchmarks/data/quality/category}
root=${2:-${KINDRED_CACHE:-$HOME/.cache/kindred}/openclipart/usr/share/openclipart/png}
out=${3:-Benchmarks/data/quality/pooling-effects}
py=$(../shared/bench/setup-peers.sh)
k=.build/release/kindred
swift build -c release --product kindred >&2
mkdir -p "$out"
(cd Benchmarks/quality && "$py" pooling_effects.py vectors "$(realpath -m "../../$out")" "$(realpath "../../$category")" "$root")
for pooling in mean rms; do
  for seed in 1 2 3; do
    $k analyze umap --in "$out/$pooling.npy" --out "$out/$pooling-umap-$seed.npy" --dims 5 --min-dist 0 --neighbors 15 \
      --seed "$seed" >/dev/null
    $k analyze hdbscan --in "$out/$pooling-umap-$seed.npy" --out "$out/$pooling-hdbscan-$seed.npy" \
      --min-cluster-size 50 --min-samples 10 >/dev/null
  done
done
(cd Benchmarks/quality && "$py" pooling_effects.py score "$(realpath "../../$out")")
