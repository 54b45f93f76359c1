#!/bin/bash
# SIMILAR's cost and recall at several `[index] ef_search` values, on one state, in one run: for each
# ef in turn (and again for ROUNDS rounds, since this machine's noise between runs is ±15 %), start
# kindredd, measure SIMILAR (`space=cnn`, or SPACE=fused) under 8 clients and 1 client with the CPU
# kindredd spent a request, and recall@10 against exact search over the stored vectors.
#
# usage: Benchmarks/daemon/ef_sweep.sh STATE_DIR "EF..." [ROUNDS]
#   STATE_DIR: a scale.sh work directory (Benchmarks/data/scale-N: state/, base.npy, kindred.toml);
#   e.g. Benchmarks/daemon/ef_sweep.sh Benchmarks/data/scale-100000 "16 24 32 48 64" 2
#   QUERIES (default 500) sets how many stored items recall.py asks about.
set -euo pipefail
cd "$(dirname "$0")/../.."
work=$1; efs=$2; rounds=${3:-1}
bin=.build/release
sock=$work/k.sock
. Benchmarks/daemon/serve.sh
py=$(../shared/bench/setup-peers.sh)
swift build -c release --product kindredd >/dev/null && swift build -c release --product kindred >/dev/null
cp "$work/kindred.toml" "$work/kindred.toml.sweep-saved"
trap 'mv "$work/kindred.toml.sweep-saved" "$work/kindred.toml"' EXIT
for round in $(seq "$rounds"); do
  for ef in $efs; do
    grep -v '^ef_search' "$work/kindred.toml.sweep-saved" |
      sed "s/^\[index\]$/[index]\nef_search = $ef/" > "$work/kindred.toml"
    if ! grep -q "^ef_search = $ef$" "$work/kindred.toml"; then
      echo "ef_sweep: $work/kindred.toml has no [index] section to set ef_search in" >&2; exit 1
    fi
    start_settled
    similar_loads "round $round ef $ef"
    "$py" Benchmarks/daemon/recall.py "$work/base.npy" "$sock" --queries "${QUERIES:-500}" | tail -1 |
      sed "s|^|round $round ef $ef recall: |"
    kill -TERM "$pid"; wait "$pid" || true
  done
done
