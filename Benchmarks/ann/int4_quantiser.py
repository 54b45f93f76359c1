#!/usr/bin/env python3
"""How well 4-bit codes keep the nearest neighbours of real CNN vectors, by how the range of each
vector's 16 levels is chosen (RESULTS.md, "int4 codes").

For each variant: the mean cosine between a vector and its decoded code, and, for 500 random
queries (the query itself excluded), the fraction of the exact 10 nearest found among the codes'
10, 20 and 64 nearest (64 is what kindredd re-ranks exactly). Both sides are coded, as the graph's
links are between coded rows; the last line keeps the query at int8, as a search does.

usage: int4_quantiser.py EMBEDDINGS.npy   (n × d float32, e.g. `kindred embed` of openclipart;
       Benchmarks/quality/category.sh writes Benchmarks/data/quality/category/cnn-trim-pad.npy)"""
import sys
import numpy as np

x = np.load(sys.argv[1]).astype(np.float32)
x = x[np.isfinite(x).all(1) & (np.linalg.norm(x, axis=1) > 0)]
x /= np.linalg.norm(x, axis=1, keepdims=True)
print(f'{x.shape[0]} vectors × {x.shape[1]}; {100 * (x == 0).mean():.1f} % of components are 0')


def int4(v, clip):
    """16 levels over [max(min, mean − clip σ), min(max, mean + clip σ)]; clip = inf: min to max."""
    mean, sd = v.mean(1, keepdims=True), v.std(1, keepdims=True)
    lo = np.maximum(v.min(1, keepdims=True), mean - clip * sd)
    hi = np.minimum(v.max(1, keepdims=True), mean + clip * sd)
    step = (hi - lo) / 15
    return lo + np.clip(np.rint((v - lo) / np.where(step > 0, step, 1)), 0, 15) * step


def int8(v):
    scale = np.abs(v).max(1, keepdims=True) / 127
    return np.clip(np.rint(v / scale), -127, 127) * scale


queries = np.random.default_rng(0).choice(len(x), 500, replace=False)
exact = x[queries] @ x.T
exact[np.arange(len(queries)), queries] = -9
truth = np.argsort(-exact, 1)[:, :10]
variants = [('int8', int8(x))] + [(f'int4, mean ± {c} σ', int4(x, c)) for c in (2.0, 2.7, 3.5, 5, 8)]
variants.append(('int4, min to max', int4(x, np.inf)))
# What a search does: its query at int8 precision against the int4 rows.
variants.append(('int4 rows min to max, int8 query', int4(x, np.inf), int8(x)))
print('| codes | cosine to the vector | exact 10 in codes\' 10 | in 20 | in 64 |')
print('|---|---:|---:|---:|---:|')
for name, y, *query in variants:
    cosine = (np.sum(x * y, 1) / np.linalg.norm(y, axis=1)).mean()
    approx = (query[0] if query else y)[queries] @ y.T
    approx[np.arange(len(queries)), queries] = -9
    order = np.argsort(-approx, 1)
    found = [np.mean([len(set(truth[i]) & set(order[i, :m])) / 10 for i in range(len(queries))]) for m in (10, 20, 64)]
    print(f'| {name} | {cosine:.4f} | {found[0]:.4f} | {found[1]:.4f} | {found[2]:.4f} |')
