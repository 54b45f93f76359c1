#!/bin/bash
# Pooling study, step 1: the CNN's unpooled 7 × 7 × 1280 maps (`kindred embed --pool map`, borders
# trimmed, padded: kindredd's framing) of every regular openclipart file and of the copy queries,
# with the style vectors and hashes the fused ranking needs. Step 2: pooling.py.
# usage: Benchmarks/quality/pooling-maps.sh [CATEGORY_DIR] [COPIES]   (~3.5 GB of maps)
set -euo pipefail
cd "$(dirname "$0")/../.."
category=${1:-Benchmarks/data/quality/category}; copies=${2:-Benchmarks/data/quality/copies}
. Benchmarks/quality/describe.sh
[ -f "$category/files.txt" ] || { echo "run embed-variants.sh first (it lists the files)" >&2; exit 1; }
mkdir -p "$copies/offline"
[ -f "$copies/offline/files.txt" ] || find "$copies/queries" -type f | sort > "$copies/offline/files.txt"
# The maps go in a folder of their own: category.py and copies_score.py read every .npy beside
# files.txt as a preparation.
for side in "$category" "$copies/offline"; do
  describe "$side/maps" "$side/files.txt" cnn-trim-pad-map --fit pad --trim --pool map
  describe "$side" "$side/files.txt" style-trim --space style --trim
  describe "$side" "$side/files.txt" phash-trim --space phash --trim
done
# The queries mirrored: SIMILAR-IMAGE taking a picture both ways round.
q=$copies/offline
describe "$q/maps" "$q/files.txt" cnn-trim-pad-mirror-map --fit pad --trim --mirror --pool map
describe "$q" "$q/files.txt" style-trim-mirror --space style --trim --mirror
describe "$q" "$q/files.txt" phash-trim-mirror --space phash --trim --mirror
