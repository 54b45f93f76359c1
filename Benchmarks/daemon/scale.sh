#!/bin/bash
# kindredd at N items (issue #17's table): preload, first start (both indexes built from the store),
# SIMILAR under 8 clients on an idle daemon, recall@10 against exact search over the stored vectors,
# resident memory, disk bytes an item, clean stop, restart to SIMILAR answering, a refit's time and
# peak memory, and SIMILAR during the refit.
#
# usage: Benchmarks/daemon/scale.sh N DATA   (DATA/base.npy holds at least N × 1280 float32 rows, e.g.
#   python3 Benchmarks/ann/vectors_chunked.py Benchmarks/data/v1m-1280 --n 1000000 --d 1280 --q 100)
# ENCODING=int8|float16|float32 sets [index] encoding (default int8). SKIP_REFIT=1 skips the refit.
# REUSE=1 keeps an earlier run's state (its preload and index snapshots) and measures again.
# TAG=name keeps the state apart (Benchmarks/data/scale-N-name), so two settings can be compared.
# EF sets [index] ef_search, the candidate list of every SIMILAR (default 64); M sets [index] m (default:
# the daemon's, 32; a snapshot built with another M is rebuilt at start). SPACE=fused|cnn|style
# is how the load's SIMILARs rank (default cnn, the figures of issue #17; fused is the daemon's default).
set -euo pipefail
cd "$(dirname "$0")/../.."
n=$1; data=$2
bin=.build/release
swift build -c release --product kindredd >/dev/null && swift build -c release --product kindred >/dev/null
swift build -c release --product kindred-bench-preload >/dev/null
py=$(../shared/bench/setup-peers.sh)
work=Benchmarks/data/scale-$n${TAG:+-$TAG}
if [ "${REUSE:-0}" != 1 ] || [ ! -f "$work/base.npy" ]; then
  rm -rf "$work"; mkdir -p "$work/state"
  $bin/kindred model install --state "$work/state" >/dev/null
  "$py" -c "import numpy as np; b = np.load('$data/base.npy', mmap_mode='r'); np.save('$work/base.npy', b[:$n])"
  echo "== preload $n synthetic items"
  /usr/bin/time -f '{"preload_max_rss_kb": %M}' $bin/kindred-bench-preload --state "$work/state" --in "$work/base.npy"
fi
sock=$work/k.sock
printf '[refit]\nschedule = ""\nafter_new_fraction = 0\n[index]\nencoding = "%s"\nef_search = %d\n%s' "${ENCODING:-int8}" "${EF:-64}" \
  "${M:+m = $M
}" > "$work/kindred.toml"

. Benchmarks/daemon/serve.sh

echo "== first start (builds both indexes from the store, or reads their snapshots with REUSE=1)"; serve; rss
$bin/kindred status --socket "$sock" | grep -E "^(indexed|index_|deleted|stale|state)" || true
echo "== disk"; $bin/kindred store info --state "$work/state" 2>/dev/null | head -20 || true
echo "== SIMILAR, 8 clients, 30 s, idle daemon"
$bin/kindred bench load --socket "$sock" --state "$work/state" --clients 8 --seconds 30 --mix similar --space "${SPACE:-cnn}" || true
echo "== SIMILAR, 1 client, 15 s"
$bin/kindred bench load --socket "$sock" --state "$work/state" --clients 1 --seconds 15 --mix similar --space "${SPACE:-cnn}" || true
echo "== recall@10 against exact search over the stored vectors"
"$py" Benchmarks/daemon/recall.py "$work/base.npy" "$sock" --queries 200 || true
rss
echo "== clean stop"; t0=$(date +%s.%N); kill -TERM $pid; wait $pid; echo "stopped in $(echo "$(date +%s.%N) - $t0" | bc) s"
ls -la "$work/state/"index-*.hnsw
sync; echo "== restart from the snapshots"; serve; rss
if [ "${SKIP_REFIT:-0}" != 1 ]; then
  echo "== refit (REFIT wait), SIMILAR from 2 clients meanwhile"
  $bin/kindred bench load --socket "$sock" --state "$work/state" --clients 2 --seconds 120 --mix similar --space "${SPACE:-cnn}" > "$work/during-refit.txt" &
  load=$!
  t0=$(date +%s.%N)
  $bin/kindred refit --wait --socket "$sock" || true
  echo "refit wall $(echo "$(date +%s.%N) - $t0" | bc) s"
  wait $load; echo "-- SIMILAR during the refit's first 120 s:"; cat "$work/during-refit.txt"
  rss
fi
kill -TERM $pid; wait $pid
grep -E "index ready|refit" "$work/kindredd.log" | tail -12
