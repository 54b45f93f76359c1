// Distance kernels over compact codes: fp16, int8 and int4 rows (kindred_kernels.h describes the
// layouts). Each exists for scalar, AVX2 and AVX-512 and is chosen by CPUID once, like the float
// kernels in kernels.c; kk_code_kernel_at lets tests run every level this CPU has against the
// scalar one.
#include "kindred_kernels.h"
#include <math.h>
#include <string.h>
#if defined(__x86_64__)
#include <immintrin.h>
#endif

// MARK: scalar

static float half_to_float(uint16_t h) {
    uint32_t sign = (uint32_t)(h & 0x8000) << 16, exponent = (h >> 10) & 0x1f, mantissa = h & 0x3ff, bits;
    if (exponent == 0) {
        if (mantissa == 0) {
            bits = sign;
        } else {  // subnormal: normalise
            exponent = 127 - 15 + 1;
            while ((mantissa & 0x400) == 0) { mantissa <<= 1; exponent--; }
            bits = sign | (exponent << 23) | ((mantissa & 0x3ff) << 13);
        }
    } else if (exponent == 31) {
        bits = sign | 0x7f800000 | (mantissa << 13);
    } else {
        bits = sign | ((exponent + 127 - 15) << 23) | (mantissa << 13);
    }
    float f;
    memcpy(&f, &bits, sizeof f);
    return f;
}

static float f16_dot_scalar(const void *a, const void *b, size_t n) {
    const uint16_t *x = a, *y = b;
    float s = 0;
    for (size_t i = 0; i < n; i++) s += half_to_float(x[i]) * half_to_float(y[i]);
    return s;
}

static float f16_l2sq_scalar(const void *a, const void *b, size_t n) {
    const uint16_t *x = a, *y = b;
    float s = 0;
    for (size_t i = 0; i < n; i++) { float d = half_to_float(x[i]) - half_to_float(y[i]); s += d * d; }
    return s;
}

static const float *i8_header(const void *row) { return (const float *)row; }
static const int8_t *i8_codes(const void *row) { return (const int8_t *)row + KK_I8_HEADER_BYTES; }

static int32_t i8_sum_scalar(const int8_t *x, const int8_t *y, size_t n) {
    int32_t s = 0;
    for (size_t i = 0; i < n; i++) s += (int32_t)x[i] * (int32_t)y[i];
    return s;
}

static float i8_dot_from(const void *a, const void *b, int32_t sum) {
    return (float)sum * i8_header(a)[0] * i8_header(b)[0];
}

// |a - b|^2 = |a|^2 + |b|^2 - 2 a.b, with each row's decoded |x|^2 kept in its header.
static float i8_l2_from(const void *a, const void *b, int32_t sum) {
    float d = i8_header(a)[1] + i8_header(b)[1] - 2 * i8_dot_from(a, b, sum);
    return d > 0 ? d : 0;
}

// int4: a·b = d lo_a lo_b + lo_a step_b Σu_b + lo_b step_a Σu_a + step_a step_b Σ u_a u_b, with the
// code sums and the dimension d kept in each row's header (padding codes are 0, so they add nothing).
static const float *i4_header(const void *row) { return (const float *)row; }
static const uint8_t *i4_codes(const void *row) { return (const uint8_t *)row + KK_I4_HEADER_BYTES; }

static float i4_dot_from(const void *a, const void *b, int32_t sum) {
    const float *x = i4_header(a), *y = i4_header(b);
    uint32_t d;
    memcpy(&d, x + 4, sizeof d);
    return (float)d * x[0] * y[0] + x[0] * y[1] * y[2] + y[0] * x[1] * x[2] + x[1] * y[1] * (float)sum;
}

static float i4_l2_from(const void *a, const void *b, int32_t sum) {
    float d = i4_header(a)[3] + i4_header(b)[3] - 2 * i4_dot_from(a, b, sum);
    return d > 0 ? d : 0;
}

// Both rows use the same nibble layout, so pairing low with low and high with high is the dot
// product whatever the layout; n / 2 bytes.
static int32_t i4_sum_scalar(const uint8_t *x, const uint8_t *y, size_t bytes) {
    int32_t s = 0;
    for (size_t i = 0; i < bytes; i++) s += (x[i] & 15) * (y[i] & 15) + (x[i] >> 4) * (y[i] >> 4);
    return s;
}

static float i4_dot_scalar(const void *a, const void *b, size_t n) {
    return i4_dot_from(a, b, i4_sum_scalar(i4_codes(a), i4_codes(b), n / 2));
}

static float i4_l2sq_scalar(const void *a, const void *b, size_t n) {
    return i4_l2_from(a, b, i4_sum_scalar(i4_codes(a), i4_codes(b), n / 2));
}

// An int8 query q (scale s, code sum Σq) against an int4 row x: q·x = s (lo Σq + step Σ q_i u_i).
// The int4 row's nibble layout pairs query codes 128 b + j with low nibbles and 128 b + 64 + j with
// high ones, so the query stays in natural order.
static float q4_dot_from(const void *a, const void *b, int32_t sum) {
    const float *q = i8_header(a), *x = i4_header(b);
    return q[0] * (x[0] * q[2] + x[1] * (float)sum);
}

static float q4_l2_from(const void *a, const void *b, int32_t sum) {
    float d = i8_header(a)[1] + i4_header(b)[3] - 2 * q4_dot_from(a, b, sum);
    return d > 0 ? d : 0;
}

static int32_t q4_sum_scalar(const int8_t *q, const uint8_t *x, size_t n) {
    int32_t s = 0;
    for (size_t b = 0; b < n; b += 128) {
        for (size_t j = 0; j < 64; j++) {
            uint8_t byte = x[b / 2 + j];
            s += q[b + j] * (byte & 15) + q[b + 64 + j] * (byte >> 4);
        }
    }
    return s;
}

static float q4_dot_scalar(const void *a, const void *b, size_t n) {
    return q4_dot_from(a, b, q4_sum_scalar(i8_codes(a), i4_codes(b), n));
}

static float q4_l2sq_scalar(const void *a, const void *b, size_t n) {
    return q4_l2_from(a, b, q4_sum_scalar(i8_codes(a), i4_codes(b), n));
}

static float i8_dot_scalar(const void *a, const void *b, size_t n) {
    return i8_dot_from(a, b, i8_sum_scalar(i8_codes(a), i8_codes(b), n));
}

static float i8_l2sq_scalar(const void *a, const void *b, size_t n) {
    return i8_l2_from(a, b, i8_sum_scalar(i8_codes(a), i8_codes(b), n));
}

#if defined(__x86_64__)
// MARK: AVX2 (with F16C for halves)

__attribute__((target("avx2,fma,f16c")))
static float hsum256_codes(__m256 v) {
    __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    s = _mm_add_ps(s, _mm_movehl_ps(s, s));
    s = _mm_add_ss(s, _mm_shuffle_ps(s, s, 1));
    return _mm_cvtss_f32(s);
}

__attribute__((target("avx2,fma,f16c")))
static int32_t hsum256_epi32(__m256i v) {
    __m128i h = _mm_add_epi32(_mm256_castsi256_si128(v), _mm256_extracti128_si256(v, 1));
    h = _mm_add_epi32(h, _mm_shuffle_epi32(h, 0x4e));
    h = _mm_add_epi32(h, _mm_shuffle_epi32(h, 0xb1));
    return _mm_cvtsi128_si32(h);
}

__attribute__((target("avx2,fma,f16c")))
static float f16_dot_avx2(const void *a, const void *b, size_t n) {
    const uint16_t *x = a, *y = b;
    __m256 s0 = _mm256_setzero_ps(), s1 = _mm256_setzero_ps();
    size_t i = 0;
    for (; i + 16 <= n; i += 16) {
        __m256 x0 = _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)(x + i)));
        __m256 y0 = _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)(y + i)));
        __m256 x1 = _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)(x + i + 8)));
        __m256 y1 = _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)(y + i + 8)));
        s0 = _mm256_fmadd_ps(x0, y0, s0);
        s1 = _mm256_fmadd_ps(x1, y1, s1);
    }
    float s = hsum256_codes(_mm256_add_ps(s0, s1));
    for (; i < n; i++) s += half_to_float(x[i]) * half_to_float(y[i]);
    return s;
}

__attribute__((target("avx2,fma,f16c")))
static float f16_l2sq_avx2(const void *a, const void *b, size_t n) {
    const uint16_t *x = a, *y = b;
    __m256 s0 = _mm256_setzero_ps();
    size_t i = 0;
    for (; i + 8 <= n; i += 8) {
        __m256 d = _mm256_sub_ps(_mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)(x + i))),
                                 _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)(y + i))));
        s0 = _mm256_fmadd_ps(d, d, s0);
    }
    float s = hsum256_codes(s0);
    for (; i < n; i++) { float d = half_to_float(x[i]) - half_to_float(y[i]); s += d * d; }
    return s;
}

// Codes are kept in [-127, 127], so |x| fits an unsigned byte and each pair of products sums to at
// most 2 * 127 * 127 = 32258: maddubs (u8 x s8 -> s16 pairs) cannot saturate. sign() moves x's
// sign onto y so that |x| * (sign(x) y) = x y.
__attribute__((target("avx2,fma,f16c")))
static int32_t i8_sum_avx2(const int8_t *x, const int8_t *y, size_t n) {
    const __m256i ones = _mm256_set1_epi16(1);
    __m256i s0 = _mm256_setzero_si256(), s1 = _mm256_setzero_si256();
    size_t i = 0;
    for (; i + 64 <= n; i += 64) {
        __m256i x0 = _mm256_loadu_si256((const __m256i *)(x + i)), y0 = _mm256_loadu_si256((const __m256i *)(y + i));
        __m256i x1 = _mm256_loadu_si256((const __m256i *)(x + i + 32));
        __m256i y1 = _mm256_loadu_si256((const __m256i *)(y + i + 32));
        __m256i p0 = _mm256_maddubs_epi16(_mm256_sign_epi8(x0, x0), _mm256_sign_epi8(y0, x0));
        __m256i p1 = _mm256_maddubs_epi16(_mm256_sign_epi8(x1, x1), _mm256_sign_epi8(y1, x1));
        s0 = _mm256_add_epi32(s0, _mm256_madd_epi16(p0, ones));
        s1 = _mm256_add_epi32(s1, _mm256_madd_epi16(p1, ones));
    }
    for (; i + 32 <= n; i += 32) {
        __m256i x0 = _mm256_loadu_si256((const __m256i *)(x + i)), y0 = _mm256_loadu_si256((const __m256i *)(y + i));
        s0 = _mm256_add_epi32(s0, _mm256_madd_epi16(_mm256_maddubs_epi16(_mm256_sign_epi8(x0, x0),
                                                                         _mm256_sign_epi8(y0, x0)), ones));
    }
    __m256i s = _mm256_add_epi32(s0, s1);
    return hsum256_epi32(s) + i8_sum_scalar(x + i, y + i, n - i);
}

__attribute__((target("avx2,fma,f16c")))
static float i8_dot_avx2(const void *a, const void *b, size_t n) {
    return i8_dot_from(a, b, i8_sum_avx2(i8_codes(a), i8_codes(b), n));
}

__attribute__((target("avx2,fma,f16c")))
static float i8_l2sq_avx2(const void *a, const void *b, size_t n) {
    return i8_l2_from(a, b, i8_sum_avx2(i8_codes(a), i8_codes(b), n));
}

// Codes are at most 15, so maddubs (u8 x s8 -> s16 pairs) sums to at most 450: no saturation.
__attribute__((target("avx2,fma,f16c")))
static int32_t i4_sum_avx2(const uint8_t *x, const uint8_t *y, size_t bytes) {
    const __m256i low = _mm256_set1_epi8(15), ones = _mm256_set1_epi16(1);
    __m256i s0 = _mm256_setzero_si256(), s1 = _mm256_setzero_si256();
    size_t i = 0;
    for (; i + 32 <= bytes; i += 32) {
        __m256i x0 = _mm256_loadu_si256((const __m256i *)(x + i)), y0 = _mm256_loadu_si256((const __m256i *)(y + i));
        __m256i pl = _mm256_maddubs_epi16(_mm256_and_si256(x0, low), _mm256_and_si256(y0, low));
        __m256i ph = _mm256_maddubs_epi16(_mm256_and_si256(_mm256_srli_epi16(x0, 4), low),
                                          _mm256_and_si256(_mm256_srli_epi16(y0, 4), low));
        s0 = _mm256_add_epi32(s0, _mm256_madd_epi16(pl, ones));
        s1 = _mm256_add_epi32(s1, _mm256_madd_epi16(ph, ones));
    }
    __m256i s = _mm256_add_epi32(s0, s1);
    return hsum256_epi32(s) + i4_sum_scalar(x + i, y + i, bytes - i);
}

__attribute__((target("avx2,fma,f16c")))
static float i4_dot_avx2(const void *a, const void *b, size_t n) {
    return i4_dot_from(a, b, i4_sum_avx2(i4_codes(a), i4_codes(b), n / 2));
}

__attribute__((target("avx2,fma,f16c")))
static float i4_l2sq_avx2(const void *a, const void *b, size_t n) {
    return i4_l2_from(a, b, i4_sum_avx2(i4_codes(a), i4_codes(b), n / 2));
}

// maddubs takes the unsigned nibble and the signed query code: |pair sum| ≤ 2 · 15 · 127.
__attribute__((target("avx2,fma,f16c")))
static int32_t q4_sum_avx2(const int8_t *q, const uint8_t *x, size_t n) {
    const __m256i low = _mm256_set1_epi8(15), ones = _mm256_set1_epi16(1);
    __m256i s0 = _mm256_setzero_si256(), s1 = _mm256_setzero_si256();
    for (size_t b = 0; b < n; b += 128) {
        for (size_t j = 0; j < 64; j += 32) {
            __m256i v = _mm256_loadu_si256((const __m256i *)(x + b / 2 + j));
            __m256i pl = _mm256_maddubs_epi16(_mm256_and_si256(v, low),
                                              _mm256_loadu_si256((const __m256i *)(q + b + j)));
            __m256i ph = _mm256_maddubs_epi16(_mm256_and_si256(_mm256_srli_epi16(v, 4), low),
                                              _mm256_loadu_si256((const __m256i *)(q + b + 64 + j)));
            s0 = _mm256_add_epi32(s0, _mm256_madd_epi16(pl, ones));
            s1 = _mm256_add_epi32(s1, _mm256_madd_epi16(ph, ones));
        }
    }
    __m256i s = _mm256_add_epi32(s0, s1);
    return hsum256_epi32(s);
}

__attribute__((target("avx2,fma,f16c")))
static float q4_dot_avx2(const void *a, const void *b, size_t n) {
    return q4_dot_from(a, b, q4_sum_avx2(i8_codes(a), i4_codes(b), n));
}

__attribute__((target("avx2,fma,f16c")))
static float q4_l2sq_avx2(const void *a, const void *b, size_t n) {
    return q4_l2_from(a, b, q4_sum_avx2(i8_codes(a), i4_codes(b), n));
}

// MARK: AVX-512 (F for halves; BW, and VNNI where present, for bytes)

__attribute__((target("avx512f")))
static float f16_dot_avx512(const void *a, const void *b, size_t n) {
    const uint16_t *x = a, *y = b;
    __m512 s0 = _mm512_setzero_ps(), s1 = _mm512_setzero_ps();
    size_t i = 0;
    for (; i + 32 <= n; i += 32) {
        __m512 x0 = _mm512_cvtph_ps(_mm256_loadu_si256((const __m256i *)(x + i)));
        __m512 y0 = _mm512_cvtph_ps(_mm256_loadu_si256((const __m256i *)(y + i)));
        __m512 x1 = _mm512_cvtph_ps(_mm256_loadu_si256((const __m256i *)(x + i + 16)));
        __m512 y1 = _mm512_cvtph_ps(_mm256_loadu_si256((const __m256i *)(y + i + 16)));
        s0 = _mm512_fmadd_ps(x0, y0, s0);
        s1 = _mm512_fmadd_ps(x1, y1, s1);
    }
    for (; i + 16 <= n; i += 16) {
        s0 = _mm512_fmadd_ps(_mm512_cvtph_ps(_mm256_loadu_si256((const __m256i *)(x + i))),
                             _mm512_cvtph_ps(_mm256_loadu_si256((const __m256i *)(y + i))), s0);
    }
    float s = _mm512_reduce_add_ps(_mm512_add_ps(s0, s1));
    for (; i < n; i++) s += half_to_float(x[i]) * half_to_float(y[i]);
    return s;
}

__attribute__((target("avx512f")))
static float f16_l2sq_avx512(const void *a, const void *b, size_t n) {
    const uint16_t *x = a, *y = b;
    __m512 s0 = _mm512_setzero_ps();
    size_t i = 0;
    for (; i + 16 <= n; i += 16) {
        __m512 d = _mm512_sub_ps(_mm512_cvtph_ps(_mm256_loadu_si256((const __m256i *)(x + i))),
                                 _mm512_cvtph_ps(_mm256_loadu_si256((const __m256i *)(y + i))));
        s0 = _mm512_fmadd_ps(d, d, s0);
    }
    float s = _mm512_reduce_add_ps(s0);
    for (; i < n; i++) { float d = half_to_float(x[i]) - half_to_float(y[i]); s += d * d; }
    return s;
}

// AVX-512 has no sign_epi8: negate y where x is negative under a mask, and take |x|.
__attribute__((target("avx512f,avx512bw")))
static int32_t i8_sum_avx512(const int8_t *x, const int8_t *y, size_t n) {
    const __m512i ones = _mm512_set1_epi16(1), zero = _mm512_setzero_si512();
    __m512i s0 = _mm512_setzero_si512();
    size_t i = 0;
    for (; i + 64 <= n; i += 64) {
        __m512i x0 = _mm512_loadu_si512((const void *)(x + i)), y0 = _mm512_loadu_si512((const void *)(y + i));
        __m512i signedY = _mm512_mask_sub_epi8(y0, _mm512_movepi8_mask(x0), zero, y0);
        s0 = _mm512_add_epi32(s0, _mm512_madd_epi16(_mm512_maddubs_epi16(_mm512_abs_epi8(x0), signedY), ones));
    }
    return _mm512_reduce_add_epi32(s0) + i8_sum_scalar(x + i, y + i, n - i);
}

__attribute__((target("avx512f,avx512bw,avx512vnni")))
static int32_t i8_sum_vnni(const int8_t *x, const int8_t *y, size_t n) {
    const __m512i zero = _mm512_setzero_si512();
    __m512i s0 = _mm512_setzero_si512(), s1 = _mm512_setzero_si512();
    size_t i = 0;
    for (; i + 128 <= n; i += 128) {
        __m512i x0 = _mm512_loadu_si512((const void *)(x + i)), y0 = _mm512_loadu_si512((const void *)(y + i));
        __m512i x1 = _mm512_loadu_si512((const void *)(x + i + 64));
        __m512i y1 = _mm512_loadu_si512((const void *)(y + i + 64));
        s0 = _mm512_dpbusd_epi32(s0, _mm512_abs_epi8(x0), _mm512_mask_sub_epi8(y0, _mm512_movepi8_mask(x0), zero, y0));
        s1 = _mm512_dpbusd_epi32(s1, _mm512_abs_epi8(x1), _mm512_mask_sub_epi8(y1, _mm512_movepi8_mask(x1), zero, y1));
    }
    for (; i + 64 <= n; i += 64) {
        __m512i x0 = _mm512_loadu_si512((const void *)(x + i)), y0 = _mm512_loadu_si512((const void *)(y + i));
        s0 = _mm512_dpbusd_epi32(s0, _mm512_abs_epi8(x0), _mm512_mask_sub_epi8(y0, _mm512_movepi8_mask(x0), zero, y0));
    }
    return _mm512_reduce_add_epi32(_mm512_add_epi32(s0, s1)) + i8_sum_scalar(x + i, y + i, n - i);
}

__attribute__((target("avx512f,avx512bw")))
static int32_t i4_sum_avx512(const uint8_t *x, const uint8_t *y, size_t bytes) {
    const __m512i low = _mm512_set1_epi8(15), ones = _mm512_set1_epi16(1);
    __m512i s0 = _mm512_setzero_si512(), s1 = _mm512_setzero_si512();
    size_t i = 0;
    for (; i + 64 <= bytes; i += 64) {
        __m512i x0 = _mm512_loadu_si512((const void *)(x + i)), y0 = _mm512_loadu_si512((const void *)(y + i));
        __m512i pl = _mm512_maddubs_epi16(_mm512_and_si512(x0, low), _mm512_and_si512(y0, low));
        __m512i ph = _mm512_maddubs_epi16(_mm512_and_si512(_mm512_srli_epi16(x0, 4), low),
                                          _mm512_and_si512(_mm512_srli_epi16(y0, 4), low));
        s0 = _mm512_add_epi32(s0, _mm512_madd_epi16(pl, ones));
        s1 = _mm512_add_epi32(s1, _mm512_madd_epi16(ph, ones));
    }
    return _mm512_reduce_add_epi32(_mm512_add_epi32(s0, s1)) + i4_sum_scalar(x + i, y + i, bytes - i);
}

__attribute__((target("avx512f,avx512bw,avx512vnni")))
static int32_t i4_sum_vnni(const uint8_t *x, const uint8_t *y, size_t bytes) {
    const __m512i low = _mm512_set1_epi8(15);
    __m512i s0 = _mm512_setzero_si512(), s1 = _mm512_setzero_si512();
    size_t i = 0;
    for (; i + 64 <= bytes; i += 64) {
        __m512i x0 = _mm512_loadu_si512((const void *)(x + i)), y0 = _mm512_loadu_si512((const void *)(y + i));
        s0 = _mm512_dpbusd_epi32(s0, _mm512_and_si512(x0, low), _mm512_and_si512(y0, low));
        s1 = _mm512_dpbusd_epi32(s1, _mm512_and_si512(_mm512_srli_epi16(x0, 4), low),
                                 _mm512_and_si512(_mm512_srli_epi16(y0, 4), low));
    }
    return _mm512_reduce_add_epi32(_mm512_add_epi32(s0, s1)) + i4_sum_scalar(x + i, y + i, bytes - i);
}

__attribute__((target("avx512f,avx512bw")))
static float i4_dot_avx512(const void *a, const void *b, size_t n) {
    return i4_dot_from(a, b, i4_sum_avx512(i4_codes(a), i4_codes(b), n / 2));
}

__attribute__((target("avx512f,avx512bw")))
static float i4_l2sq_avx512(const void *a, const void *b, size_t n) {
    return i4_l2_from(a, b, i4_sum_avx512(i4_codes(a), i4_codes(b), n / 2));
}

__attribute__((target("avx512f,avx512bw,avx512vnni")))
static float i4_dot_vnni(const void *a, const void *b, size_t n) {
    return i4_dot_from(a, b, i4_sum_vnni(i4_codes(a), i4_codes(b), n / 2));
}

__attribute__((target("avx512f,avx512bw,avx512vnni")))
static float i4_l2sq_vnni(const void *a, const void *b, size_t n) {
    return i4_l2_from(a, b, i4_sum_vnni(i4_codes(a), i4_codes(b), n / 2));
}

__attribute__((target("avx512f,avx512bw")))
static int32_t q4_sum_avx512(const int8_t *q, const uint8_t *x, size_t n) {
    const __m512i low = _mm512_set1_epi8(15), ones = _mm512_set1_epi16(1);
    __m512i s0 = _mm512_setzero_si512(), s1 = _mm512_setzero_si512();
    for (size_t b = 0; b < n; b += 128) {
        __m512i v = _mm512_loadu_si512((const void *)(x + b / 2));
        __m512i pl = _mm512_maddubs_epi16(_mm512_and_si512(v, low), _mm512_loadu_si512((const void *)(q + b)));
        __m512i ph = _mm512_maddubs_epi16(_mm512_and_si512(_mm512_srli_epi16(v, 4), low),
                                          _mm512_loadu_si512((const void *)(q + b + 64)));
        s0 = _mm512_add_epi32(s0, _mm512_madd_epi16(pl, ones));
        s1 = _mm512_add_epi32(s1, _mm512_madd_epi16(ph, ones));
    }
    return _mm512_reduce_add_epi32(_mm512_add_epi32(s0, s1));
}

__attribute__((target("avx512f,avx512bw,avx512vnni")))
static int32_t q4_sum_vnni(const int8_t *q, const uint8_t *x, size_t n) {
    const __m512i low = _mm512_set1_epi8(15);
    __m512i s0 = _mm512_setzero_si512(), s1 = _mm512_setzero_si512();
    for (size_t b = 0; b < n; b += 128) {
        __m512i v = _mm512_loadu_si512((const void *)(x + b / 2));
        s0 = _mm512_dpbusd_epi32(s0, _mm512_and_si512(v, low), _mm512_loadu_si512((const void *)(q + b)));
        s1 = _mm512_dpbusd_epi32(s1, _mm512_and_si512(_mm512_srli_epi16(v, 4), low),
                                 _mm512_loadu_si512((const void *)(q + b + 64)));
    }
    return _mm512_reduce_add_epi32(_mm512_add_epi32(s0, s1));
}

__attribute__((target("avx512f,avx512bw")))
static float q4_dot_avx512(const void *a, const void *b, size_t n) {
    return q4_dot_from(a, b, q4_sum_avx512(i8_codes(a), i4_codes(b), n));
}

__attribute__((target("avx512f,avx512bw")))
static float q4_l2sq_avx512(const void *a, const void *b, size_t n) {
    return q4_l2_from(a, b, q4_sum_avx512(i8_codes(a), i4_codes(b), n));
}

__attribute__((target("avx512f,avx512bw,avx512vnni")))
static float q4_dot_vnni(const void *a, const void *b, size_t n) {
    return q4_dot_from(a, b, q4_sum_vnni(i8_codes(a), i4_codes(b), n));
}

__attribute__((target("avx512f,avx512bw,avx512vnni")))
static float q4_l2sq_vnni(const void *a, const void *b, size_t n) {
    return q4_l2_from(a, b, q4_sum_vnni(i8_codes(a), i4_codes(b), n));
}

__attribute__((target("avx512f,avx512bw")))
static float i8_dot_avx512(const void *a, const void *b, size_t n) {
    return i8_dot_from(a, b, i8_sum_avx512(i8_codes(a), i8_codes(b), n));
}

__attribute__((target("avx512f,avx512bw")))
static float i8_l2sq_avx512(const void *a, const void *b, size_t n) {
    return i8_l2_from(a, b, i8_sum_avx512(i8_codes(a), i8_codes(b), n));
}

__attribute__((target("avx512f,avx512bw,avx512vnni")))
static float i8_dot_vnni(const void *a, const void *b, size_t n) {
    return i8_dot_from(a, b, i8_sum_vnni(i8_codes(a), i8_codes(b), n));
}

__attribute__((target("avx512f,avx512bw,avx512vnni")))
static float i8_l2sq_vnni(const void *a, const void *b, size_t n) {
    return i8_l2_from(a, b, i8_sum_vnni(i8_codes(a), i8_codes(b), n));
}
#endif

static int detect_code_level(void) {
#if defined(__x86_64__)
    __builtin_cpu_init();
    if (__builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw")) {
        return __builtin_cpu_supports("avx512vnni") ? 3 : 2;
    }
    if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma") && __builtin_cpu_supports("f16c")) return 1;
#endif
    return 0;
}

int kk_code_level(void) {
    // Detected once; a race between first callers writes the same value.
    static volatile int cached = -1;
    if (cached < 0) cached = detect_code_level();
    return cached;
}

kk_code_fn kk_code_kernel_at(int encoding, int l2, int level) {
    if (level > kk_code_level()) return NULL;
    if (encoding == KK_ENCODING_FLOAT16) {
#if defined(__x86_64__)
        if (level >= 2) return l2 ? f16_l2sq_avx512 : f16_dot_avx512;
        if (level == 1) return l2 ? f16_l2sq_avx2 : f16_dot_avx2;
#endif
        return l2 ? f16_l2sq_scalar : f16_dot_scalar;
    }
    if (encoding == KK_ENCODING_INT8) {
#if defined(__x86_64__)
        if (level == 3) return l2 ? i8_l2sq_vnni : i8_dot_vnni;
        if (level == 2) return l2 ? i8_l2sq_avx512 : i8_dot_avx512;
        if (level == 1) return l2 ? i8_l2sq_avx2 : i8_dot_avx2;
#endif
        return l2 ? i8_l2sq_scalar : i8_dot_scalar;
    }
    if (encoding == KK_ENCODING_INT4) {
#if defined(__x86_64__)
        if (level == 3) return l2 ? i4_l2sq_vnni : i4_dot_vnni;
        if (level == 2) return l2 ? i4_l2sq_avx512 : i4_dot_avx512;
        if (level == 1) return l2 ? i4_l2sq_avx2 : i4_dot_avx2;
#endif
        return l2 ? i4_l2sq_scalar : i4_dot_scalar;
    }
    if (encoding == KK_ENCODING_INT4_QUERY) {
#if defined(__x86_64__)
        if (level == 3) return l2 ? q4_l2sq_vnni : q4_dot_vnni;
        if (level == 2) return l2 ? q4_l2sq_avx512 : q4_dot_avx512;
        if (level == 1) return l2 ? q4_l2sq_avx2 : q4_dot_avx2;
#endif
        return l2 ? q4_l2sq_scalar : q4_dot_scalar;
    }
    return NULL;
}

kk_code_fn kk_code_kernel(int encoding, int l2) { return kk_code_kernel_at(encoding, l2, kk_code_level()); }

const char *kk_code_isa(int level) {
    switch (level) { case 3: return "avx512-vnni"; case 2: return "avx512"; case 1: return "avx2"; }
    return "scalar";
}

// MARK: half <-> float conversion (the store's float16 records)

static uint16_t float_to_half(float f) {
    uint32_t x;
    memcpy(&x, &f, sizeof x);
    uint32_t sign = (x >> 16) & 0x8000, exponent = (x >> 23) & 0xff, mantissa = x & 0x7fffff;
    if (exponent == 0xff) return (uint16_t)(sign | 0x7c00 | (mantissa ? 0x200 : 0));  // inf, nan
    int e = (int)exponent - 127 + 15;
    if (e >= 31) return (uint16_t)(sign | 0x7c00);  // overflow: inf
    if (e <= 0) {  // subnormal or zero, rounded to nearest even
        if (e < -10) return (uint16_t)sign;
        mantissa |= 0x800000;
        uint32_t shift = (uint32_t)(14 - e), half = mantissa >> shift, rest = mantissa & ((1u << shift) - 1);
        uint32_t midpoint = 1u << (shift - 1);
        if (rest > midpoint || (rest == midpoint && (half & 1))) half++;
        return (uint16_t)(sign | half);
    }
    uint32_t half = sign | ((uint32_t)e << 10) | (mantissa >> 13), rest = mantissa & 0x1fff;
    if (rest > 0x1000 || (rest == 0x1000 && (half & 1))) half++;  // may carry into the exponent: correct
    return (uint16_t)half;
}

#if defined(__x86_64__)
__attribute__((target("avx2,fma,f16c")))
static void halves_to_floats_f16c(const uint16_t *in, float *out, size_t n) {
    size_t i = 0;
    for (; i + 8 <= n; i += 8) _mm256_storeu_ps(out + i, _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)(in + i))));
    for (; i < n; i++) out[i] = half_to_float(in[i]);
}

__attribute__((target("avx2,fma,f16c")))
static void floats_to_halves_f16c(const float *in, uint16_t *out, size_t n) {
    size_t i = 0;
    for (; i + 8 <= n; i += 8) {
        _mm_storeu_si128((__m128i *)(out + i), _mm256_cvtps_ph(_mm256_loadu_ps(in + i), _MM_FROUND_TO_NEAREST_INT));
    }
    for (; i < n; i++) out[i] = float_to_half(in[i]);
}
#endif

void kk_halves_to_floats(const uint16_t *in, float *out, size_t n) {
#if defined(__x86_64__)
    if (kk_code_level() >= 1) { halves_to_floats_f16c(in, out, n); return; }
#endif
    for (size_t i = 0; i < n; i++) out[i] = half_to_float(in[i]);
}

void kk_floats_to_halves(const float *in, uint16_t *out, size_t n) {
#if defined(__x86_64__)
    if (kk_code_level() >= 1) { floats_to_halves_f16c(in, out, n); return; }
#endif
    for (size_t i = 0; i < n; i++) out[i] = float_to_half(in[i]);
}

// MARK: int8 rows from floats (a search's query, and every row an index stores)

// The int8 row of x[0..<n]: the scale is the largest magnitude / 127, each code is x / scale
// rounded half away from zero and clamped to ±127, zeros pad the codes to `padded`, and the
// header's decoded |x|^2 is summed in order without fused multiply-adds. Written out this way
// (rather than in Swift, where `rounded()` was a libm call a component: 2 % of a SIMILAR's CPU)
// so the compiler vectorises the scale and the codes; the sum stays in order, so the row is the
// same bytes whichever instruction set wrote it.
static inline __attribute__((always_inline)) void encode_i8_body(const float *x, size_t n, size_t padded, void *row) {
#pragma clang fp contract(off)
    float largest = 0;
    for (size_t i = 0; i < n; i++) {
        float a = fabsf(x[i]);
        largest = a > largest ? a : largest;
    }
    float scale = largest / 127, inverse = largest > 0 ? 127 / largest : 0;
    int8_t *codes = (int8_t *)row + KK_I8_HEADER_BYTES;
    for (size_t i = 0; i < n; i++) {
        float v = roundf(x[i] * inverse);
        codes[i] = (int8_t)(v < -127 ? -127 : (v > 127 ? 127 : v));
    }
    memset(codes + n, 0, padded - n);
    float squares = 0;
    for (size_t i = 0; i < n; i++) {
        float decoded = (float)codes[i] * scale;
        squares += decoded * decoded;
    }
    float header[4] = {scale, squares, 0, 0};
    memcpy(row, header, sizeof header);
}

static void encode_i8_baseline(const float *x, size_t n, size_t padded, void *row) {
    encode_i8_body(x, n, padded, row);
}

#if defined(__x86_64__)
__attribute__((target("avx2"))) static void encode_i8_avx2(const float *x, size_t n, size_t padded, void *row) {
    encode_i8_body(x, n, padded, row);
}
#endif

int kk_encode_i8_at(const float *x, size_t n, size_t padded, void *row, int level) {
    if (level > kk_code_level()) return 0;
#if defined(__x86_64__)
    if (level >= 1) { encode_i8_avx2(x, n, padded, row); return 1; }
#endif
    encode_i8_baseline(x, n, padded, row);
    return 1;
}

void kk_encode_i8(const float *x, size_t n, size_t padded, void *row) {
    kk_encode_i8_at(x, n, padded, row, kk_code_level());
}
