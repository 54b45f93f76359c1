// The CNN kernels' bodies, written once over a SIMD vector type and included by cnn.c once per
// instruction set (baseline x86-64, AVX2+FMA, AVX-512), each time with:
//   KK_NAME(x)  the function name for this instruction set (x ## _avx512, ...)
//   KK_TARGET   the target attribute (empty for the baseline)
//   VEC, LANES  the full vector type and its float count; HVEC, HLANES a half-width one for tails
//   ROWS        rows of a 1×1 convolution kept in registers at once (the register file's size)
//   PIXELS      depthwise output pixels computed at once
// and undefines them at its end, ready for the next instruction set.
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

/// NP output pixels from `ox` on, one vector of channels from `ch`, of a K×K depthwise
/// convolution over rows padded with zero columns (row[i] is input column i − pad_left): every
/// tap is in range, so every pixel, edge or not, runs the same chain. Each input vector is loaded
/// once for all the NP pixels that read it, each weight vector once for the NP pixels.
static inline KK_TARGET __attribute__((always_inline)) void KK_NAME(depthwise_block)(
    const float *const *rows, int c, const float *restrict wt, const float *restrict bias, const int K, const int S, int ox,
    int ch, int relu6, float *restrict out, const int NP) {
    VEC a[PIXELS];
#pragma clang loop unroll(full)
    for (int p = 0; p < NP; p++) a[p] = KK_NAME(load)(bias + ch);
    for (int ky = 0; ky < K; ky++) {
        if (!rows[ky]) continue;  // a padding row: the same for every pixel of the row
        const float *x = rows[ky] + (size_t)ox * S * c + ch;
        VEC in[(PIXELS - 1) * 2 + KK_BLOCK_MAX_KERNEL];  // the (NP − 1)·S + K columns the pixels read
#pragma clang loop unroll(full)
        for (int t = 0; t < (NP - 1) * S + K; t++) in[t] = KK_NAME(load)(x + (size_t)t * c);
#pragma clang loop unroll(full)
        for (int kx = 0; kx < K; kx++) {
            const VEC wv = KK_NAME(load)(wt + (size_t)(ky * K + kx) * c + ch);
#pragma clang loop unroll(full)
            for (int p = 0; p < NP; p++) a[p] += in[p * S + kx] * wv;
        }
    }
#pragma clang loop unroll(full)
    for (int p = 0; p < NP; p++) KK_NAME(finish)(out + (size_t)(ox + p) * c + ch, a[p], relu6, 0);
}

/// One output row of a K×K depthwise convolution from its K zero-padded input rows (null: a
/// padding row), PIXELS pixels at a time.
static inline KK_TARGET __attribute__((always_inline)) void KK_NAME(depthwise_padded_k)(
    const float *const *rows, int c, const float *restrict wt, const float *restrict bias, const int K, const int S, int relu6,
    float *restrict out, int ow) {
    int ch = 0;
    for (; ch + LANES <= c; ch += LANES) {
        int ox = 0;
        for (; ox + PIXELS <= ow; ox += PIXELS) KK_NAME(depthwise_block)(rows, c, wt, bias, K, S, ox, ch, relu6, out, PIXELS);
        for (; ox < ow; ox++) KK_NAME(depthwise_block)(rows, c, wt, bias, K, S, ox, ch, relu6, out, 1);
    }
    for (; ch < c; ch++) {  // channels past the last whole vector
        for (int ox = 0; ox < ow; ox++) {
            float a = bias[ch];
            for (int ky = 0; ky < K; ky++) {
                if (!rows[ky]) continue;
                for (int kx = 0; kx < K; kx++) a += rows[ky][(size_t)(ox * S + kx) * c + ch] * wt[(size_t)(ky * K + kx) * c + ch];
            }
            out[(size_t)ox * c + ch] = KK_NAME(finish1)(a, relu6, 0);
        }
    }
}

static KK_TARGET void KK_NAME(depthwise_row)(const float *const *rows, int c, const float *restrict wt,
                                             const float *restrict bias, int k, int stride, int relu6, float *restrict out,
                                             int ow) {
    // Constant K and stride let the tap loops unroll and the input columns stay in registers.
#define KK_DEPTHWISE(K, S) KK_NAME(depthwise_padded_k)(rows, c, wt, bias, K, S, relu6, out, ow)
    if (k == 3 && stride == 1) KK_DEPTHWISE(3, 1);
    else if (k == 3 && stride == 2) KK_DEPTHWISE(3, 2);
    else if (k == 5 && stride == 1) KK_DEPTHWISE(5, 1);
    else if (k == 5 && stride == 2) KK_DEPTHWISE(5, 2);
    else {  // any other shape: the generic loops, kernel size and stride unknown to the compiler
        for (int ch = 0; ch + LANES <= c; ch += LANES)
            for (int ox = 0; ox < ow; ox++) KK_NAME(depthwise_block)(rows, c, wt, bias, k, stride, ox, ch, relu6, out, 1);
        for (int ch = c / LANES * LANES; ch < c; ch++) {
            for (int ox = 0; ox < ow; ox++) {
                float a = bias[ch];
                for (int ky = 0; ky < k; ky++) {
                    if (!rows[ky]) continue;
                    for (int kx = 0; kx < k; kx++)
                        a += rows[ky][(size_t)(ox * stride + kx) * c + ch] * wt[(size_t)(ky * k + kx) * c + ch];
                }
                out[(size_t)ox * c + ch] = KK_NAME(finish1)(a, relu6, 0);
            }
        }
    }
#undef KK_DEPTHWISE
}

#undef KK_NAME
#undef KK_TARGET
#undef VEC
#undef LANES
#undef HVEC
#undef HLANES
#undef ROWS
#undef PIXELS
