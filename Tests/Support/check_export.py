#!/usr/bin/env python3
"""Reads kindred export's files back the way their consumers would (numpy for the NumPy layout,
the json module for the JSON ones) and checks ids, vectors and cluster labels against reference
arrays the test took from the store and kindredd.

usage: check_export.py REFERENCE_DIR [--npy-dir D] [--jsonl F] [--milvus F] [--qdrant D]
REFERENCE_DIR holds id.npy (int64), cnn.npy and style.npy (float32) and cluster.npy (int64).
Prints {"ok": true, "items": n, "checked": [...]} or exits 1 with the first difference."""
import argparse, glob, json, os, sys
import numpy as np

ap = argparse.ArgumentParser()
ap.add_argument('reference'); ap.add_argument('--npy-dir'); ap.add_argument('--jsonl')
ap.add_argument('--milvus'); ap.add_argument('--qdrant')
a = ap.parse_args()
ref = {name: np.load(os.path.join(a.reference, name + '.npy')) for name in ('id', 'cnn', 'style', 'cluster')}
checked = []

def fail(message):
    print(json.dumps({'ok': False, 'reason': message}))
    sys.exit(1)

def compare(source, ids, cnn, style, cluster):
    if list(ids) != list(ref['id']): fail(f'{source}: ids differ')
    # float32 written as JSON reads back to the same float32.
    if not np.array_equal(np.asarray(cnn, np.float32), ref['cnn']): fail(f'{source}: cnn vectors differ')
    if not np.array_equal(np.asarray(style, np.float32), ref['style']): fail(f'{source}: style vectors differ')
    if list(cluster) != list(ref['cluster']): fail(f'{source}: cluster labels differ')
    checked.append(source)

if a.npy_dir:
    d = lambda name: np.load(os.path.join(a.npy_dir, name + '.npy'))
    if d('id').dtype != np.int64 or d('cnn').dtype != np.float32 or d('path').dtype.kind != 'U':
        fail('npy-dir: dtypes are not int64 / float32 / unicode')
    compare('npy-dir', d('id'), d('cnn'), d('style'), d('cluster'))
if a.jsonl:
    rows = [json.loads(line) for line in open(a.jsonl, encoding='utf-8')]
    compare('jsonl', [r['id'] for r in rows], [r['cnn'] for r in rows], [r['style'] for r in rows],
            [r['cluster'] for r in rows])
if a.milvus:
    rows = json.load(open(a.milvus, encoding='utf-8'))['rows']
    compare('milvus-json', [r['id'] for r in rows], [r['cnn'] for r in rows], [r['style'] for r in rows],
            [r['cluster'] for r in rows])
if a.qdrant:
    points = [p for f in sorted(glob.glob(os.path.join(a.qdrant, 'points-*.json')))
              for p in json.load(open(f, encoding='utf-8'))['points']]
    compare('qdrant', [p['id'] for p in points], [p['vector']['cnn'] for p in points],
            [p['vector']['style'] for p in points], [p['payload']['cluster'] for p in points])
print(json.dumps({'ok': True, 'items': int(len(ref['id'])), 'checked': checked}))
