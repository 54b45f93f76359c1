#!/bin/bash
# Each layer kind of EfficientNet-Lite0 alone at the network's shapes (layers.c): depthwise, 1×1
# fp32 and 1×1 int16, µs and GMAC/s a layer, best of 15.
# usage: Benchmarks/embed/layers.sh
set -eu
cd "$(dirname "$0")/../.."
out=Benchmarks/data/embed; mkdir -p "$out"
clang -O3 -ISources/CKindredKernels/include -o "$out/layers" Benchmarks/embed/layers.c Sources/CKindredKernels/cnn_i16.c -lm
"$out/layers"
