#!/usr/bin/env python3
"""umap-learn fitted on a seeded sample of the rows, the others placed by its transform: the peer
of `kindred analyze umap --sample` (and of kindredd's refit above [refit] umap_sample).

usage: umap_sample_peer.py X.npy OUT.npy --sample N [--neighbors 15] [--min-dist 0.1] [--dims 2]
       [--metric cosine] [--seed 1]
Prints one JSON line: fit and transform seconds."""
import argparse, json, time
import numpy as np

ap = argparse.ArgumentParser()
ap.add_argument('x'); ap.add_argument('out'); ap.add_argument('--sample', type=int, required=True)
ap.add_argument('--neighbors', type=int, default=15); ap.add_argument('--min-dist', type=float, default=0.1)
ap.add_argument('--dims', type=int, default=2); ap.add_argument('--metric', default='cosine')
ap.add_argument('--seed', type=int, default=1)
a = ap.parse_args()

import umap
x = np.load(a.x)
rows = np.sort(np.random.default_rng(a.seed).choice(len(x), a.sample, replace=False))
rest = np.setdiff1d(np.arange(len(x)), rows)
def make():
    return umap.UMAP(n_neighbors=a.neighbors, min_dist=a.min_dist, n_components=a.dims, metric=a.metric,
                     random_state=None, low_memory=True)
# numba's compilation (fit and transform) outside the timing, as analysis_peers.py does.
make().fit(x[:6000]).transform(x[6000:7000])
t0 = time.time()
model = make().fit(x[rows])
t1 = time.time()
placed = model.transform(x[rest])
t2 = time.time()
out = np.empty((len(x), a.dims), np.float32)
out[rows] = model.embedding_
out[rest] = placed
np.save(a.out, out)
print(json.dumps({'step': 'umap-sample', 'fitted': int(a.sample), 'placed': int(len(rest)),
                  'fit_s': round(t1 - t0, 2), 'transform_s': round(t2 - t1, 2), 'wall_s': round(t2 - t0, 2)}))
