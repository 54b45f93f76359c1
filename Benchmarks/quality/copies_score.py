"""Copy detection dev set, offline scoring: recall@1 of each preparation and fusion, per transform.

The database is the copies collection (200 originals + 5,000 distractors), its vectors taken from
embed-variants.sh's output by the file each one copies (sources.tsv); the queries are the
transformed copies (copies-embed.sh). A query is found when its original ranks first.

usage: python copies_score.py COPIES CATEGORY_DIR [STYLE_WEIGHT PHASH_WEIGHT EXPANSION]
"""
import json, os, sys
import numpy as np

CANDIDATES = 64  # kindredd's [similar] candidates
copies, category = sys.argv[1], sys.argv[2]
chosen = tuple(float(v) for v in sys.argv[3:6]) if len(sys.argv) > 5 else None


def load(d, name):
    x = np.load(os.path.join(d, name + '.npy'))
    return dict(zip(open(os.path.join(d, name + '.txt')).read().split('\n')[: len(x)], x))


def unit(x):
    x = x.astype(np.float32)
    return x / np.maximum(np.linalg.norm(x, axis=1, keepdims=True), 1e-12)


def bits(x):
    return np.unpackbits(x.astype(np.uint8), axis=1).astype(np.float32)


sources = [l.split('\t') for l in open(os.path.join(copies, 'sources.tsv')).read().split('\n') if l]
names = [os.path.basename(a) for a, _ in sources]
row_of = {n: i for i, n in enumerate(names)}
offline = os.path.join(copies, 'offline')
queries = [l for l in open(os.path.join(offline, 'files.txt')).read().split('\n') if l]
kinds = np.array([q.split('/')[-2] for q in queries])
# The original a query copies: its file name's stem is the original's stem.
stems = {os.path.splitext(n)[0]: i for i, n in enumerate(names)}
truth = np.array([stems[os.path.splitext(os.path.basename(q))[0]] for q in queries])


def matrices(name, peer=False):
    if peer:
        f = np.load(os.path.join(category, 'reference', 'feats.npy'))
        db = dict(zip(open(os.path.join(category, 'reference', 'paths.txt')).read().split('\n')[: len(f)], f))
        f = np.load(os.path.join(offline, 'reference', 'feats.npy'))
        qs = dict(zip(open(os.path.join(offline, 'reference', 'paths.txt')).read().split('\n')[: len(f)], f))
    else:
        db, qs = load(category, name), load(offline, name)
    # A file a pipeline could not read is a zero row: never found, never in the way.
    zero = np.zeros_like(next(iter(db.values())))
    return np.stack([db.get(src, zero) for _, src in sources]), np.stack([qs.get(q, zero) for q in queries])


def recall(ranked_first):
    hit = ranked_first == truth
    return {k: round(float(hit[kinds == k].mean()), 4) for k in sorted(set(kinds))} | {'all': round(float(hit.mean()), 4)}


results = []
def report(method, first, **extra):
    row = {'method': method, **recall(first), **extra}
    results.append(row)
    print(json.dumps(row))


ref_db, ref_q = matrices('reference', peer=True)
report('reference', np.argmax(unit(ref_q) @ unit(ref_db).T, 1))
for cnn, style, phash in [('cnn-crop', 'style', 'phash'), ('cnn-pad', 'style', 'phash'),
                          ('cnn-trim-pad', 'style-trim', 'phash-trim'),
                          ('cnn-trim-pad-m10', 'style-trim', 'phash-trim'),
                          ('cnn-trim-pad-flipavg', 'style-trim', 'phash-trim')]:
    if cnn.endswith('flipavg'):
        a, qa = matrices('cnn-trim-pad'); m, qm = matrices('cnn-trim-pad-mirror')
        x, qx = unit(a + m), unit(qa + qm)
    else:
        x, qx = (unit(v) for v in matrices(cnn))
    s, qs = (unit(v) for v in matrices(style))
    b, qb = (bits(v) for v in matrices(phash))
    sim = qx @ x.T
    report(cnn, np.argmax(sim, 1))
    cand = np.argsort(-sim, 1)[:, :CANDIDATES]
    for ws, wp, e in ([chosen] if chosen else []) + [(0.5, 0.2, 0), (1.0, 0.5, 0), (0.5, 0.5, 0), (0.5, 1.0, 0)]:
        e = int(e)
        c = np.take_along_axis(sim, cand, 1)
        if e:
            c = np.einsum('qd,qcd->qc', unit(qx + x[cand[:, :e]].sum(1)), x[cand])
        st = np.einsum('qd,qcd->qc', qs, s[cand])
        ph = 1 - np.abs(qb[:, None, :] - b[cand]).sum(2) / 64
        first = cand[np.arange(len(cand)), np.argmax(c + ws * st + wp * ph, 1)]
        report(f'{cnn}+fused', first, style_weight=ws, phash_weight=wp, expansion=e)
# The query's style and hash taken mirrored too, each candidate scored by the better orientation
# (measured, not kept: it costs the other transforms what it gains on mirrors).
x, qx = (unit(v) for v in matrices('cnn-trim-pad'))
s, qs = (unit(v) for v in matrices('style-trim'))
b, qb = (bits(v) for v in matrices('phash-trim'))
mirrored_style, mirrored_hash = load(offline, 'style-trim-mirror'), load(offline, 'phash-trim-mirror')
qs_m = unit(np.stack([mirrored_style[q] for q in queries]))
qb_m = bits(np.stack([mirrored_hash[q] for q in queries]))
sim = qx @ x.T
cand = np.argsort(-sim, 1)[:, :CANDIDATES]
c = np.take_along_axis(sim, cand, 1)
for ws, wp in [(0.5, 0.2), (0.5, 0.3), (0.5, 0.5)]:
    def part(qs_, qb_):
        return ws * np.einsum('qd,qcd->qc', qs_, s[cand]) + wp * (1 - np.abs(qb_[:, None, :] - b[cand]).sum(2) / 64)
    first = cand[np.arange(len(cand)), np.argmax(c + np.maximum(part(qs, qb), part(qs_m, qb_m)), 1)]
    report('cnn-trim-pad+fused-mirror-aware', first, style_weight=ws, phash_weight=wp, expansion=0)
json.dump(results, open(os.path.join(offline, 'scores.json'), 'w'), indent=1)
