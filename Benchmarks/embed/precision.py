"""Reduced precision against fp32, step 2 (precision.sh embeds): the cosine between each file's
fp32 and reduced-precision vectors, over openclipart and the wallpapers apart; and category P@10
and mAP@10 (labels = openclipart's top-level folder, exact cosine search, a query never finds
itself) with each, on category.py's held-out half (seed 19) and on every query, with how many of
the ten answers the two precisions share.

usage: python precision.py FP32 OTHER CLIPART_ROOT   (FP32, OTHER: .npy and .txt without suffix)
"""
import json, os, sys
import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(__file__), '..', 'quality'))
from category import K, scores, top, unit  # noqa: E402  the dev set's own scoring


def load(stem):
    x = np.load(stem + '.npy')
    paths = open(stem + '.txt').read().split('\n')[: len(x)]
    return dict(zip(paths, x))


def cosines(a, b):
    return (unit(a) * unit(b)).sum(1)


def summary(c):
    return {'files': len(c), 'min': round(float(c.min()), 5), 'p1': round(float(np.percentile(c, 1)), 5),
            'median': round(float(np.median(c)), 5), 'below_0.999': int((c < 0.999).sum())}


def main():
    base, other, root = load(sys.argv[1]), load(sys.argv[2]), sys.argv[3].rstrip('/') + '/'
    common = sorted(set(base) & set(other))
    clipart = [p for p in common if p.startswith(root)]
    walls = [p for p in common if not p.startswith(root)]
    name = os.path.basename(sys.argv[2])
    for label, group in (('openclipart', clipart), ('wallpapers', walls)):
        if group:
            c = cosines(np.stack([base[p] for p in group]), np.stack([other[p] for p in group]))
            print(json.dumps({'cosine': f'{name} against fp32', 'set': label, **summary(c)}))

    label_names = [p[len(root):].split('/')[0] for p in clipart]
    classes = sorted(set(label_names))
    labels = np.array([classes.index(c) for c in label_names])
    counts = np.bincount(labels)
    n = len(clipart)
    order = np.random.default_rng(19).permutation(n)  # category.py's split
    queries = {'held-out half': np.sort(order[n // 2:]), 'every query': np.arange(n)}
    ranked = {}
    for precision, vectors in (('fp32', base), (name, other)):
        x = unit(np.stack([vectors[p] for p in clipart]))
        for which, q in queries.items():
            ranked[precision, which] = top(x[q] @ x.T, q, K)
            p10, map10 = scores(ranked[precision, which], labels, q, counts)
            print(json.dumps({'precision': precision, 'queries': which, 'n': len(q),
                              'P@10': round(p10, 4), 'mAP@10': round(map10, 4)}))
    for which in queries:
        a, b = ranked['fp32', which], ranked[name, which]
        shared = np.mean([len(set(r) & set(s)) for r, s in zip(a, b)])
        print(json.dumps({'queries': which, 'answers shared of 10': round(float(shared), 3)}))


main()
