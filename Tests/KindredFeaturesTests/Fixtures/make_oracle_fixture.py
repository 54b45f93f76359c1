#!/usr/bin/env python3
"""Regenerates oracle.npz-equivalent fixtures: the oracle's EfficientNet-Lite0 features and logits
for two synthetic input tensors that the Swift tests rebuild from the same formula.

usage: make_oracle_fixture.py WEIGHTS.pth OUTDIR     (needs ../shared/bench/setup-peers.sh's python)
The input, NHWC, value at (n, y, x, c) = sin(0.045*y*(c+1) + 0.031*x*(n+1)) * cos(0.017*(x+y) + n + 0.5*c),
which is already in [-1, 1] like (pixel - 127) / 128."""
import os, sys
import numpy as np
sys.path.insert(0, os.path.join(os.path.dirname(__file__), '../../../../shared/bench'))
import cnn_oracle

def synthetic_input():
    n, y, x, c = np.meshgrid(np.arange(2), np.arange(224), np.arange(224), np.arange(3), indexing='ij')
    v = np.sin(0.045 * y * (c + 1) + 0.031 * x * (n + 1)) * np.cos(0.017 * (x + y) + n + 0.5 * c)
    return v.astype(np.float32)

if __name__ == '__main__':
    weights, out = sys.argv[1], sys.argv[2]
    os.makedirs(out, exist_ok=True)
    onnx_path = os.path.join(out, 'oracle.onnx')
    cnn_oracle.build_onnx(cnn_oracle.load_pth(weights), path=onnx_path)
    x = synthetic_input()
    result = cnn_oracle.run(onnx_path, np.ascontiguousarray(x.transpose(0, 3, 1, 2)))
    np.save(os.path.join(out, 'oracle_features.npy'), result['features'].astype(np.float32))
    np.save(os.path.join(out, 'oracle_logits.npy'), result['logits'].astype(np.float32))
    os.remove(onnx_path)
    print('features', result['features'].shape, 'top-1', result['logits'].argmax(1))
