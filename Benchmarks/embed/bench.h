// What the kernel benchmarks (layers.c, kernels-ab.c) share: a clock and filled buffers.
#include <stdlib.h>
#include <time.h>

static double now(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec + t.tv_nsec * 1e-9;
}

// n floats on a 64-byte boundary, a fixed pattern of 97 values: offset + scale · (0 … 96).
static float *filled(size_t n, float scale, float offset) {
    float *p = aligned_alloc(64, (n * sizeof(float) + 63) / 64 * 64);
    for (size_t i = 0; i < n; i++) p[i] = (float)((i * 2654435761u) % 97) * scale + offset;
    return p;
}
