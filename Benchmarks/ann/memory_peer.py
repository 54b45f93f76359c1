#!/usr/bin/env python3
"""Resident memory an hnswlib index of DIR/base.npy adds to its process (M=16, efC=200),
for comparison with Kindred's. usage: memory_peer.py DIR"""
import json, sys, time
import numpy as np
import hnswlib

def rss_mb():
    with open('/proc/self/status') as f:
        for line in f:
            if line.startswith('VmRSS:'):
                return int(line.split()[1]) / 1024

base = np.load(sys.argv[1] + '/base.npy')
before = rss_mb()
index = hnswlib.Index(space='ip', dim=base.shape[1])
index.init_index(max_elements=len(base), M=16, ef_construction=200, random_seed=1)
index.set_num_threads(2)
t = time.perf_counter()
index.add_items(base, np.arange(len(base)))
print(json.dumps({'lib': 'hnswlib', 'n': len(base), 'd': base.shape[1], 'build_s': round(time.perf_counter() - t, 2),
                  'index_rss_mb': round(rss_mb() - before, 1)}))
