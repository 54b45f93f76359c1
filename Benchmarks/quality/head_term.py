"""Category retrieval dev set: does a term from EfficientNet-Lite0's ImageNet head add to kindredd's
fused default? The head's scores W·f̂ of each stored (unit, root-mean-square pooled) vector,
compared by cosine as they are, centred over the classes, or as softmax(W·f̂ / T) (and its square
root, the Hellinger form), first alone, then as a weighted term added to the default's score
(colourless rule, expansion by 2 below 0.9, 64 candidates); the weight is chosen on the tuning half
and reported on the held-out half, with the gain over the reference pipeline and its standard error.

usage: python head_term.py DIR ROOT PTH
  DIR: embed-variants.sh's output (cnn-trim-pad, style-trim, phash-trim and reference are enough)
  ROOT: the openclipart png folder
  PTH: the weights' .pth (embed-variants.sh extracts it to Benchmarks/data/embed/…)
"""
import json, os, sys
import numpy as np
sys.path.insert(0, os.path.dirname(__file__))
sys.path.insert(0, os.path.join(os.path.dirname(__file__), '../../../shared/bench'))
import category as C
from cnn_oracle import load_pth


def main():
    d, root, pth = sys.argv[1], sys.argv[2].rstrip('/') + '/', sys.argv[3]
    W = np.asarray(load_pth(pth)['_fc.weight'], np.float32)  # 1000 × 1280
    data, common = C.load_all(d)
    names = [p[len(root):].split('/')[0] for p in common]
    classes = sorted(set(names))
    labels = np.array([classes.index(c) for c in names])
    counts = np.bincount(labels)
    order = np.random.default_rng(19).permutation(len(common))  # category.py's split
    halves = {'tune': np.sort(order[: len(common) // 2]), 'held': np.sort(order[len(common) // 2:])}
    m = {k: np.stack([v[p] for p in common]) for k, v in data.items()}
    x, raw, ref = C.unit(m['cnn-trim-pad']), m['style-trim'], C.unit(m['reference'])
    s, b = C.unit(raw), C.bits(m['phash-trim'])
    sat = raw[:, 24:32]
    colourless = sat[:, 0] / np.maximum(sat.sum(1), 1e-12) >= 0.995
    cells = raw[:, 78:142].reshape(len(raw), 16, 4)
    free = C.unit(np.concatenate(
        [raw[:, 48:78], cells[:, :, 0] * 0.299 + cells[:, :, 1] * 0.587 + cells[:, :, 2] * 0.114], 1))

    scores = x @ W.T
    variants = {'head': C.unit(scores), 'head-centred': C.unit(scores - scores.mean(1, keepdims=True))}
    for t in (0.02, 0.05, 0.1):  # the unit vectors' scores span about 0.4 (top class over the mean)
        z = scores / t
        p = np.exp(z - z.max(1, keepdims=True))
        p /= p.sum(1, keepdims=True)
        variants[f'softmax-T{t}'] = C.unit(p)
        variants[f'sqrt-softmax-T{t}'] = C.unit(np.sqrt(p))

    def p10(ranked, half):
        return C.scores(ranked, labels, halves[half], counts)[0]

    held = halves['held']
    ref_hits = (labels[C.top(ref[held] @ ref.T, held, C.K)] == labels[held][:, None]).mean(1)
    for half, q in halves.items():
        for name, v in variants.items():
            print(json.dumps({'half': half, 'alone': name, 'P@10': round(p10(C.top(v[q] @ v.T, q, C.K), half), 4)}))

    terms = {}
    for half, q in halves.items():
        sim = x[q] @ x.T
        cand = C.top(sim, q, C.CANDIDATES)
        c = np.take_along_axis(sim, cand, 1)
        ph = 1 - np.abs(b[q][:, None, :] - b[cand]).sum(2) / 64
        st = np.where(colourless[q][:, None], np.einsum('qd,qcd->qc', free[q], free[cand]),
                      np.einsum('qd,qcd->qc', s[q], s[cand]))
        best = np.take_along_axis(cand, np.argsort(-(c + 0.5 * st + 0.2 * ph), axis=1, kind='stable'), 1)
        expanded = np.einsum('qd,qcd->qc', C.unit(x[q] + x[best[:, :2]].sum(1)), x[cand])
        base = np.where((c[:, 0] < 0.9)[:, None], expanded, c) + 0.5 * st + 0.2 * ph
        terms[half] = (cand, base, {n: np.einsum('qd,qcd->qc', v[q], v[cand]) for n, v in variants.items()})

    def ranked(half, name, weight):
        cand, base, head = terms[half]
        return np.take_along_axis(cand, np.argsort(-(base + weight * head[name]), axis=1, kind='stable'), 1)

    print(json.dumps({'default': {h: round(p10(ranked(h, 'head', 0), h), 4) for h in halves}}))
    for name in variants:
        tune = {w: p10(ranked('tune', name, w), 'tune') for w in (0.1, 0.2, 0.3, 0.5, 0.7, 1.0, 1.5, 2.0)}
        w = max(tune, key=tune.get)
        r = ranked('held', name, w)
        gain = (labels[r[:, :C.K]] == labels[held][:, None]).mean(1) - ref_hits
        print(json.dumps({'term': name, 'tune': {k: round(v, 4) for k, v in tune.items()}, 'weight': w,
                          'held': round(p10(r, 'held'), 4), 'minus_reference': round(float(gain.mean()), 4),
                          'se': round(float(gain.std(ddof=1) / np.sqrt(len(gain))), 4)}))


if __name__ == '__main__':
    main()
