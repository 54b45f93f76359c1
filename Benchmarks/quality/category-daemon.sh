#!/bin/bash
# Category retrieval through a real kindredd: it indexes every regular file of openclipart-png (the
# package's symbolic links repeat files, so the root is a tree of hard links to the regular files
# only, as category.py's set), then every held-out query of category.py's seeded split asks
# SIMILAR <path> k=10. Rankings, in one run on one state: the fused default (query expansion on),
# the fused default with expansion off (kindredd restarted with [similar] expand_neighbours = 0)
# and with the region term off (region_weight = 0), and space=cnn; the reference pipeline's P@10 on the same files and queries comes from
# category.py's inputs (embed-variants.sh or its partial run).
# usage: [BIN=dir] Benchmarks/quality/category-daemon.sh [CATEGORY_DIR] [ROOT]
set -euo pipefail
cd "$(dirname "$0")/../.."
category=$(realpath "${1:-Benchmarks/data/quality/category}")
cache=${KINDRED_CACHE:-$HOME/.cache/kindred}
root=$(realpath "${2:-$cache/openclipart/usr/share/openclipart/png}")
bin=${BIN:-.build/release}  # BIN=dir: another build's kindredd and kindred (not rebuilt)
py=$(../shared/bench/setup-peers.sh)
[ -n "${BIN:-}" ] || { swift build -c release --product kindredd >/dev/null && swift build -c release --product kindred >/dev/null; }
. Benchmarks/quality/openclipart.sh
openclipart_work category-daemon
serve() {  # $1: expand_neighbours, $2: another [similar] line (optional)
  printf '[similar]\nexpand_neighbours = %d\n%s\n' "$1" "${2:-}" > "$work/kindred.toml"
  $bin/kindredd --config "$work/kindred.toml" --state "$state" --socket "$work/k.sock" --watch "$work/png" \
    --threads 2 --log-level warning 2>>"$work/log" &
  pid=$!
  until $bin/kindred status --socket "$work/k.sock" >/dev/null 2>&1; do sleep 0.2; done
}
ask() {  # $1: label, $2: space
  "$py" Benchmarks/quality/category_daemon.py "$work/k.sock" "$category" "$root" "$work/png" "$1" "$2"
}
start=$(date +%s.%N)
serve 2
wait_indexed
echo "indexed $total files in $(echo "$(date +%s.%N) - $start" | bc) s" >&2
ask fused-default fused
ask cnn cnn
kill -TERM $pid; wait $pid
serve 0
ask fused-default-no-expansion fused
kill -TERM $pid; wait $pid
serve 2 "region_weight = 0"
ask fused-default-no-region fused
kill -TERM $pid; wait $pid
