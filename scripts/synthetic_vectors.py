#!/usr/bin/env python3
"""Clustered, L2-normalised float32 vectors shaped like image embeddings, for the demo.
usage: synthetic_vectors.py OUT.npy N D [SEED]"""
import sys
import numpy as np

out, n, d = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
rng = np.random.default_rng(int(sys.argv[4]) if len(sys.argv) > 4 else 7)
centres = rng.standard_normal((max(2, n // 50), d)).astype(np.float32)
x = centres[rng.integers(0, len(centres), n)] + 0.6 * rng.standard_normal((n, d)).astype(np.float32)
x /= np.linalg.norm(x, axis=1, keepdims=True)
np.save(out, x.astype(np.float32))
