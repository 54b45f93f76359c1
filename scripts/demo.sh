#!/bin/sh
# The main job: kindredd indexes a demo collection of real clip art (Debian's openclipart-png),
# follows it for changes, and answers "find similar" over its Unix socket.
set -eu
cd "$(dirname "$0")/.."
bin=.build/release
cache=${KINDRED_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/kindred}
state=$cache/demo-state
collection=$cache/demo-collection
socket=$cache/demo.sock
source=$cache/openclipart/usr/share/openclipart/png
per_category=${DEMO_PER_CATEGORY:-8}

[ -d "$source" ] || { echo "== fetching openclipart-png (131 MB) into $cache, no root needed"; scripts/setup.sh testdata; }

echo "== a demo collection: $per_category images from each folder of openclipart"
rm -rf "$state" "$collection"
mkdir -p "$state" "$collection"
find "$source" -name '*.png' | sort | awk -F/ -v n="$per_category" '{ c = $(NF-1); if (count[c]++ < n) print }' |
  while read -r file; do
    relative=${file#"$source"/}
    mkdir -p "$collection/$(dirname "$relative")"
    cp "$file" "$collection/$relative"
  done
$bin/kindred model install --state "$state" >/dev/null

echo "== kindredd indexes it"
$bin/kindredd --state "$state" --watch "$collection" --socket "$socket" --log-level notice &
pid=$!
trap 'kill $pid 2>/dev/null || true' EXIT
total=$(find "$collection" -type f | wc -l)
# Progress until every file is indexed or failed (STATUS is tab-separated key/value rows).
while true; do
  status=$($bin/kindred status --socket "$socket" 2>/dev/null || true)
  get() { echo "$status" | awk -F'\t' -v k="$1" '$1==k{print $2}'; }
  indexed=$(get indexed); failed=$(get failed)
  if [ -n "$indexed" ]; then
    echo "   indexed $indexed of $total (failed ${failed:-0}, index: $(get index_size))"
    [ "$(get scanning)" = "no" ] && [ "$(get pending)" = "0" ] && [ $((indexed + failed)) -ge "$total" ] && break
  fi
  sleep 2
done
$bin/kindred status --socket "$socket"

echo "== find similar"
for sample in geography/astronomy/04_waxinggibbous_opencl_01.png animals/az-lizard_benji_park_01.png buttons/rss_button_roman_bertle_01.png; do
  echo "-- $sample"
  $bin/kindred similar --socket "$socket" -k 5 "$collection/$sample" | sed "s|$collection/||"
done

echo "== regrouping the collection: PCA → UMAP → HDBSCAN (the nightly refit, run now)"
$bin/kindred refit --wait --socket "$socket"
$bin/kindred clusters --socket "$socket" | sed "s|$collection/||" | head -12

echo "== what to look at: the map (2-D and 3-D), the refit report, a contact sheet of the largest cluster"
$bin/kindred map --state "$state" --out "$cache/demo-map.html"
$bin/kindred map --state "$state" --out "$cache/demo-map-3d.html" --dims 3
$bin/kindred report --state "$state" --out "$cache/demo-report.html"
largest=$($bin/kindred clusters --socket "$socket" | head -1 | cut -f1)
$bin/kindred sheet --socket "$socket" --cluster "$largest" --out "$cache/demo-cluster-$largest.jpg"
echo "   open $cache/demo-map.html in a browser: it is one file and needs no network"

echo "== a new image dropped into the collection is found seconds later"
# The ninth moon-phase drawing, not among the eight copied per folder.
cp "$source/geography/astronomy/08_waningcrescent_openc_01.png" "$collection/new-moon-drawing.png"
sleep 3
$bin/kindred similar --socket "$socket" -k 3 "$collection/new-moon-drawing.png" | sed "s|$collection/||"

echo "== stopping kindredd (SIGTERM: finish the batch, write the index snapshot)"
kill -TERM $pid
wait $pid
trap - EXIT
echo "kindredd exited cleanly; the state is in $state"
