#!/usr/bin/env python3
"""SIMILAR recall@10 of a running kindredd against exact search over the vectors it stores.

The items are kindred-bench-preload's: row r of BASE.npy is /synthetic/RRRRRRR.jpg. The store keeps
CNN vectors as float16, so the exact answer is computed over the base rounded to float16 and
normalised (cosine), in chunks so a million rows fit; the query item itself is excluded, as
SIMILAR excludes it.

usage: recall.py BASE.npy SOCKET [--queries 200] [--k 10] [--kindred .build/release/kindred]"""
import argparse, json, subprocess, sys
import numpy as np

ap = argparse.ArgumentParser()
ap.add_argument('base'); ap.add_argument('socket')
ap.add_argument('--queries', type=int, default=200); ap.add_argument('--k', type=int, default=10)
ap.add_argument('--kindred', default='.build/release/kindred')
a = ap.parse_args()

base = np.load(a.base, mmap_mode='r')
n = base.shape[0]
rows = np.random.default_rng(1).choice(n, size=a.queries, replace=False)

def stored(block):
    x = np.asarray(block, dtype=np.float32).astype(np.float16).astype(np.float32)
    return x / np.linalg.norm(x, axis=1, keepdims=True)

q = stored(base[np.sort(rows)])
order = np.argsort(rows)
q = q[np.argsort(order)]  # back to the order of `rows`
best = np.full((a.queries, a.k + 1), -np.inf, np.float32)
best_rows = np.zeros((a.queries, a.k + 1), np.int64)
for start in range(0, n, 100_000):
    s = q @ stored(base[start:start + 100_000]).T
    top = np.argpartition(-s, a.k, axis=1)[:, :a.k + 1]
    merged = np.concatenate([best, np.take_along_axis(s, top, 1)], 1)
    merged_rows = np.concatenate([best_rows, top + start], 1)
    keep = np.argsort(-merged, axis=1)[:, :a.k + 1]
    best, best_rows = np.take_along_axis(merged, keep, 1), np.take_along_axis(merged_rows, keep, 1)

hits = 0
for i, r in enumerate(rows):
    truth = [int(x) for x in best_rows[i] if x != r][:a.k]
    out = subprocess.run([a.kindred, 'similar', f'/synthetic/{r:07d}.jpg', '-k', str(a.k), '--space', 'cnn', '--json',
                          '--socket', a.socket], capture_output=True, text=True, check=True).stdout
    found = [int(item['path'][len('/synthetic/'):-len('.jpg')]) for item in json.loads(out)]
    hits += len(set(found) & set(truth))
print(json.dumps({'queries': a.queries, 'k': a.k, 'recall': round(hits / (a.k * a.queries), 4)}))
