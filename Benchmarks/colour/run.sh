#!/bin/bash
# How much colour management moves the CNN vectors on real files (issue #20): every file of the
# wallpaper packages (mate-backgrounds, gnome-backgrounds, plasma-workspace-wallpapers) that
# embeds an ICC profile, embedded by `kindred embed` twice, converted to sRGB (the default) and
# taken as stored (--as-stored); prints each profile's name and count, and the cosine between the
# two vectors of each file (mean, min), for the CNN and the style spaces.
# usage: Benchmarks/colour/run.sh
set -euo pipefail
cd "$(dirname "$0")/../.."
cache=${KINDRED_CACHE:-$HOME/.cache/kindred}
work=Benchmarks/data/colour
mkdir -p "$work" "$cache/debs" "$cache/wallpapers"
for package in mate-backgrounds gnome-backgrounds plasma-workspace-wallpapers; do
  [ -d "$cache/wallpapers/$package/usr" ] && continue
  (cd "$cache/debs" && ls "$package"_*.deb >/dev/null 2>&1 || apt-get download "$package" >/dev/null)
  dpkg -x "$cache/debs/$package"_*.deb "$cache/wallpapers/$package"
done
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
