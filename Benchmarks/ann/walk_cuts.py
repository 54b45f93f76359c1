"""Ways to make an HNSW walk over 1280-d vectors cheaper, measured before building any of them
(RESULTS.md, "What a walk costs, and four cuts measured before building any"). Every subcommand
reads float32 .npy rows and normalises them (cosine).

usage: python walk_cuts.py spectrum FILE...         variance an uncentred projection keeps, by dims
       python walk_cuts.py prepare BASE OUT [--dims 256] [--queries 2000]
           OUT/full.npy, OUT/pca.npy (BASE projected on its top --dims directions), OUT/queries-*.npy
           (stored rows as queries) and OUT/truth.npy (their exact 10 nearest, by the full rows)
       python walk_cuts.py recall OUT IDS.npy [--depth N]
           recall@10 of `kindred index search --out IDS.npy` after re-ranking its first N ids
           (default: all) by the full rows
       python walk_cuts.py walk BASE [--queries 150] [--ef 64]
           a best-first walk (ef 64, from each query's own node) on FAISS's HNSW graph (M 32):
           distances evaluated a query, and how many an early stop on a prefix of randomly rotated
           rows (ADSampling's test) would have cut short, by prefix length
"""
import heapq
import os
import sys

import numpy as np


def unit(x):
    x = np.array(x, dtype=np.float32)
    x /= np.linalg.norm(x, axis=1, keepdims=True)
    return x


def option(args, name, default):
    if name in args:
        i = args.index(name)
        value = int(args[i + 1])
        del args[i:i + 2]
        return value
    return default


def spectrum(paths):
    for path in paths:
        x = unit(np.load(path, mmap_mode='r')[:20000]).astype(np.float64)
        w = np.linalg.eigvalsh(x.T @ x)[::-1]
        kept = np.cumsum(w) / w.sum()
        print(path, {d: round(float(kept[d - 1]), 3) for d in (32, 64, 128, 256, 512) if d <= len(kept)})


def prepare(args):
    dims, n_queries = option(args, '--dims', 256), option(args, '--queries', 2000)
    base, out = args
    os.makedirs(out, exist_ok=True)
    x = unit(np.load(base, mmap_mode='r'))
    rng = np.random.default_rng(1)
    sample = x[rng.choice(len(x), min(len(x), 20000), replace=False)]
    w, v = np.linalg.eigh(sample.T @ sample / len(sample))
    top = v[:, np.argsort(w)[::-1][:dims]].astype(np.float32)
    projected = x @ top
    queries = rng.choice(len(x), n_queries, replace=False)
    np.save(os.path.join(out, 'full.npy'), x)
    np.save(os.path.join(out, 'pca.npy'), projected)
    np.save(os.path.join(out, 'queries-full.npy'), x[queries])
    np.save(os.path.join(out, 'queries-pca.npy'), projected[queries])
    np.save(os.path.join(out, 'truth.npy'), np.argsort(-(x[queries] @ x.T), axis=1)[:, :10])


def recall(args):
    depth = option(args, '--depth', 0)
    out, ids_path = args
    x = np.load(os.path.join(out, 'full.npy'), mmap_mode='r')
    queries, truth = np.load(os.path.join(out, 'queries-full.npy')), np.load(os.path.join(out, 'truth.npy'))
    ids = np.load(ids_path)
    hits = 0
    for i, q in enumerate(queries):
        candidates = ids[i, :depth or ids.shape[1]]
        candidates = candidates[candidates >= 0]
        best = candidates[np.argsort(-(x[candidates] @ q))[:10]]
        hits += len(set(best.tolist()) & set(truth[i].tolist()))
    print('recall@10', hits / truth.size)


def walk(args):
    import faiss  # the referee's peers' venv

    n_queries, ef = option(args, '--queries', 150), option(args, '--ef', 64)
    x = unit(np.load(args[0], mmap_mode='r'))
    n, d = x.shape
    index = faiss.IndexHNSWFlat(d, 32, faiss.METRIC_INNER_PRODUCT)
    index.hnsw.efConstruction = 100
    index.add(x)
    neighbours, offsets = faiss.vector_to_array(index.hnsw.neighbors), faiss.vector_to_array(index.hnsw.offsets)
    rng = np.random.default_rng(3)
    rotation, _ = np.linalg.qr(rng.standard_normal((d, d)).astype(np.float32))
    rotated = x @ rotation
    evaluated, seen = [], []  # per query; (query, node, distance, bound) once the list is full
    for q in rng.choice(n, n_queries, replace=False):
        visited, frontier, results, count = {q}, [(0.0, q)], [(-0.0, q)], 0
        while frontier:
            distance, node = heapq.heappop(frontier)
            if distance > -results[0][0] and len(results) >= ef:
                break
            links = neighbours[offsets[node]:offsets[node] + 64]
            fresh = [int(m) for m in links if m >= 0 and m not in visited]
            visited.update(fresh)
            count += len(fresh)
            for m, dm in zip(fresh, 1 - x[fresh] @ x[q]):
                full, bound = len(results) >= ef, -results[0][0]
                if full:
                    seen.append((q, m, dm, bound))
                    if dm >= bound:
                        continue
                heapq.heappush(frontier, (dm, m))
                heapq.heappush(results, (-dm, m))
                if len(results) > ef:
                    heapq.heappop(results)
        evaluated.append(count)
    counts = np.array(evaluated)
    print('distances a query: p50 %d, p99 %d, mean %d' % (np.percentile(counts, 50), np.percentile(counts, 99), counts.mean()))
    seen = np.array(seen)
    qi, ni, dist, bound = seen[:, 0].astype(int), seen[:, 1].astype(int), seen[:, 2], seen[:, 3]
    print('once the list is full: %d distances, %.3f of them rejected' % (len(seen), np.mean(dist >= bound)))
    for prefix in (64, 128, 256, 384, 512):
        diff = rotated[qi, :prefix] - rotated[ni, :prefix]
        estimate = (diff * diff).sum(1) * d / prefix  # of |q − x|², from the prefix
        for eps in (1.5, 2.1, 3.0):
            stop = estimate > 2 * bound * (1 + eps / np.sqrt(prefix)) ** 2
            wrong = stop & (dist < bound)
            print(f'prefix {prefix} eps0 {eps}: stopped early {stop.mean():.3f}, wrongly {wrong.sum()}')


if __name__ == '__main__':
    command, rest = sys.argv[1], sys.argv[2:]
    {'spectrum': spectrum, 'prepare': prepare, 'recall': recall, 'walk': walk}[command](rest)
