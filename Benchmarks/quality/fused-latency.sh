#!/bin/bash
# SIMILAR latency, the fused default against the CNN space alone, on one idle kindredd in one run:
# 8 clients (on the same 2 cores) and then 1, the two rankings alternated ROUNDS times (default 2).
# usage: [TAG=name] [BIN=dir] [ROUNDS=2] Benchmarks/quality/fused-latency.sh N   (after `[TAG=name] SKIP_REFIT=1 Benchmarks/daemon/scale.sh N DATA`,
#   whose state it serves: N synthetic items with CNN and style vectors and pHashes)
set -euo pipefail
cd "$(dirname "$0")/../.."
n=$1
bin=${BIN:-.build/release}  # BIN=dir: another build's kindredd and kindred (not rebuilt)
work=Benchmarks/data/scale-$n${TAG:+-$TAG}
sock=$work/k.sock
[ -d "$work/state" ] || { echo "no $work/state: run Benchmarks/daemon/scale.sh $n DATA first" >&2; exit 2; }
[ -n "${BIN:-}" ] || { swift build -c release --product kindredd >/dev/null && swift build -c release --product kindred >/dev/null; }
. Benchmarks/daemon/serve.sh
serve >/dev/null
trap 'kill -TERM $pid 2>/dev/null && wait $pid 2>/dev/null; true' EXIT  # waited for: a run right after must not find its socket removed
for round in $(seq "${ROUNDS:-2}"); do
  for space in cnn fused; do
    for clients in 8 1; do
      printf '{"round":%d,"space":"%s","clients":%d,"load":' "$round" "$space" "$clients"
      $bin/kindred bench load --socket "$sock" --state "$work/state" --clients "$clients" --seconds 20 \
        --mix similar --space "$space" | tail -1 | tr -d '\n'
      echo "}"
    done
  done
done
