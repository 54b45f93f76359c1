// Distance kernels for KindredIndex.
//
// Why C: Swift compiles a module for one CPU baseline (x86-64, SSE2) and has no per-function
// target attributes or run-time CPU dispatch. These few functions are compiled for AVX-512 and
// AVX2+FMA with GCC/Clang target attributes and chosen once at start-up by CPUID, the way hnswlib
// and FAISS do it. Everything around them stays in Swift.
#ifndef KINDRED_KERNELS_H
#define KINDRED_KERNELS_H
#include <stddef.h>

typedef float (*kk_distance_fn)(const float *a, const float *b, size_t n);

/// The fastest inner product this CPU runs: sum a[i] * b[i].
kk_distance_fn kk_select_dot(void);
/// The fastest squared L2 distance this CPU runs: sum (a[i] - b[i])^2.
kk_distance_fn kk_select_l2sq(void);
/// Which instruction set the selected kernels use: "avx512", "avx2" or "scalar".
const char *kk_isa(void);

/// Hints the CPU to fetch the cache lines of a vector of n floats.
static inline void kk_prefetch(const void *p, size_t n) {
    const char *c = (const char *)p;
    for (size_t i = 0; i < n * sizeof(float); i += 64) __builtin_prefetch(c + i, 0, 3);
}
#endif
