// Per-pixel kernels for KindredImaging: the streaming decode runs them on every pixel of every
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

/// out[i] = upper[i]·(1 − weight) + lower[i]·weight (two multiplies, then an add), clamped to
/// [0, 255] and rounded to the nearest byte, halves up: a bilinear enlargement's vertical blend of
/// two horizontally blended rows, for i < n.
void kk_blend_rows(int level, const float *upper, const float *lower, size_t n, float weight, uint8_t *out);

/// The largest side `kk_best_correlation` takes (its tables live on the stack).
#define KK_CORRELATION_MAX_SIDE 48
/// Floats `kk_best_correlation` may read past an image's last pixel (it computes whole vectors of
/// this many positions; what the lanes past the image read is never used). The caller allocates
/// them.
#define KK_CORRELATION_PADDING 16

/// The largest normalised cross-correlation of any of `count` templates with the windows of an
/// image, for `KindredImaging.RegionMatch`. `image` is rows × cols floats (one channel),
/// row-major, each side at most KK_CORRELATION_MAX_SIDE, followed by KK_CORRELATION_PADDING
/// readable floats; template t is heights[t] × widths[t]
/// floats with zero mean and unit norm. Each window (y, x), y + th ≤ rows, x + tw ≤ cols, scores
/// Σ window·template / √(Σ window² − (Σ window)²/n) (n = th·tw); a window whose values vary by
/// less than `min_deviation` (a standard deviation, in the image's units) is flat and scores
/// nothing. Returns the best score, or −1 when no window fits or none varies.
float kk_best_correlation(int level, const float *image, int rows, int cols, const float *const *templates,
                          const int *heights, const int *widths, int count, float min_deviation);

/// The highest level this CPU runs.
int kk_imaging_level(void);
#endif
