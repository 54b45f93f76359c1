#!/bin/bash
# Decoding large files, Kindred against Pillow (with pillow-heif for HEIC/AVIF, rawpy for camera
# RAW) in one run: images/s and peak resident memory, each side decoding the same files and
# shrinking them to the 256-pixel short side ingestion uses. Kindred decodes through `kindred
# embed --space phash` (the hash costs a few milliseconds on a 256-pixel image); Pillow opens,
# decodes and thumbnails, taking each format's own shortcut where Pillow has one (JPEG 2000's
# `reduce`); rawpy takes the embedded preview when it covers the target, else a half-size decode.
#
# The files are made here from one synthetic picture (smooth gradients, edges and noise, so the
# codecs have work):
#   HEIC 50 MP (8660 × 5773), HEIC 12 MP (4032 × 3024, a phone photo's size, with the thumbnail
#   phones store), AVIF 12 MP, by libheif's own encoders (heif-enc);
#   TIFF 100 MP (11548 × 8660) RGB at 16 bits a sample, uncompressed in strips, as museum masters
#   are; the same picture at 8 bits, tiled and deflated, with a pyramid of four SubIFD levels
#   (tifffile);
#   JPEG 2000 50 MP, lossy at 20:1 with six resolution levels (opj_compress);
#   DNG 24 MP (6000 × 4000, 16-bit RGGB mosaic) with and without a 1620 × 1080 preview JPEG, laid
#   out as Tests/Support/RAWFixtures.swift does.
# usage: [FILES="12mp.heic …"] Benchmarks/formats/run.sh [ROUNDS]
set -euo pipefail
cd "$(dirname "$0")/../.."
rounds=${1:-5}
work=Benchmarks/data/formats
mkdir -p "$work"
py=$(../shared/bench/setup-peers.sh)
"$py" -m pip install -q pillow-heif tifffile rawpy >&2
swift build -c release --product kindred >/dev/null && swift build -c release --product kindred-decode >/dev/null
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
[ -f "$work/50mp.jp2" ] || opj_compress -i "$work/src-50mp.png" -o "$work/50mp.jp2" -r 20 >/dev/null

"$py" - "$work" <<'PY'
import os, struct, sys
import numpy as np
import tifffile
from PIL import Image
work = sys.argv[1]
def picture(w, h, seed):
    y, x = np.mgrid[0:h, 0:w].astype(np.float32)
    rng = np.random.default_rng(seed)
    r = 0.5 + 0.4 * np.sin(x / 300) * np.cos(y / 500)
    g = 0.5 + 0.4 * np.sin((x + y) / 700)
    b = np.where(((x // 400) + (y // 400)) % 2 == 0, 0.8, 0.25).astype(np.float32)
    return np.clip(np.stack([r, g, b], -1) + rng.normal(0, 0.05, (h, w, 3)).astype(np.float32), 0, 1)
if not os.path.exists(os.path.join(work, "100mp-16bit.tif")) or not os.path.exists(os.path.join(work, "100mp-pyramid.tif")):
    rgb = picture(11548, 8660, 21)
    tifffile.imwrite(os.path.join(work, "100mp-16bit.tif"), (rgb * 65535).astype(np.uint16), photometric="rgb",
                     rowsperstrip=64)
    eight = (rgb * 255).astype(np.uint8)
    del rgb
    with tifffile.TiffWriter(os.path.join(work, "100mp-pyramid.tif")) as tif:
        tif.write(eight, photometric="rgb", tile=(512, 512), compression="zlib", subifds=4)
        level = eight
        for _ in range(4):
            level = level[::2, ::2]
            tif.write(level, photometric="rgb", tile=(512, 512), compression="zlib", subfiletype=1)
def dng(path, w, h, preview):
    """A 16-bit RGGB DNG as Tests/Support/RAWFixtures.swift lays it out: directories, then strips."""
    rgb = picture(w, h, 22) ** 2.2
    mosaic = np.empty((h, w), np.uint16)
    mosaic[0::2, 0::2] = rgb[0::2, 0::2, 0] * 65535
    mosaic[0::2, 1::2] = rgb[0::2, 1::2, 1] * 65535
    mosaic[1::2, 0::2] = rgb[1::2, 0::2, 1] * 65535
    mosaic[1::2, 1::2] = rgb[1::2, 1::2, 2] * 65535
    strips = [mosaic.tobytes()]
    def field(tag, kind, values):
        if kind == 2:
            data = values.encode() + b"\0"
            return (tag, kind, len(data), data)
        flat = [v for pair in values for v in pair] if kind in (5, 10) else values
        return (tag, kind, len(values), struct.pack("<" + {1: "B", 3: "H", 4: "I", 5: "I", 10: "i"}[kind] * len(flat), *flat))
    matrix = [32405, -15371, -4985, -9693, 18760, 416, 557, -2040, 10572]
    raw = [field(254, 4, [0]), field(256, 4, [w]), field(257, 4, [h]), field(258, 3, [16]), field(259, 3, [1]),
           field(262, 3, [32803]), field(271, 2, "Acme"), field(272, 2, "Test Camera"), ("strip", 0),
           field(277, 3, [1]), field(278, 4, [h]), field(279, 4, [len(strips[0])]), field(33421, 3, [2, 2]),
           field(33422, 1, [0, 1, 1, 2]), field(50706, 1, [1, 4, 0, 0]), field(50717, 4, [65535]),
           field(50721, 10, [(m, 10000) for m in matrix]), field(50728, 5, [(1, 1)] * 3), field(50778, 3, [21])]
    directories = [raw]
    if preview:
        small = Image.fromarray((picture(w, h, 22)[::4, ::4][:1080, :1620] * 255).astype(np.uint8))
        import io
        out = io.BytesIO(); small.save(out, "JPEG", quality=90); strips.append(out.getvalue())
        directories.append([field(254, 4, [1]), field(256, 4, [small.width]), field(257, 4, [small.height]),
                            field(258, 3, [8, 8, 8]), field(259, 3, [7]), field(262, 3, [6]), ("strip", 1),
                            field(277, 3, [3]), field(278, 4, [small.height]), field(279, 4, [len(strips[1])])])
    def size(entries):
        return 6 + 12 * len(entries) + sum((len(e[3]) + 1) & ~1 for e in entries if e[0] != "strip" and len(e[3]) > 4)
    at = 8 + sum(size(d) for d in directories)
    offsets = []
    for s in strips:
        offsets.append(at); at += (len(s) + 1) & ~1
    out = bytearray(b"II*\0" + struct.pack("<I", 8))
    for number, entries in enumerate(directories):
        entries = sorted((field(273, 4, [offsets[e[1]]]) if e[0] == "strip" else e for e in entries), key=lambda e: e[0])
        start = len(out); values_at = start + 6 + 12 * len(entries); values = bytearray()
        out += struct.pack("<H", len(entries))
        for tag, kind, count, data in entries:
            out += struct.pack("<HHI", tag, kind, count)
            if len(data) <= 4: out += data.ljust(4, b"\0")
            else:
                out += struct.pack("<I", values_at + len(values)); values += data + (b"\0" if len(data) % 2 else b"")
        out += struct.pack("<I", start + size(entries) if number + 1 < len(directories) else 0) + values
    for s in strips:
        out += s + (b"\0" if len(s) % 2 else b"")
    with open(path, "wb") as f:
        f.write(out)
for name, preview in [("24mp.dng", False), ("24mp-preview.dng", True)]:
    if not os.path.exists(os.path.join(work, name)):
        dng(os.path.join(work, name), 6000, 4000, preview)
PY

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

for file in ${FILES:-50mp.heic 12mp.heic 12mp-nothumb.heic 12mp.avif 100mp-16bit.tif 100mp-pyramid.tif 50mp.jp2 24mp.dng 24mp-preview.dng}; do
  list=$(for _ in $(seq "$rounds"); do echo "$work/$file"; done)
  # shellcheck disable=SC2086
  measure kindred .build/release/kindred embed --state "$state" --space phash --threads 1 --out "$work/out.npy" $list
  case "$file" in
    *.dng)
      measure rawpy "$py" -c '
import sys
import numpy as np
import rawpy
from PIL import Image
for _ in range(int(sys.argv[2])):
    with rawpy.imread(sys.argv[1]) as raw:
        try:
            thumb = raw.extract_thumb()
            covers = thumb.format == rawpy.ThumbFormat.JPEG
        except rawpy.LibRawNoThumbnailError:
            covers = False
        if covers:
            import io
            im = Image.open(io.BytesIO(thumb.data)).convert("RGB")
            covers = min(im.size) >= 256
        if not covers:
            im = Image.fromarray(raw.postprocess(half_size=True, use_camera_wb=True, no_auto_bright=True, output_bps=8))
    scale = 256 / min(im.size)
    im.thumbnail((round(im.width * scale), round(im.height * scale)), Image.BOX)
' "$work/$file" "$rounds" ;;
    *)
      measure pillow "$py" -c '
import sys
import pillow_heif
from PIL import Image
Image.MAX_IMAGE_PIXELS = None
pillow_heif.register_heif_opener(thumbnails=False)
pillow_heif.options.DECODE_THREADS = 1
def load(path):
    im = Image.open(path)
    if im.format != "JPEG2000":
        return im.convert("RGB")
    # The wavelet shortcut, as Kindred takes it: the coarsest level still covering 256. Pillow
    # rounds a reduced size down where OpenJPEG rounds up, and then refuses the data ("broken data
    # stream"), so a finer level is tried when that happens.
    r = 0
    while min(im.size) >> (r + 1) >= 256 and r + 1 < 6:
        r += 1
    for level in range(r, -1, -1):
        try:
            im = Image.open(path)
            im.reduce = level
            return im.convert("RGB")
        except OSError:
            continue
for _ in range(int(sys.argv[2])):
    im = load(sys.argv[1])
    scale = 256 / min(im.size)
    im.thumbnail((round(im.width * scale), round(im.height * scale)), Image.BOX)
' "$work/$file" "$rounds" ;;
  esac
done
