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
. Benchmarks/quality/describe.sh
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
