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

static inline __attribute__((always_inline)) void pointwise_body(const float *restrict in, int rows, int k, const float *restrict w, int n,
                                                                 const float *restrict bias, int relu6, float *restrict out) {
    int r = 0;
    for (; r + 4 <= rows; r += 4) {
        const float *x0 = in + (size_t)r * k, *x1 = x0 + k, *x2 = x1 + k, *x3 = x2 + k;
        float *o0 = out + (size_t)r * n, *o1 = o0 + n, *o2 = o1 + n, *o3 = o2 + n;
        int j = 0;
        for (; j + 16 <= n; j += 16) {
            v8 b0 = load8(bias + j), b1 = load8(bias + j + 8);
            v8 a00 = b0, a01 = b1, a10 = b0, a11 = b1, a20 = b0, a21 = b1, a30 = b0, a31 = b1;
            for (int q = 0; q < k; q++) {
                v8 w0 = load8(w + (size_t)q * n + j), w1 = load8(w + (size_t)q * n + j + 8);
                a00 += w0 * x0[q]; a01 += w1 * x0[q];
                a10 += w0 * x1[q]; a11 += w1 * x1[q];
                a20 += w0 * x2[q]; a21 += w1 * x2[q];
                a30 += w0 * x3[q]; a31 += w1 * x3[q];
            }
            if (relu6) {
                a00 = clamp8(a00); a01 = clamp8(a01); a10 = clamp8(a10); a11 = clamp8(a11);
                a20 = clamp8(a20); a21 = clamp8(a21); a30 = clamp8(a30); a31 = clamp8(a31);
            }
            store8(o0 + j, a00); store8(o0 + j + 8, a01); store8(o1 + j, a10); store8(o1 + j + 8, a11);
            store8(o2 + j, a20); store8(o2 + j + 8, a21); store8(o3 + j, a30); store8(o3 + j + 8, a31);
        }
        for (; j + 8 <= n; j += 8) {
            v8 b = load8(bias + j), a0 = b, a1 = b, a2 = b, a3 = b;
            for (int q = 0; q < k; q++) {
                v8 wq = load8(w + (size_t)q * n + j);
                a0 += wq * x0[q]; a1 += wq * x1[q]; a2 += wq * x2[q]; a3 += wq * x3[q];
            }
            if (relu6) { a0 = clamp8(a0); a1 = clamp8(a1); a2 = clamp8(a2); a3 = clamp8(a3); }
            store8(o0 + j, a0); store8(o1 + j, a1); store8(o2 + j, a2); store8(o3 + j, a3);
        }
        for (; j < n; j++) {
            for (int i = 0; i < 4; i++) {
                const float *x = in + (size_t)(r + i) * k;
                float a = bias[j];
                for (int q = 0; q < k; q++) a += x[q] * w[(size_t)q * n + j];
                out[(size_t)(r + i) * n + j] = relu6 ? relu6f(a) : a;
            }
        }
    }
    for (; r < rows; r++) {
        const float *x = in + (size_t)r * k;
        for (int j = 0; j < n; j++) {
            float a = bias[j];
            for (int q = 0; q < k; q++) a += x[q] * w[(size_t)q * n + j];
            out[(size_t)r * n + j] = relu6 ? relu6f(a) : a;
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
static void pointwise_base(const float *in, int rows, int k, const float *w, int n, const float *b, int r6, float *out) {
    pointwise_body(in, rows, k, w, n, b, r6, out);
}

#if defined(__x86_64__)
__attribute__((target("avx2,fma")))
static void depthwise_avx2(const float *in, int h, int w, int c, const float *wt, const float *b, int k, int s, int pt, int pl,
                           float *out, int oh, int ow, int r6, int rb, int re) {
    depthwise_body(in, h, w, c, wt, b, k, s, pt, pl, out, oh, ow, r6, rb, re);
}
__attribute__((target("avx2,fma")))
static void pointwise_avx2(const float *in, int rows, int k, const float *w, int n, const float *b, int r6, float *out) {
    pointwise_body(in, rows, k, w, n, b, r6, out);
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
#define pointwise_avx2 pointwise_base
#endif

void kk_pointwise(const float *in, int rows, int k, const float *w, int n, const float *bias, int relu6, float *out) {
    (has_avx2() ? pointwise_avx2 : pointwise_base)(in, rows, k, w, n, bias, relu6, out);
}

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
