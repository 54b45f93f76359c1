#!/bin/bash
# Restarts of kindredd on a state scale.sh left (its snapshots current after a clean stop): for each,
# seconds until PING and until a SIMILAR is answered, resident memory (anonymous + file-backed), and
# seconds from SIGTERM to exit;
# with LOAD=S, also S seconds of SIMILARs from 8 clients and the resident memory after them.
#
# ROUNDS=R runs the load R times back to back (how answers speed up as the page cache fills).
# COLD=1 empties the page cache before each start (root only: /proc/sys/vm/drop_caches), as after
# a reboot. TAG=name measures scale.sh's state of the same TAG; BIN=dir runs another build's
# kindredd and kindred (default .build/release, built first).
#
# usage: [LOAD=30] Benchmarks/daemon/restarts.sh N-ITEMS [RESTARTS]   (e.g. 1000000 5)
set -euo pipefail
cd "$(dirname "$0")/../.."
n=$1; count=${2:-5}
bin=${BIN:-.build/release}; work=Benchmarks/data/scale-$n${TAG:+-$TAG}; sock=$work/k.sock
[ -n "${BIN:-}" ] || { swift build -c release --product kindredd >/dev/null && swift build -c release --product kindred >/dev/null; }
. Benchmarks/daemon/serve.sh
for _ in $(seq "$count"); do
  if [ "${COLD:-0}" = 1 ]; then sync; echo 1 > /proc/sys/vm/drop_caches; fi
  serve; rss
  if [ -n "${LOAD:-}" ]; then
    for _ in $(seq "${ROUNDS:-1}"); do
      $bin/kindred bench load --socket "$sock" --state "$work/state" --clients 8 --seconds "$LOAD" --mix similar --space cnn
    done
    rss
  fi
  t0=$(date +%s.%N); kill -TERM $pid; wait $pid
  echo "{\"stop_s\":$(echo "$(date +%s.%N) - $t0" | bc)}"
done
grep 'index ready' "$work/kindredd.log" | tail -2
