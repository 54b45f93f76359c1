#!/bin/sh
# The map page at 10k and 100k points: time to write it, file size, time to first render and
# the cost of a redraw while dragging and of one once still (the same below 200k points; above,
# a 3-D map draws a spread while it moves), in headless Chromium (software rendering, 2 cores).
# Runs are synthetic (kindred-bench-maprun); with thumbnails their items are symlinks cycling
# through openclipart's 6,900 PNGs, so thumbnails are decoded from real files.
#
# usage: Benchmarks/visuals/run.sh [sizes...]   (default: 10000 100000)
set -eu
cd "$(dirname "$0")/../.."
swift build -c release --product kindred >&2
swift build -c release --product kindred-bench-maprun >&2
bin=.build/release
images=${OPENCLIPART:-${XDG_CACHE_HOME:-$HOME/.cache}/kindred/openclipart/usr/share/openclipart/png}
out=Benchmarks/data/visuals
mkdir -p "$out"
echo "| points | dims | thumbnails | write map (s) | file (MB) | first render (ms) | redraw while dragging (ms) | redraw once still (ms) |"
echo "|---:|---:|---:|---:|---:|---:|---:|---:|"
for n in ${@:-10000 100000}; do
  state=$out/state-$n
  rm -rf "$state"
  $bin/kindred-bench-maprun --state "$state" --n "$n" --images "$images" >&2
  # 64 px thumbnails are decoded from the files (10k: ~45 s); 32 px ones are the thumbnails kindredd
  # keeps (maprun stores them as ingestion would), read from LMDB. 100k decodes would take ~8 min.
  thumbs="0 32 64"
  [ "$n" -gt 20000 ] && thumbs="0 32"
  for t in $thumbs; do
    for dims in 2 3; do
      page=$out/map-$n-$dims-$t.html
      written=$($bin/kindred map --state "$state" --out "$page" --dims "$dims" --thumb-size "$t")
      seconds=$(echo "$written" | python3 -c "import json,sys; print(json.load(sys.stdin)['seconds'])")
      size=$(python3 -c "import os; print(round(os.path.getsize('$page') / 1e6, 1))")
      measured=$(python3 Tests/Support/browser.py "$page" --wait-for "window.kindredMap" --timeout 300 \
        --eval "kindredMap.firstRenderMs" --eval "kindredMap.timeFrames(20)" \
        --eval "kindredMap.timeFrames(20, {still: true})")
      first=$(echo "$measured" | python3 -c "import json,sys; print(round(json.load(sys.stdin)['eval'][0]))")
      frame=$(echo "$measured" | python3 -c "import json,sys; print(round(json.load(sys.stdin)['eval'][1], 1))")
      still=$(echo "$measured" | python3 -c "import json,sys; print(round(json.load(sys.stdin)['eval'][2], 1))")
      echo "| $n | $dims | $t | $seconds | $size | $first | $frame | $still |"
    done
  done
done
