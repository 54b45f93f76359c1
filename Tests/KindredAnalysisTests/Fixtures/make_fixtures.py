#!/usr/bin/env python3
"""Reference outputs for KindredAnalysisTests, made once with the referee's peers
(../shared/bench/setup-peers.sh venv): hdbscan 0.8 and scikit-learn on a fixed 2-D set of five
blobs of different densities plus uniform noise. Rerun: <venv>/bin/python make_fixtures.py"""
import numpy as np, hdbscan
from sklearn.metrics import silhouette_score, davies_bouldin_score
from sklearn.datasets import make_blobs

X, truth = make_blobs(n_samples=[300, 200, 150, 120, 80], centers=[[0, 0], [6, 6], [-6, 5], [7, -5], [-5, -6]],
                      cluster_std=[0.8, 1.0, 0.6, 1.2, 0.5], random_state=3)
rng = np.random.default_rng(3)
noise = rng.uniform(-11, 11, size=(60, 2))
X = np.vstack([X, noise]).astype(np.float32)
truth = np.concatenate([truth, -np.ones(60, int)]).astype(np.int32)
np.save('blobs.npy', X)
np.save('blobs_truth.npy', truth)
labels = hdbscan.HDBSCAN(min_cluster_size=25, min_samples=10).fit_predict(X).astype(np.int32)
np.save('blobs_hdbscan.npy', labels)
leaf = hdbscan.HDBSCAN(min_cluster_size=25, min_samples=10, cluster_selection_method='leaf').fit_predict(X).astype(np.int32)
np.save('blobs_hdbscan_leaf.npy', leaf)
keep = truth >= 0
print('silhouette(truth, no noise) =', silhouette_score(X[keep], truth[keep]))
print('davies_bouldin(truth, no noise) =', davies_bouldin_score(X[keep], truth[keep]))
print('hdbscan clusters', labels.max() + 1, 'noise', (labels < 0).mean(), 'leaf clusters', leaf.max() + 1)
