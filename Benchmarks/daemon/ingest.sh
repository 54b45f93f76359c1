#!/bin/bash
# Ingestion rate: kindredd indexing DIR from an empty state (start to the moment STATUS shows
# every file indexed or failed and no scan running) against `kindred embed` on the same files,
# same threads, one after the other in one run.
#
# usage: Benchmarks/daemon/ingest.sh DIR [THREADS]
set -euo pipefail
cd "$(dirname "$0")/../.."
dir=$(realpath "$1"); threads=${2:-2}
bin=.build/release
swift build -c release --product kindredd >/dev/null && swift build -c release --product kindred >/dev/null
weights=${KINDRED_CACHE:-$HOME/.cache/kindred}/demo-state/weights/efficientnet-lite0.kw
state=$(mktemp -d); mkdir -p "$state/weights"; cp "$weights" "$state/weights/"
trap 'rm -rf "$state"' EXIT
# kindredd takes image files and symbolic links to image files inside the root (openclipart-png
# ships 1,221 such links), so count with -L. `kindred embed` skips links: compare images per second.
total=$(find -L "$dir" -type f \( -iname '*.png' -o -iname '*.jpg' -o -iname '*.jpeg' -o -iname '*.webp' \) | wc -l)

echo "== kindred embed (offline), $total image files"
/usr/bin/time -f '{"peak_rss_kb":%M}' $bin/kindred embed --state "$state" --threads "$threads" --out "$state/x.npy" "$dir" 2>&1 | grep -E '^\{' || true

echo "== kindredd, from start to everything indexed"
start=$(date +%s.%N)
$bin/kindredd --state "$state" --socket "$state/k.sock" --watch "$dir" --threads "$threads" --log-level warning 2>"$state/log" &
pid=$!
while true; do
  sleep 0.2
  s=$($bin/kindred status --socket "$state/k.sock" 2>/dev/null || true)
  get() { echo "$s" | awk -F'\t' -v k="$1" '$1==k{print $2}'; }
  idx=$(get indexed); failed=$(get failed)
  if [ -n "$idx" ] && [ "$(get scanning)" = "no" ] && [ $((idx + failed)) -ge "$total" ]; then break; fi
done
end=$(date +%s.%N)
rss=$(awk '/VmHWM/{print int($2/1024)}' /proc/$pid/status)
kill -TERM $pid; wait $pid
python3 -c "t=$end-$start; print('{\"files\":$total,\"indexed\":$idx,\"failed\":$failed,\"wall_s\":%.1f,\"images_per_s\":%.1f,\"peak_rss_mb\":$rss}' % (t, $total/t))"
