"""Region study: does the query's picture lie inside the candidate's? Scored offline on both dev
sets in one run, by normalised cross-correlation of 32-pixel square thumbnails (as kindredd keeps
them: the file's picture fitted and centred on a dark background), the query's shrunk to 50-100 %
of the candidate's picture and slid over it. Kindred's own version is KindredImaging.RegionMatch;
this one makes thumbnails with Pillow, so its figures are close to, not the same as, kindredd's
(copies-daemon.sh and category-daemon.sh measure those).

For each query the fused default ranks its 64 CNN candidates (pooling.py's functions, root-mean-
square pooling, as kindredd); the best 16 of that ranking get a correlation V; the region term
adds  weight * max(0, V - floor) / (1 - floor)  to their scores. Prints recall@1 per transform on
the copy set and held-out P@10 on the category set, for each variant and a grid of weights.

Variants (VARIANTS='rgb,luma,luma-trimmed-query'): the three colour channels or luma, and luma with
the query's thumbnail trimmed of uniform borders (as the CNN's framing trims).

WIDE=N instead takes each query's N nearest by CNN (not 64) and correlates every one of them, not
only the fused ranking's best 16: can a crop whose original the CNN ranks far down be found by its
thumbnail alone? (Half an hour a variant at N = 256 on one core.)

usage: [VARIANTS=...] [WIDE=N] [CATEGORY_QUERIES=800] python region.py CATEGORY_DIR COPIES ROOT
"""
import os, sys
import numpy as np
from numpy.lib.stride_tricks import sliding_window_view
from PIL import Image, ImageOps

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from pooling import rows, pooled_in_chunks, candidates, fused_scores, copy_truth  # noqa: E402

Image.MAX_IMAGE_PIXELS = None
SIDE, BACKGROUND = 32, (14, 15, 18)
SCALES = (1, 0.9, 0.8, 0.7, 0.6, 0.5)
WIDE = int(os.environ.get('WIDE', '0'))
CHECKED = WIDE or 16
GRID = [(w, f) for w in (0.25, 0.35, 0.5, 0.75, 1) for f in (0.6, 0.7, 0.75, 0.8, 0.85)]
if WIDE:
    GRID = [(w, f) for w in (0.35, 0.5, 0.75, 1, 1.5) for f in (0.75, 0.8, 0.85, 0.9)]


def nearest(sim):
    """Each row's candidates: pooling's 64 best, or the WIDE best."""
    return np.argsort(-sim, 1)[:, :WIDE] if WIDE else candidates([sim])


def flat(path):
    im = ImageOps.exif_transpose(Image.open(path))
    if im.mode in ('RGBA', 'LA', 'P'):
        im = Image.alpha_composite(Image.new('RGBA', im.size, (255, 255, 255, 255)), im.convert('RGBA'))
    return im.convert('RGB')


def picture(path):
    """The thumbnail's picture: the file fitted within SIDE pixels (never enlarged), as RGB."""
    im = flat(path)
    w, h = im.size
    s = min(1, SIDE / max(w, h))
    return np.asarray(im.resize((max(1, round(w * s)), max(1, round(h * s))), Image.BOX))


def trimmed(p, tolerance=24):
    """Uniform borders off, as RGBImage.trimmingUniformBorders does."""
    h, w = p.shape[:2]
    if w < 16 or h < 16:
        return p
    q = p.astype(int)
    near = lambda px, ref: (np.abs(px - ref) <= tolerance).all(-1)
    top, bottom, left, right = 0, h - 1, 0, w - 1
    while top < bottom and near(q[top, :], q[0, 0]).all(): top += 1
    while bottom > top and near(q[bottom, :], q[-1, -1]).all(): bottom -= 1
    while left < right and near(q[top:bottom + 1, left], q[0, 0]).all(): left += 1
    while right > left and near(q[top:bottom + 1, right], q[-1, -1]).all(): right -= 1
    ww, hh = right - left + 1, bottom - top + 1
    if ww < 8 or hh < 8 or ww * hh * 16 < w * h:
        return p
    return p[top:bottom + 1, left:right + 1]


def values(p, luma):
    p = p.astype(np.float32)
    return p @ np.array([0.299, 0.587, 0.114], np.float32) if luma else p


def correlation(query, candidate, luma, cache):
    """The best normalised cross-correlation of the query's picture, at each scale of the largest
    size that fits the candidate's picture, with every window of the candidate's picture (a pixel
    of background more on each side where the thumbnail has one)."""
    qh, qw = query.shape[:2]
    h, w = candidate.shape[:2]
    x0, y0 = (SIDE - w) // 2, (SIDE - h) // 2
    square = np.empty((SIDE, SIDE, 3), np.uint8)
    square[:] = BACKGROUND
    square[y0:y0 + h, x0:x0 + w] = candidate
    region = values(square[max(0, y0 - 1):y0 + h + 1, max(0, x0 - 1):x0 + w + 1], luma)
    fit, best = min(w / qw, h / qh), None
    for scale in SCALES:
        tw, th = round(qw * fit * scale), round(qh * fit * scale)
        if min(tw, th) < 6 or tw > region.shape[1] or th > region.shape[0]:
            continue
        if (tw, th) not in cache:
            t = values(np.asarray(Image.fromarray(query).resize((tw, th), Image.BOX)), luma)
            t = t - t.mean()
            norm = np.linalg.norm(t)
            cache[(tw, th)] = t / norm if norm >= 2 * np.sqrt(t.size) else None
        t = cache[(tw, th)]
        if t is None:
            continue
        windows = sliding_window_view(region, t.shape)
        windows = windows.reshape(windows.shape[:2] + t.shape)
        axes = tuple(range(2, windows.ndim))
        dot = np.tensordot(windows, t, axes=(axes, tuple(range(t.ndim))))
        total, squares = windows.sum(axis=axes), (windows ** 2).sum(axis=axes)
        spread = squares - total * total / t.size
        ok = spread >= 4 * t.size
        if ok.any():
            r = float((dot[ok] / np.sqrt(spread[ok])).max())
            best = r if best is None else max(best, r)
    return -1.0 if best is None else best


def region_scores(cand, score, query_pictures, pictures, luma):
    """V for the best CHECKED of each query's fused ranking; -1 elsewhere."""
    v = np.full(cand.shape, -1.0, np.float32)
    order = np.argsort(-score, 1)
    for q in range(len(cand)):
        cache = {}
        for j in order[q, :CHECKED]:
            v[q, j] = correlation(query_pictures[q], pictures[cand[q, j]], luma, cache)
    return v


def with_region(score, v, weight, floor):
    return score + weight * np.maximum(0, v - floor) / (1 - floor)


def main():
    category, copies, root = sys.argv[1], sys.argv[2], sys.argv[3].rstrip('/') + '/'
    variants = os.environ.get('VARIANTS', 'rgb,luma,luma-trimmed-query').split(',')
    maps, paths = rows(os.path.join(category, 'maps'), 'cnn-trim-pad-map')
    style, hashes = ({p: v for p, v in zip(*reversed(rows(category, n)))} for n in ('style-trim', 'phash-trim'))
    keep = [i for i, p in enumerate(paths) if p in style and p in hashes]
    x = pooled_in_chunks(maps, ('gem', 2))[keep]
    paths = [paths[i] for i in keep]
    db_style = np.stack([style[p] for p in paths]); db_hash = np.stack([hashes[p] for p in paths])
    label_names = [p[len(root):].split('/')[0] for p in paths]
    labels = np.array([sorted(set(label_names)).index(c) for c in label_names])
    pictures = [picture(p) for p in paths]

    # Copies: the 5,200 sources are the database; every transformed copy a query.
    q_maps, q_paths = rows(os.path.join(copies, 'offline', 'maps'), 'cnn-trim-pad-map')
    q_style_d, q_hash_d = ({p: v for p, v in zip(*reversed(rows(os.path.join(copies, 'offline'), n)))}
                           for n in ('style-trim', 'phash-trim'))
    q_style = np.stack([q_style_d[p] for p in q_paths]); q_hash = np.stack([q_hash_d[p] for p in q_paths])
    qx = pooled_in_chunks(q_maps, ('gem', 2))
    src, truth, kinds = copy_truth(copies, paths, q_paths)
    xs = x[src]
    cand = nearest(qx @ xs.T)
    score = fused_scores(qx, xs, q_style, db_style[src], q_hash, db_hash[src], cand)
    print('copies: the original among the 64 candidates:',
          {k: round(float((cand == truth[:, None]).any(1)[kinds == k].mean()), 3) for k in sorted(set(kinds))})
    q_pictures = [picture(q) for q in q_paths]

    # Category: a seeded sample of category.py's held-out half, against every item but itself.
    n = len(paths)
    held = np.sort(np.random.default_rng(19).permutation(n)[n // 2:])
    held = held[np.random.default_rng(5).permutation(len(held))[:int(os.environ.get('CATEGORY_QUERIES', '800'))]]
    sim = x[held] @ x.T
    sim[np.arange(len(held)), held] = -np.inf
    c_cand = nearest(sim)
    c_score = fused_scores(x[held], x, db_style[held], db_style, db_hash[held], db_hash, c_cand)

    for variant in variants:
        luma, trim = variant != 'rgb', variant.endswith('trimmed-query')
        qp = [trimmed(p) for p in q_pictures] if trim else q_pictures
        v = region_scores(cand, score, qp, [pictures[i] for i in src], luma)
        cp = [trimmed(pictures[i]) for i in held] if trim else [pictures[i] for i in held]
        cv = region_scores(c_cand, c_score, cp, pictures, luma)
        for weight, floor in [(0, 0.5)] + GRID:
            first = np.take_along_axis(cand, np.argmax(with_region(score, v, weight, floor), 1)[:, None], 1)[:, 0]
            hit = first == truth
            recall = {k: round(float(hit[kinds == k].mean()), 3) for k in sorted(set(kinds))}
            top = np.take_along_axis(
                c_cand, np.argsort(-with_region(c_score, cv, weight, floor), 1, kind='stable')[:, :10], 1)
            p10 = float((labels[top] == labels[held][:, None]).mean())
            print(f'{variant:20s} weight {weight:<4} floor {floor:<4} copies all {hit.mean():.4f} ' +
                  ' '.join(f'{k} {r}' for k, r in recall.items()) + f'  category P@10 {p10:.4f}', flush=True)


if __name__ == '__main__':
    main()
