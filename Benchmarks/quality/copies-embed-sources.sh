#!/bin/bash
# Copy detection dev set, offline and quick: only the daemon's own preparation (borders trimmed,
# the whole picture padded; style and pHash of the trimmed picture, and of its mirror for the
# queries), for the copies collection's 5,200 source files and the 1,600 queries, instead of
# embed-variants.sh's every preparation of all of openclipart. Then:
#   python Benchmarks/quality/copies_score.py COPIES COPIES/sources-described
# usage: Benchmarks/quality/copies-embed-sources.sh [COPIES]
set -euo pipefail
cd "$(dirname "$0")/../.."
copies=${1:-Benchmarks/data/quality/copies}
state=${KINDRED_CACHE:-$HOME/.cache/kindred}/demo-state
k=.build/release/kindred
swift build -c release --product kindred >&2
describe() {  # out dir, list file, then name and kindred embed options
  local out=$1 list=$2 name=$3; shift 3
  [ -f "$out/$name.npy" ] && return 0
  mapfile -t files < "$list"
  $k embed --state "$state" --threads 2 "$@" --out "$out/$name.npy" --paths-out "$out/$name.txt" "${files[@]}" 2> "$out/$name.err" | tail -1
}
sources=$copies/sources-described; queries=$copies/offline
mkdir -p "$sources" "$queries"
cut -f2 "$copies/sources.tsv" > "$sources/files.txt"
find "$copies/queries" -type f | sort > "$queries/files.txt"
for side in "$sources" "$queries"; do
  describe "$side" "$side/files.txt" cnn-trim-pad --fit pad --trim
  describe "$side" "$side/files.txt" style-trim --space style --trim
  describe "$side" "$side/files.txt" phash-trim --space phash --trim
done
describe "$queries" "$queries/files.txt" style-trim-mirror --space style --trim --mirror
describe "$queries" "$queries/files.txt" phash-trim-mirror --space phash --trim --mirror
