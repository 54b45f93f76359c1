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

/// min(max(a, 0), 6), lane by lane.
static inline KK_TARGET __attribute__((always_inline)) VEC KK_NAME(relu6)(VEC a) {
    const VEC zero = {0}, six = zero + 6;
    return __builtin_elementwise_min(__builtin_elementwise_max(a, zero), six);
}

/// Stores act(a) + residual: ReLU6 when asked, then the residual when given.
static inline KK_TARGET __attribute__((always_inline)) void KK_NAME(finish)(float *out, VEC a, int relu6, const float *residual) {
    if (relu6) a = KK_NAME(relu6)(a);
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
    const float *restrict in, int k, kk_weights w, int n, int j0, int j1, const float *restrict bias, int relu6,
    const float *residual, float *restrict out, kk_layout o, const int R) {
    int j = j0;
    for (; j + 2 * LANES <= j1; j += 2 * LANES) {
        const float *restrict wj = kk_weights_at(w, j);
        VEC a[8][2];
#pragma clang loop unroll(full)
        for (int i = 0; i < R; i++) { a[i][0] = KK_NAME(load)(bias + j); a[i][1] = KK_NAME(load)(bias + j + LANES); }
        for (int q = 0; q < k; q++) {
            const VEC w0 = KK_NAME(load)(wj + q * w.q), w1 = KK_NAME(load)(wj + q * w.q + LANES);
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
            KK_NAME(finish)(kk_layout_at(out, o, i, j), a[i][0], relu6, r);
            KK_NAME(finish)(kk_layout_at(out, o, i, j + LANES), a[i][1], relu6, r ? r + LANES : 0);
        }
    }
    for (; j + LANES <= j1; j += LANES) {
        const float *restrict wj = kk_weights_at(w, j);
        VEC a[8];
#pragma clang loop unroll(full)
        for (int i = 0; i < R; i++) a[i] = KK_NAME(load)(bias + j);
        for (int q = 0; q < k; q++) {
            const VEC wq = KK_NAME(load)(wj + q * w.q);
#pragma clang loop unroll(full)
            for (int i = 0; i < R; i++) a[i] += wq * in[(size_t)i * k + q];
        }
#pragma clang loop unroll(full)
        for (int i = 0; i < R; i++)
            KK_NAME(finish)(kk_layout_at(out, o, i, j), a[i], relu6, residual ? residual + (size_t)i * n + j : 0);
    }
    for (; j + HLANES <= j1; j += HLANES) {
        const float *restrict wj = kk_weights_at(w, j);
        HVEC a[8];
#pragma clang loop unroll(full)
        for (int i = 0; i < R; i++) a[i] = KK_NAME(hload)(bias + j);
        for (int q = 0; q < k; q++) {
            const HVEC wq = KK_NAME(hload)(wj + q * w.q);
#pragma clang loop unroll(full)
            for (int i = 0; i < R; i++) a[i] += wq * in[(size_t)i * k + q];
        }
#pragma clang loop unroll(full)
        for (int i = 0; i < R; i++)
            KK_NAME(hfinish)(kk_layout_at(out, o, i, j), a[i], relu6, residual ? residual + (size_t)i * n + j : 0);
    }
    for (; j < j1; j++) {
        for (int i = 0; i < R; i++) {
            float a = bias[j];
            for (int q = 0; q < k; q++) a += in[(size_t)i * k + q] * kk_weights_at(w, j)[q * w.q];
            *kk_layout_at(out, o, i, j) = KK_NAME(finish1)(a, relu6, residual ? residual + (size_t)i * n + j : 0);
        }
    }
}

#if LANES == 16
/// R rows × V vectors of a narrow 1×1 convolution (n ≤ KK_NARROW_OUTPUTS, V = ⌈n/16⌉): every
/// output of the R rows accumulates in registers in one pass over the k inputs, the last vector's
/// weights, bias, residual and stores masked to n. pointwise_rows makes one pass per width of
/// vector (24 outputs: 16, then 8 at half width), broadcasting each input again in each pass and
/// keeping only 8 rows' worth of products in flight; on the early layers (16–40 outputs) that
/// ran at a third of the FMA peak (1.3–1.65× faster so, Benchmarks/RESULTS.md). The chains are
/// pointwise_rows' own: the same bits.
static inline KK_TARGET __attribute__((always_inline)) void KK_NAME(narrow_rows)(
    const float *restrict in, int k, kk_weights w, int n, const float *restrict bias, int relu6,
    const float *residual, float *restrict out, kk_layout o, const int R, const int V) {
    const __mmask16 last = (__mmask16)(0xffffu >> (16 * V - n));
    VEC a[16][3];
#pragma clang loop unroll(full)
    for (int v = 0; v < V; v++) {
        const VEC b = _mm512_maskz_loadu_ps(v == V - 1 ? last : 0xffff, bias + 16 * v);
#pragma clang loop unroll(full)
        for (int i = 0; i < R; i++) a[i][v] = b;
    }
    for (int q = 0; q < k; q++) {
        VEC wq[3];
#pragma clang loop unroll(full)
        for (int v = 0; v < V; v++) wq[v] = _mm512_maskz_loadu_ps(v == V - 1 ? last : 0xffff, kk_weights_at(w, 16 * v) + q * w.q);
#pragma clang loop unroll(full)
        for (int i = 0; i < R; i++) {
            const float x = in[(size_t)i * k + q];
#pragma clang loop unroll(full)
            for (int v = 0; v < V; v++) a[i][v] += wq[v] * x;
        }
    }
#pragma clang loop unroll(full)
    for (int i = 0; i < R; i++) {
#pragma clang loop unroll(full)
        for (int v = 0; v < V; v++) {
            const __mmask16 m = v == V - 1 ? last : 0xffff;
            VEC y = relu6 ? KK_NAME(relu6)(a[i][v]) : a[i][v];  // then the residual, as finish does
            if (residual) y += (VEC)_mm512_maskz_loadu_ps(m, residual + (size_t)i * n + 16 * v);
            _mm512_mask_storeu_ps(kk_layout_at(out, o, i, 16 * v), m, y);
        }
    }
}

/// A narrow 1×1 convolution: rows in blocks of 12 for two vectors of outputs and 8 for one or
/// three (24 accumulators of the 32 registers; with one vector, 12 or 16 rows measured no faster
/// than 8), the rows left over in blocks of 8, 4, 2 and 1.
static KK_TARGET void KK_NAME(pointwise_narrow)(const float *restrict in, int rows, int k, kk_weights w, int n,
                                                const float *restrict bias, int relu6, const float *residual,
                                                float *restrict out, kk_layout o) {
    int r = 0;
#define KK_NARROW_AT(R, V)                                                                                                \
    KK_NAME(narrow_rows)(in + (size_t)r * k, k, w, n, bias, relu6, residual ? residual + (size_t)r * n : 0,              \
                         out + (size_t)r * o.row, o, R, V)
#define KK_NARROW(V, R)                                                                                                   \
    for (; r + (R) <= rows; r += (R)) KK_NARROW_AT(R, V);                                                                 \
    if ((R) > 8 && rows - r >= 8) { KK_NARROW_AT(8, V); r += 8; }                                                         \
    if (rows - r >= 4) { KK_NARROW_AT(4, V); r += 4; }                                                                    \
    if (rows - r >= 2) { KK_NARROW_AT(2, V); r += 2; }                                                                    \
    if (rows - r >= 1) { KK_NARROW_AT(1, V); r += 1; }
    if (n <= 16) { KK_NARROW(1, 8) }
    else if (n <= 32) { KK_NARROW(2, 12) }
    else { KK_NARROW(3, 8) }
#undef KK_NARROW
#undef KK_NARROW_AT
}
#endif

/// Weight bytes a column chunk of a 1×1 convolution may span, so the chunk's weights stay in L2
/// while every row block passes over them (the head's 320 × 1280 weights are 1.6 MB).
#define KK_CHUNK_BYTES (128 * 1024)

static KK_TARGET void KK_NAME(pointwise)(const float *restrict in, int rows, int k, kk_weights w, int n,
                                         const float *restrict bias, int relu6, const float *residual, float *restrict out,
                                         kk_layout o) {
#if LANES == 16
    if (n <= KK_NARROW_OUTPUTS) return KK_NAME(pointwise_narrow)(in, rows, k, w, n, bias, relu6, residual, out, o);
#endif
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
                            out + (size_t)r * o.row, o, R)
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

/// NP output pixels from `ox` on, LANES channels from `ch`, of a K×K depthwise convolution whose
/// input rows are in panels (KK_PANEL) padded with zero columns: rows[ky] is a row's panel of
/// these channels, offset to them, and its column i is input column i − pad_left, so every tap
/// is in range and every pixel, edge or not, runs the same chain. Taps sit KK_PANEL floats apart
/// in the input and in `wp` (the channels' packed bias, then taps): constant offsets from one
/// register. Each input vector is loaded once for all the NP pixels that read it, each weight
/// vector once for the NP pixels. `valid` of the LANES channels are stored (those before c).
static inline KK_TARGET __attribute__((always_inline)) void KK_NAME(depthwise_block)(
    const float *const *rows, const float *restrict wp, const int K, const int S, int ox, int c, int valid, int relu6,
    float *restrict out, const int NP) {
    VEC a[PIXELS];
    const VEC bias = KK_NAME(load)(wp);
#pragma clang loop unroll(full)
    for (int p = 0; p < NP; p++) a[p] = bias;
    for (int ky = 0; ky < K; ky++) {
        if (!rows[ky]) continue;  // a padding row: the same for every pixel of the row
        const float *x = rows[ky] + (size_t)ox * S * KK_PANEL;
        VEC in[(PIXELS - 1) * 2 + KK_BLOCK_MAX_KERNEL];  // the (NP − 1)·S + K columns the pixels read
#pragma clang loop unroll(full)
        for (int t = 0; t < (NP - 1) * S + K; t++) in[t] = KK_NAME(load)(x + t * KK_PANEL);
#pragma clang loop unroll(full)
        for (int kx = 0; kx < K; kx++) {
            const VEC wv = KK_NAME(load)(wp + (1 + ky * K + kx) * KK_PANEL);
#pragma clang loop unroll(full)
            for (int p = 0; p < NP; p++) a[p] += in[p * S + kx] * wv;
        }
    }
#pragma clang loop unroll(full)
    for (int p = 0; p < NP; p++) {
        float *o = out + (size_t)(ox + p) * c;
        if (valid == LANES) KK_NAME(finish)(o, a[p], relu6, 0);
        else {  // the last channels: a panel's lanes past c are computed (from zeros) but not stored
            float lanes[LANES];
            KK_NAME(finish)(lanes, a[p], relu6, 0);
            for (int l = 0; l < valid; l++) o[l] = lanes[l];
        }
    }
}

/// The LANES channels from `ch`, where depthwise_block reads them: each input row's panel of
/// them (null for a padding row) into `panel`, and their packed bias and taps, returned.
static inline KK_TARGET __attribute__((always_inline)) const float *KK_NAME(depthwise_channels)(
    const float *const *rows, int K, int wide, const float *packed, int ch, const float **panel) {
    const size_t at = (size_t)(ch / KK_PANEL) * wide * KK_PANEL + ch % KK_PANEL;
    for (int ky = 0; ky < K; ky++) panel[ky] = rows[ky] ? rows[ky] + at : 0;
    return packed + (size_t)(ch / KK_PANEL) * (1 + K * K) * KK_PANEL + ch % KK_PANEL;
}

/// One output row of a K×K depthwise convolution from its K padded input rows in panels (null:
/// a padding row) into out (ow pixels × c channels), PIXELS pixels at a time and then the rest
/// in one block of their own size.
static inline KK_TARGET __attribute__((always_inline)) void KK_NAME(depthwise_padded_k)(
    const float *const *rows, int c, int wide, const float *restrict packed, const int K, const int S, int relu6,
    float *restrict out, int ow) {
    for (int ch = 0; ch < c; ch += LANES) {
        const float *panel[KK_BLOCK_MAX_KERNEL];
        const float *wp = KK_NAME(depthwise_channels)(rows, K, wide, packed, ch, panel);
        const int valid = c - ch < LANES ? c - ch : LANES;
        float *o = out + ch;
        int ox = 0;
#define KK_PIXELS_AT(NP) KK_NAME(depthwise_block)(panel, wp, K, S, ox, c, valid, relu6, o, NP)
        for (; ox + PIXELS <= ow; ox += PIXELS) KK_PIXELS_AT(PIXELS);
        switch (ow - ox) {
        case 1: KK_PIXELS_AT(1); break;
        case 2: KK_PIXELS_AT(2); break;
        case 3: KK_PIXELS_AT(3); break;
#if PIXELS > 4
        case 4: KK_PIXELS_AT(4); break;
        case 5: KK_PIXELS_AT(5); break;
        case 6: KK_PIXELS_AT(6); break;
        case 7: KK_PIXELS_AT(7); break;
#endif
        default: break;
        }
#undef KK_PIXELS_AT
    }
}

static KK_TARGET void KK_NAME(depthwise_row)(const float *const *rows, int c, int wide, const float *restrict packed, int k,
                                             int stride, int relu6, float *restrict out, int ow) {
    // Constant K and stride let the tap loops unroll and the input columns stay in registers.
#define KK_DEPTHWISE(K, S) KK_NAME(depthwise_padded_k)(rows, c, wide, packed, K, S, relu6, out, ow)
    if (k == 3 && stride == 1) KK_DEPTHWISE(3, 1);
    else if (k == 3 && stride == 2) KK_DEPTHWISE(3, 2);
    else if (k == 5 && stride == 1) KK_DEPTHWISE(5, 1);
    else if (k == 5 && stride == 2) KK_DEPTHWISE(5, 2);
    else {  // any other shape: one pixel at a time, kernel size and stride unknown to the compiler
        for (int ch = 0; ch < c; ch += LANES) {
            const float *panel[KK_BLOCK_MAX_KERNEL];
            const float *wp = KK_NAME(depthwise_channels)(rows, k, wide, packed, ch, panel);
            const int valid = c - ch < LANES ? c - ch : LANES;
            for (int ox = 0; ox < ow; ox++) KK_NAME(depthwise_block)(panel, wp, k, stride, ox, c, valid, relu6, out + ch, 1);
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
