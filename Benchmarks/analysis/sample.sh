#!/bin/bash
# What fitting UMAP on a sample and placing the rest by transform costs (issue #17: kindredd's refit
# does this above [refit] umap_sample): on one matrix, the full fit against the sampled one, for
# Kindred and for umap-learn in the same run. The 2-D maps are scored by trustworthiness; the 5-D
# min_dist 0 layouts the refit clusters are compared by the HDBSCAN labels they give.
#
# usage: [CENTRES=1] Benchmarks/analysis/sample.sh X.npy SAMPLE   (e.g. vectors.py --n 100000 --d 256's base.npy and 20000:
#        the fraction kindredd's default 200,000 is of a million; CENTRES=1 when X is vectors.py's output scores the
#        clusterings against the centres it drew each row around)
set -euo pipefail
cd "$(dirname "$0")/../.."
x=$(realpath "$1"); sample=$2
py=${PEERS_PYTHON:-$HOME/.cache/bench-peers/bin/python}
bench=../shared/bench
out=Benchmarks/data/umap-sample-$(basename "$(dirname "$x")")-$sample; rm -rf "$out"; mkdir -p "$out/peer"
swift build -c release --product kindred >/dev/null
k=.build/release/kindred
t() { /usr/bin/time -f '{"wall_s": %e, "max_rss_kb": %M}' "$@"; }
$k analyze pca --in "$x" --out "$out/pca.npy" --variance 0.9 --max-components 128 | python3 -c "import json,sys; d=json.load(sys.stdin); d.pop('scree'); print(json.dumps(d))"
for dims in 2 5; do
  md=0.1; [ $dims = 5 ] && md=0
  echo "== $dims-D, min_dist $md"
  echo -n "kindred full: "; t $k analyze umap --in "$out/pca.npy" --out "$out/full$dims.npy" --dims $dims --min-dist $md --metric cosine --seed 1 --threads 2
  echo -n "kindred sample $sample: "; t $k analyze umap --in "$out/pca.npy" --out "$out/sample$dims.npy" --dims $dims --min-dist $md --metric cosine --seed 1 --threads 2 --sample "$sample"
  if [ $dims = 2 ]; then
    echo -n "umap-learn full: "; $py $bench/analysis_peers.py "$out/pca.npy" "$out/peer" --threads 2 --steps umap --variance 1 --dims 2 | tail -1
    cp "$out/peer/umap.npy" "$out/peer/full2.npy"
    echo -n "umap-learn sample $sample: "; NUMBA_NUM_THREADS=2 $py Benchmarks/analysis/umap_sample_peer.py "$out/pca.npy" "$out/peer/sample2.npy" --sample "$sample" --dims 2
  fi
done
echo "== scores"
for f in full2 sample2 peer/full2 peer/sample2; do echo -n "trustworthiness $f: "; $py $bench/score.py embed "$out/pca.npy" "$out/$f.npy"; done
for f in full5 sample5; do $k analyze hdbscan --in "$out/$f.npy" --out "$out/hdbscan-$f.npy" --min-cluster-size 50 --min-samples 10 >/dev/null; done
echo -n "HDBSCAN 50/10 on the 5-D layouts, sampled against full: "; $py $bench/score.py labels "$out/hdbscan-sample5.npy" "$out/hdbscan-full5.npy"
if [ "${CENTRES:-0}" = 1 ]; then
  # X is vectors.py's base.npy (its default --q and --seed): score each clustering against the centres.
  $py Benchmarks/analysis/vectors_centres.py "$x" "$out/centres.txt"
  for f in full5 sample5; do echo -n "HDBSCAN on $f vs the generating centres (noise left out): "; $py $bench/score.py truth "$out/hdbscan-$f.npy" "$out/centres.txt"; done
fi
