#!/bin/bash
# Copy detection dev set, offline: the transformed copies (copies.py's queries) described by each
# candidate preparation, as embed-variants.sh described the collection, for copies_score.py.
# usage: Benchmarks/quality/copies-embed.sh [COPIES] [OUT]
set -euo pipefail
cd "$(dirname "$0")/../.."
copies=${1:-Benchmarks/data/quality/copies}; out=${2:-$copies/offline}
state=${KINDRED_CACHE:-$HOME/.cache/kindred}/demo-state
k=.build/release/kindred
mkdir -p "$out"
find "$copies/queries" -type f | sort > "$out/files.txt"
mapfile -t files < "$out/files.txt"
run() {
  local name=$1; shift
  [ -f "$out/$name.npy" ] && return 0
  $k embed --state "$state" --threads 2 "$@" --out "$out/$name.npy" --paths-out "$out/$name.txt" "${files[@]}" 2> "$out/$name.err" | tail -1
}
run cnn-crop --fit crop
run cnn-pad --fit pad
run cnn-trim-pad --fit pad --trim
run cnn-trim-pad-mirror --fit pad --trim --mirror
run cnn-trim-pad-m10 --fit pad --trim --margin 0.1
run style --space style
run style-trim --space style --trim
run phash --space phash
run phash-trim --space phash --trim
run style-trim-mirror --space style --trim --mirror
run phash-trim-mirror --space phash --trim --mirror
py=$(../shared/bench/setup-peers.sh)
[ -f "$out/reference/feats.npy" ] ||
  "$py" ../shared/bench/pipeline_peer.py Benchmarks/data/embed/model.onnx "$out/reference" --threads 2 "${files[@]}" 2> "$out/reference.err" | tail -1
