// Reduced-precision 1×1 convolutions (kindred_cnn.h, `kk_pointwise_i16`): weights quantised once
// per output column, each row of activations as it is read, both symmetrically to ±1023, their
// products summed exactly in int32, then scaled back to floats with the bias, ReLU6 and residual
// of the fp32 kernel. Two 16-bit products go into each 32-bit lane: AVX-512 VNNI's VPDPWSSD does
// it in one instruction, 32 a vector where fp32 FMA does 16; AVX2's VPMADDWD and VPADDD in two,
// 16 a vector where FMA does 8.
//
// Why not 8 bits (VPDPBUSD, twice the rate): measured on openclipart and the wallpapers, 8-bit
// weights alone take the network's features to cosine 0.991 with fp32 at worst, below #18's
// 0.999; the projections' weights are the sensitive ones, at every depth, whatever the group
// size of their scales. At ±1023 the worst is 0.9998.
//
// Three implementations compute every output identically: VNNI, AVX2, and a portable one that
// is their reference in the tests and runs on any other CPU. Integer sums are exact, and the
// float steps around them (quantising a row, scaling a sum) are the same operations in the same
// order in all three, so they agree bit for bit, as the fp32 levels do.
#include "kindred_cnn.h"
#include <math.h>
#include <stdint.h>
#include <string.h>
#if defined(__x86_64__)
#include <immintrin.h>
#endif

/// Rows quantised and multiplied at once: 8 rows × 2 vectors of 16 outputs take 16 of AVX-512's
/// 32 registers as accumulators, beside two weight vectors and a broadcast input.
#define I16_ROWS 8
/// Outputs a panel of packed weights holds (the last panel may hold 16).
#define I16_PANEL 32
/// Largest code of a weight and of an input, ±1023 both: 1023 · 1023 · k, the largest sum, stays
/// within int32 for every k ≤ KK_I16_MAX_INPUTS.
#define I16_TOP 1023
/// Codes between the starts of two rows in the VNNI kernel's buffer: enough for any row, plus a
/// line so the rows do not all fall in one cache set.
#define I16_STRIDE (KK_I16_MAX_INPUTS + 32)

static int round_up(int x, int to) { return (x + to - 1) / to * to; }
static size_t align64(size_t x) { return (x + 63) & ~(size_t)63; }

/// A packed weight: a 64-byte header (k, n), then the codes, then n16 float scales. The codes come in panels of I16_PANEL outputs (the last may
/// hold 16), each panel's inputs in pairs, a pair's two codes of one output side by side in a
/// 32-bit lane as VPDPWSSD reads them: the panel of outputs [j0, j0 + P) starts at code j0 · k2
/// and holds [k2 / 2][P][2], so a kernel walks each panel's weights front to back. Padding codes
/// are 0, so padded inputs and outputs add nothing.
typedef struct {
    int k, n;
} i16_header;

typedef struct {
    int k2, n16;
    const int16_t *codes;
    const float *scale;
} i16_weights;

static size_t code_bytes(int k, int n) { return align64((size_t)round_up(k, 2) * round_up(n, 16) * sizeof(int16_t)); }

static i16_weights unpack(const void *packed) {
    i16_header h;
    memcpy(&h, packed, sizeof h);
    const char *p = (const char *)packed + 64;
    return (i16_weights){round_up(h.k, 2), round_up(h.n, 16), (const int16_t *)p,
                         (const float *)(p + code_bytes(h.k, h.n))};
}

/// Where weight (q, j)'s code is.
static size_t code_index(i16_weights w, int q, int j) {
    const int j0 = j / I16_PANEL * I16_PANEL, width = w.n16 - j0 < I16_PANEL ? w.n16 - j0 : I16_PANEL;
    return (size_t)j0 * w.k2 + ((size_t)(q / 2) * width + (j - j0)) * 2 + q % 2;
}

size_t kk_i16_size(int k, int n) {
    const size_t n16 = (size_t)round_up(n, 16);
    return 64 + code_bytes(k, n) + align64(n16 * sizeof(float));
}

void kk_i16_pack(const float *w, int k, int n, void *packed) {
    memset(packed, 0, kk_i16_size(k, n));
    const i16_header h = {k, n};
    memcpy(packed, &h, sizeof h);
    const i16_weights q = unpack(packed);
    int16_t *codes = (int16_t *)q.codes;
    float *scale = (float *)q.scale;
    for (int j = 0; j < n; j++) {
        float largest = 0;
        for (int i = 0; i < k; i++) largest = fmaxf(largest, fabsf(w[(size_t)i * n + j]));
        // Per output: a column of zeros keeps scale 0 and codes 0.
        const float to_code = largest > 0 ? I16_TOP / largest : 0;
        scale[j] = largest / I16_TOP;
        for (int i = 0; i < k; i++) {
            float c = nearbyintf(w[(size_t)i * n + j] * to_code);
            codes[code_index(q, i, j)] = (int16_t)(c < -I16_TOP ? -I16_TOP : (c > I16_TOP ? I16_TOP : c));
        }
    }
}

/// A row's step: its largest magnitude in I16_TOP steps (a row of zeros gets step 1), and the
/// factor that takes a value to its code. Symmetric, so a sum needs no zero-point correction: a
/// row of ReLU6 outputs (never negative) loses nothing by it, and a signed row at most a bit.
static void row_step(float largest, float *step, float *to_code) {
    *step = largest > 0 ? largest / I16_TOP : 1;
    *to_code = 1 / *step;
}

/// Portable: quantises R rows of k inputs into R rows of k2 codes.
static void quantise_rows(const float *in, int R, int k, int k2, int16_t *codes, float *step) {
    for (int i = 0; i < R; i++) {
        const float *x = in + (size_t)i * k;
        float largest = 0, to_code;
        for (int q = 0; q < k; q++) largest = fmaxf(largest, fabsf(x[q]));
        row_step(largest, &step[i], &to_code);
        for (int q = 0; q < k2; q++) {
            int32_t c = q < k ? (int32_t)nearbyintf(x[q] * to_code) : 0;
            codes[(size_t)i * k2 + q] = (int16_t)(c < -I16_TOP ? -I16_TOP : (c > I16_TOP ? I16_TOP : c));
        }
    }
}

/// Output (i, j) from its exact sum: the sum as a float, times the row's step × the column's
/// scale, plus the bias in one fused multiply-add; then ReLU6, then the residual.
static float finish(int32_t acc, float step, float scale, float bias, int relu6, const float *residual) {
    float a = fmaf((float)acc, step * scale, bias);
    if (relu6) {  // as the vector kernel's max and min: +0 for −0
        a = a > 0 ? a : 0;
        a = a < 6 ? a : 6;
    }
    return residual ? a + *residual : a;
}

static void rows_portable(const int16_t *codes, const float *step, int R, i16_weights w, int n, const float *bias,
                          int relu6, const float *residual, float *out, kk_layout o) {
    for (int i = 0; i < R; i++) {
        for (int j = 0; j < n; j++) {
            int32_t acc = 0;
            for (int q = 0; q < w.k2; q++) acc += (int32_t)codes[(size_t)i * w.k2 + q] * w.codes[code_index(w, q, j)];
            *kk_layout_at(out, o, i, j) =
                finish(acc, step[i], w.scale[j], bias[j], relu6, residual ? residual + (size_t)i * n + j : 0);
        }
    }
}

#if defined(__x86_64__)
#define VNNI __attribute__((target("avx512f,avx512bw,avx512vl,avx512vnni,fma")))

/// The VNNI quantiser: the same largest magnitude, step and codes as quantise_rows (the maximum
/// is exact in any order; x · to_code rounds to nearest even in both).
static VNNI void quantise_rows_vnni(const float *in, int R, int k, int k2, int16_t *codes, float *step) {
    // Rows of codes I16_STRIDE apart, whatever k: the kernel then reads every row's codes at a
    // constant offset from one pointer, which costs no address arithmetic and lets a load fuse
    // into the instruction that uses it.
    for (int i = 0; i < R; i++) {
        const float *x = in + (size_t)i * k;
        __m512 largest = _mm512_setzero_ps();
        for (int q = 0; q < k; q += 16) {
            const __mmask16 m = k - q >= 16 ? (__mmask16)0xffff : (__mmask16)((1u << (k - q)) - 1);
            largest = _mm512_max_ps(largest, _mm512_abs_ps(_mm512_maskz_loadu_ps(m, x + q)));
        }
        float to_code;
        row_step(_mm512_reduce_max_ps(largest), &step[i], &to_code);
        const __m512 scale = _mm512_set1_ps(to_code);
        const __m512i top = _mm512_set1_epi32(I16_TOP), bottom = _mm512_set1_epi32(-I16_TOP);
        // Vectors of 16 codes up to k2: lanes past k load 0 and code 0, as quantise_rows pads.
        for (int q = 0; q < k2; q += 16) {
            const int left = k - q, count = k2 - q < 16 ? k2 - q : 16;
            const __mmask16 m = left >= 16 ? (__mmask16)0xffff : (__mmask16)((1u << left) - 1);
            __m512i v = _mm512_cvtps_epi32(_mm512_mul_ps(_mm512_maskz_loadu_ps(m, x + q), scale));
            v = _mm512_min_epi32(_mm512_max_epi32(v, bottom), top);
            _mm256_mask_storeu_epi16(codes + (size_t)i * I16_STRIDE + q, (__mmask16)((1u << count) - 1), _mm512_cvtepi32_epi16(v));
        }
    }
}

/// Stores one vector of 16 outputs, j to j + 15 of a row (the first `valid` of them), from `to`
/// on, as `finish` computes each: the same integer and float steps, lane by lane. The residual is
/// the row's.
static inline VNNI __attribute__((always_inline)) void finish_vnni(__m512i acc, float step, i16_weights w, int j,
                                                                  int valid, const float *bias, int relu6,
                                                                  const float *residual, float *to) {
    const __mmask16 m = valid >= 16 ? (__mmask16)0xffff : (__mmask16)((1u << valid) - 1);
    const __m512 scale = _mm512_mul_ps(_mm512_set1_ps(step), _mm512_loadu_ps(w.scale + j));
    __m512 a = _mm512_fmadd_ps(_mm512_cvtepi32_ps(acc), scale, _mm512_maskz_loadu_ps(m, bias + j));
    if (relu6) a = _mm512_min_ps(_mm512_max_ps(a, _mm512_setzero_ps()), _mm512_set1_ps(6));
    if (residual) a = _mm512_add_ps(a, _mm512_maskz_loadu_ps(m, residual + j));
    _mm512_mask_storeu_ps(to, m, a);
}

/// Row i's pair g of input codes, broadcast to every lane.
static inline VNNI __attribute__((always_inline)) __m512i pair_of(const int16_t *codes, int i, int g) {
    int32_t v;
    memcpy(&v, codes + (size_t)i * I16_STRIDE + (size_t)g * 2, sizeof v);
    return _mm512_set1_epi32(v);
}

/// acc + each lane's two products.
static inline VNNI __attribute__((always_inline)) __m512i dot(__m512i acc, __m512i x, __m512i w) {
    // Clang, tuning for a generic x86-64, rewrites _mm512_dpwssd_epi32 as VPMADDWD + VPADDD, two
    // instructions where one does, which cost this kernel a third of its speed: the instruction
    // itself, then.
    __asm__("vpdpwssd %2, %1, %0" : "+v"(acc) : "v"(x), "v"(w));
    return acc;
}

/// acc + each lane's two products with row i's pair g of input codes, read from memory and
/// broadcast by the instruction itself (for a pair used once: one fused instruction, no register).
static inline VNNI __attribute__((always_inline)) __m512i dot_pair(__m512i acc, __m512i w, const int16_t *codes, int i,
                                                                  int g) {
    __asm__("vpdpwssd %2%{1to16%}, %1, %0"
            : "+v"(acc)
            : "v"(w), "m"(*(const int32_t *)(codes + (size_t)i * I16_STRIDE + (size_t)g * 2)));
    return acc;
}

/// R rows: a panel of 32 outputs at a time in R × 2 accumulators over every pair of inputs, each
/// weight vector loaded once for the R rows; then a last panel of 16.
static inline VNNI __attribute__((always_inline)) void rows_vnni(const int16_t *codes, const float *step, const int R,
                                                                i16_weights w, int n, const float *bias, int relu6,
                                                                const float *residual, float *out, kk_layout o) {
    const int pairs = w.k2 / 2;
    int j = 0;
    for (; j + 32 <= w.n16; j += 32) {
        __m512i a[I16_ROWS][2];
#pragma clang loop unroll(full)
        for (int i = 0; i < R; i++) a[i][0] = a[i][1] = _mm512_setzero_si512();
        const int16_t *wp = w.codes + (size_t)j * w.k2;
        for (int g = 0; g < pairs; g++, wp += 64) {
            const __m512i w0 = _mm512_loadu_si512(wp), w1 = _mm512_loadu_si512(wp + 32);
#pragma clang loop unroll(full)
            for (int i = 0; i < R; i++) {
                const __m512i x = pair_of(codes, i, g);
                a[i][0] = dot(a[i][0], x, w0);
                a[i][1] = dot(a[i][1], x, w1);
            }
        }
#pragma clang loop unroll(full)
        for (int i = 0; i < R; i++) {
            const float *r = residual ? residual + (size_t)i * n : 0;
            finish_vnni(a[i][0], step[i], w, j, n - j, bias, relu6, r, kk_layout_at(out, o, i, j));
            if (j + 16 < n) finish_vnni(a[i][1], step[i], w, j + 16, n - j - 16, bias, relu6, r, kk_layout_at(out, o, i, j + 16));
        }
    }
    if (j < w.n16) {
        __m512i a[I16_ROWS];
#pragma clang loop unroll(full)
        for (int i = 0; i < R; i++) a[i] = _mm512_setzero_si512();
        const int16_t *wp = w.codes + (size_t)j * w.k2;
        for (int g = 0; g < pairs; g++, wp += 32) {
            const __m512i w0 = _mm512_loadu_si512(wp);
#pragma clang loop unroll(full)
            for (int i = 0; i < R; i++) a[i] = dot_pair(a[i], w0, codes, i, g);
        }
#pragma clang loop unroll(full)
        for (int i = 0; i < R; i++)
            finish_vnni(a[i], step[i], w, j, n - j, bias, relu6, residual ? residual + (size_t)i * n : 0,
                        kk_layout_at(out, o, i, j));
    }
}

static VNNI void pointwise_vnni(const float *in, int rows, int k, i16_weights w, int n, const float *bias, int relu6,
                                const float *residual, float *out, kk_layout o) {
    _Alignas(64) int16_t codes[I16_ROWS * I16_STRIDE];
    float step[I16_ROWS];
    for (int r = 0; r < rows; r += I16_ROWS) {
        const int R = rows - r < I16_ROWS ? rows - r : I16_ROWS;
        quantise_rows_vnni(in + (size_t)r * k, R, k, w.k2, codes, step);
        const float *res = residual ? residual + (size_t)r * n : 0;
        float *to = out + (size_t)r * o.row;
        switch (R) {  // a constant R keeps the accumulators in registers
#define I16_AT(R)                                                                                                         \
    case R: rows_vnni(codes, step, R, w, n, bias, relu6, res, to, o); break;
            I16_AT(1) I16_AT(2) I16_AT(3) I16_AT(4) I16_AT(5) I16_AT(6) I16_AT(7) I16_AT(8)
#undef I16_AT
        default: break;
        }
    }
}

#define AVX2_I16 __attribute__((target("avx2,fma")))
/// Rows the AVX2 kernel multiplies at once: 4 rows × 2 vectors of 8 outputs are 8 of AVX2's 16
/// registers, beside two weight vectors, a broadcast input pair and a product.
#define I16_AVX2_ROWS 4

/// Lanes [0, count) of a mask for _mm256_maskload_ps (none when count ≤ 0).
static inline AVX2_I16 __attribute__((always_inline)) __m256i first_lanes(int count) {
    const __m256i lane = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
    return _mm256_cmpgt_epi32(_mm256_set1_epi32(count), lane);
}

/// The AVX2 quantiser: quantise_rows' largest magnitude, step and codes (the maximum is exact in
/// any order; x · to_code rounds to nearest even in both), rows I16_STRIDE apart as the VNNI
/// kernel's. It writes codes up to k2 rounded up to 8, inside the row's stride.
static AVX2_I16 void quantise_rows_avx2(const float *in, int R, int k, int k2, int16_t *codes, float *step) {
    const __m256 magnitude = _mm256_castsi256_ps(_mm256_set1_epi32(0x7fffffff));
    const __m256i top = _mm256_set1_epi32(I16_TOP), bottom = _mm256_set1_epi32(-I16_TOP);
    for (int i = 0; i < R; i++) {
        const float *x = in + (size_t)i * k;
        __m256 largest = _mm256_setzero_ps();
        for (int q = 0; q < k; q += 8)
            largest = _mm256_max_ps(largest, _mm256_and_ps(magnitude, _mm256_maskload_ps(x + q, first_lanes(k - q))));
        __m128 m = _mm_max_ps(_mm256_castps256_ps128(largest), _mm256_extractf128_ps(largest, 1));
        m = _mm_max_ps(m, _mm_movehl_ps(m, m));
        m = _mm_max_ss(m, _mm_movehdup_ps(m));
        float to_code;
        row_step(_mm_cvtss_f32(m), &step[i], &to_code);
        const __m256 scale = _mm256_set1_ps(to_code);
        int16_t *c = codes + (size_t)i * I16_STRIDE;
        // Lanes past k load 0 and code 0, as quantise_rows pads.
        for (int q = 0; q < k2; q += 8) {
            __m256i v = _mm256_cvtps_epi32(_mm256_mul_ps(_mm256_maskload_ps(x + q, first_lanes(k - q)), scale));
            v = _mm256_min_epi32(_mm256_max_epi32(v, bottom), top);
            _mm_storeu_si128((__m128i *)(c + q),
                             _mm_packs_epi32(_mm256_castsi256_si128(v), _mm256_extracti128_si256(v, 1)));
        }
    }
}

/// Stores 8 outputs, j to j + 7 of a row (the first `valid` of them), from `to` on, as `finish`
/// computes each (a partial vector through `finish` itself). j is a multiple of 8, so the 8 lie
/// in one panel of the output layout.
static inline AVX2_I16 __attribute__((always_inline)) void finish_avx2(__m256i acc, float step, i16_weights w, int j,
                                                                      int valid, const float *bias, int relu6,
                                                                      const float *residual, float *to) {
    if (valid < 8) {
        int32_t lanes[8];
        _mm256_storeu_si256((__m256i *)lanes, acc);
        for (int l = 0; l < valid; l++)
            to[l] = finish(lanes[l], step, w.scale[j + l], bias[j + l], relu6, residual ? residual + j + l : 0);
        return;
    }
    const __m256 scale = _mm256_mul_ps(_mm256_set1_ps(step), _mm256_loadu_ps(w.scale + j));
    __m256 a = _mm256_fmadd_ps(_mm256_cvtepi32_ps(acc), scale, _mm256_loadu_ps(bias + j));
    if (relu6) a = _mm256_min_ps(_mm256_max_ps(a, _mm256_setzero_ps()), _mm256_set1_ps(6));
    if (residual) a = _mm256_add_ps(a, _mm256_loadu_ps(residual + j));
    _mm256_storeu_ps(to, a);
}

/// R rows: 16 outputs of a panel at a time in R × 2 accumulators over every pair of inputs, each
/// pair's weight vectors loaded once for the R rows.
static inline AVX2_I16 __attribute__((always_inline)) void rows_avx2(const int16_t *codes, const float *step,
                                                                    const int R, i16_weights w, int n,
                                                                    const float *bias, int relu6,
                                                                    const float *residual, float *out, kk_layout o) {
    const int pairs = w.k2 / 2;
    for (int j0 = 0; j0 < w.n16; j0 += I16_PANEL) {
        const int width = w.n16 - j0 < I16_PANEL ? w.n16 - j0 : I16_PANEL;
        for (int h = 0; h < width; h += 16) {
            __m256i a[I16_AVX2_ROWS][2];
#pragma clang loop unroll(full)
            for (int i = 0; i < R; i++) a[i][0] = a[i][1] = _mm256_setzero_si256();
            const int16_t *wp = w.codes + (size_t)j0 * w.k2 + (size_t)h * 2;
            for (int g = 0; g < pairs; g++, wp += width * 2) {
                const __m256i w0 = _mm256_loadu_si256((const __m256i *)wp);
                const __m256i w1 = _mm256_loadu_si256((const __m256i *)(wp + 16));
#pragma clang loop unroll(full)
                for (int i = 0; i < R; i++) {
                    int32_t pair;
                    memcpy(&pair, codes + (size_t)i * I16_STRIDE + (size_t)g * 2, sizeof pair);
                    const __m256i x = _mm256_set1_epi32(pair);
                    a[i][0] = _mm256_add_epi32(a[i][0], _mm256_madd_epi16(x, w0));
                    a[i][1] = _mm256_add_epi32(a[i][1], _mm256_madd_epi16(x, w1));
                }
            }
            const int j = j0 + h;
#pragma clang loop unroll(full)
            for (int i = 0; i < R; i++) {
                const float *r = residual ? residual + (size_t)i * n : 0;
                if (j < n) finish_avx2(a[i][0], step[i], w, j, n - j, bias, relu6, r, kk_layout_at(out, o, i, j));
                if (j + 8 < n)
                    finish_avx2(a[i][1], step[i], w, j + 8, n - j - 8, bias, relu6, r, kk_layout_at(out, o, i, j + 8));
            }
        }
    }
}

static AVX2_I16 void pointwise_avx2(const float *in, int rows, int k, i16_weights w, int n, const float *bias,
                                    int relu6, const float *residual, float *out, kk_layout o) {
    _Alignas(32) int16_t codes[I16_ROWS * I16_STRIDE];
    float step[I16_ROWS];
    for (int r = 0; r < rows; r += I16_ROWS) {
        const int quantised = rows - r < I16_ROWS ? rows - r : I16_ROWS;
        quantise_rows_avx2(in + (size_t)r * k, quantised, k, w.k2, codes, step);
        for (int s = 0; s < quantised; s += I16_AVX2_ROWS) {
            const int R = quantised - s < I16_AVX2_ROWS ? quantised - s : I16_AVX2_ROWS;
            const int16_t *c = codes + (size_t)s * I16_STRIDE;
            const float *res = residual ? residual + (size_t)(r + s) * n : 0;
            float *to = out + (size_t)(r + s) * o.row;
            switch (R) {  // a constant R keeps the accumulators in registers
#define I16_AT(R)                                                                                                         \
    case R: rows_avx2(c, step + s, R, w, n, bias, relu6, res, to, o); break;
                I16_AT(1) I16_AT(2) I16_AT(3) I16_AT(4)
#undef I16_AT
            default: break;
            }
        }
    }
}
#endif

int kk_i16_level(void) {
#if defined(__x86_64__)
    __builtin_cpu_init();
    if (__builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
        __builtin_cpu_supports("avx512vl") && __builtin_cpu_supports("avx512vnni"))
        return 2;
    if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")) return 1;
#endif
    return 0;
}

void kk_pointwise_i16(int level, const float *in, int rows, int k, const void *packed, int n, const float *bias,
                      int relu6, const float *residual, float *out) {
    kk_pointwise_i16_to(level, in, rows, k, packed, n, bias, relu6, residual, out, kk_rows_of(n));
}

void kk_pointwise_i16_to(int level, const float *in, int rows, int k, const void *packed, int n, const float *bias,
                         int relu6, const float *residual, float *out, kk_layout o) {
    const i16_weights w = unpack(packed);
    const int best = kk_i16_level();
    level = level < best ? level : best;
#if defined(__x86_64__)
    if (level == 2) return pointwise_vnni(in, rows, k, w, n, bias, relu6, residual, out, o);
    if (level == 1) return pointwise_avx2(in, rows, k, w, n, bias, relu6, residual, out, o);
#endif
    int16_t codes[I16_ROWS * KK_I16_MAX_INPUTS];
    float step[I16_ROWS];
    for (int r = 0; r < rows; r += I16_ROWS) {
        const int R = rows - r < I16_ROWS ? rows - r : I16_ROWS;
        quantise_rows(in + (size_t)r * k, R, k, w.k2, codes, step);
        rows_portable(codes, step, R, w, n, bias, relu6, residual ? residual + (size_t)r * n : 0, out + (size_t)r * o.row, o);
    }
}
