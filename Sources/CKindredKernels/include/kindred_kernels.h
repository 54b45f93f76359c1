// Distance kernels for KindredIndex.
//
// Why C: Swift compiles a module for one CPU baseline (x86-64, SSE2) and has no per-function
// target attributes or run-time CPU dispatch. These few functions are compiled for AVX-512 and
// AVX2+FMA with GCC/Clang target attributes and chosen once at start-up by CPUID, the way hnswlib
// and FAISS do it. Everything around them stays in Swift.
#ifndef KINDRED_KERNELS_H
#define KINDRED_KERNELS_H
#include <stddef.h>
#include <stdint.h>

typedef float (*kk_distance_fn)(const float *a, const float *b, size_t n);

/// The fastest inner product this CPU runs: sum a[i] * b[i].
kk_distance_fn kk_select_dot(void);
/// The fastest squared L2 distance this CPU runs: sum (a[i] - b[i])^2.
kk_distance_fn kk_select_l2sq(void);
/// Which instruction set the selected kernels use: "avx512", "avx2" or "scalar".
const char *kk_isa(void);

/// Compact codes for the graph walk (codes.c). A row is one stored vector:
/// - float16: n IEEE halves;
/// - int8: a KK_I8_HEADER_BYTES header (float scale, float decoded |x|^2, zeros), then n codes in
///   [-127, 127]; component i is code[i] * scale.
/// - int4: a KK_I4_HEADER_BYTES header (float lo, float step, float sum of the codes, float decoded
///   |x|^2, uint32 dimension, zeros), then n / 2 bytes of codes in [0, 15]; component i is
///   lo + code[i] * step. n is a multiple of 128, and byte j of each 64-byte block holds component
///   128 b + j in its low nibble and 128 b + 64 + j in its high nibble, so one 64-byte load and two
///   masks give two registers of codes. Padding codes are 0.
/// - int8 query against int4 rows (KK_ENCODING_INT4_QUERY): a is an int8 row whose header holds the
///   sum of its codes as its third float, b an int4 row; a search compares its query, kept at int8
///   precision, with the stored int4 rows, so only the rows' rounding is in the walk's distances.
/// n counts components and is the padded length the caller stores.
enum {
    KK_ENCODING_FLOAT16 = 1,
    KK_ENCODING_INT8 = 2,
    KK_ENCODING_INT4 = 3,
    KK_ENCODING_INT4_QUERY = 4,
    KK_I8_HEADER_BYTES = 16,
    KK_I4_HEADER_BYTES = 64
};
/// Inner product (l2 = 0) or squared L2 distance (l2 = 1) of two rows of one encoding.
typedef float (*kk_code_fn)(const void *a, const void *b, size_t n);
/// The fastest kernel this CPU runs for an encoding, or NULL for an encoding without one.
kk_code_fn kk_code_kernel(int encoding, int l2);
/// The kernel at one level (0 scalar, 1 AVX2+F16C, 2 AVX-512BW, 3 AVX-512 VNNI), or NULL when this
/// CPU lacks that level: tests run every level the CPU has against the scalar one.
kk_code_fn kk_code_kernel_at(int encoding, int l2, int level);
/// The highest level this CPU runs, and its name.
int kk_code_level(void);
const char *kk_code_isa(int level);

/// Writes x[0..<n] (finite) as an int8 row of `padded` codes (n <= padded): the layout above,
/// the scale its largest magnitude / 127, each code rounded half away from zero. Every level of
/// the CPU writes the same bytes.
void kk_encode_i8(const float *x, size_t n, size_t padded, void *row);
/// kk_encode_i8 with the loops compiled for `level` (kk_code_level's scale); 0, writing nothing,
/// for a level this CPU lacks. For tests.
int kk_encode_i8_at(const float *x, size_t n, size_t padded, void *row, int level);

/// IEEE half <-> float conversion (F16C where the CPU has it; round to nearest even either way).
void kk_halves_to_floats(const uint16_t *in, float *out, size_t n);
void kk_floats_to_halves(const float *in, uint16_t *out, size_t n);

/// Hints the CPU to fetch the cache lines of `bytes` bytes from p.
static inline void kk_prefetch_bytes(const void *p, size_t bytes) {
    const char *c = (const char *)p;
    for (size_t i = 0; i < bytes; i += 64) __builtin_prefetch(c + i, 0, 3);
}
#endif
