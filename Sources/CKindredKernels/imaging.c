// The imaging kernels (kindred_imaging.h): plain loops the compiler vectorises, compiled once per
// instruction set. v·a + 255·(255 − a) + 127 is rewritten 65152 − a·(255 − v), which stays in 16
// bits, so the division by 255 vectorises as a 16-bit multiply-high.
#include "kindred_imaging.h"

#define KK_IMAGING_BODIES(suffix, target)                                                                                 \
    target static void over_white_##suffix(const uint8_t *restrict rgba, size_t width, uint8_t *restrict rgb) {           \
        for (size_t x = 0; x < width; x++) {                                                                              \
            const uint32_t a = rgba[4 * x + 3];                                                                           \
            for (int c = 0; c < 3; c++) rgb[3 * x + c] = (uint8_t)((65152u - a * (255u - rgba[4 * x + c])) / 255u);       \
        }                                                                                                                 \
    }                                                                                                                     \
    target static void accumulate_##suffix(float *restrict sums, const uint8_t *restrict bytes, size_t n, float weight) { \
        _Pragma("clang fp contract(off)") for (size_t i = 0; i < n; i++) sums[i] += (float)bytes[i] * weight;            \
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
