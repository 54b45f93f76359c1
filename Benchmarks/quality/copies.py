"""Copy detection dev set, step 1: originals, distractors and transformed copies.

From FILES (one image path per line: embed-variants.sh's files.txt), with a fixed seed:
  - 200 originals (pictures with no other copy in FILES, see below) and 5,000 distractors, copied into OUT/collection/{originals,distractors}/
    (the collection kindredd indexes);
  - each original transformed by every kind of copy a collection holds, into OUT/queries/<kind>/
    (queried with SIMILAR-IMAGE, never indexed).

Transparent clip art is flattened onto white first, as Kindred's decoders and the reference do,
so a transform changes the picture and not what transparency becomes.

A held-out set for checking a choice made on the first: another --seed (the first is 20), with
the first set's originals left out of its originals (--exclude FIRST/originals.txt, which names
them by the copies' file names).

usage: python copies.py FILES OUT [--originals 200] [--distractors 5000] [--seed 20] [--exclude LIST]
"""
import os, random, shutil, sys
import numpy as np
from PIL import Image, ImageEnhance, ImageOps

args = sys.argv[1:]
def option(name, default):
    if name in args:
        i = args.index(name); value = int(args[i + 1]); del args[i:i + 2]; return value
    return default
n_originals, n_distractors = option('--originals', 200), option('--distractors', 5000)
seed = option('--seed', 20)
excluded = set()
if '--exclude' in args:
    i = args.index('--exclude')
    # originals.txt names each original as its copy is named: a five-digit number, '-', its name.
    excluded = {line[6:] for line in open(args[i + 1]).read().split('\n') if line}
    del args[i:i + 2]
files, out = [l for l in open(args[0]).read().split('\n') if l], args[1]


def flat(path):
    im = Image.open(path)
    im = ImageOps.exif_transpose(im)
    if im.mode in ('RGBA', 'LA', 'P'):
        im = im.convert('RGBA')
        bg = Image.new('RGBA', im.size, (255, 255, 255, 255))
        im = Image.alpha_composite(bg, im)
    return im.convert('RGB')


def small(path):
    """16 × 16 grey, whole and trimmed to its drawing, for telling whether two files are the same
    picture."""
    try:
        im = flat(path).convert('L')
        whole = np.asarray(im.resize((16, 16), Image.BOX), np.float32)
        # The drawing's bounding box: what is not (near) white paper. The package holds the same
        # drawing at other sizes with other margins (home13.png at 438 and 467 px), which the
        # whole picture's thumbnail does not match.
        box = Image.eval(im, lambda v: 255 if v < 248 else 0).getbbox() or (0, 0, *im.size)
        drawing = np.asarray(im.crop(box).resize((16, 16), Image.BOX), np.float32)
        return np.stack([whole, drawing])
    except Exception:
        return None


# An original is a picture with no other copy in the package: the package holds the same drawing
# under several names (and the same icon in several folders), and recall@1 cannot tell such twins
# apart. Judged on pixels (16 × 16 grey, mean absolute difference under 8 of 255), not on any
# feature Kindred computes. A mirror image counts as a copy (since 2026-12-03): the package holds
# left and right arrows, "previous" and "next" icons, and a mirrored copy of one of them is the
# other, pixel for pixel, so the original is not the only right answer to it. Since 2026-12-07 the
# drawing trimmed of its paper is compared too (the same drawing at another size or margin), which
# a held-out set (--seed 21) showed the whole picture's thumbnail missing.
thumbs = [small(p) for p in files]
usable = [i for i, t in enumerate(thumbs) if t is not None]
stack = np.stack([thumbs[i] for i in usable]).reshape(len(usable), 2, -1)
rng = random.Random(seed)
order = rng.sample(usable, len(usable))
originals, taken = [], set()
for i in order:
    if len(originals) == n_originals:
        break
    if os.path.basename(files[i]) in excluded:
        continue
    # Twins whole or trimmed, as they are or mirrored.
    diff = np.abs(stack - thumbs[i].reshape(1, 2, -1)).mean(2).min(1)
    mirrored = np.abs(stack - thumbs[i][:, :, ::-1].reshape(1, 2, -1)).mean(2).min(1)
    twins = {usable[j] for j in np.nonzero(np.minimum(diff, mirrored) < 8)[0]} - {i}
    if not twins:
        originals.append(files[i]); taken.add(i)
rest = [files[i] for i in order if i not in taken]
distractors = rest[:n_distractors]


def crop(im):  # a detail: 70 % of each side, off centre
    w, h = im.size; cw, ch = int(w * 0.7), int(h * 0.7)
    return im.crop((int(w * 0.2), int(h * 0.1), int(w * 0.2) + cw, int(h * 0.1) + ch))

def mat(im):  # a mat a sixth of the shorter side wide, in a mat colour
    w, h = im.size; b = max(4, min(w, h) // 6)
    colour = [(245, 240, 225), (30, 30, 30), (128, 128, 128), (255, 255, 255)][hash(im.size) % 4]
    return ImageOps.expand(im, border=b, fill=colour)

def rescale(im):
    # Half size, as a web copy of a large picture is; double for small ones (clip art is often
    # under 200 px), where halving would leave an icon nobody would call a copy.
    w, h = im.size; f = 0.5 if min(w, h) >= 256 else 2.0
    return im.resize((max(1, round(w * f)), max(1, round(h * f))), Image.BICUBIC)

def recompress(im):
    return im  # written as JPEG quality 30 below

def grey(im):
    return ImageOps.grayscale(im).convert('RGB')

def mirror(im):
    return ImageOps.mirror(im)

def light(im):
    return ImageEnhance.Contrast(ImageEnhance.Brightness(im).enhance(1.25)).enhance(0.75)

def rotate(im):
    return im.rotate(7, resample=Image.BICUBIC, expand=True, fillcolor=(255, 255, 255))

TRANSFORMS = {'crop': crop, 'mat': mat, 'rescale': rescale, 'recompress': recompress, 'grey': grey,
              'mirror': mirror, 'light': light, 'rotate': rotate}

sources = []  # collection file <TAB> the file it copies, for offline scoring against embeddings
for folder, group in [('originals', originals), ('distractors', distractors)]:
    d = os.path.join(out, 'collection', folder)
    os.makedirs(d, exist_ok=True)
    for i, path in enumerate(group):
        target = os.path.join(d, f'{i:05d}-{os.path.basename(path)}')
        shutil.copyfile(path, target)
        sources.append(f'{os.path.abspath(target)}\t{path}')
open(os.path.join(out, 'sources.tsv'), 'w').write('\n'.join(sources) + '\n')
truth = []
for i, path in enumerate(originals):
    im = flat(path)
    name = f'{i:05d}-{os.path.basename(path)}'
    for kind, transform in TRANSFORMS.items():
        d = os.path.join(out, 'queries', kind)
        os.makedirs(d, exist_ok=True)
        stem = os.path.splitext(name)[0]
        copy = transform(im)
        # One change at a time: the recompressed copy is the only lossy file.
        if kind == 'recompress':
            copy.save(os.path.join(d, stem + '.jpg'), quality=30)
        else:
            copy.save(os.path.join(d, stem + '.png'))
    truth.append(name)
open(os.path.join(out, 'originals.txt'), 'w').write('\n'.join(truth) + '\n')
print(f'{len(originals)} originals, {len(distractors)} distractors, {len(TRANSFORMS)} transforms')
