#!/bin/bash
# Reduced precision against fp32 on real pictures (issue #18): every openclipart-png file and every
# picture of the three wallpaper packages, embedded as kindredd stores them (--like-daemon) in fp32
# and in the precision asked; precision.py compares each file's two vectors (cosine) and scores
# category retrieval (labels = openclipart's top-level folder) with each, on category.py's
# held-out half and on every query.
# usage: Benchmarks/embed/precision.sh [PRECISION]   (default int16)
set -eu
cd "$(dirname "$0")/../.."
precision=${1:-int16}
cache=${KINDRED_CACHE:-$HOME/.cache/kindred}
scripts/setup.sh testdata && scripts/setup.sh wallpapers
swift build -c release --product kindred >&2
k=.build/release/kindred; state=$cache/demo-state
[ -f "$state/weights/efficientnet-lite0.kw" ] || $k model install --state "$state" >&2
out=Benchmarks/data/precision; mkdir -p "$out"
clipart=$cache/openclipart/usr/share/openclipart/png
# Regular files only: the package's symbolic links repeat them. One invocation for all of them.
mapfile -t files < <(find "$clipart" "$cache/wallpapers" -type f \( -iname '*.png' -o -iname '*.jpg' -o -iname '*.jpeg' -o -iname '*.webp' \) | sort)
for p in fp32 "$precision"; do
  $k embed --state "$state" --like-daemon --precision "$p" --threads 2 --out "$out/$p.npy" --paths-out "$out/$p.txt" "${files[@]}" 2> "$out/$p.log" || true
  tail -1 "$out/$p.log"
done
"$cache/venv/bin/python" Benchmarks/embed/precision.py "$out/fp32" "$out/$precision" "$clipart"
