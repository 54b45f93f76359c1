"""What changing the stored pooling does beyond retrieval, from pooling-maps.sh's maps of every
openclipart file (RESULTS.md, "Pooling the last feature map"):

  vectors OUT   writes OUT/mean.npy and OUT/rms.npy (unit rows, both poolings of the same maps) and
                OUT/labels.txt (each file's top folder), then prints how `cnn` answers while a
                collection is half re-extracted: 1,000 root-mean-square queries against a database
                with every item new, half of them still mean-pooled, every item old.
  score OUT     scores OUT/{mean,rms}-hdbscan-S.npy (pooling-effects.sh's clusterings) against the
                top folders: clusters, noise, NMI and ARI.

usage: python pooling_effects.py vectors|score OUT [CATEGORY_DIR ROOT]
"""
import json, os, sys
import numpy as np
from pooling import pooled_in_chunks, rows

command, out = sys.argv[1], sys.argv[2]
if command == 'vectors':
    category, root = sys.argv[3], sys.argv[4].rstrip('/') + '/'
    maps, paths = rows(os.path.join(category, 'maps'), 'cnn-trim-pad-map')
    vectors = {name: pooled_in_chunks(maps, how) for name, how in (('mean', ('gem', 1)), ('rms', ('gem', 2)))}
    for name, x in vectors.items():
        np.save(os.path.join(out, name + '.npy'), x.astype(np.float32))
    labels = np.array([p[len(root):].split('/')[0] for p in paths])
    open(os.path.join(out, 'labels.txt'), 'w').write('\n'.join(labels) + '\n')
    mean, rms = vectors['mean'], vectors['rms']
    cosine = (mean * rms).sum(1)
    print(json.dumps({'cosine_mean_rms': {'min': round(float(cosine.min()), 4),
                                          'p5': round(float(np.percentile(cosine, 5)), 4),
                                          'median': round(float(np.median(cosine)), 4)}}))
    rng = np.random.default_rng(1)
    queries = rng.choice(len(mean), 1000, replace=False)
    for share in (0.0, 0.5, 1.0):
        old = rng.random(len(mean)) < share
        sim = rms[queries] @ np.where(old[:, None], mean, rms).T
        sim[np.arange(len(queries)), queries] = -np.inf  # a query never finds itself
        top = np.argsort(-sim, 1)[:, :10]
        print(json.dumps({'old_share': share, 'cnn_p10': round(float((labels[top] == labels[queries][:, None]).mean()), 4),
                          'old_share_of_answers': round(float(old[top].mean()), 3)}))
elif command == 'score':
    from sklearn.metrics import adjusted_rand_score, normalized_mutual_info_score
    labels = np.array(open(os.path.join(out, 'labels.txt')).read().split('\n')[:-1])
    for name in sorted(n for n in os.listdir(out) if '-hdbscan-' in n and n.endswith('.npy')):
        h = np.load(os.path.join(out, name)); clustered = h >= 0
        print(json.dumps({'run': name[:-4], 'clusters': len(set(h[clustered])), 'noise': round(float(1 - clustered.mean()), 3),
                          'nmi_all': round(normalized_mutual_info_score(labels, h), 3),
                          'nmi_clustered': round(normalized_mutual_info_score(labels[clustered], h[clustered]), 3),
                          'ari_all': round(adjusted_rand_score(labels, h), 3)}))
