#!/bin/bash
# Two builds of kindred on the CNN alone, alternated ROUNDS times (default 3) so both meet the same
# machine: `kindred embed --tensor` at batch 8, fp32 and int16, 1 and 2 threads, images/s a line.
# Then whether their features are bit-identical (cmp of the last round's outputs).
# usage: Benchmarks/embed/alternate.sh OLD_KINDRED NEW_KINDRED [STATE]
set -eu
cd "$(dirname "$0")/../.."
old=$1; new=$2; state=${3:-Benchmarks/data/embed-state}
tensor=Benchmarks/data/embed/tensor128.npy; out=Benchmarks/data/embed/alternate; mkdir -p "$out"
[ -f "$tensor" ] || { echo "no $tensor: run Benchmarks/embed/cnn.sh 128 first" >&2; exit 1; }
for round in $(seq "${ROUNDS:-3}"); do
  for t in 1 2; do
    for p in fp32 int16; do
      for side in old new; do
        bin=$old; [ $side = new ] && bin=$new
        rate=$("$bin" embed --state "$state" --tensor "$tensor" --threads $t --batch 8 --precision $p \
          --out "$out/$side-$p.npy" 2>&1 | tail -1 | grep -o '"images_per_s":[0-9.]*' | cut -d: -f2)
        echo "round $round, $t threads, $p, $side: $rate images/s"
      done
    done
  done
done
for p in fp32 int16; do
  if cmp -s "$out/old-$p.npy" "$out/new-$p.npy"; then echo "$p: features bit-identical"; else echo "$p: features differ"; fi
done
