#!/bin/bash
# Decoding large files, Kindred against Pillow (with pillow-heif for HEIC/AVIF) in one run:
# images/s and peak resident memory, each side decoding the same files and shrinking them to the
# 256-pixel short side ingestion uses. Kindred decodes through `kindred embed --space phash` (the
# hash costs a few milliseconds on a 256-pixel image); Pillow opens, decodes and thumbnails.
#
# The files are made here from one synthetic picture (smooth gradients, edges and noise, so the
# codecs have work), by libheif's own encoders (heif-enc):
#   HEIC 50 MP (8660 × 5773), HEIC 12 MP (4032 × 3024, a phone photo's size, with the
#   thumbnail phones store), AVIF 12 MP.
# usage: [FILES="12mp.heic …"] Benchmarks/formats/run.sh [ROUNDS]
set -euo pipefail
cd "$(dirname "$0")/../.."
rounds=${1:-5}
work=Benchmarks/data/formats
mkdir -p "$work"
py=$(../shared/bench/setup-peers.sh)
"$py" -m pip install -q pillow-heif >&2
swift build -c release --product kindred >/dev/null
state=${KINDRED_CACHE:-$HOME/.cache/kindred}/demo-state

"$py" - "$work" <<'PY'
import os, sys
import numpy as np
from PIL import Image
work = sys.argv[1]
for name, (w, h) in {'src-50mp.png': (8660, 5773), 'src-12mp.png': (4032, 3024)}.items():
    path = os.path.join(work, name)
    if os.path.exists(path): continue
    y, x = np.mgrid[0:h, 0:w].astype(np.float32)
    rng = np.random.default_rng(20)
    r = 128 + 100 * np.sin(x / 300) * np.cos(y / 500)
    g = 128 + 100 * np.sin((x + y) / 700)
    b = np.where(((x // 400) + (y // 400)) % 2 == 0, 200, 60).astype(np.float32)
    rgb = np.stack([r, g, b], -1) + rng.normal(0, 12, (h, w, 3))
    Image.fromarray(np.clip(rgb, 0, 255).astype(np.uint8)).save(path, compress_level=1)
PY
[ -f "$work/50mp.heic" ] || heif-enc -q 80 "$work/src-50mp.png" -o "$work/50mp.heic" >&2
[ -f "$work/12mp.heic" ] || heif-enc -q 80 -t 320 "$work/src-12mp.png" -o "$work/12mp.heic" >&2
[ -f "$work/12mp-nothumb.heic" ] || heif-enc -q 80 "$work/src-12mp.png" -o "$work/12mp-nothumb.heic" >&2
[ -f "$work/12mp.avif" ] || heif-enc -A -q 80 "$work/src-12mp.png" -o "$work/12mp.avif" >&2

# Each side's wall time, CPU time (user + system: a decoder may use threads of its own) and peak
# resident memory, from /usr/bin/time.
measure() {  # name, then the command
  local name=$1; shift
  if ! /usr/bin/time -f "%e %U %S %M" -o "$work/time.txt" "$@" >/dev/null 2>"$work/stderr.txt"; then
    printf '{"file":"%s","decoder":"%s","failed":"%s"}\n' "$file" "$name" "$(tail -1 "$work/stderr.txt" | tr -d '"\\')"
    return 0
  fi
  read -r wall user sys peak < <(tail -1 "$work/time.txt")
  printf '{"file":"%s","bytes":%d,"decoder":"%s","images":%d,"seconds":%s,"cpu_seconds":%.2f,"images_per_s":%.2f,"peak_mb":%d}\n' \
    "$file" "$(stat -c %s "$work/$file")" "$name" "$rounds" "$wall" "$(echo "$user + $sys" | bc)" \
    "$(echo "$rounds / $wall" | bc -l)" "$((peak / 1024))"
}

for file in ${FILES:-50mp.heic 12mp.heic 12mp-nothumb.heic 12mp.avif}; do
  list=$(for _ in $(seq "$rounds"); do echo "$work/$file"; done)
  # shellcheck disable=SC2086
  measure kindred .build/release/kindred embed --state "$state" --space phash --threads 1 --out "$work/out.npy" $list
  measure pillow-heif "$py" -c '
import sys
import pillow_heif
from PIL import Image
pillow_heif.register_heif_opener(thumbnails=False)
pillow_heif.options.DECODE_THREADS = 1
for _ in range(int(sys.argv[2])):
    with Image.open(sys.argv[1]) as im:
        im = im.convert("RGB")
        scale = 256 / min(im.size)
        im.thumbnail((round(im.width * scale), round(im.height * scale)), Image.BOX)
' "$work/$file" "$rounds"
done
