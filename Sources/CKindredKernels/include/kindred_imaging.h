// Per-pixel kernels for KindredImaging's streaming decode: they run on every pixel of every
// file (4 billion for openclipart's largest PNGs), where Swift, compiled for the x86-64 baseline,
// cannot use AVX2's byte-to-float conversions or 16-bit multiplies. Why C: kindred_kernels.h.
// Each is compiled for AVX-512BW (level 2), AVX2 (1) and the baseline (0); the caller passes the
// level (normally `kk_imaging_level()`, once; a level the CPU lacks falls back to one it has).
// Every level computes the same bytes and floats as the others (no fused multiply-add).
#ifndef KINDRED_IMAGING_H
#define KINDRED_IMAGING_H
#include <stddef.h>
#include <stdint.h>

/// RGBA → RGB over white, exactly (v·a + 255·(255 − a) + 127) / 255 per channel in integers:
/// `width` pixels from rgba (4 bytes each) into rgb (3 bytes each).
void kk_rgba_over_white(int level, const uint8_t *rgba, size_t width, uint8_t *rgb);

/// sums[i] += (float)bytes[i] · weight for i < n, as a multiply then an add (two roundings).
void kk_accumulate_bytes(int level, float *sums, const uint8_t *bytes, size_t n, float weight);

/// The highest level this CPU runs.
int kk_imaging_level(void);
#endif
