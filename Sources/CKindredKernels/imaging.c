// The imaging kernels (kindred_imaging.h): plain loops the compiler vectorises, compiled once per
// instruction set. v·a + 255·(255 − a) + 127 is rewritten 65152 − a·(255 − v), which stays in 16
// bits, so the division by 255 vectorises as a 16-bit multiply-high.
#include "kindred_imaging.h"
#include <math.h>

/// A vector of KK_CORRELATION_PADDING floats: one zmm register under AVX-512, two ymm under AVX2,
/// four xmm on the baseline; the arithmetic on each lane is the same at every level.
typedef float kk_lanes __attribute__((vector_size(KK_CORRELATION_PADDING * sizeof(float))));
_Static_assert(3 * KK_CORRELATION_PADDING >= KK_CORRELATION_MAX_SIDE, "three vectors hold a row's positions");

#define KK_IMAGING_BODIES(suffix, target)                                                                                 \
    target static void over_white_##suffix(const uint8_t *restrict rgba, size_t width, uint8_t *restrict rgb) {           \
        for (size_t x = 0; x < width; x++) {                                                                              \
            const uint32_t a = rgba[4 * x + 3];                                                                           \
            for (int c = 0; c < 3; c++) rgb[3 * x + c] = (uint8_t)((65152u - a * (255u - rgba[4 * x + c])) / 255u);       \
        }                                                                                                                 \
    }                                                                                                                     \
    target static void accumulate_##suffix(float *restrict sums, const uint8_t *restrict bytes, size_t n, float weight) { \
        _Pragma("clang fp contract(off)") for (size_t i = 0; i < n; i++) sums[i] += (float)bytes[i] * weight;            \
    }                                                                                                                     \
    /* Clamped to [0, 255] (v < 255 ? v : 255, then v > 0 ? v : 0); (int) truncates, the floor of \
       a value ≥ 0; the fraction is exact, so halves round up. Branch-free, so it vectorises. */    \
    target static void blend_rows_##suffix(const float *restrict upper, const float *restrict lower, size_t n,          \
                                           float weight, uint8_t *restrict out) {                                         \
        _Pragma("clang fp contract(off)") const float keep = 1 - weight;                                                 \
        for (size_t i = 0; i < n; i++) {                                                                                  \
            float v = upper[i] * keep + lower[i] * weight;                                                                \
            v = v < 255 ? v : 255;                                                                                        \
            v = v > 0 ? v : 0;                                                                                            \
            const int whole = (int)v;                                                                                     \
            out[i] = (uint8_t)(whole + (v - (float)whole >= 0.5f));                                                       \
        }                                                                                                                 \
    }                                                                                                                     \
    /* Every window of a row of positions at once, KK_CORRELATION_PADDING positions a vector, up to  \
       three vectors (a row holds at most 48 positions; `chunks` is a constant where this is inlined,\
       so the accumulators stay in registers): lane x sums tmpl[r][j] · image[y + r][x + j] in four \
       parts by j mod 4, each in (r, j) order, then (p0 + p1) + (p2 + p3). That is defined lane by  \
       lane, so every level computes the same floats (no contraction into FMAs), and four chains    \
       keep each add from waiting on the one before. Lanes past the last position read the next    \
       row, or the padding after the image, and are dropped. */                                      \
    static inline target __attribute__((always_inline)) void window_row_##suffix(                                        \
        const float *restrict image, int cols, const float *restrict tmpl, int th, int tw, int y, float *restrict acc,   \
        const int chunks) {                                                                                               \
        _Pragma("clang fp contract(off)") kk_lanes part[4][3] = {{{0}}};                                              \
        for (int r = 0; r < th; r++) {                                                                                \
            const float *row = image + (size_t)(y + r) * cols;                                                        \
            const float *t = tmpl + (size_t)r * tw;                                                                   \
            for (int j = 0; j < tw; j += 4) {                                                                         \
                _Pragma("clang loop unroll(full)") for (int q = 0; q < 4; q++) {                                      \
                    if (j + q >= tw) break; /* the row's last columns */                                              \
                    const float a = t[j + q]; /* broadcast to every lane */                                           \
                    _Pragma("clang loop unroll(full)") for (int c = 0; c < chunks; c++) {                             \
                        kk_lanes u;                                                                                   \
                        __builtin_memcpy(&u, row + c * KK_CORRELATION_PADDING + j + q, sizeof u);                     \
                        part[q][c] += u * a;                                                                          \
                    }                                                                                                 \
                }                                                                                                     \
            }                                                                                                         \
        }                                                                                                             \
        _Pragma("clang loop unroll(full)") for (int c = 0; c < chunks; c++) {                                         \
            const kk_lanes sum = (part[0][c] + part[1][c]) + (part[2][c] + part[3][c]);                               \
            __builtin_memcpy(acc + c * KK_CORRELATION_PADDING, &sum, sizeof sum);                                     \
        }                                                                                                                 \
    }                                                                                                                     \
    target static float best_correlation_##suffix(const float *restrict image, int rows, int cols,                      \
                                                  const double *restrict sums, const double *restrict squares,             \
                                                  const float *restrict tmpl, int th, int tw, float min_deviation) {      \
        const double n = (double)th * tw, floor = (double)min_deviation * min_deviation * n;                            \
        const int positions = cols - tw + 1, w = cols + 1;                                                                \
        const int chunks = (positions + KK_CORRELATION_PADDING - 1) / KK_CORRELATION_PADDING;                           \
        float best = -1;                                                                                                  \
        for (int y = 0; y + th <= rows; y++) {                                                                            \
            float acc[3 * KK_CORRELATION_PADDING];                                                                        \
            switch (chunks) {                                                                                             \
            case 1: window_row_##suffix(image, cols, tmpl, th, tw, y, acc, 1); break;                                     \
            case 2: window_row_##suffix(image, cols, tmpl, th, tw, y, acc, 2); break;                                     \
            default: window_row_##suffix(image, cols, tmpl, th, tw, y, acc, 3); break;                                    \
            }                                                                                                             \
            for (int x = 0; x < positions; x++) {                                                                         \
                const int a = y * w + x, b = y * w + x + tw, c = (y + th) * w + x, d = (y + th) * w + x + tw;             \
                const double s = sums[d] - sums[b] - sums[c] + sums[a];                                                   \
                const double spread = squares[d] - squares[b] - squares[c] + squares[a] - s * s / n;                      \
                if (spread < floor) continue;                                                                             \
                const float score = acc[x] / (float)sqrt(spread);                                                         \
                if (score > best) best = score;                                                                           \
            }                                                                                                             \
        }                                                                                                                 \
        return best;                                                                                                      \
    }

KK_IMAGING_BODIES(base, )
#if defined(__x86_64__)
KK_IMAGING_BODIES(avx2, __attribute__((target("avx2"))))
KK_IMAGING_BODIES(avx512, __attribute__((target("avx512f,avx512bw,avx512vl,avx2"))))
#endif

int kk_imaging_level(void) {
#if defined(__x86_64__)
    __builtin_cpu_init();
    if (__builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") && __builtin_cpu_supports("avx512vl")) return 2;
    if (__builtin_cpu_supports("avx2")) return 1;
#endif
    return 0;
}

void kk_rgba_over_white(int level, const uint8_t *rgba, size_t width, uint8_t *rgb) {
#if defined(__x86_64__)
    if (level == 2 && kk_imaging_level() >= 2) return over_white_avx512(rgba, width, rgb);
    if (level >= 1 && kk_imaging_level() >= 1) return over_white_avx2(rgba, width, rgb);
#endif
    over_white_base(rgba, width, rgb);
}

void kk_accumulate_bytes(int level, float *sums, const uint8_t *bytes, size_t n, float weight) {
#if defined(__x86_64__)
    if (level == 2 && kk_imaging_level() >= 2) return accumulate_avx512(sums, bytes, n, weight);
    if (level >= 1 && kk_imaging_level() >= 1) return accumulate_avx2(sums, bytes, n, weight);
#endif
    accumulate_base(sums, bytes, n, weight);
}

void kk_blend_rows(int level, const float *upper, const float *lower, size_t n, float weight, uint8_t *out) {
#if defined(__x86_64__)
    if (level == 2 && kk_imaging_level() >= 2) return blend_rows_avx512(upper, lower, n, weight, out);
    if (level >= 1 && kk_imaging_level() >= 1) return blend_rows_avx2(upper, lower, n, weight, out);
#endif
    blend_rows_base(upper, lower, n, weight, out);
}

float kk_best_correlation(int level, const float *image, int rows, int cols, const float *const *templates,
                          const int *heights, const int *widths, int count, float min_deviation) {
    if (rows < 1 || cols < 1 || rows > KK_CORRELATION_MAX_SIDE || cols > KK_CORRELATION_MAX_SIDE) return -1;
    // Each window's sum and sum of squares from summed-area tables, in double: a flat window's
    // spread comes out as rounding far under the floor, where float's would not.
    const int w = cols + 1;
    double sums[(KK_CORRELATION_MAX_SIDE + 1) * (KK_CORRELATION_MAX_SIDE + 1)];
    double squares[(KK_CORRELATION_MAX_SIDE + 1) * (KK_CORRELATION_MAX_SIDE + 1)];
    for (int x = 0; x <= cols; x++) sums[x] = squares[x] = 0;
    for (int y = 1; y <= rows; y++) {
        double row = 0, row_squares = 0;
        sums[y * w] = squares[y * w] = 0;
        for (int x = 1; x <= cols; x++) {
            const double v = image[(size_t)(y - 1) * cols + x - 1];
            row += v;
            row_squares += v * v;
            sums[y * w + x] = sums[(y - 1) * w + x] + row;
            squares[y * w + x] = squares[(y - 1) * w + x] + row_squares;
        }
    }
    float best = -1;
    for (int t = 0; t < count; t++) {
        const int th = heights[t], tw = widths[t];
        if (th < 1 || tw < 1 || th > rows || tw > cols) continue;
        float r;
#if defined(__x86_64__)
        if (level == 2 && kk_imaging_level() >= 2)
            r = best_correlation_avx512(image, rows, cols, sums, squares, templates[t], th, tw, min_deviation);
        else if (level >= 1 && kk_imaging_level() >= 1)
            r = best_correlation_avx2(image, rows, cols, sums, squares, templates[t], th, tw, min_deviation);
        else
#endif
            r = best_correlation_base(image, rows, cols, sums, squares, templates[t], th, tw, min_deviation);
        if (r > best) best = r;
    }
    return best;
}
