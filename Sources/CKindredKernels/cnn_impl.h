// The CNN kernels' bodies, written once over a SIMD vector type and included by cnn.c once per
// instruction set (baseline x86-64, AVX2+FMA, AVX-512), each time with:
//   KK_NAME(x)  the function name for this instruction set (x ## _avx512, ...)
//   KK_TARGET   the target attribute (empty for the baseline)
//   VEC, LANES  the full vector type and its float count; HVEC, HLANES a half-width one for tails
//   ROWS        rows of a 1×1 convolution kept in registers at once (the register file's size)
//
// Every output value is computed by one chain: bias first, then the products in a fixed order
// (inputs q = 0, 1, … for a 1×1 convolution; taps row by row for a depthwise one), fused
// multiply-adds wherever the target has them. Which register block, vector width or tail loop
// computes a value never changes that chain, so how a layer's rows are cut between threads, or
// how many pixels one call covers, cannot change a bit of the result.

static inline KK_TARGET __attribute__((always_inline)) VEC KK_NAME(load)(const float *p) {
    VEC v;
    __builtin_memcpy(&v, p, sizeof v);
    return v;
}
static inline KK_TARGET __attribute__((always_inline)) void KK_NAME(store)(float *p, VEC v) { __builtin_memcpy(p, &v, sizeof v); }
static inline KK_TARGET __attribute__((always_inline)) HVEC KK_NAME(hload)(const float *p) {
    HVEC v;
    __builtin_memcpy(&v, p, sizeof v);
    return v;
}
static inline KK_TARGET __attribute__((always_inline)) void KK_NAME(hstore)(float *p, HVEC v) { __builtin_memcpy(p, &v, sizeof v); }

/// Stores act(a) + residual: ReLU6 when asked, then the residual when given.
static inline KK_TARGET __attribute__((always_inline)) void KK_NAME(finish)(float *out, VEC a, int relu6, const float *residual) {
    if (relu6) {
        const VEC zero = {0}, six = zero + 6;
        a = __builtin_elementwise_min(__builtin_elementwise_max(a, zero), six);
    }
    if (residual) a += KK_NAME(load)(residual);
    KK_NAME(store)(out, a);
}
static inline KK_TARGET __attribute__((always_inline)) void KK_NAME(hfinish)(float *out, HVEC a, int relu6, const float *residual) {
    if (relu6) {
        const HVEC zero = {0}, six = zero + 6;
        a = __builtin_elementwise_min(__builtin_elementwise_max(a, zero), six);
    }
    if (residual) a += KK_NAME(hload)(residual);
    KK_NAME(hstore)(out, a);
}
static inline KK_TARGET __attribute__((always_inline)) float KK_NAME(finish1)(float a, int relu6, const float *residual) {
    if (relu6) a = a < 0 ? 0 : (a > 6 ? 6 : a);
    return residual ? a + *residual : a;
}

/// R rows of a 1×1 convolution, outputs [j0, j1) of n: R × 2 vectors of outputs accumulate in
/// registers over all k inputs, each weight vector loaded once for the R rows.
static inline KK_TARGET __attribute__((always_inline)) void KK_NAME(pointwise_rows)(
    const float *restrict in, int k, const float *restrict w, int n, int j0, int j1, const float *restrict bias, int relu6,
    const float *residual, float *restrict out, const int R) {
    int j = j0;
    for (; j + 2 * LANES <= j1; j += 2 * LANES) {
        VEC a[8][2];
#pragma clang loop unroll(full)
        for (int i = 0; i < R; i++) { a[i][0] = KK_NAME(load)(bias + j); a[i][1] = KK_NAME(load)(bias + j + LANES); }
        for (int q = 0; q < k; q++) {
            const VEC w0 = KK_NAME(load)(w + (size_t)q * n + j), w1 = KK_NAME(load)(w + (size_t)q * n + j + LANES);
#pragma clang loop unroll(full)
            for (int i = 0; i < R; i++) {
                const float x = in[(size_t)i * k + q];
                a[i][0] += w0 * x;
                a[i][1] += w1 * x;
            }
        }
#pragma clang loop unroll(full)
        for (int i = 0; i < R; i++) {
            const float *r = residual ? residual + (size_t)i * n + j : 0;
            KK_NAME(finish)(out + (size_t)i * n + j, a[i][0], relu6, r);
            KK_NAME(finish)(out + (size_t)i * n + j + LANES, a[i][1], relu6, r ? r + LANES : 0);
        }
    }
    for (; j + LANES <= j1; j += LANES) {
        VEC a[8];
#pragma clang loop unroll(full)
        for (int i = 0; i < R; i++) a[i] = KK_NAME(load)(bias + j);
        for (int q = 0; q < k; q++) {
            const VEC wq = KK_NAME(load)(w + (size_t)q * n + j);
#pragma clang loop unroll(full)
            for (int i = 0; i < R; i++) a[i] += wq * in[(size_t)i * k + q];
        }
#pragma clang loop unroll(full)
        for (int i = 0; i < R; i++)
            KK_NAME(finish)(out + (size_t)i * n + j, a[i], relu6, residual ? residual + (size_t)i * n + j : 0);
    }
    for (; j + HLANES <= j1; j += HLANES) {
        HVEC a[8];
#pragma clang loop unroll(full)
        for (int i = 0; i < R; i++) a[i] = KK_NAME(hload)(bias + j);
        for (int q = 0; q < k; q++) {
            const HVEC wq = KK_NAME(hload)(w + (size_t)q * n + j);
#pragma clang loop unroll(full)
            for (int i = 0; i < R; i++) a[i] += wq * in[(size_t)i * k + q];
        }
#pragma clang loop unroll(full)
        for (int i = 0; i < R; i++)
            KK_NAME(hfinish)(out + (size_t)i * n + j, a[i], relu6, residual ? residual + (size_t)i * n + j : 0);
    }
    for (; j < j1; j++) {
        for (int i = 0; i < R; i++) {
            float a = bias[j];
            for (int q = 0; q < k; q++) a += in[(size_t)i * k + q] * w[(size_t)q * n + j];
            out[(size_t)i * n + j] = KK_NAME(finish1)(a, relu6, residual ? residual + (size_t)i * n + j : 0);
        }
    }
}

/// Weight bytes a column chunk of a 1×1 convolution may span, so the chunk's weights stay in L2
/// while every row block passes over them (the head's 320 × 1280 weights are 1.6 MB).
#define KK_CHUNK_BYTES (128 * 1024)

static KK_TARGET void KK_NAME(pointwise)(const float *restrict in, int rows, int k, const float *restrict w, int n,
                                         const float *restrict bias, int relu6, const float *residual, float *restrict out) {
    int chunk = n;
    if ((size_t)k * n * sizeof(float) > KK_CHUNK_BYTES) {
        chunk = (int)(KK_CHUNK_BYTES / ((size_t)k * sizeof(float))) / (2 * LANES) * (2 * LANES);
        if (chunk < 2 * LANES) chunk = 2 * LANES;
    }
    for (int j0 = 0; j0 < n; j0 += chunk) {
        const int j1 = n - j0 < chunk ? n : j0 + chunk;
        int r = 0;
#define KK_ROWS_AT(R)                                                                                                     \
    KK_NAME(pointwise_rows)(in + (size_t)r * k, k, w, n, j0, j1, bias, relu6, residual ? residual + (size_t)r * n : 0,     \
                            out + (size_t)r * n, R)
        for (; r + ROWS <= rows; r += ROWS) KK_ROWS_AT(ROWS);
        switch (rows - r) {  // the last rows in one block of their own size
        case 1: KK_ROWS_AT(1); break;
        case 2: KK_ROWS_AT(2); break;
        case 3: KK_ROWS_AT(3); break;
#if ROWS > 4
        case 4: KK_ROWS_AT(4); break;
        case 5: KK_ROWS_AT(5); break;
        case 6: KK_ROWS_AT(6); break;
        case 7: KK_ROWS_AT(7); break;
#endif
        default: break;
        }
#undef KK_ROWS_AT
    }
}

/// One depthwise output pixel at any position: taps outside the image (a null row, a column
/// outside [0, w)) are skipped.
static inline KK_TARGET __attribute__((always_inline)) void KK_NAME(depthwise_pixel)(
    const float *const *rows, int w, int c, const float *restrict wt, const float *restrict bias, const int K, int ix0, int relu6,
    float *restrict out) {
    int ch = 0;
    for (; ch + LANES <= c; ch += LANES) {
        VEC a = KK_NAME(load)(bias + ch);
        for (int ky = 0; ky < K; ky++) {
            if (!rows[ky]) continue;
            for (int kx = 0; kx < K; kx++) {
                const int ix = ix0 + kx;
                if (ix < 0 || ix >= w) continue;
                a += KK_NAME(load)(rows[ky] + (size_t)ix * c + ch) * KK_NAME(load)(wt + (size_t)(ky * K + kx) * c + ch);
            }
        }
        KK_NAME(finish)(out + ch, a, relu6, 0);
    }
    for (; ch < c; ch++) {
        float a = bias[ch];
        for (int ky = 0; ky < K; ky++) {
            if (!rows[ky]) continue;
            for (int kx = 0; kx < K; kx++) {
                const int ix = ix0 + kx;
                if (ix < 0 || ix >= w) continue;
                a += rows[ky][(size_t)ix * c + ch] * wt[(size_t)(ky * K + kx) * c + ch];
            }
        }
        out[ch] = KK_NAME(finish1)(a, relu6, 0);
    }
}

/// One output row of a K×K depthwise convolution from its K input rows (null: padding). Pixels
/// whose taps all fall inside the row go four at a time, sharing each weight vector; the few at
/// the edges go one by one, skipping the taps outside.
static inline KK_TARGET __attribute__((always_inline)) void KK_NAME(depthwise_row_k)(
    const float *const *rows, int w, int c, const float *restrict wt, const float *restrict bias, const int K, int stride,
    int pad_left, int relu6, float *restrict out, int ow) {
    int inner_begin = (pad_left + stride - 1) / stride;
    int inner_end = w - K + pad_left < 0 ? 0 : (w - K + pad_left) / stride + 1;
    if (inner_end > ow) inner_end = ow;
    if (inner_begin > inner_end) inner_begin = inner_end;
    for (int ox = 0; ox < inner_begin; ox++)
        KK_NAME(depthwise_pixel)(rows, w, c, wt, bias, K, ox * stride - pad_left, relu6, out + (size_t)ox * c);
    int ox = inner_begin;
    for (; ox + 4 <= inner_end; ox += 4) {
        const size_t step = (size_t)stride * c;
        int ch = 0;
        for (; ch + LANES <= c; ch += LANES) {
            const VEC b = KK_NAME(load)(bias + ch);
            VEC a0 = b, a1 = b, a2 = b, a3 = b;
            for (int ky = 0; ky < K; ky++) {
                if (!rows[ky]) continue;
                const float *x = rows[ky] + (size_t)(ox * stride - pad_left) * c + ch;
                for (int kx = 0; kx < K; kx++) {
                    const VEC wv = KK_NAME(load)(wt + (size_t)(ky * K + kx) * c + ch);
                    const float *p = x + (size_t)kx * c;
                    a0 += KK_NAME(load)(p) * wv;
                    a1 += KK_NAME(load)(p + step) * wv;
                    a2 += KK_NAME(load)(p + 2 * step) * wv;
                    a3 += KK_NAME(load)(p + 3 * step) * wv;
                }
            }
            float *o = out + (size_t)ox * c + ch;
            KK_NAME(finish)(o, a0, relu6, 0);
            KK_NAME(finish)(o + c, a1, relu6, 0);
            KK_NAME(finish)(o + 2 * (size_t)c, a2, relu6, 0);
            KK_NAME(finish)(o + 3 * (size_t)c, a3, relu6, 0);
        }
        for (int p = 0; p < 4 && ch < c; p++) {  // channels past the last whole vector
            for (int cc = ch; cc < c; cc++) {
                float a = bias[cc];
                for (int ky = 0; ky < K; ky++) {
                    if (!rows[ky]) continue;
                    for (int kx = 0; kx < K; kx++)
                        a += rows[ky][(size_t)((ox + p) * stride - pad_left + kx) * c + cc] * wt[(size_t)(ky * K + kx) * c + cc];
                }
                out[(size_t)(ox + p) * c + cc] = KK_NAME(finish1)(a, relu6, 0);
            }
        }
    }
    for (; ox < ow; ox++)
        KK_NAME(depthwise_pixel)(rows, w, c, wt, bias, K, ox * stride - pad_left, relu6, out + (size_t)ox * c);
}

static KK_TARGET void KK_NAME(depthwise_row)(const float *const *rows, int w, int c, const float *restrict wt,
                                             const float *restrict bias, int k, int stride, int pad_left, int relu6,
                                             float *restrict out, int ow) {
    // A constant K lets the tap loops unroll and the weight vectors stay in registers.
    switch (k) {
    case 3: KK_NAME(depthwise_row_k)(rows, w, c, wt, bias, 3, stride, pad_left, relu6, out, ow); break;
    case 5: KK_NAME(depthwise_row_k)(rows, w, c, wt, bias, 5, stride, pad_left, relu6, out, ow); break;
    default: KK_NAME(depthwise_row_k)(rows, w, c, wt, bias, k, stride, pad_left, relu6, out, ow); break;
    }
}
