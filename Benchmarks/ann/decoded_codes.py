#!/usr/bin/env python3
"""Vectors as a walk on rotated, centred B-bit codes would see them (RESULTS.md, "Walk codes below
int4"): each row centred on the collection's mean, rotated by a random orthogonal matrix, coded
with 2^B per-vector levels over mean ± k σ (rotated_codes.py's codes), then decoded back
(x̂ = mean + Rᵀ·levels). A float32 index built on the decoded rows (`kindred index build
--encoding float32`) walks with exactly the codes' inner products, so its recall after the exact
re-rank (`kindred index search --exact` the original rows) is the recall such codes would give
in a graph; its speed is not (rows are floats).

usage: decoded_codes.py BASE.npy OUT.npy --bits 3"""
import argparse
import numpy as np

ap = argparse.ArgumentParser()
ap.add_argument('base')
ap.add_argument('out')
ap.add_argument('--bits', type=int, required=True, choices=(1, 2, 3, 4))
args = ap.parse_args()
CLIP = {1: 1.0, 2: 1.5, 3: 2.2, 4: 3.0}

x = np.load(args.base, mmap_mode='r')
n, d = x.shape
rng = np.random.default_rng(0)
rotation, _ = np.linalg.qr(rng.standard_normal((d, d)).astype(np.float32))
centre = np.zeros(d, np.float64)
for start in range(0, n, 50_000):
    centre += np.asarray(x[start:start + 50_000], np.float64).sum(0)
centre = (centre / n).astype(np.float32)
out = np.lib.format.open_memmap(args.out, mode='w+', dtype=np.float32, shape=(n, d))
top = 2**args.bits - 1
for start in range(0, n, 50_000):
    v = (np.asarray(x[start:start + 50_000], np.float32) - centre) @ rotation
    mean, sd = v.mean(1, keepdims=True), v.std(1, keepdims=True)
    lo = np.maximum(v.min(1, keepdims=True), mean - CLIP[args.bits] * sd)
    hi = np.minimum(v.max(1, keepdims=True), mean + CLIP[args.bits] * sd)
    step = (hi - lo) / top
    coded = lo + np.clip(np.rint((v - lo) / np.where(step > 0, step, 1)), 0, top) * step
    out[start:start + 50_000] = coded @ rotation.T + centre
out.flush()
print(f'{n} × {d} decoded from {args.bits}-bit rotated, centred codes into {args.out}')
