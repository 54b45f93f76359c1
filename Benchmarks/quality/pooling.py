"""Pooling study: how the CNN's last feature map (7 × 7 × 1280, after ReLU6) is best turned into
one vector, scored on both dev sets in one run, from the unpooled maps `kindred embed --pool map`
writes (pooling-maps.sh), so every pooling sees the same network outputs.

Category retrieval: held-out P@10 (category.py's seeded split and labels), `cnn` alone and the
fused default (style 0.5 with the colourless rule, pHash 0.2, expansion by 2 below 0.9, 64
candidates; as kindredd ranks). Copy detection: recall@1 per transform, the same two rankings.

usage: [POOLINGS='[["gem", 2], …]'] [WEIGHTS='[[0.5, 0.2], …]'] python pooling.py CATEGORY_DIR COPIES ROOT
  CATEGORY_DIR: holds maps/cnn-trim-pad-map.npy/.txt (every file), style-trim, phash-trim
  COPIES: copies.py's output; its offline/ holds the queries' maps/cnn-trim-pad-map, style-trim, phash-trim
"""
import json, os, sys
import numpy as np

K, CANDIDATES, SIDE, C = 10, 64, 7, 1280


def rows(d, name):
    x = np.load(os.path.join(d, name + '.npy'), mmap_mode='r')
    return x, open(os.path.join(d, name + '.txt')).read().split('\n')[: len(x)]


def unit(x):
    x = np.asarray(x, np.float32)
    return x / np.maximum(np.linalg.norm(x, axis=-1, keepdims=True), 1e-12)


def bits(x):
    return np.unpackbits(np.asarray(x, np.uint8), axis=1).astype(np.float32)


def regions(levels):
    """R-MAC's square regions on the 7 × 7 map: level l has l × l regions of side ⌈2·7/(l+1)⌉,
    evenly placed."""
    out = []
    for l in range(1, levels + 1):
        w = min(SIDE, int(np.ceil(2 * SIDE / (l + 1))))
        starts = np.unique(np.round(np.linspace(0, SIDE - w, l)).astype(int))
        out += [(y, x, w) for y in starts for x in starts]
    return out


def gem(m, p):
    """Generalised mean over axis 1 (positions): p 1 the mean, large p towards the max."""
    if p == np.inf:
        return m.max(1)
    return np.power(np.mean(np.power(np.maximum(m, 1e-6), p), 1), 1 / p)


def pool(maps, how):
    """maps: n × 49 × 1280 (position-major, row by row). Returns n × 1280, L2-normalised."""
    kind, p = how
    if kind == 'gem':
        return unit(gem(maps, p))
    grid = maps.reshape(len(maps), SIDE, SIDE, C)
    if kind == 'regional':  # sum of L2-normalised regional GeMs (R-MAC without whitening)
        total = 0
        for y, x, w in regions(3):
            total = total + unit(gem(grid[:, y:y + w, x:x + w].reshape(len(maps), w * w, C), p))
        return unit(total)
    if kind == 'mean+regional':  # the global mean plus R-MAC (levels 2-3), each unit length
        total = unit(gem(maps, 1))
        for y, x, w in regions(3)[1:]:
            total = total + unit(gem(grid[:, y:y + w, x:x + w].reshape(len(maps), w * w, C), p)) / (len(regions(3)) - 1)
        return unit(total)
    raise ValueError(kind)


def pooled_in_chunks(maps, how, chunk=512):
    return np.concatenate([pool(np.asarray(maps[i:i + chunk], np.float32).reshape(-1, SIDE * SIDE, C), how)
                           for i in range(0, len(maps), chunk)])


# The fused default's non-CNN terms, as kindredd scores them (Fusion; copies_score.py's rows).
def colourless(style):
    sat = style[:, 24:32]
    return sat[:, 0] / np.maximum(sat.sum(1), 1e-12) >= 0.995


def colour_free(v):
    cells = v[:, 78:142].reshape(len(v), 16, 4)
    luma = cells[:, :, 0] * 0.299 + cells[:, :, 1] * 0.587 + cells[:, :, 2] * 0.114
    return unit(np.concatenate([v[:, 48:68], v[:, 68:78], luma], 1))


WEIGHTS = (0.5, 0.2)  # kindredd's style and pHash weights (Schema/kindred.toml)


def fused_scores(qx, x, q_style, style, q_hash, hashes, cand, weights=WEIGHTS):
    """The fused default's scores of the candidates `cand` (queries × 64): cosine + 0.5 style
    (colour-free parts for a colourless query) + 0.2 pHash similarity, the CNN term from a query
    expanded by the ranking's best 2 when its nearest candidate is under 0.9."""
    c = np.einsum('qd,qcd->qc', qx, x[cand])
    s, sf = unit(style), colour_free(style)
    st = np.where(colourless(q_style)[:, None], np.einsum('qd,qcd->qc', colour_free(q_style), sf[cand]),
                  np.einsum('qd,qcd->qc', unit(q_style), s[cand]))
    ph = 1 - np.abs(bits(q_hash)[:, None, :] - bits(hashes)[cand]).sum(2) / 64
    ws, wp = weights
    best = np.take_along_axis(cand, np.argsort(-(c + ws * st + wp * ph), 1, kind='stable'), 1)
    expanded = np.einsum('qd,qcd->qc', unit(qx + x[best[:, :2]].sum(1)), x[cand])
    return np.where((c.max(1) < 0.9)[:, None], expanded, c) + ws * st + wp * ph


def candidates(sims, exclude=None):
    """The 64 best by the larger of `sims` (one walk per query vector, merged)."""
    sim = np.maximum.reduce(sims)
    if exclude is not None:
        sim[np.arange(len(sim)), exclude] = -np.inf
    return np.argsort(-sim, 1)[:, :CANDIDATES]


def fused_first(qx, x, q_style, style, q_hash, hashes, exclude=None, n=1, mirrored=None, per_query=None,
                weights=WEIGHTS):
    """The fused default's best n for each query. `mirrored`: the query's mirror image's (CNN
    vector, style, hash); each candidate then scores by the better orientation, or, with
    `per_query` (a cosine margin), the whole query is taken mirrored when its mirror's nearest
    CNN neighbour is nearer by more than the margin."""
    if mirrored and per_query is not None:
        plain, flipped = (np.max(q @ x.T, 1) for q in (qx, mirrored[0]))
        flip = flipped > plain + per_query
        pick = lambda a, b: np.where(flip[:, None], b, a)
        return fused_first(pick(qx, mirrored[0]), x, pick(q_style, mirrored[1]), style,
                           pick(q_hash, mirrored[2]), hashes, exclude, n, weights=weights)
    qxs = [qx] + ([mirrored[0]] if mirrored else [])
    cand = candidates([q @ x.T for q in qxs], exclude)
    score = fused_scores(qx, x, q_style, style, q_hash, hashes, cand, weights)
    if mirrored:
        score = np.maximum(score, fused_scores(*mirrored[:1], x, mirrored[1], style, mirrored[2], hashes, cand, weights))
    order = np.argsort(-score, 1, kind='stable')[:, :n]
    return np.take_along_axis(cand, order, 1)


def copy_truth(copies, paths, q_paths):
    """The copy set's answers: each source's row among `paths` (the database), and for each query
    (a file of COPIES/queries/<kind>/) the index of its source and its kind."""
    sources = [l.split('\t') for l in open(os.path.join(copies, 'sources.tsv')).read().split('\n') if l]
    row_of = {p: i for i, p in enumerate(paths)}
    src_rows = np.array([row_of[s] for _, s in sources])
    stems = {os.path.splitext(os.path.basename(a))[0]: i for i, (a, _) in enumerate(sources)}
    truth = np.array([stems[os.path.splitext(os.path.basename(q))[0]] for q in q_paths])
    return src_rows, truth, np.array([q.split('/')[-2] for q in q_paths])


def main():
    category, copies, root = sys.argv[1], sys.argv[2], sys.argv[3].rstrip('/') + '/'
    maps, paths = rows(os.path.join(category, 'maps'), 'cnn-trim-pad-map')
    style, hashes = ({p: v for p, v in zip(*reversed(rows(category, n)))} for n in ('style-trim', 'phash-trim'))
    keep = [i for i, p in enumerate(paths) if p in style and p in hashes]
    paths = [paths[i] for i in keep]
    label_names = [p[len(root):].split('/')[0] for p in paths]
    classes = sorted(set(label_names))
    labels = np.array([classes.index(c) for c in label_names])
    n = len(paths)
    order = np.random.default_rng(19).permutation(n)
    tune, held = np.sort(order[: n // 2]), np.sort(order[n // 2:])
    db_style = np.stack([style[p] for p in paths]); db_hash = np.stack([hashes[p] for p in paths])

    q_maps, q_paths = rows(os.path.join(copies, 'offline', 'maps'), 'cnn-trim-pad-map')
    q_style_d, q_hash_d = ({p: v for p, v in zip(*reversed(rows(os.path.join(copies, 'offline'), n)))}
                           for n in ('style-trim', 'phash-trim'))
    q_style = np.stack([q_style_d[p] for p in q_paths]); q_hash = np.stack([q_hash_d[p] for p in q_paths])
    q_maps_m, q_paths_m = rows(os.path.join(copies, 'offline', 'maps'), 'cnn-trim-pad-mirror-map')
    assert q_paths_m == q_paths
    q_style_m, q_hash_m = (np.stack([d[p] for p in q_paths]) for d in (
        {p: v for p, v in zip(*reversed(rows(os.path.join(copies, 'offline'), n)))}
        for n in ('style-trim-mirror', 'phash-trim-mirror')))
    src_rows, truth, kinds = copy_truth(copies, paths, q_paths)

    hows = [('gem', 1)] + [(k, p) for k, p in json.loads(os.environ.get('POOLINGS', 'null')) or
                           [('gem', 2), ('gem', 3), ('gem', 4), ('gem', np.inf), ('regional', 1), ('regional', 3),
                            ('regional', np.inf), ('mean+regional', 1), ('mean+regional', 3)]]
    for how in hows:
        x = pooled_in_chunks(maps, how)[keep]
        qx = pooled_in_chunks(q_maps, how)
        row = {'pooling': f'{how[0]} p={how[1]}'}
        # Category: held-out queries against every item, never themselves.
        sim = x[held] @ x.T
        sim[np.arange(len(held)), held] = -np.inf
        top = np.argsort(-sim, 1)[:, :K]
        row['category_cnn_p10'] = round(float((labels[top] == labels[held][:, None]).mean()), 4)
        top = fused_first(x[held], x, db_style[held], db_style, db_hash[held], db_hash, exclude=held, n=K)
        row['category_fused_p10'] = round(float((labels[top] == labels[held][:, None]).mean()), 4)
        # Copies: the 5,200 sources are the database.
        xs = x[src_rows]
        first_cnn = np.argmax(qx @ xs.T, 1)
        first = fused_first(qx, xs, q_style, db_style[src_rows], q_hash, db_hash[src_rows])
        # SIMILAR-IMAGE taking the sent picture both ways round.
        qm = pooled_in_chunks(q_maps_m, how)
        first_m = fused_first(qx, xs, q_style, db_style[src_rows], q_hash, db_hash[src_rows],
                              mirrored=(qm, q_style_m, q_hash_m))
        first_cnn_m = np.argmax(np.maximum(qx @ xs.T, qm @ xs.T), 1)
        chosen = [(f'fused_one_way_margin_{m}', fused_first(qx, xs, q_style, db_style[src_rows], q_hash,
                                                            db_hash[src_rows], mirrored=(qm, q_style_m, q_hash_m),
                                                            per_query=m)[:, 0]) for m in (0.0, 0.02, 0.05)]
        for name, f in [('cnn', first_cnn), ('fused', first[:, 0]), ('cnn_both_ways', first_cnn_m),
                        ('fused_both_ways', first_m[:, 0])] + chosen:
            hit = f == truth
            row[f'copies_{name}'] = {k: round(float(hit[kinds == k].mean()), 3) for k in sorted(set(kinds))} | {
                'all': round(float(hit.mean()), 4)}
        print(json.dumps(row), flush=True)
        # WEIGHTS='[[0.3, 0.1], …]': the fusion's style and pHash weights again, on this pooling:
        # category P@10 on the tuning half (where a choice would be made) and held out, copies.
        for weights in json.loads(os.environ.get('WEIGHTS', '[]')):
            grid = {'pooling': row['pooling'], 'style_weight': weights[0], 'phash_weight': weights[1]}
            for half, queries in (('tune', tune), ('held', held)):
                top = fused_first(x[queries], x, db_style[queries], db_style, db_hash[queries], db_hash,
                                  exclude=queries, n=K, weights=weights)
                grid[f'category_fused_p10_{half}'] = round(float((labels[top] == labels[queries][:, None]).mean()), 4)
            hit = fused_first(qx, xs, q_style, db_style[src_rows], q_hash, db_hash[src_rows], weights=weights)[:, 0] == truth
            grid['copies_fused'] = {k: round(float(hit[kinds == k].mean()), 3) for k in sorted(set(kinds))} | {
                'all': round(float(hit.mean()), 4)}
            print(json.dumps(grid), flush=True)


if __name__ == '__main__':
    main()
