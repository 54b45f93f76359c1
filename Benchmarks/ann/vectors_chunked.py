#!/usr/bin/env python3
"""The referee's vector distribution (../shared/bench/vectors.py) generated in chunks, for sizes
whose one-shot generation does not fit in memory (vectors.py builds an n x 24 x d tensor: 12 GB at
1M x 128). Same centres, bases, spreads and noise model; the random stream differs, so the vectors
are not byte-identical to vectors.py's for the same seed.

usage: vectors_chunked.py OUTDIR --n 1000000 --d 128 [--q 1000] [--seed 7]"""
import argparse, os, sys
import numpy as np
sys.path.insert(0, os.path.join(os.path.dirname(__file__), '../../../shared/bench'))
from vectors import truth, NOISE

def generate(n, d, seed, centres=2000, rank=24, chunk=None):
    # basis[which] holds chunk x rank x d floats: keep it near 600 MB whatever d is.
    chunk = chunk or max(1000, 50_000 * 128 // d)
    rng = np.random.default_rng(seed)
    c = rng.standard_normal((centres, d)).astype(np.float32)
    basis = rng.standard_normal((centres, rank, d)).astype(np.float32) / np.sqrt(d)
    weights = rng.pareto(1.5, centres) + 1.0
    spread = rng.uniform(0.3, 1.5, centres).astype(np.float32)
    out = np.empty((n, d), np.float32)
    for start in range(0, n, chunk):
        m = min(chunk, n - start)
        which = rng.choice(centres, size=m, p=weights / weights.sum())
        coef = rng.standard_normal((m, rank)).astype(np.float32)
        x = c[which] + np.einsum('nr,nrd->nd', coef * spread[which, None], basis[which]) * 2.0
        x += NOISE * rng.standard_normal((m, d)).astype(np.float32)
        out[start:start + m] = x / np.linalg.norm(x, axis=1, keepdims=True)
    return out

if __name__ == '__main__':
    ap = argparse.ArgumentParser()
    ap.add_argument('out'); ap.add_argument('--n', type=int, default=1_000_000); ap.add_argument('--d', type=int, default=128)
    ap.add_argument('--q', type=int, default=1000); ap.add_argument('--seed', type=int, default=7)
    a = ap.parse_args()
    os.makedirs(a.out, exist_ok=True)
    allv = generate(a.n + a.q, a.d, a.seed)
    base, queries = allv[:a.n], allv[a.n:]
    np.save(os.path.join(a.out, 'base.npy'), base)
    np.save(os.path.join(a.out, 'queries.npy'), queries)
    np.save(os.path.join(a.out, 'truth.npy'), truth(base, queries))
    print(f'wrote {a.n} x {a.d} base, {a.q} queries, truth@100 to {a.out}')
