"""Category retrieval through kindredd (category-daemon.sh runs it): P@10 and mAP@10 of SIMILAR
<path> k=10 for category.py's held-out queries, beside the reference pipeline's on the same files
and queries, with the standard error of the per-query difference.

usage: python category_daemon.py SOCKET CATEGORY_DIR ROOT SERVED_ROOT LABEL SPACE
  ROOT: the folder category.py's paths are under; SERVED_ROOT: the same files where kindredd sees them.
"""
import json, os, socket, sys, time
import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from category import K, load_all, scores, top, unit  # noqa: E402


def main():
    sock, d, root, served, label, space = sys.argv[1:7]
    root, served = root.rstrip('/') + '/', served.rstrip('/') + '/'
    # category.py's item set and seeded split, exactly.
    data, common = load_all(d)
    n = len(common)
    label_names = [p[len(root):].split('/')[0] for p in common]
    classes = sorted(set(label_names))
    labels = np.array([classes.index(c) for c in label_names])
    counts = np.bincount(labels)
    order = np.random.default_rng(19).permutation(n)
    held = np.sort(order[n // 2:])
    x = unit(np.stack([data['reference'][p] for p in common]))
    reference = top(x[held] @ x.T, held, K)

    row_of = {served + p[len(root):]: i for i, p in enumerate(common)}
    s = socket.socket(socket.AF_UNIX)
    s.connect(sock)
    reader = s.makefile('rb')

    def ask(line):
        s.sendall(line.encode() + b'\n')
        head = reader.readline().decode().rstrip('\n')
        if not head.startswith('OK '):
            raise SystemExit(f'{line}: {head}')
        return [reader.readline().decode().rstrip('\n').split('\t') for _ in range(int(head[3:]))]

    ranked = np.full((len(held), K), -1)
    latency, outside, expanded = [], 0, 0
    for q, i in enumerate(held):
        path = served + common[i][len(root):]
        t = time.perf_counter()
        rows = ask(f'SIMILAR {path} k={K} space={space} explain=1')
        latency.append(time.perf_counter() - t)
        expanded += rows[0][9] == 'yes' if rows else 0  # explain=1's expanded column (Schema/protocol.md)
        found = [row_of.get(r[3], -1) for r in rows]
        outside += sum(f < 0 for f in found)
        ranked[q, : len(found)] = found
    # An answer outside category.py's set (none expected) counts as a miss.
    hits = (labels[np.maximum(ranked, 0)] == labels[held][:, None]) & (ranked >= 0)
    p = float(hits.mean())
    ap = scores(ranked, labels, held, counts)[1] if outside == 0 else None
    gain = hits.mean(1) - (labels[reference] == labels[held][:, None]).mean(1)
    latency.sort()
    print(json.dumps({
        'ranking': label, 'queries': len(held), 'P@10': round(p, 4), 'mAP@10': ap and round(ap, 4),
        'reference_P@10': round(scores(reference, labels, held, counts)[0], 4),
        'minus_reference': round(float(gain.mean()), 4), 'se': round(float(gain.std(ddof=1) / np.sqrt(len(gain))), 4),
        'expanded_queries': expanded, 'answers_outside_set': outside,
        'p50_ms': round(1000 * latency[len(latency) // 2], 2), 'p99_ms': round(1000 * latency[int(len(latency) * 0.99)], 2),
    }))


if __name__ == '__main__':
    main()
