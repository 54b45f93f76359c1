"""Copy detection dev set, offline scoring: recall@1 of each preparation and fusion, per transform.

The database is the copies collection (200 originals + 5,000 distractors), its vectors taken from
embed-variants.sh's output by the file each one copies (sources.tsv); the queries are the
transformed copies (copies-embed.sh). A query is found when its original ranks first.

usage: python copies_score.py COPIES CATEGORY_DIR [STYLE_WEIGHT PHASH_WEIGHT EXPANSION]
"""
import itertools, json, os, sys
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


def described(*names):
    """Whether both sides hold these variants (a partial run describes only what it measures)."""
    names = [n.replace('-flipavg', '') for n in names]
    return all(os.path.exists(os.path.join(d, n + '.npy')) for d in (category, offline) for n in names)


if all(os.path.exists(os.path.join(d, 'reference', 'feats.npy')) for d in (category, offline)):
    ref_db, ref_q = matrices('reference', peer=True)
    report('reference', np.argmax(unit(ref_q) @ unit(ref_db).T, 1))
for cnn, style, phash in [('cnn-crop', 'style', 'phash'), ('cnn-pad', 'style', 'phash'),
                          ('cnn-trim-pad', 'style-trim', 'phash-trim'),
                          ('cnn-trim-pad-m10', 'style-trim', 'phash-trim'),
                          ('cnn-trim-pad-flipavg', 'style-trim', 'phash-trim')]:
    if not described(cnn, style, phash) or (cnn.endswith('flipavg') and not described('cnn-trim-pad-mirror')):
        continue
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
# (copies-embed.sh describes the mirrored queries; a partial run without them skips these rows.)
mirrored = all(os.path.exists(os.path.join(offline, n + '.npy')) for n in ('style-trim-mirror', 'phash-trim-mirror'))
if mirrored:
    mirrored_style, mirrored_hash = load(offline, 'style-trim-mirror'), load(offline, 'phash-trim-mirror')
    qs_m = unit(np.stack([mirrored_style[q] for q in queries]))
    qb_m = bits(np.stack([mirrored_hash[q] for q in queries]))
sim = qx @ x.T
cand = np.argsort(-sim, 1)[:, :CANDIDATES]
c = np.take_along_axis(sim, cand, 1)
for ws, wp in [(0.5, 0.2), (0.5, 0.3), (0.5, 0.5)] if mirrored else []:
    def part(qs_, qb_):
        return ws * np.einsum('qd,qcd->qc', qs_, s[cand]) + wp * (1 - np.abs(qb_[:, None, :] - b[cand]).sum(2) / 64)
    first = cand[np.arange(len(cand)), np.argmax(c + np.maximum(part(qs, qb), part(qs_m, qb_m)), 1)]
    report('cnn-trim-pad+fused-mirror-aware', first, style_weight=ws, phash_weight=wp, expansion=0)
# A colourless query (a greyscale copy; StyleDescriptor: at least 99.5 % of its pixels in the
# lowest saturation bin) scored with what colour cannot change: the style vector without its hue,
# saturation and layout-colour parts, and/or a heavier pHash (luma only). Colour queries keep the
# default, so every other transform of a colour picture is untouched.
raw_style = np.stack([load(offline, 'style-trim')[q] for q in queries])
sat = raw_style[:, 24:32]
colourless = sat[:, 0] / np.maximum(sat.sum(1), 1e-12) >= 0.995
print(json.dumps({'colourless_queries': {k: int(colourless[kinds == k].sum()) for k in sorted(set(kinds))}}))
def colour_free(v, parts):
    """The blocks colour cannot change: edges and texture (computed on luma), each layout cell's
    luma (from its mean R, G, B); optionally the value histogram and each cell's value spread
    (value is HSV's, the largest channel, which greying lowers for saturated colours)."""
    cells = v[:, 78:142].reshape(len(v), 16, 4)
    luma = cells[:, :, 0] * 0.299 + cells[:, :, 1] * 0.587 + cells[:, :, 2] * 0.114
    blocks = {'value': v[:, 32:48], 'edges': v[:, 48:68], 'texture': v[:, 68:78], 'luma': luma, 'spread': cells[:, :, 3]}
    return unit(np.concatenate([blocks[p] for p in parts], 1))


FREE = {'': ['value', 'edges', 'texture', 'luma', 'spread'], '-no-value': ['edges', 'texture', 'luma'],
        '-no-value-hist': ['edges', 'texture', 'luma', 'spread']}

st = np.einsum('qd,qcd->qc', qs, s[cand])
ph = 1 - np.abs(qb[:, None, :] - b[cand]).sum(2) / 64
default = c + 0.5 * st + 0.2 * ph
variants = [('heavier-phash', 0.5, 0.5, None), ('phash-only', 0.0, 0.5, None)]
for suffix in FREE:
    variants += [('colour-free-style' + suffix, 0.5, 0.2, suffix), ('colour-free-style' + suffix + '+phash', 0.5, 0.5, suffix)]
for name, ws, wp, free in variants:
    if free is not None:
        s_free, qs_free = colour_free(matrices('style-trim')[0], FREE[free]), colour_free(raw_style, FREE[free])
        st_free = np.einsum('qd,qcd->qc', qs_free, s_free[cand])
    grey_score = c + ws * (st_free if free is not None else st) + wp * ph
    score = np.where(colourless[:, None], grey_score, default)
    report(f'cnn-trim-pad+fused-colourless-{name}', cand[np.arange(len(cand)), np.argmax(score, 1)],
           style_weight=ws, phash_weight=wp, expansion=0)
    if free == '-no-value' and wp == 0.2:
        for a in (0.25, 0.5, 0.75):
            blend = c + ws * (a * st_free + (1 - a) * st) + wp * ph
            report(f'cnn-trim-pad+fused-colourless-{name}-blend-{a}',
                   cand[np.arange(len(cand)), np.argmax(np.where(colourless[:, None], blend, default), 1)],
                   style_weight=ws, phash_weight=wp, expansion=0)
        # The same when either side is colourless (a colour query against a black-and-white original).
        sat_db = matrices('style-trim')[0][:, 24:32]
        colourless_db = sat_db[:, 0] / np.maximum(sat_db.sum(1), 1e-12) >= 0.995
        either = colourless[:, None] | colourless_db[cand]
        score = np.where(either, grey_score, default)
        report(f'cnn-trim-pad+fused-colourless-{name}-either-side', cand[np.arange(len(cand)), np.argmax(score, 1)],
               style_weight=ws, phash_weight=wp, expansion=0)
# The colourless rule (edges, texture, layout luma) with the mirror-aware probe: each candidate
# scored by the better of the query's and its mirror's style and hash.
free = FREE['-no-value']
s_free = colour_free(matrices('style-trim')[0], free)
qs_free = colour_free(raw_style, free)
if mirrored:
    qs_free_m = colour_free(np.stack([mirrored_style[q] for q in queries]), free)
for wp in (0.2, 0.3) if mirrored else ():
    def part(qs_, qsf_, qb_):
        whole = np.einsum('qd,qcd->qc', qs_, s[cand])
        parts = np.einsum('qd,qcd->qc', qsf_, s_free[cand])
        st_ = np.where(colourless[:, None], parts, whole)
        return 0.5 * st_ + wp * (1 - np.abs(qb_[:, None, :] - b[cand]).sum(2) / 64)
    first = cand[np.arange(len(cand)), np.argmax(c + np.maximum(part(qs, qs_free, qb), part(qs_m, qs_free_m, qb_m)), 1)]
    report('cnn-trim-pad+fused-colourless-mirror-aware', first, style_weight=0.5, phash_weight=wp, expansion=0)
# Query expansion by the default ranking's best `e`, only for a query whose nearest CNN neighbour
# is below `below` (category.py scores the same rule on the category set). Measured, not built.
st_default = np.where(colourless[:, None], np.einsum('qd,qcd->qc', qs_free, s_free[cand]), st)
default = c + 0.5 * st_default + 0.2 * ph
report('cnn-trim-pad+fused-default', cand[np.arange(len(cand)), np.argmax(default, 1)],
       style_weight=0.5, phash_weight=0.2, expansion=0)
best = np.take_along_axis(cand, np.argsort(-default, axis=1, kind='stable'), 1)
for e, below in itertools.product((2, 3), (0.8, 0.85, 0.9, 0.95, None)):
    expanded = np.einsum('qd,qcd->qc', unit(qx + x[best[:, :e]].sum(1)), x[cand])
    cnn_term = expanded if below is None else np.where((c[:, 0] < below)[:, None], expanded, c)
    report(f'cnn-trim-pad+fused-default+qe{e}-below-{below}',
           cand[np.arange(len(cand)), np.argmax(cnn_term + 0.5 * st_default + 0.2 * ph, 1)],
           style_weight=0.5, phash_weight=0.2, expansion=e, expand_below=below)
json.dump(results, open(os.path.join(offline, 'scores.json'), 'w'), indent=1)
