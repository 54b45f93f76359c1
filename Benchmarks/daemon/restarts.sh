#!/bin/bash
# Restarts of kindredd on a state scale.sh left (its snapshots current after a clean stop): for each,
# seconds until PING and until a SIMILAR is answered, and resident memory (anonymous + file-backed);
# with LOAD=S, also S seconds of SIMILARs from 8 clients and the resident memory after them.
#
# usage: [LOAD=30] Benchmarks/daemon/restarts.sh N-ITEMS [RESTARTS]   (e.g. 1000000 5)
set -euo pipefail
cd "$(dirname "$0")/../.."
n=$1; count=${2:-5}
bin=.build/release; work=Benchmarks/data/scale-$n; sock=$work/k.sock
swift build -c release --product kindredd >/dev/null && swift build -c release --product kindred >/dev/null
. Benchmarks/daemon/serve.sh
for _ in $(seq "$count"); do
  serve; rss
  if [ -n "${LOAD:-}" ]; then
    $bin/kindred bench load --socket "$sock" --state "$work/state" --clients 8 --seconds "$LOAD" --mix similar --space cnn
    rss
  fi
  kill -TERM $pid; wait $pid
done
grep 'index ready' "$work/kindredd.log" | tail -2
