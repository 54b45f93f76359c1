#!/bin/sh
# The main job, as far as Kindred does it today: real clip art from Debian's openclipart-png
# embedded by the CNN, stored in the vector store, opened by kindredd, indexed with HNSW, and
# "find similar" answered for sample images. (The daemon's watching and socket protocol come
# next; then this script will start kindredd on the collection instead.)
set -eu
cd "$(dirname "$0")/.."
bin=.build/release
cache=${KINDRED_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/kindred}
state=$cache/demo-state
collection=$cache/openclipart/usr/share/openclipart/png
per_category=${DEMO_PER_CATEGORY:-8}

if [ ! -d "$collection" ]; then
  echo "== fetching the demo collection (openclipart-png, 131 MB) into $cache, no root needed"
  mkdir -p "$cache/debs"
  (cd "$cache/debs" && apt-get download openclipart-png >/dev/null)
  dpkg -x "$cache"/debs/openclipart-png_*.deb "$cache/openclipart"
fi

rm -rf "$state"
mkdir -p "$state"
$bin/kindred model install --state "$state" >/dev/null

echo "== embedding $per_category images from each of $(ls "$collection" | wc -l) categories"
find "$collection" -name '*.png' | sort | awk -F/ -v n="$per_category" '{ c = $(NF-1); if (count[c]++ < n) print }' > "$cache/demo-files.txt"
set -- $(cat "$cache/demo-files.txt")
$bin/kindred embed --state "$state" --out "$cache/demo-cnn.npy" --paths-out "$cache/demo-paths.txt" "$@" || true

echo "== into the vector store; kindredd opens and checks the state"
$bin/kindred store import --state "$state" --space cnn --in "$cache/demo-cnn.npy" --paths "$cache/demo-paths.txt"
$bin/kindredd --state "$state" --log-level notice &
pid=$!
sleep 1
$bin/kindred store info --state "$state"
kill -TERM $pid
wait $pid

echo "== an HNSW index over the stored vectors"
$bin/kindred store export --state "$state" --space cnn --out "$cache/demo-export.npy" --ids-out "$cache/demo-ids.npy"
$bin/kindred index build --vectors "$cache/demo-export.npy" --out "$state/index.hnsw"

echo "== find similar: the 5 nearest images to three samples"
samples="$(sed -n '5p;120p;400p' "$cache/demo-paths.txt")"
$bin/kindred embed --state "$state" --out "$cache/demo-queries.npy" $samples >/dev/null
$bin/kindred index search --index "$state/index.hnsw" --queries "$cache/demo-queries.npy" --k 6 --ef 64 --out "$cache/demo-neighbours.npy" >/dev/null
# Index rows are export rows; export rows carry catalog ids; the catalog has the paths.
python3 - "$cache/demo-neighbours.npy" "$cache/demo-ids.npy" "$state/catalog.sqlite" "$collection" $samples <<'PY'
import sqlite3, sys
import numpy as np
neighbours, ids, root, samples = np.load(sys.argv[1]), np.load(sys.argv[2]), sys.argv[4] + '/', sys.argv[5:]
catalog = sqlite3.connect(f'file:{sys.argv[3]}?mode=ro', uri=True)
path = dict(catalog.execute('SELECT id, path FROM items'))
for sample, row in zip(samples, neighbours):
    print(sample.replace(root, ''))
    for rank, i in enumerate(row[1:], 1):  # row[0] is the sample itself
        print(f'   {rank}. {path[int(ids[i])].replace(root, "")}')
PY
