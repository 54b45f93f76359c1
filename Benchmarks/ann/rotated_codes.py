#!/usr/bin/env python3
"""Could the HNSW walk run on codes of 1-3 bits a component? (RESULTS.md, "Walk codes below int4").

The walk is memory-bound: 83 % of the int8 kernel's samples wait on a 1,296-byte row. This measures,
brute force (no graph), how many of the exact 10 nearest a code keeps among its C nearest (C = 64,
what kindredd re-ranks today, and 128, 256), for codes of `bits` per component over each vector
(both sides coded except where the query is float, as a search's query is kept finer):

- `scalar`: per-vector levels over mean ± k σ (k by bits) of the vector itself, as int4 does over
  min…max;
- `rotated`: the same after subtracting the collection's mean and a random orthogonal rotation
  (RaBitQ's preparation), which spreads every vector's energy evenly over the components, so a
  clipped range loses little even for sparse, heavy-tailed CNN features;
- `rabitq-1`: RaBitQ's 1-bit codes (signs after the rotation) with its unbiased estimator.

usage: rotated_codes.py VECTORS.npy [--n 100000] [--queries 200]
       (real: `kindred embed` of openclipart, Benchmarks/data/quality/category/cnn-trim-pad.npy;
        synthetic: Benchmarks/data/v100k-1280/base.npy from vectors_chunked.py)"""
import argparse
import numpy as np

ap = argparse.ArgumentParser()
ap.add_argument('vectors')
ap.add_argument('--n', type=int, default=100_000)
ap.add_argument('--queries', type=int, default=200)
args = ap.parse_args()

x = np.load(args.vectors, mmap_mode='r')[:args.n].astype(np.float32)
x = x[np.isfinite(x).all(1) & (np.linalg.norm(x, axis=1) > 0)]
x /= np.linalg.norm(x, axis=1, keepdims=True)
n, d = x.shape
rng = np.random.default_rng(0)
queries = rng.choice(n, min(args.queries, n), replace=False)
exact = x[queries] @ x.T
exact[np.arange(len(queries)), queries] = -9
truth = np.argsort(-exact, 1)[:, :10]
print(f'{n} vectors × {d}; {100 * (x == 0).mean():.1f} % of components are 0; {len(queries)} queries')

centre = x.mean(0)
rotation, _ = np.linalg.qr(rng.standard_normal((d, d)).astype(np.float32))
CLIP = {1: None, 2: 1.5, 3: 2.2, 4: 3.0}


def levels(v, bits):
    """Per-vector uniform levels over mean ± CLIP σ (within min…max)."""
    mean, sd = v.mean(1, keepdims=True), v.std(1, keepdims=True)
    lo = np.maximum(v.min(1, keepdims=True), mean - CLIP[bits] * sd)
    hi = np.minimum(v.max(1, keepdims=True), mean + CLIP[bits] * sd)
    top = 2**bits - 1
    step = (hi - lo) / top
    return lo + np.clip(np.rint((v - lo) / np.where(step > 0, step, 1)), 0, top) * step


def kept(scores, sizes=(64, 128, 256)):
    scores[np.arange(len(queries)), queries] = -9
    order = np.argsort(-scores, 1)
    return [np.mean([len(set(truth[i]) & set(order[i, :c])) / 10 for i in range(len(queries))]) for c in sizes]


# <q, o> = <q − c, o − c> + <q, c> + <o, c> − |c|²: the codes estimate the first term; <o, c> is
# one exact float a row (kept beside the codes), the rest is the same for every row.
offset = x @ centre
rows = []
for bits in (2, 3, 4):
    rows.append((f'scalar {bits}-bit, float query', bits * d // 8, kept(x[queries] @ levels(x, bits).T)))
    prepared = (x - centre) @ rotation
    coded = levels(prepared, bits)
    rows.append((f'rotated {bits}-bit, float query', bits * d // 8, kept(prepared[queries] @ coded.T + offset)))
    rows.append((f'rotated {bits}-bit, both coded', bits * d // 8, kept(coded[queries] @ coded.T + offset)))
# RaBitQ 1-bit: <o, q> ≈ |o| <ō, q> / <ō, ô>, ō = sign(o) / √d, over the centred, rotated vectors.
prepared = (x - centre) @ rotation
norms = np.linalg.norm(prepared, axis=1)
signs = np.where(prepared > 0, 1.0, -1.0).astype(np.float32) / np.sqrt(d)
alignment = np.abs(prepared).sum(1) / np.sqrt(d) / norms
rows.append(('rabitq 1-bit, float query', d // 8, kept(norms * (prepared[queries] @ signs.T) / alignment + offset)))
print("| codes | bytes a row | exact 10 in the codes' 64 | in 128 | in 256 |")
print('|---|---:|---:|---:|---:|')
for name, size, found in rows:
    print(f'| {name} | {size} | ' + ' | '.join(f'{f:.4f}' for f in found) + ' |')
