#!/bin/sh
# Resident memory of a loaded Kindred index: RSS of `kindred index search` on one query, minus the
# RSS of the same process shape with an empty index of the same dimension.
# usage: memory_kindred.sh DIR INDEX
set -e
K=$(dirname "$0")/../../.build/release/kindred
python3 -c "import numpy as np; q=np.load('$1/queries.npy')[:1]; np.save('/tmp/kq.npy', q); np.save('/tmp/kb.npy', q)"
$K index build --vectors /tmp/kb.npy --out /tmp/kempty.hnsw --threads 1 > /dev/null
full=$(/usr/bin/time -f %M $K index search --index "$2" --queries /tmp/kq.npy --k 10 --out /tmp/ko.npy 2>&1 >/dev/null | tail -1)
empty=$(/usr/bin/time -f %M $K index search --index /tmp/kempty.hnsw --queries /tmp/kq.npy --k 10 --out /tmp/ko.npy 2>&1 >/dev/null | tail -1)
echo "{\"lib\": \"kindred\", \"index_rss_mb\": $(( (full - empty) / 1024 ))}"
