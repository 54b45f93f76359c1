#!/bin/bash
# How much colour management moves the CNN vectors on real files (issue #20).
# 1. Every file of the wallpaper packages (mate-backgrounds, gnome-backgrounds,
#    plasma-workspace-wallpapers) that embeds an ICC profile, embedded by `kindred embed` twice,
#    converted to sRGB (the default) and taken as stored (--as-stored): each profile's name and
#    count, and the cosine between the two vectors of each file (mean, min), CNN and style.
# 2. Those packages carry only sRGB profiles, so every picture of mate-backgrounds is also saved
#    (by Pillow's LittleCMS) in Adobe RGB as a PNG with its profile, and as CMYK JPEG through
#    Ghostscript's default CMYK profile; each is embedded managed and as stored, and compared with
#    the sRGB original's vector: what a collection of such files would lose without management.
#    "pillow" is the peer's reading of the CMYK files (Pillow decodes, LittleCMS converts back),
#    which bounds what the press gamut itself costs.
# usage: Benchmarks/colour/run.sh
set -euo pipefail
cd "$(dirname "$0")/../.."
cache=${KINDRED_CACHE:-$HOME/.cache/kindred}
work=Benchmarks/data/colour
mkdir -p "$work"
scripts/setup.sh wallpapers
swift build -c release --product kindred >/dev/null
state=$cache/demo-state
py=$cache/venv/bin/python

# Files with a profile, and the profile's description (read by Pillow).
"$py" - "$cache/wallpapers" "$work/files.txt" <<'PY'
import collections, io, os, sys
from PIL import Image, ImageCms
found, names = [], collections.Counter()
for root, _, files in os.walk(sys.argv[1]):
    for f in sorted(files):
        if not f.lower().endswith((".jpg", ".jpeg", ".png", ".webp", ".tif", ".tiff")):
            continue
        path = os.path.join(root, f)
        try:
            with Image.open(path) as im:
                icc = im.info.get("icc_profile")
        except Exception:
            continue
        if icc:
            found.append(path)
            try:
                names[ImageCms.getProfileDescription(ImageCms.ImageCmsProfile(io.BytesIO(icc))).strip()] += 1
            except Exception:
                names["(unreadable)"] += 1
open(sys.argv[2], "w").write("\n".join(found) + "\n")
print({"files_with_profiles": len(found), "profiles": dict(names)})
PY
mapfile -t files < "$work/files.txt"
for space in cnn style; do
  .build/release/kindred embed --state "$state" --space "$space" --out "$work/managed.npy" "${files[@]}" >/dev/null
  .build/release/kindred embed --state "$state" --space "$space" --as-stored --out "$work/stored.npy" "${files[@]}" >/dev/null
  "$py" - "$work" "$space" <<'PY'
import sys
import numpy as np
a, b = np.load(f"{sys.argv[1]}/managed.npy"), np.load(f"{sys.argv[1]}/stored.npy")
cos = (a * b).sum(1) / (np.linalg.norm(a, axis=1) * np.linalg.norm(b, axis=1))
print({"space": sys.argv[2], "files": len(cos), "cosine_mean": round(float(cos.mean()), 5),
       "cosine_min": round(float(cos.min()), 5), "below_0.999": int((cos < 0.999).sum())})
PY
done

# 2. Re-tagged copies of real pictures.
mkdir -p "$work/retagged"
"$py" - "$cache/wallpapers/mate-backgrounds" "$work/retagged" <<'PY'
import os, sys
from PIL import Image, ImageCms
icc = "/usr/share/color/icc/ghostscript"
srgb = ImageCms.createProfile("sRGB")
adobe = ImageCms.getOpenProfile(f"{icc}/a98.icc")
cmyk = ImageCms.getOpenProfile(f"{icc}/default_cmyk.icc")
to_adobe = ImageCms.buildTransform(srgb, adobe, "RGB", "RGB", renderingIntent=ImageCms.Intent.RELATIVE_COLORIMETRIC)
to_cmyk = ImageCms.buildTransform(srgb, cmyk, "RGB", "CMYK", renderingIntent=ImageCms.Intent.RELATIVE_COLORIMETRIC)
from_cmyk = ImageCms.buildTransform(cmyk, srgb, "CMYK", "RGB", renderingIntent=ImageCms.Intent.RELATIVE_COLORIMETRIC)
adobe_bytes = open(f"{icc}/a98.icc", "rb").read()
n = 0
for root, _, files in os.walk(sys.argv[1]):
    for f in sorted(files):
        if not f.lower().endswith((".jpg", ".png")):
            continue
        im = Image.open(os.path.join(root, f)).convert("RGB")
        im.thumbnail((1024, 1024))
        stem = os.path.join(sys.argv[2], f"{n:03d}")
        im.save(stem + "-srgb.png")
        ImageCms.applyTransform(im, to_adobe).save(stem + "-adobe.png", icc_profile=adobe_bytes)
        ImageCms.applyTransform(im, to_cmyk).save(stem + "-cmyk.jpg", quality=95)
        # The peer's reading of the CMYK file: Pillow decodes it and LittleCMS converts it back.
        with Image.open(stem + "-cmyk.jpg") as back:
            ImageCms.applyTransform(back, from_cmyk).save(stem + "-pillow.png")
        n += 1
print({"pictures": n})
PY
for space in cnn style; do
  for kind in srgb adobe cmyk pillow; do
    ext=png; [ "$kind" = cmyk ] && ext=jpg
    .build/release/kindred embed --state "$state" --space "$space" --out "$work/$kind-managed.npy" "$work"/retagged/*-"$kind.$ext" >/dev/null
    .build/release/kindred embed --state "$state" --space "$space" --as-stored --out "$work/$kind-stored.npy" "$work"/retagged/*-"$kind.$ext" >/dev/null
  done
  "$py" - "$work" "$space" <<'PY'
import sys
import numpy as np
work, space = sys.argv[1:]
def cos(a, b):
    return (a * b).sum(1) / (np.linalg.norm(a, axis=1) * np.linalg.norm(b, axis=1))
reference = np.load(f"{work}/srgb-managed.npy")
for kind, ways in [("adobe", ["managed", "stored"]), ("cmyk", ["managed", "stored"]), ("pillow", ["managed"])]:
    for how in ways:
        c = cos(reference, np.load(f"{work}/{kind}-{how}.npy"))
        print({"space": space, "copy": kind, "decoded": how, "pictures": len(c), "cosine_to_srgb_mean": round(float(c.mean()), 4),
               "cosine_min": round(float(c.min()), 4)})
PY
done

