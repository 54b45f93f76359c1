// The fp32 1×1 kernel of an earlier commit against this tree's, in one process: the earlier
// cnn.c is linked beside this one with its symbols renamed old_* (kernels-ab.sh), so both run
// on one machine state, interleaved, best of 25, on every 1×1 shape of the network at the rows a
// call the network gives it. The earlier side is called with weights in rows of n (what every
// commit's kk_pointwise takes), this tree's with weights packed as its network holds them
// (kk_pointwise_packed). Prints µs, GMAC/s, the speed-up and whether the outputs are bit-identical.
#include "kindred_cnn.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "bench.h"

void old_kk_pointwise(int level, const float *in, int rows, int k, const float *w, int n, const float *bias, int relu6,
                      const float *residual, float *out);

int main(void) {
    // {rows, inputs, outputs, rows a call}: the stem's im2col, then every 1×1 shape of the network
    static const int pw[][4] = {{12544, 27, 32, 112}, {12544, 32, 16, 112}, {12544, 16, 96, 112}, {3136, 96, 24, 56},
                                {3136, 24, 144, 56},  {3136, 144, 24, 56},  {784, 144, 40, 56},   {784, 40, 240, 28},
                                {784, 240, 40, 56},   {196, 240, 80, 56},   {196, 80, 480, 14},   {196, 480, 80, 56},
                                {196, 480, 112, 56},  {196, 112, 672, 14},  {196, 672, 112, 56},  {49, 672, 192, 49},
                                {49, 192, 1152, 7},   {49, 1152, 192, 49},  {49, 1152, 320, 49},  {49, 320, 1280, 49}};
    const int level = kk_cnn_level();
    double before = 0, after = 0;
    for (size_t s = 0; s < sizeof pw / sizeof pw[0]; s++) {
        const int rows = pw[s][0], k = pw[s][1], n = pw[s][2], call = pw[s][3];
        float *in = filled((size_t)rows * k, 0.05f, -1), *w = filled((size_t)k * n, 0.001f, -1), *bias = filled(n, 0.1f, -1);
        float *o1 = filled((size_t)rows * n, 0, -1), *o2 = filled((size_t)rows * n, 0, -1);
        float *panels = filled(kk_pointwise_size(k, n), 0, -1);
        kk_pointwise_pack(w, k, n, panels);
        double best[2] = {1e9, 1e9};
        for (int repeat = 0; repeat < 25; repeat++)
            for (int which = 0; which < 2; which++) {
                const double start = now();
                for (int r = 0; r < rows; r += call) {
                    const int c = rows - r < call ? rows - r : call;
                    if (which == 0) old_kk_pointwise(level, in + (size_t)r * k, c, k, w, n, bias, 1, 0, o1 + (size_t)r * n);
                    else kk_pointwise_packed(level, in + (size_t)r * k, c, k, panels, n, bias, 1, 0, o2 + (size_t)r * n);
                }
                const double t = now() - start;
                if (t < best[which]) best[which] = t;
            }
        before += best[0];
        after += best[1];
        printf("%5d × %4d → %4d: before %6.1f µs %5.1f GMAC/s, after %6.1f µs %5.1f GMAC/s (%.2f×), same bits %d\n", rows,
               k, n, best[0] * 1e6, (double)rows * k * n / best[0] * 1e-9, best[1] * 1e6,
               (double)rows * k * n / best[1] * 1e-9, best[0] / best[1], memcmp(o1, o2, (size_t)rows * n * 4) == 0);
        free(in), free(w), free(bias), free(o1), free(o2), free(panels);
    }
    printf("one of each shape: before %.3f ms, after %.3f ms\n", before * 1e3, after * 1e3);
}
