#!/usr/bin/env python3
"""Writes the seed inputs of the libFuzzer targets (Fuzz/): small valid inputs of every kind each
parser takes, so mutations start from deep inside the formats. Images come from Python's zlib
(PNG) and Debian's cjpeg (libjpeg-turbo-progs) and cwebp (webp); the weight file is written here
from its format; index snapshots by the debug build of `kindred index build` (run `swift build`
first). Rerun after a format changes: python3 Tests/FuzzCorpus/make-seeds.py"""
import os
import struct
import subprocess
import zlib

here = os.path.dirname(os.path.abspath(__file__))


def put(target, name, data):
    os.makedirs(os.path.join(here, target), exist_ok=True)
    with open(os.path.join(here, target, name), "wb") as f:
        f.write(data)


# Protocol: one request of each verb, pipelined lines, a SIMILAR-IMAGE with its payload.
lines = [
    b"PING\n", b"STATUS\n", b"HELP\n", b'SIMILAR "/art/a b.jpg" k=5 space=style within=prefix:/art\n', b"SIMILAR 42 k=3\n",
    b"INFO 7\n", b"DUPLICATES max-distance=6\n", b"ERRORS limit=5\n", b"RESCAN /art\n", b"WATCH /x\nUNWATCH /x\n",
    b"REFIT wait\n", b"RUNS limit=3\n", b"CLUSTERS\n", b"CLUSTER 2 limit=9\n", b"MAP dims=3\n", b"FORMAT json\nPING\n",
    b"SIMILAR-IMAGE 4 k=2\nabcdPING\n", b"QUIT\n",
]
for i, line in enumerate(lines):
    put("fuzz-protocol", f"request-{i:02d}", bytes([len(line) // 2]) + line)


# The command service: a peer byte (even: admin, odd: a stranger), then request lines against the
# target's fixture (items 1-60, a root under /dev/shm or the temporary directory).
service = [
    b"\x00SIMILAR 5 k=7\nSIMILAR 9 space=style\nINFO 60\nINFO 61\n", b"\x01RESCAN\nWATCH /tmp\nSTATUS\n",
    b"\x00DUPLICATES max_distance=16\nERRORS limit=3\nRUNS\nCLUSTERS\nRUN\nTHUMBS after=3 limit=2\n",
    b"\x00SIMILAR 3 within=prefix:/dev/shm\nSIMILAR /etc/passwd\nSIMILAR-IMAGE 8 space=style\n\x89PNG\r\n\x1a\n",
    b"\x00RUN-MEMBERS 1 after=10 limit=5\nRUN-CLUSTERS 1\nCLUSTER 0\nMAP dims=3\nINFO 9223372036854775807\n",
]
for i, body in enumerate(service):
    put("fuzz-service", f"requests-{i:02d}", body)


def png(width, height, colour_type, depth, rows, palette=None, interlace=0):
    def chunk(kind, body):
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body) & 0xFFFFFFFF)
    out = b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, depth, colour_type, 0, 0, interlace))
    if palette:
        out += chunk(b"PLTE", palette)
    return out + chunk(b"IDAT", zlib.compress(b"".join(b"\x00" + r for r in rows))) + chunk(b"IEND", b"")


w, h = 8, 6
rgb = [b"".join(bytes((x * 30 % 256, y * 40 % 256, 90)) for x in range(w)) for y in range(h)]
put("fuzz-decoders", "rgb8.png", png(w, h, 2, 8, rgb))
put("fuzz-decoders", "rgba8.png", png(w, h, 6, 8, [b"".join(bytes((x * 30, y * 40, 90, 128 + x)) for x in range(w)) for y in range(h)]))
put("fuzz-decoders", "gray16.png", png(w, h, 0, 16, [b"".join(struct.pack(">H", x * 8000 + y) for x in range(w)) for y in range(h)]))
put("fuzz-decoders", "palette.png", png(w, h, 3, 8, [bytes((x + y) % 4 for x in range(w)) for y in range(h)], palette=bytes(range(12))))
put("fuzz-decoders", "interlaced.png", png(w, h, 2, 8, rgb, interlace=1))
ppm = b"P6\n%d %d\n255\n" % (w, h) + b"".join(rgb)
for name, args in (("baseline.jpg", []), ("progressive.jpg", ["-progressive"]), ("gray.jpg", ["-grayscale"])):
    put("fuzz-decoders", name, subprocess.run(["cjpeg", "-quality", "80"] + args, input=ppm, capture_output=True, check=True).stdout)
tmp = os.path.join(here, "seed.ppm")
with open(tmp, "wb") as f:
    f.write(ppm)
for name, args in (("lossy.webp", ["-q", "70"]), ("lossless.webp", ["-lossless"])):
    out = os.path.join(here, "fuzz-decoders", name)
    subprocess.run(["cwebp", "-quiet"] + args + [tmp, "-o", out], check=True)
os.remove(tmp)

# Header bombs: a few bytes claiming enormous sizes, for every format, so the fuzzer starts at the
# size checks (DecodeOptions.admit) and mutates around them.
def header_bombs():
    one_row = [b"\x00\x00\x00"]
    put("fuzz-decoders", "bomb-strip.png", png(1_000_000_000, 1, 2, 8, one_row))
    put("fuzz-decoders", "bomb-tall.png", png(1, 2_000_000_000, 2, 8, one_row))
    put("fuzz-decoders", "bomb-interlaced.png", png(40_000, 40_000, 2, 8, one_row, interlace=1))
    put("fuzz-decoders", "bomb-wide.png", png(262_144, 4_000, 6, 16, one_row))
    for name in ("baseline.jpg", "progressive.jpg"):
        with open(os.path.join(here, "fuzz-decoders", name), "rb") as f:
            jpeg = bytearray(f.read())
        for i in range(len(jpeg) - 9):
            if jpeg[i] == 0xFF and jpeg[i + 1] in (0xC0, 0xC2):
                jpeg[i + 5:i + 9] = struct.pack(">HH", 65535, 65535)
                break
        put("fuzz-decoders", "bomb-" + name, bytes(jpeg))
    with open(os.path.join(here, "fuzz-decoders", "lossless.webp"), "rb") as f:
        webp = bytearray(f.read())
    # VP8L: 14-bit width-1 and height-1 after the signature byte at offset 20.
    bits = (16383 - 1) | ((16383 - 1) << 14) | (int.from_bytes(webp[21:25], "little") & ~((1 << 28) - 1))
    webp[21:25] = bits.to_bytes(4, "little")
    put("fuzz-decoders", "bomb-16383.webp", bytes(webp))


header_bombs()

# Weights (Sources/KindredFeatures/Weights/ModelWeights.swift): two small tensors. The trailing
# checksum is left zero: the fuzz target recomputes it for every input.
def text(s):
    return struct.pack("<I", len(s)) + s.encode()


weights = b"KNDRWGTS" + struct.pack("<I", 1) + text("efficientnet-lite0") + struct.pack("<I", 2)
weights += text("stem.conv.weight") + struct.pack("<I4I", 4, 2, 3, 1, 1) + struct.pack("<6f", *[0.5] * 6)
weights += text("stem.bn.bias") + struct.pack("<II", 1, 2) + struct.pack("<2f", 0.1, -0.1)
put("fuzz-weights", "two-tensors", weights + b"\0" * 8)

# Index snapshots: `kindred index build` over 24 small vectors, at both metrics.
import tempfile
bin_dir = os.path.join(here, "..", "..", ".build", "debug")
with tempfile.TemporaryDirectory() as scratch:
    vectors = os.path.join(scratch, "v.npy")
    header = "{'descr': '<f4', 'fortran_order': False, 'shape': (24, 4), }"
    header += " " * (63 - (10 + len(header)) % 64) + "\n"
    with open(vectors, "wb") as f:
        f.write(b"\x93NUMPY\x01\x00" + struct.pack("<H", len(header)) + header.encode())
        f.write(struct.pack("<96f", *[((i * 7 + j * 3) % 11) / 11.0 for i in range(24) for j in range(4)]))
    for metric in ("cosine", "l2"):
        out = os.path.join(scratch, metric)
        subprocess.run([os.path.join(bin_dir, "kindred"), "index", "build", "--vectors", vectors, "--out", out, "--metric", metric,
                        "--M", "4", "--ef-construction", "16"], check=True, capture_output=True)
        with open(out, "rb") as f:
            put("fuzz-snapshot", f"24x4-{metric}.hnsw", f.read())


# Placement models (Schema/placement.md): the files of one run's model, in the fuzz target's order,
# split by its separator (Fuzz/Sources/fuzz-placement). An HDBSCAN model of 6 items in two
# clusters, and a k-means one over the cnn space's 1,280 columns.
import json


def npy(descr, shape, fmt, values):
    header = f"{{'descr': '{descr}', 'fortran_order': False, 'shape': {shape}, }}"
    header += " " * (63 - (10 + len(header)) % 64) + "\n"
    return b"\x93NUMPY\x01\x00" + struct.pack("<H", len(header)) + header.encode() + struct.pack(
        f"<{len(values)}{fmt}", *values)


def umap_meta(dimensions):
    return {"a": 1.577, "b": 0.895, "epochs": 100, "initialisation": "spectral", "neighbors": 4, "minDist": 0.1,
            "spread": 1.0, "dimensions": dimensions, "learningRate": 1.0, "negativeSampleRate": 5,
            "repulsionStrength": 1.0, "seed": 0}


def coordinates(rows, columns):
    return [((r * 5 + c * 3) % 7) / 7.0 + (r // 3) * 4 for r in range(rows) for c in range(columns)]


placement_files = ["meta.json", "ids.npy", "map2.npy", "map3.npy", "layout.npy", "core.npy", "tree.npy", "lambda.npy",
                   "pca-mean.npy", "pca-components.npy", "centroids.npy"]


def placement(parts):
    return b"\n--file--\n".join(parts.get(name, b"") for name in placement_files)


ids = npy("<i8", "(6,)", "q", list(range(1, 7)))
maps = {"map2.npy": npy("<f4", "(6, 2)", "f", coordinates(6, 2)), "map3.npy": npy("<f4", "(6, 3)", "f", coordinates(6, 3))}
tree = [(6, 7, 3), (6, 8, 3)] + [(7 + p // 3, p, 1) for p in range(6)]
hdbscan = {"version": 1, "run": 1, "algorithm": "hdbscan", "selectedClusters": [7, 8], "minSamples": 2,
           "maps": {"map2": umap_meta(2), "map3": umap_meta(3), "layout": umap_meta(2)}, "stable": [[0, 10], [1, 11]]}
put("fuzz-placement", "hdbscan-6", placement({
    "meta.json": json.dumps(hdbscan, sort_keys=True).encode(), "ids.npy": ids, **maps,
    "layout.npy": npy("<f4", "(6, 2)", "f", coordinates(6, 2)), "core.npy": npy("<f4", "(6,)", "f", [0.5] * 6),
    "tree.npy": npy("<i8", "(8, 3)", "q", [v for edge in tree for v in edge]),
    "lambda.npy": npy("<f8", "(8,)", "d", [1.0, 1.0] + [2.0] * 6)}))
kmeans = {"version": 1, "run": 1, "algorithm": "kmeans", "maps": {"map2": umap_meta(2), "map3": umap_meta(3)},
          "stable": [[0, 3], [1, 4]]}
put("fuzz-placement", "kmeans-6", placement({
    "meta.json": json.dumps(kmeans, sort_keys=True).encode(), "ids.npy": ids, **maps,
    "pca-mean.npy": npy("<f4", "(1280,)", "f", [0.01] * 1280),
    "pca-components.npy": npy("<f4", "(2, 1280)", "f", [((i * 13) % 29) / 29.0 - 0.5 for i in range(2560)]),
    "centroids.npy": npy("<f4", "(2, 2)", "f", [-1.0, 0.0, 1.0, 0.0])}))


# TIFF, GIF, BMP, HEIC and AVIF seeds (issue #20) through Pillow (its TIFF writer is libtiff's), when it is
# installed (pip install pillow): every variant the decoders take, small.
try:
    import io
    from PIL import Image

    def pattern(mode, size=(24, 16)):
        image = Image.new("RGB", size)
        image.putdata([(x * 10 % 256, y * 15 % 256, (x * y) % 256) for y in range(size[1]) for x in range(size[0])])
        return image.convert(mode)

    def saved(image, fmt, **options):
        out = io.BytesIO()
        image.save(out, fmt, **options)
        return out.getvalue()

    for mode in ["RGB", "L", "1", "P", "CMYK", "RGBA", "I;16"]:
        for compression in ["raw", "tiff_lzw", "tiff_adobe_deflate"]:
            if mode == "I;16" and compression != "raw":
                continue
            name = f"{mode.replace(';', '')}-{compression}.tif"
            put("fuzz-tiff", name, saved(pattern(mode), "TIFF", compression=compression))
    put("fuzz-tiff", "pages.tif", saved(pattern("RGB"), "TIFF", save_all=True, append_images=[pattern("L", (12, 8))]))
    put("fuzz-gif", "plain.gif", saved(pattern("P"), "GIF"))
    put("fuzz-gif", "interlaced.gif", saved(pattern("P"), "GIF", interlace=True))
    put("fuzz-gif", "transparent.gif", saved(pattern("P"), "GIF", transparency=0))
    put("fuzz-gif", "animated.gif", saved(pattern("P"), "GIF", save_all=True, append_images=[pattern("P")]))
    for mode, name in [("RGB", "rgb24"), ("P", "palette8"), ("1", "bilevel"), ("L", "gray8"), ("RGBA", "rgba32")]:
        put("fuzz-bmp", f"{name}.bmp", saved(pattern(mode), "BMP"))
    # HEIC and AVIF from libheif's own encoders (heif-enc, Debian: libheif-examples), with and
    # without alpha, and with a thumbnail.
    import shutil
    import tempfile
    if shutil.which("heif-enc"):
        with tempfile.TemporaryDirectory() as scratch:
            for mode in ["RGB", "RGBA"]:
                source = os.path.join(scratch, f"{mode}.png")
                pattern(mode, (64, 48)).save(source)
                for codec, flags in [("heic", []), ("avif", ["-A"])]:
                    for extra, suffix in [([], ""), (["-t", "32"], "-thumbnail")]:
                        out = os.path.join(scratch, f"out.{codec}")
                        subprocess.run(["heif-enc", "-q", "30", *flags, *extra, source, "-o", out],
                                       check=True, capture_output=True)
                        with open(out, "rb") as f:
                            put("fuzz-heif", f"{mode.lower()}{suffix}.{codec}", f.read())
    else:
        print("heif-enc not installed: HEIC and AVIF seeds not written")
    # Embedded ICC profiles (Ghostscript's Adobe RGB-compatible and default CMYK profiles, Debian:
    # libgs-common), which the decoders hand to LittleCMS.
    icc = "/usr/share/color/icc/ghostscript"
    if os.path.exists(f"{icc}/a98.icc"):
        with open(f"{icc}/a98.icc", "rb") as f:
            a98 = f.read()
        put("fuzz-decoders", "icc-a98.jpg", saved(pattern("RGB"), "JPEG", icc_profile=a98))
        put("fuzz-decoders", "icc-a98.png", saved(pattern("RGB"), "PNG", icc_profile=a98))
        put("fuzz-tiff", "icc-a98.tif", saved(pattern("RGB"), "TIFF", icc_profile=a98))
        put("fuzz-decoders", "cmyk.jpg", saved(pattern("CMYK"), "JPEG"))
        put("fuzz-tiff", "cmyk.tif", saved(pattern("CMYK"), "TIFF"))
    else:
        print("libgs-common not installed: ICC seeds not written")
    # Camera RAW: DNGs laid out tag by tag as Tests/Support/RAWFixtures.swift does (no Debian
    # tool writes RAW files): a 16-bit RGGB mosaic, with and without a JPEG preview.
    def dng(width, height, preview=None):
        def field(tag, kind, values):
            fmt = {1: "B", 2: "s", 3: "H", 4: "I", 5: "II", 10: "ii"}[kind]
            if kind == 2:
                data = values.encode() + b"\0"
                return (tag, kind, len(data), data)
            flat = [v for pair in values for v in pair] if kind in (5, 10) else values
            return (tag, kind, len(values), struct.pack("<" + fmt[-1] * len(flat), *flat))
        mosaic = bytes(((x * 37 + y * 11) % 256) for y in range(height) for x in range(width * 2))
        strips = [mosaic]
        raw = [field(254, 4, [0]), field(256, 4, [width]), field(257, 4, [height]), field(258, 3, [16]),
               field(259, 3, [1]), field(262, 3, [32803]), field(271, 2, "Acme"), field(272, 2, "Test Camera"),
               ("strip", 0), field(277, 3, [1]), field(278, 4, [height]), field(279, 4, [len(mosaic)]),
               field(33421, 3, [2, 2]), field(33422, 1, [0, 1, 1, 2]), field(50706, 1, [1, 4, 0, 0]),
               field(50717, 4, [65535]), field(50721, 10, [(10000, 10000), (0, 1), (0, 1), (0, 1), (10000, 10000),
                                                           (0, 1), (0, 1), (0, 1), (10000, 10000)]),
               field(50728, 5, [(1, 1), (1, 1), (1, 1)]), field(50778, 3, [21])]
        directories = [raw]
        if preview:
            strips.append(preview)
            directories.append([field(254, 4, [1]), field(256, 4, [24]), field(257, 4, [16]), field(258, 3, [8, 8, 8]),
                                field(259, 3, [7]), field(262, 3, [6]), ("strip", 1), field(277, 3, [3]),
                                field(278, 4, [16]), field(279, 4, [len(preview)])])
        def size(entries):
            return 6 + 12 * len(entries) + sum((len(e[3]) + 1) & ~1 for e in entries if e[0] != "strip" and len(e[3]) > 4)
        strip_at = 8 + sum(size(d) for d in directories)
        offsets = []
        for s_ in strips:
            offsets.append(strip_at)
            strip_at += (len(s_) + 1) & ~1
        out = bytearray(b"II*\0" + struct.pack("<I", 8))
        for number, entries in enumerate(directories):
            entries = [field(273, 4, [offsets[e[1]]]) if e[0] == "strip" else e for e in entries]
            entries.sort(key=lambda e: e[0])
            start = len(out)
            values_at = start + 6 + 12 * len(entries)
            values = bytearray()
            out += struct.pack("<H", len(entries))
            for tag, kind, count, data in entries:
                out += struct.pack("<HHI", tag, kind, count)
                if len(data) <= 4:
                    out += data.ljust(4, b"\0")
                else:
                    out += struct.pack("<I", values_at + len(values))
                    values += data + (b"\0" if len(data) % 2 else b"")
            out += struct.pack("<I", start + size(entries) if number + 1 < len(directories) else 0) + values
        for s_ in strips:
            out += s_ + (b"\0" if len(s_) % 2 else b"")
        return bytes(out)

    put("fuzz-raw", "sensor.dng", dng(32, 24))
    put("fuzz-raw", "preview.dng", dng(32, 24, saved(pattern("RGB"), "JPEG")))
    # JPEG 2000 from OpenJPEG's own encoder (opj_compress, Debian: libopenjp2-tools): JP2 and bare
    # codestreams, lossless and lossy, grey, alpha, tiled, and few resolution levels.
    if shutil.which("opj_compress"):
        with tempfile.TemporaryDirectory() as scratch:
            variants = [
                ("RGB", "jp2", [], "rgb-lossless"), ("RGB", "j2k", ["-r", "20"], "rgb-lossy"),
                ("L", "jp2", [], "gray"), ("RGBA", "jp2", [], "rgba"),
                ("RGB", "jp2", ["-t", "16,16", "-n", "3"], "rgb-tiled"), ("RGB", "j2k", ["-n", "1"], "one-level"),
            ]
            for mode, ext, flags, name in variants:
                source = os.path.join(scratch, f"{name}.{'pgm' if mode == 'L' else 'png'}")
                pattern(mode, (48, 32)).save(source)
                out = os.path.join(scratch, f"{name}.{ext}")
                subprocess.run(["opj_compress", "-i", source, "-o", out, *flags], check=True, capture_output=True)
                with open(out, "rb") as f:
                    put("fuzz-jpeg2000", f"{name}.{ext}", f.read())
    else:
        print("opj_compress not installed: JPEG 2000 seeds not written")
except ImportError:
    print("Pillow not installed: TIFF, GIF, BMP, HEIC and AVIF seeds not written")
