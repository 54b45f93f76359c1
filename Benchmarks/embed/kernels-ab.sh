#!/bin/bash
# The fp32 1×1 kernel of commit BASE against this tree's, in one process (kernels-ab.c): BASE's
# cnn.c is compiled with its own headers and its exported symbols renamed old_* (objcopy), then
# linked beside this tree's kernels.
# usage: Benchmarks/embed/kernels-ab.sh BASE
set -eu
cd "$(dirname "$0")/../.."
base=$1
out=Benchmarks/data/embed/kernels-ab; rm -rf "$out"; mkdir -p "$out/include"
for f in cnn.c cnn_impl.h include/kindred_cnn.h; do git show "$base:Sources/CKindredKernels/$f" > "$out/$f"; done
clang -O3 -I"$out/include" -c "$out/cnn.c" -o "$out/base.o"
nm --defined-only -g "$out/base.o" | awk '{print $3, "old_" $3}' > "$out/renames"
objcopy --redefine-syms="$out/renames" "$out/base.o" "$out/old.o"
clang -O3 -ISources/CKindredKernels/include -o "$out/kernels-ab" Benchmarks/embed/kernels-ab.c "$out/old.o" \
  Sources/CKindredKernels/cnn.c Sources/CKindredKernels/cnn_i16.c -lm
"$out/kernels-ab"
