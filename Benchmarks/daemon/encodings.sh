#!/bin/bash
# The CNN index's walk encodings compared through kindredd on one state, alternating in one run:
# each round restarts the daemon with `[index] encoding` set (a snapshot of another encoding keeps
# its graph and is re-encoded from the store at start), then measures SIMILAR under 8 clients and
# 1 client, and recall@10 against exact search over the stored vectors.
#
# usage: Benchmarks/daemon/encodings.sh STATE_DIR [ENCODINGS] [ROUNDS]
#   STATE_DIR: a scale.sh work directory (Benchmarks/data/scale-N[-TAG], holding base.npy, state/,
#   kindred.toml); ENCODINGS default "int8 int4", each optionally with its ef_search ("int4:80";
#   default 64); ROUNDS default 2. SECONDS_8 (default 30) sets the 8-client load's length.
set -euo pipefail
cd "$(dirname "$0")/../.."
work=$1; encodings=${2:-int8 int4}; rounds=${3:-2}
bin=.build/release; sock=$work/k.sock
swift build -c release --product kindredd >/dev/null && swift build -c release --product kindred >/dev/null
py=$(../shared/bench/setup-peers.sh)
. Benchmarks/daemon/serve.sh
base_config=$(grep -vE '^(encoding|ef_search)' "$work/kindred.toml")
# The state's own configuration comes back at the end, so later runs on it see what they set.
cp "$work/kindred.toml" "$work/kindred.toml.before"
trap 'mv "$work/kindred.toml.before" "$work/kindred.toml"' EXIT
for round in $(seq "$rounds"); do
  for setting in $encodings; do
    enc=${setting%%:*}; ef=64; [ "$setting" != "$enc" ] && ef=${setting#*:}
    printf '%s\n' "$base_config" | sed "s/^\[index\]$/[index]\nencoding = \"$enc\"\nef_search = $ef/" > "$work/kindred.toml"
    echo "== round $round, encoding $enc, ef_search $ef"
    lines=$(wc -l < "$work/kindredd.log" 2>/dev/null || echo 0)
    serve; rss
    # SIMILAR re-ranks from the store: let the start's read-ahead of the CNN records finish first.
    until tail -n +"$((lines + 1))" "$work/kindredd.log" | grep -q "CNN records"; do sleep 1; done
    tail -n +"$((lines + 1))" "$work/kindredd.log" | grep -E "re-encoded|CNN records" | grep -oE '(re-encoded|CNN records)|took=[^ ]*' | paste -sd ' ' || true
    $bin/kindred bench load --socket "$sock" --state "$work/state" --clients 8 --seconds "${SECONDS_8:-30}" --mix similar --space cnn
    $bin/kindred bench load --socket "$sock" --state "$work/state" --clients 1 --seconds 15 --mix similar --space cnn
    "$py" Benchmarks/daemon/recall.py "$work/base.npy" "$sock" --queries 200
    kill -TERM "$pid"; wait "$pid"
  done
done
