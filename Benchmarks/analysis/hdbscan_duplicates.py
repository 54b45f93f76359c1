#!/usr/bin/env python3
"""HDBSCAN on rows with exact duplicates, against the hdbscan library on the same rows.

A group of more than min_samples identical rows has core distance 0, so its rows leave the
condensed tree at infinite λ. Usage (the referee's venv, which has hdbscan and scikit-learn):

    ~/.cache/bench-peers/bin/python Benchmarks/analysis/hdbscan_duplicates.py .build/release/kindred [OTHER_KINDRED]

Prints, per data set, each binary's clusters and noise, the library's, and the ARI between them."""
import subprocess
import sys
import tempfile
import warnings

import hdbscan
import numpy as np
from sklearn.metrics import adjusted_rand_score

warnings.filterwarnings("ignore")
random = np.random.RandomState(0)


def blobs(n, k, d, spread=1.0):
    centres = random.randn(k, d) * 6
    labels = random.randint(0, k, n)
    return (centres[labels] + random.randn(n, d) * spread).astype("f4")


x = blobs(2000, 4, 8)
groups = np.repeat(random.randn(8, 8).astype("f4") * 5, 40, axis=0)
with_copies = x.copy()
with_copies[:60] = with_copies[0]
sets = {
    "4 blobs, 2,000 rows": x,
    "the same + 600 duplicated rows": np.vstack([x, x[random.choice(2000, 600)]]),
    "the same, 60 rows one point": with_copies,
    "8 groups of 40 identical rows": groups,
    "those groups + 400 blob rows": np.vstack([groups, x[:400]]),
}


def counted(labels):
    return f"{len(set(labels)) - (-1 in labels):3d} clusters, noise {np.mean(labels == -1):.3f}"


with tempfile.TemporaryDirectory() as scratch:
    for name, data in sets.items():
        np.save(f"{scratch}/x.npy", data.astype("f4"))
        library = hdbscan.HDBSCAN(min_cluster_size=25, min_samples=10).fit_predict(data.astype("f8"))
        row = [f"{name:32s} | hdbscan {counted(library)}"]
        for binary in sys.argv[1:]:
            subprocess.run([binary, "analyze", "hdbscan", "--in", f"{scratch}/x.npy", "--out", f"{scratch}/l.npy",
                            "--min-cluster-size", "25", "--min-samples", "10", "--threads", "2"], check=True,
                           capture_output=True)
            ours = np.load(f"{scratch}/l.npy")
            row.append(f"{binary}: {counted(ours)}, ARI {adjusted_rand_score(library, ours):.4f}")
        print(" | ".join(row))
