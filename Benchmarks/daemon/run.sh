#!/bin/bash
# kindredd at 100k items: first start (index build), SIMILAR load from 8 clients with and without
# ingestion running, resident memory, clean stop, and restart-to-serving from the snapshots.
#
# usage: Benchmarks/daemon/run.sh [N]   (N = 100000; needs Benchmarks/data/v100k-1280/base.npy from
#   python3 Benchmarks/ann/vectors_chunked.py Benchmarks/data/v100k-1280 --n 100000 --d 1280 --q 100
# and the demo collection from `make demo` for the ingestion-under-load run)
set -euo pipefail
cd "$(dirname "$0")/../.."
n=${1:-100000}
bin=.build/release
swift build -c release --product kindredd >/dev/null && swift build -c release --product kindred >/dev/null
swift build -c release --product kindred-bench-preload >/dev/null
work=Benchmarks/data/daemon-$n; rm -rf "$work"; mkdir -p "$work/state/weights" "$work/incoming"
cache=${KINDRED_CACHE:-$HOME/.cache/kindred}
cp "$cache/demo-state/weights/efficientnet-lite0.kw" "$work/state/weights/"
python3 -c "import numpy as np; np.save('$work/base.npy', np.load('Benchmarks/data/v100k-1280/base.npy', mmap_mode='r')[:$n])"
echo "== preload $n synthetic items"; $bin/kindred-bench-preload --state "$work/state" --in "$work/base.npy"
sock=$work/k.sock
# Refits off: a first refit of 100k items would otherwise start once the daemon is idle.
printf '[refit]\nschedule = ""\nafter_new_fraction = 0\n' > "$work/kindred.toml"

. Benchmarks/daemon/serve.sh

echo "== first start (builds both indexes from the store)"; serve; rss
echo "== SIMILAR, 8 clients, 30 s, idle daemon"
$bin/kindred bench load --socket "$sock" --state "$work/state" --clients 8 --seconds 30 --mix similar --space cnn
echo "== SIMILAR + STATUS, 8 clients, 30 s"
$bin/kindred bench load --socket "$sock" --state "$work/state" --clients 8 --seconds 30 --mix similar,status --space cnn
echo "== SIMILAR, 8 clients, 30 s, while ingesting the demo collection"
cp -r "$cache/demo-collection/." "$work/incoming/"
$bin/kindred watch --socket "$sock" "$work/incoming" >/dev/null
$bin/kindred bench load --socket "$sock" --state "$work/state" --clients 8 --seconds 30 --mix similar --space cnn
$bin/kindred status --socket "$sock" | grep -E "^(indexed|pending)"
rss
echo "== clean stop"; t0=$(date +%s.%N); kill -TERM $pid; wait $pid; echo "stopped in $(echo "$(date +%s.%N) - $t0" | bc) s"
ls -la "$work/state/"index-*.hnsw
echo "== restart from the snapshots"; serve; rss
kill -TERM $pid; wait $pid
grep -E "index ready" "$work/kindredd.log" | tail -4
