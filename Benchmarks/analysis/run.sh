#!/bin/bash
# Kindred's analysis steps against the referee's peers (scikit-learn PCA and k-means, umap-learn,
# hdbscan) on one matrix, same machine, same run; then scores with ../shared/bench/score.py.
#
# usage: Benchmarks/analysis/run.sh X.npy [PATHS.txt]   (PATHS: one file per row; its folder is the
#        class for the ARI-against-truth lines, e.g. openclipart's category folders)
set -euo pipefail
cd "$(dirname "$0")/../.."
x=$(realpath "$1"); paths=${2:-}
py=${PEERS_PYTHON:-$HOME/.cache/bench-peers/bin/python}
bench=../shared/bench
out=Benchmarks/data/analysis-$(basename "$x" .npy); rm -rf "$out"; mkdir -p "$out/peer"
swift build -c release --product kindred >/dev/null
k=.build/release/kindred
echo "== peers"
$py $bench/analysis_peers.py "$x" "$out/peer" --threads 2
echo "== kindred"
$k analyze pca --in "$x" --out "$out/pca.npy" --variance 0.9 --max-components 128 | python3 -c "import json,sys; d=json.load(sys.stdin); d.pop('scree'); print(json.dumps(d))"
$k analyze umap --in "$out/pca.npy" --out "$out/umap.npy" --neighbors 15 --min-dist 0.1 --dims 2 --metric cosine --seed 1 --threads 2
$k analyze hdbscan --in "$out/umap.npy" --out "$out/hdbscan.npy" --min-cluster-size 25 --min-samples 10
$k analyze hdbscan --in "$out/peer/umap.npy" --out "$out/hdbscan-on-peer-umap.npy" --min-cluster-size 25 --min-samples 10
$k analyze kmeans --in "$out/pca.npy" --out "$out/kmeans.npy" --k 2..20 | python3 -c "import json,sys; d=json.load(sys.stdin); d.pop('candidates'); print(json.dumps(d))"
echo "== scores"
echo -n "pca (kindred vs scikit-learn projections) "; $py $bench/score.py cosine "$out/pca.npy" "$out/peer/pca.npy"
echo -n "umap trustworthiness, kindred "; $py $bench/score.py embed "$out/pca.npy" "$out/umap.npy"
echo -n "umap trustworthiness, umap-learn "; $py $bench/score.py embed "$out/peer/pca.npy" "$out/peer/umap.npy"
echo -n "hdbscan on the same (peer) layout, kindred vs hdbscan "; $py $bench/score.py labels "$out/hdbscan-on-peer-umap.npy" "$out/peer/hdbscan.npy"
echo -n "whole pipeline, kindred vs peers, hdbscan labels "; $py $bench/score.py labels "$out/hdbscan.npy" "$out/peer/hdbscan.npy"
echo -n "k-means labels, kindred vs scikit-learn "; $py $bench/score.py labels "$out/kmeans.npy" "$out/peer/kmeans.npy"
if [ -n "$paths" ]; then
  awk -F/ '{print $(NF-1)}' "$paths" > "$out/classes.txt"
  for f in hdbscan.npy peer/hdbscan.npy kmeans.npy peer/kmeans.npy; do echo -n "$f vs folders "; $py $bench/score.py truth "$out/$f" "$out/classes.txt"; done
fi
