#!/usr/bin/env python3
"""Kindred's HNSW against hnswlib with their searches interleaved, for machines whose speed drifts.

`run.sh` runs each library once in turn, so on a shared, noisy machine a ratio taken between two
libraries minutes apart says as much about the machine as about the code (RESULTS.md,
2026-12-06: Kindred's own searches ran 1.2-1.6x faster minutes after its turn). Here hnswlib is
built once, and each round searches every ef with Kindred (`kindred index search`, one query at
a time on one thread, its load excluded) and then hnswlib (the referee's `ann_peers.py` way: one
`knn_query` a query from Python), so both meet the same machine. Prints a JSON line a search,
then the median QPS of each (library, ef) over the rounds and QPS at equal recall@10 (each
curve interpolated linearly between its ef points), as the #17 goal states it.

usage: interleaved.py DATA_DIR KINDRED_INDEX [--kindred .build/release/kindred] [--ef 16,32,64,128,256]
                      [--rounds 5] [--M 16] [--efc 200] [--threads 2]
DATA_DIR is a `vectors.py` directory (base.npy, queries.npy, truth.npy); KINDRED_INDEX an index of
its base built by `kindred index build` (run.sh writes DATA_DIR/kindred-ENCODING.hnsw).
"""
import argparse, json, os, statistics, subprocess, sys, tempfile, time
import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(__file__), '../../../shared/bench'))
from ann_peers import recall, timed_queries  # the referee's own measures


def kindred_search(a, ef, out):
    line = subprocess.run(
        [a.kindred, 'index', 'search', '--index', a.index, '--queries', os.path.join(a.data, 'queries.npy'),
         '--k', '10', '--ef', str(ef), '--out', out, '--exact', os.path.join(a.data, 'base.npy')],
        check=True, capture_output=True, text=True).stdout
    return np.load(out), json.loads(line.strip().splitlines()[-1])['qps']


def at_recall(curve, target):
    """QPS at `target` recall on a curve of (recall, qps) points sorted by ef; None outside it."""
    for (r0, q0), (r1, q1) in zip(curve, curve[1:]):
        if r0 <= target <= r1:
            return q0 + (q1 - q0) * ((target - r0) / (r1 - r0) if r1 > r0 else 0)
    return None


def main():
    p = argparse.ArgumentParser()
    p.add_argument('data'); p.add_argument('index')
    p.add_argument('--kindred', default='.build/release/kindred')
    p.add_argument('--ef', default='16,32,64,128,256'); p.add_argument('--rounds', type=int, default=5)
    p.add_argument('--M', type=int, default=16); p.add_argument('--efc', type=int, default=200)
    p.add_argument('--threads', type=int, default=2)
    a = p.parse_args()
    efs = [int(e) for e in a.ef.split(',')]
    base = np.load(os.path.join(a.data, 'base.npy'))
    queries = np.load(os.path.join(a.data, 'queries.npy'))
    truth = np.load(os.path.join(a.data, 'truth.npy'))

    import hnswlib
    idx = hnswlib.Index(space='ip', dim=base.shape[1])
    idx.init_index(max_elements=len(base), M=a.M, ef_construction=a.efc, random_seed=1)
    idx.set_num_threads(a.threads)
    t = time.perf_counter(); idx.add_items(base, np.arange(len(base))); build = time.perf_counter() - t
    idx.set_num_threads(1)
    print(json.dumps({'lib': 'hnswlib', 'build_s': round(build, 2)}), flush=True)

    qps = {}
    recalls = {}
    with tempfile.TemporaryDirectory() as tmp:
        out = os.path.join(tmp, 'ids.npy')
        for round_ in range(1, a.rounds + 1):
            for ef in efs:
                found, q = kindred_search(a, ef, out)
                recalls[('kindred', ef)] = recall(found, truth, 10)
                qps.setdefault(('kindred', ef), []).append(q)
                idx.set_ef(max(ef, 10))
                found, q = timed_queries(lambda v: idx.knn_query(v, k=10)[0][0], queries)
                recalls[('hnswlib', ef)] = recall(found, truth, 10)
                qps.setdefault(('hnswlib', ef), []).append(q)
                for lib in ('kindred', 'hnswlib'):
                    print(json.dumps({'round': round_, 'lib': lib, 'ef': ef, 'recall': round(recalls[(lib, ef)], 4),
                                      'qps': round(qps[(lib, ef)][-1], 1)}), flush=True)
    curves = {}
    for lib in ('kindred', 'hnswlib'):
        curves[lib] = [(recalls[(lib, ef)], statistics.median(qps[(lib, ef)])) for ef in efs]
        for ef, (r, q) in zip(efs, curves[lib]):
            print(json.dumps({'lib': lib, 'ef': ef, 'recall': round(r, 4), 'median_qps': round(q, 1),
                              'qps_each_round': [round(x) for x in qps[(lib, ef)]]}), flush=True)
    for target in (0.95, 0.99):
        k, h = at_recall(curves['kindred'], target), at_recall(curves['hnswlib'], target)
        print(json.dumps({'recall': target, 'kindred_qps': k and round(k), 'hnswlib_qps': h and round(h),
                          'ratio': round(k / h, 2) if k and h else None}), flush=True)


if __name__ == '__main__':
    main()
