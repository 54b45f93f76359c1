#include "kindred_cnn.h"
#include <string.h>

static inline __attribute__((always_inline)) float relu6f(float v) { return v < 0 ? 0 : (v > 6 ? 6 : v); }

// The bodies are always inlined into a baseline and an AVX2+FMA wrapper; the compiler vectorises
// the channel loops for each.
typedef float v8 __attribute__((vector_size(32)));

static inline __attribute__((always_inline)) v8 load8(const float *p) { v8 v; __builtin_memcpy(&v, p, sizeof v); return v; }
static inline __attribute__((always_inline)) void store8(float *p, v8 v) { __builtin_memcpy(p, &v, sizeof v); }
static inline __attribute__((always_inline)) v8 clamp8(v8 v) {
    const v8 zero = {0}, six = {6, 6, 6, 6, 6, 6, 6, 6};
    return __builtin_elementwise_min(__builtin_elementwise_max(v, zero), six);
}

// For each output pixel, 16 channels at a time (8 for the tail) are accumulated in registers over
// all k×k taps and stored once, instead of reading and writing the output on every tap.
// Every channel count in EfficientNet-Lite0 is a multiple of 8; a scalar loop covers any rest.
static inline __attribute__((always_inline)) void depthwise_body(
    const float *restrict in, int h, int w, int c, const float *restrict weights, const float *restrict bias, int k,
    int stride, int pad_top, int pad_left, float *restrict out, int oh, int ow, int relu6, int row_begin, int row_end) {
    (void)oh;
    for (int oy = row_begin; oy < row_end; oy++) {
        int ky0 = pad_top - oy * stride; if (ky0 < 0) ky0 = 0;
        int ky1 = h + pad_top - oy * stride; if (ky1 > k) ky1 = k;
        for (int ox = 0; ox < ow; ox++) {
            int kx0 = pad_left - ox * stride; if (kx0 < 0) kx0 = 0;
            int kx1 = w + pad_left - ox * stride; if (kx1 > k) kx1 = k;
            const float *base = in + ((size_t)(oy * stride - pad_top) * w + (ox * stride - pad_left)) * c;
            float *restrict o = out + ((size_t)oy * ow + ox) * c;
            int ch = 0;
            for (; ch + 16 <= c; ch += 16) {
                v8 a0 = load8(bias + ch), a1 = load8(bias + ch + 8);
                for (int ky = ky0; ky < ky1; ky++) {
                    for (int kx = kx0; kx < kx1; kx++) {
                        const float *x = base + ((size_t)ky * w + kx) * c + ch;
                        const float *wt = weights + ((size_t)ky * k + kx) * c + ch;
                        a0 += load8(x) * load8(wt);
                        a1 += load8(x + 8) * load8(wt + 8);
                    }
                }
                if (relu6) { a0 = clamp8(a0); a1 = clamp8(a1); }
                store8(o + ch, a0);
                store8(o + ch + 8, a1);
            }
            for (; ch + 8 <= c; ch += 8) {
                v8 a = load8(bias + ch);
                for (int ky = ky0; ky < ky1; ky++)
                    for (int kx = kx0; kx < kx1; kx++)
                        a += load8(base + ((size_t)ky * w + kx) * c + ch) * load8(weights + ((size_t)ky * k + kx) * c + ch);
                store8(o + ch, relu6 ? clamp8(a) : a);
            }
            for (; ch < c; ch++) {
                float a = bias[ch];
                for (int ky = ky0; ky < ky1; ky++)
                    for (int kx = kx0; kx < kx1; kx++)
                        a += base[((size_t)ky * w + kx) * c + ch] * weights[((size_t)ky * k + kx) * c + ch];
                o[ch] = relu6 ? relu6f(a) : a;
            }
        }
    }
}

static inline __attribute__((always_inline)) void bias_body(float *restrict x, int cols, const float *restrict bias, int relu6,
                                                            int row_begin, int row_end) {
    for (int r = row_begin; r < row_end; r++) {
        float *restrict row = x + (size_t)r * cols;
        if (relu6)
            for (int j = 0; j < cols; j++) row[j] = relu6f(row[j] + bias[j]);
        else
            for (int j = 0; j < cols; j++) row[j] += bias[j];
    }
}

static void depthwise_base(const float *in, int h, int w, int c, const float *wt, const float *b, int k, int s, int pt, int pl,
                           float *out, int oh, int ow, int r6, int rb, int re) {
    depthwise_body(in, h, w, c, wt, b, k, s, pt, pl, out, oh, ow, r6, rb, re);
}
static void bias_base(float *x, int cols, const float *b, int r6, int rb, int re) { bias_body(x, cols, b, r6, rb, re); }

#if defined(__x86_64__)
__attribute__((target("avx2,fma")))
static void depthwise_avx2(const float *in, int h, int w, int c, const float *wt, const float *b, int k, int s, int pt, int pl,
                           float *out, int oh, int ow, int r6, int rb, int re) {
    depthwise_body(in, h, w, c, wt, b, k, s, pt, pl, out, oh, ow, r6, rb, re);
}
__attribute__((target("avx2,fma")))
static void bias_avx2(float *x, int cols, const float *b, int r6, int rb, int re) { bias_body(x, cols, b, r6, rb, re); }

static int has_avx2(void) {
    static int cached = -1;
    if (cached < 0) {
        __builtin_cpu_init();
        cached = __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
    }
    return cached;
}
#else
static int has_avx2(void) { return 0; }
#define depthwise_avx2 depthwise_base
#define bias_avx2 bias_base
#endif

void kk_depthwise(const float *in, int h, int w, int c, const float *weights, const float *bias, int k, int stride,
                  int pad_top, int pad_left, float *out, int oh, int ow, int relu6, int row_begin, int row_end) {
    (has_avx2() ? depthwise_avx2 : depthwise_base)(in, h, w, c, weights, bias, k, stride, pad_top, pad_left, out, oh, ow, relu6,
                                                   row_begin, row_end);
}

void kk_bias_activate(float *x, int cols, const float *bias, int relu6, int row_begin, int row_end) {
    (has_avx2() ? bias_avx2 : bias_base)(x, cols, bias, relu6, row_begin, row_end);
}

void kk_add(float *y, const float *x, size_t begin, size_t end) {
    for (size_t i = begin; i < end; i++) y[i] += x[i];
}

void kk_im2col(const float *in, int h, int w, int c, int k, int stride, int pad_top, int pad_left,
               int oh, int ow, float *col, int row_begin, int row_end) {
    (void)oh;
    size_t width = (size_t)k * k * c;
    for (int oy = row_begin; oy < row_end; oy++) {
        for (int ox = 0; ox < ow; ox++) {
            float *dst = col + ((size_t)oy * ow + ox) * width;
            for (int ky = 0; ky < k; ky++) {
                int iy = oy * stride - pad_top + ky;
                for (int kx = 0; kx < k; kx++) {
                    int ix = ox * stride - pad_left + kx;
                    float *d = dst + ((size_t)ky * k + kx) * c;
                    if (iy < 0 || iy >= h || ix < 0 || ix >= w) memset(d, 0, sizeof(float) * c);
                    else memcpy(d, in + ((size_t)iy * w + ix) * c, sizeof(float) * c);
                }
            }
        }
    }
}

void kk_mean_rows(const float *in, int n, int c, float *out) {
    for (int j = 0; j < c; j++) out[j] = 0;
    for (int i = 0; i < n; i++)
        for (int j = 0; j < c; j++) out[j] += in[(size_t)i * c + j];
    float scale = 1.0f / (float)n;
    for (int j = 0; j < c; j++) out[j] *= scale;
}
