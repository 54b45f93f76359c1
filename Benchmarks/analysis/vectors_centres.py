#!/usr/bin/env python3
"""The centre each row of ../shared/bench/vectors.py's base.npy was drawn around, recovered by
replaying its random stream (same seed, same draws, in the same order): the ground truth a
clustering of those vectors can be scored against with score.py truth.

usage: vectors_centres.py BASE.npy OUT.txt [--q 1000] [--seed 7]   (--q and --seed as vectors.py was run)"""
import argparse
import numpy as np

ap = argparse.ArgumentParser()
ap.add_argument('base'); ap.add_argument('out')
ap.add_argument('--q', type=int, default=1000); ap.add_argument('--seed', type=int, default=7)
a = ap.parse_args()
n, d = np.load(a.base, mmap_mode='r').shape
centres, rank = 2000, 24  # vectors.generate's defaults
rng = np.random.default_rng(a.seed)
rng.standard_normal((centres, d)).astype(np.float32)
rng.standard_normal((centres, rank, d)).astype(np.float32)
weights = rng.pareto(1.5, centres) + 1.0
which = rng.choice(centres, size=n + a.q, p=weights / weights.sum())[:n]
open(a.out, 'w').write('\n'.join(str(w) for w in which) + '\n')
print(f'{n} rows, {len(set(which.tolist()))} centres')
