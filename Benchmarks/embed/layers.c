// Each layer kind of EfficientNet-Lite0 alone, at the shapes the network runs it: the depthwise
// convolution over rows in panels (as kk_block_shared's ring holds them), and the 1×1
// convolutions in fp32 and in int16, called on as many rows at once as the fused blocks call them.
// Prints µs and GMAC/s a layer, best of several repetitions, and the total an image. It includes
// cnn.c to reach the per-level depthwise kernel, which the library keeps static.
// Build and run: Benchmarks/embed/layers.sh
#include "../../Sources/CKindredKernels/cnn.c"
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include "bench.h"

#define REPEATS 15

static double depthwise(int h, int c, int k, int s) {
    const int oh = (h + s - 1) / s, pad = (oh - 1) * s + k - h, left = pad / 2, wide = left + h + (pad - left) + k;
    const size_t slot = (size_t)wide * panels(c) * KK_PANEL;
    float *image = filled((size_t)h * slot, 0.01f, 0), *out = filled((size_t)oh * c, 0, 0);
    float *packed = filled(kk_depthwise_size(k, c), 0, 0), *weight = filled((size_t)k * k * c, 0.01f, 0), *bias = filled(c, 0.1f, 0);
    kk_depthwise_pack(weight, bias, k, c, packed);
    double best = 1e9;
    for (int repeat = 0; repeat < REPEATS; repeat++) {
        const double start = now();
        for (int oy = 0; oy < oh; oy++) {
            const float *rows[KK_BLOCK_MAX_KERNEL];
            for (int t = 0; t < k; t++) {
                const int r = oy * s - left + t;
                rows[t] = r < 0 || r >= h ? 0 : image + (size_t)r * slot;
            }
            levels[kk_cnn_level()].depthwise_row(rows, c, wide, packed, k, s, 1, out, oh);
        }
        if (now() - start < best) best = now() - start;
    }
    printf("depthwise %3d² × %4d, %d×%d stride %d: %7.1f µs %6.1f GMAC/s\n", h, c, k, k, s, best * 1e6,
           (double)oh * oh * c * k * k / best * 1e-9);
    return best;
}

static double pointwise(int rows, int k, int n, int call, int int16) {
    float *in = filled((size_t)rows * k, 0.05f, 0), *w = filled((size_t)k * n, 0.001f, 0), *bias = filled(n, 0.1f, 0);
    float *out = filled((size_t)rows * n, 0, 0);
    void *packed = aligned_alloc(64, (kk_i16_size(k, n) + 63) / 64 * 64);
    kk_i16_pack(w, k, n, packed);
    float *panels = filled(kk_pointwise_size(k, n), 0, 0);  // fp32 weights as the network holds them
    kk_pointwise_pack(w, k, n, panels);
    double best = 1e9;
    for (int repeat = 0; repeat < REPEATS; repeat++) {
        const double start = now();
        for (int r = 0; r < rows; r += call) {
            const int count = rows - r < call ? rows - r : call;
            if (int16) kk_pointwise_i16(kk_i16_level(), in + (size_t)r * k, count, k, packed, n, bias, 1, 0, out + (size_t)r * n);
            else kk_pointwise_packed(kk_cnn_level(), in + (size_t)r * k, count, k, panels, n, bias, 1, 0, out + (size_t)r * n);
        }
        if (now() - start < best) best = now() - start;
    }
    printf("1×1 %s %5d rows × %4d → %4d: %7.1f µs %6.1f GMAC/s\n", int16 ? "int16" : "fp32 ", rows, k, n, best * 1e6,
           (double)rows * k * n / best * 1e-9);
    return best;
}

int main(void) {
    // {input side, channels, kernel, stride, blocks of this shape}
    static const int dw[][5] = {{112, 32, 3, 1, 1}, {112, 96, 3, 2, 1}, {56, 144, 3, 1, 1}, {56, 144, 5, 2, 1},
                                {28, 240, 5, 1, 1}, {28, 240, 3, 2, 1}, {14, 480, 3, 1, 2}, {14, 480, 5, 1, 1},
                                {14, 672, 5, 1, 2}, {14, 672, 5, 2, 1}, {7, 1152, 5, 1, 3}, {7, 1152, 3, 1, 1}};
    // {rows, inputs, outputs, rows a call, layers of this shape}
    static const int pw[][5] = {{12544, 32, 16, 112, 1}, {12544, 16, 96, 112, 1}, {3136, 96, 24, 56, 1},
                                {3136, 24, 144, 56, 2},  {3136, 144, 24, 56, 1},  {784, 144, 40, 56, 1},
                                {784, 40, 240, 28, 2},   {784, 240, 40, 56, 1},   {196, 240, 80, 56, 1},
                                {196, 80, 480, 14, 3},   {196, 480, 80, 56, 2},   {196, 480, 112, 56, 1},
                                {196, 112, 672, 14, 3},  {196, 672, 112, 56, 2},  {49, 672, 192, 49, 1},
                                {49, 192, 1152, 7, 4},   {49, 1152, 192, 49, 3},  {49, 1152, 320, 49, 1},
                                {49, 320, 1280, 49, 1}};
    double total = 0, fp32 = 0, int16 = 0;
    for (size_t i = 0; i < sizeof dw / sizeof dw[0]; i++) total += dw[i][4] * depthwise(dw[i][0], dw[i][1], dw[i][2], dw[i][3]);
    for (size_t i = 0; i < sizeof pw / sizeof pw[0]; i++) {
        const double f = pointwise(pw[i][0], pw[i][1], pw[i][2], pw[i][3], 0);
        fp32 += pw[i][4] * f;
        // int16 as the network runs it: the narrow layers stay fp32 (EfficientNetLite0's int16Pays).
        if (kk_i16_level() >= 1) {
            const double q = pointwise(pw[i][0], pw[i][1], pw[i][2], pw[i][3], 1);
            int16 += pw[i][4] * (pw[i][2] > KK_NARROW_OUTPUTS ? q : f);
        }
    }
    printf("an image (%s): depthwise %.3f ms, 1×1 fp32 %.3f ms, 1×1 int16 (narrow layers fp32) %.3f ms\n", kk_cnn_isa(kk_cnn_level()),
           total * 1e3, fp32 * 1e3, int16 * 1e3);
}
