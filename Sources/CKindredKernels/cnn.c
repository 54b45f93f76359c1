// The CNN kernels (kindred_cnn.h): one body (cnn_impl.h) compiled for the x86-64 baseline, AVX2+FMA
// and AVX-512, and the row drivers that run a convolution or a whole inverted-residual block
// through the kernels of one level.
#include "kindred_cnn.h"
#include <limits.h>
#include <math.h>
#include <stdatomic.h>
#include <string.h>
#if defined(__x86_64__)
#include <immintrin.h>  // AVX-512 masked loads and stores (cnn_impl.h, narrow 1×1 convolutions)
#endif

/// Where a 1×1 convolution's weight (q, j) is: w[q·q + ⌊j/32⌋·panel + j mod 32]. Rows of n
/// (row-major, input × output) are {w, n, 32}; kk_pointwise_pack's panels are {w, 32, 32·k}. A
/// block of outputs (2·LANES wide, which divides 32) lies in one panel: one pointer, one stride.
typedef struct {
    const float *w;
    size_t q, panel;
} kk_weights;

static inline const float *kk_weights_at(kk_weights w, int j) {
    return w.w + (size_t)(j / KK_WEIGHT_PANEL) * w.panel + j % KK_WEIGHT_PANEL;
}
static kk_weights rows_of_weights(const float *w, int n) { return (kk_weights){w, (size_t)n, KK_WEIGHT_PANEL}; }
static kk_weights packed_weights(const float *packed, int k) {
    return (kk_weights){packed, KK_WEIGHT_PANEL, (size_t)KK_WEIGHT_PANEL * k};
}

typedef void (*pointwise_fn)(const float *, int, int, kk_weights, int, const float *, int, const float *, float *,
                             kk_layout);
typedef void (*depthwise_row_fn)(const float *const *, int, int, const float *, int, int, int, float *, int);

typedef float v4 __attribute__((vector_size(16)));
typedef float v8 __attribute__((vector_size(32)));
typedef float v16 __attribute__((vector_size(64)));

#define KK_NAME(x) x##_base
#define KK_TARGET
#define VEC v4
#define LANES 4
#define HVEC v4
#define HLANES 4
#define ROWS 4
#define PIXELS 4
#include "cnn_impl.h"

#if defined(__x86_64__)
#define KK_NAME(x) x##_avx2
#define KK_TARGET __attribute__((target("avx2,fma")))
#define VEC v8
#define LANES 8
#define HVEC v4
#define HLANES 4
#define ROWS 4  // 4 × 2 accumulators, 2 weights and a broadcast fit AVX2's 16 registers
#define PIXELS 4
#include "cnn_impl.h"

#define KK_NAME(x) x##_avx512
#define KK_TARGET __attribute__((target("avx512f,avx512vl,avx2,fma")))
#define VEC v16
#define LANES 16
#define HVEC v8
#define HLANES 8
#define ROWS 8  // 8 × 2 accumulators of AVX-512's 32 registers
#define PIXELS 8
#include "cnn_impl.h"
#endif

typedef struct {
    pointwise_fn pointwise;
    depthwise_row_fn depthwise_row;
    const char *name;
} level_kernels;

static const level_kernels levels[] = {
    {pointwise_base, depthwise_row_base, "baseline"},
#if defined(__x86_64__)
    {pointwise_avx2, depthwise_row_avx2, "avx2"},
    {pointwise_avx512, depthwise_row_avx512, "avx512"},
#endif
};
static const int level_count = (int)(sizeof levels / sizeof levels[0]);

int kk_cnn_level(void) {
#if defined(__x86_64__)
    __builtin_cpu_init();
    if (__builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512vl")) return 2;
    if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")) return 1;
#endif
    return 0;
}

int kk_cnn_supports(int level) { return level >= 0 && level < level_count && level <= kk_cnn_level(); }

const char *kk_cnn_isa(int level) { return kk_cnn_supports(level) ? levels[level].name : 0; }

/// The kernels of `level`, or the baseline's for a level this CPU lacks (callers check first).
static const level_kernels *at(int level) { return &levels[kk_cnn_supports(level) ? level : 0]; }

void kk_pointwise(int level, const float *in, int rows, int k, const float *w, int n, const float *bias, int relu6,
                  const float *residual, float *out) {
    at(level)->pointwise(in, rows, k, rows_of_weights(w, n), n, bias, relu6, residual, out, kk_rows_of(n));
}

size_t kk_pointwise_size(int k, int n) {
    return (size_t)(n + KK_WEIGHT_PANEL - 1) / KK_WEIGHT_PANEL * KK_WEIGHT_PANEL * k;
}

void kk_pointwise_pack(const float *w, int k, int n, float *packed) {
    memset(packed, 0, kk_pointwise_size(k, n) * sizeof(float));
    const kk_weights to = packed_weights(packed, k);
    for (int j = 0; j < n; j++)
        for (int q = 0; q < k; q++) ((float *)kk_weights_at(to, j))[(size_t)q * to.q] = w[(size_t)q * n + j];
}

void kk_pointwise_packed(int level, const float *in, int rows, int k, const float *packed, int n, const float *bias,
                         int relu6, const float *residual, float *out) {
    at(level)->pointwise(in, rows, k, packed_weights(packed, k), n, bias, relu6, residual, out, kk_rows_of(n));
}

static int panels(int c) { return (c + KK_PANEL - 1) / KK_PANEL; }

size_t kk_depthwise_size(int k, int c) { return (size_t)panels(c) * (1 + (size_t)k * k) * KK_PANEL; }

void kk_depthwise_pack(const float *weight, const float *bias, int k, int c, float *packed) {
    memset(packed, 0, kk_depthwise_size(k, c) * sizeof(float));
    for (int ch = 0; ch < c; ch++) {
        float *panel = packed + (size_t)(ch / KK_PANEL) * (1 + k * k) * KK_PANEL + ch % KK_PANEL;
        panel[0] = bias[ch];
        for (int t = 0; t < k * k; t++) panel[(size_t)(1 + t) * KK_PANEL] = weight[(size_t)t * c + ch];
    }
}

// Shared rows: each part's range is one 64-bit word, begin << 32 | end, on a cache line of its own
// so a part claiming its next rows does not pull a line another part is writing.
typedef struct {
    _Alignas(64) _Atomic unsigned long long range;
} kk_part_range;

struct kk_rows {
    int parts;
    kk_part_range part[KK_ROWS_MAX_PARTS];
};

static unsigned long long pack(int begin, int end) { return (unsigned long long)(unsigned)begin << 32 | (unsigned)end; }
static int range_begin(unsigned long long r) { return (int)(r >> 32); }
static int range_end(unsigned long long r) { return (int)(r & 0xffffffffu); }

size_t kk_rows_size(void) { return sizeof(kk_rows); }

void kk_rows_init(kk_rows *q, int rows, int parts) {
    if (parts < 1) parts = 1;
    if (parts > KK_ROWS_MAX_PARTS) parts = KK_ROWS_MAX_PARTS;
    q->parts = parts;
    for (int t = 0; t < parts; t++)
        atomic_store_explicit(&q->part[t].range, pack((int)((long long)rows * t / parts), (int)((long long)rows * (t + 1) / parts)),
                              memory_order_relaxed);
}

/// Claims up to `grain` rows for `part`: from the top of its own range, or, once that is empty,
/// after moving the far half of the largest range left (if it holds at least `min_steal` rows)
/// into its own. Returns the rows claimed, from *begin; 0 when none are left to take. Ranges only
/// decide who computes which rows, each row exactly once (every change is one compare-exchange);
/// the team's join publishes the rows themselves.
static int claim(kk_rows *q, int part, int grain, int min_steal, int *begin) {
    _Atomic unsigned long long *own = &q->part[part].range;
    for (;;) {
        unsigned long long r = atomic_load_explicit(own, memory_order_relaxed);
        while (range_begin(r) < range_end(r)) {
            const int b = range_begin(r), e = range_end(r) - b < grain ? range_end(r) : b + grain;
            if (atomic_compare_exchange_weak_explicit(own, &r, pack(e, range_end(r)), memory_order_relaxed,
                                                      memory_order_relaxed)) {
                *begin = b;
                return e - b;
            }
        }
        int victim = -1, most = 0;
        unsigned long long seen = 0;
        for (int t = 0; t < q->parts; t++) {
            const unsigned long long v = atomic_load_explicit(&q->part[t].range, memory_order_relaxed);
            if (t != part && range_end(v) - range_begin(v) > most) { victim = t; most = range_end(v) - range_begin(v); seen = v; }
        }
        if (victim < 0 || most < min_steal || most < 2) return 0;
        const int mid = range_begin(seen) + (most + 1) / 2;  // the victim keeps the nearer half
        if (atomic_compare_exchange_strong_explicit(&q->part[victim].range, &seen, pack(range_begin(seen), mid),
                                                    memory_order_relaxed, memory_order_relaxed))
            atomic_store_explicit(own, pack(mid, range_end(seen)), memory_order_relaxed);
        // else the victim moved on: look again
    }
}

void kk_conv_shared(int level, const float *in, int h, int w, int c, const float *weights, const float *bias, int k,
                    int stride, int pad_top, int pad_left, int n, int relu6, float *out, int ow, kk_rows *rows, int part,
                    float *scratch) {
    const level_kernels *kernels = at(level);
    const size_t width = (size_t)k * k * c;
    int oy;
    while (claim(rows, part, 1, 2, &oy)) {
        for (int ox = 0; ox < ow; ox++) {  // the row's im2col: each pixel's k·k·c inputs, zero outside
            float *dst = scratch + (size_t)ox * width;
            for (int ky = 0; ky < k; ky++) {
                const int iy = oy * stride - pad_top + ky;
                for (int kx = 0; kx < k; kx++) {
                    const int ix = ox * stride - pad_left + kx;
                    float *d = dst + ((size_t)ky * k + kx) * c;
                    if (iy < 0 || iy >= h || ix < 0 || ix >= w) memset(d, 0, sizeof(float) * c);
                    else memcpy(d, in + ((size_t)iy * w + ix) * c, sizeof(float) * c);
                }
            }
        }
        kernels->pointwise(scratch, ow, (int)width, rows_of_weights(weights, n), n, bias, relu6, 0,
                           out + (size_t)oy * ow * n, kk_rows_of(n));
    }
}

/// Rows a part claims at once from a shared 1×1 convolution: whole register blocks, and enough
/// of them that a claim's weight pass is not repeated for a sliver of rows.
#define KK_POINTWISE_GRAIN 16

void kk_pointwise_shared(int level, kk_rows *rows, int part, const float *in, int k, const float *w, const void *packed,
                         int n, const float *bias, int relu6, const float *residual, float *out) {
    const level_kernels *kernels = at(level);
    int r, count;
    while ((count = claim(rows, part, KK_POINTWISE_GRAIN, KK_POINTWISE_GRAIN, &r))) {
        const float *res = residual ? residual + (size_t)r * n : 0;
        if (packed) kk_pointwise_i16(level, in + (size_t)r * k, count, k, packed, n, bias, relu6, res, out + (size_t)r * n);
        else
            kernels->pointwise(in + (size_t)r * k, count, k, packed_weights(w, k), n, bias, relu6, res,
                               out + (size_t)r * n, kk_rows_of(n));
    }
}

/// Output pixels a band of rows should hold at least: the projection then runs over whole
/// register blocks of rows (a 7-pixel row alone would leave most of a block empty).
#define KK_BAND_PIXELS 48

static int band_rows(const kk_block *b) {
    int rows = (KK_BAND_PIXELS + b->ow - 1) / b->ow;
    return rows > b->oh ? b->oh : (rows < 1 ? 1 : rows);
}

static int ring_rows(const kk_block *b) { return b->kernel + (band_rows(b) - 1) * b->stride; }

/// A ring row's width in pixels: the input row with pad_left zero columns before it and enough
/// after it for the last output pixel's taps.
static int padded_width(const kk_block *b) {
    const int right = (b->ow - 1) * b->stride + b->kernel - b->pad_left - b->w;
    return b->pad_left + b->w + (right > 0 ? right : 0);
}

/// Floats a ring row takes: its padded width × the expanded channels in whole panels.
static size_t slot_size(const kk_block *b) { return (size_t)padded_width(b) * panels(b->expanded) * KK_PANEL; }

size_t kk_block_scratch(const kk_block *b) {
    return (size_t)ring_rows(b) * slot_size(b) + (size_t)band_rows(b) * b->ow * b->expanded;
}

/// Copies a row of w pixels × c channels (NHWC) into a ring row in panels, after its left padding.
static void to_panels(const float *row, int w, int c, float *slot, int wide, int pad_left) {
    for (int ch = 0; ch < c; ch += KK_PANEL) {
        const int count = c - ch < KK_PANEL ? c - ch : KK_PANEL;
        float *panel = slot + ((size_t)(ch / KK_PANEL) * wide + pad_left) * KK_PANEL;
        for (int x = 0; x < w; x++) memcpy(panel + (size_t)x * KK_PANEL, row + (size_t)x * c + ch, sizeof(float) * count);
    }
}

void kk_block_shared(int level, const kk_block *b, const float *x, const float *expanded, float *y, kk_rows *shared,
                     int part, float *scratch) {
    const level_kernels *kernels = at(level);
    const int k = b->kernel, w = b->w, ce = b->expanded, band = band_rows(b);
    // The depthwise convolution's input rows live in a ring, in panels (KK_PANEL) zero-padded left
    // and right so every tap is in range: input row r in slot r mod `slots`. A band reads
    // `slots` consecutive rows, distinct mod `slots`, and a row is overwritten only by a row
    // `slots` further down, which no band still reading it needs. A row comes from the
    // expansion, which stores it in panels; or is copied from `expanded`, when the caller
    // computed the expansion beforehand; or from x, when the block does not expand (the copy is
    // cheap beside the convolution that reads it). Padding columns and the lanes past the last
    // channel are zeroed here and never written.
    const int slots = ring_rows(b), wide = padded_width(b);
    const size_t slot = slot_size(b), left = (size_t)b->pad_left * KK_PANEL;
    const kk_layout in_panels = {KK_PANEL, (size_t)wide * KK_PANEL};
    float *ring = scratch, *depthwise = scratch + (size_t)slots * slot;
    const size_t panel = (size_t)wide * KK_PANEL, right = (size_t)(wide - b->pad_left - w) * KK_PANEL;
    for (size_t at = 0; at < (size_t)slots * slot; at += panel) {  // each panel's padding columns
        memset(ring + at, 0, left * sizeof(float));
        memset(ring + at + panel - right, 0, right * sizeof(float));
    }
    if (ce % KK_PANEL)  // the last panel's lanes past ce, in every column
        for (int s = 0; s < slots; s++) memset(ring + (size_t)s * slot + slot - panel, 0, panel * sizeof(float));
    const float *copied = expanded ? expanded : (b->expand_weight ? 0 : x);
    const float *rows[KK_BLOCK_MAX_KERNEL];
    // A steal leaves both sides at least a band and the kernel's rows: each new range expands
    // its kernel − 1 rows of overlap again.
    const int min_steal = 2 * (band > k ? band : k);
    int next = INT_MIN;  // the first input row not yet in the ring
    int expected = INT_MIN, oy, count;  // the band that would continue the ring's rows
    while ((count = claim(shared, part, band, min_steal, &oy))) {
        if (oy != expected) next = INT_MIN;  // a stolen range: its rows start afresh
        expected = oy + count;
        const int top = oy * b->stride - b->pad_top, bottom = (oy + count - 1) * b->stride - b->pad_top + k;
        int r = top < 0 ? 0 : top;
        if (r < next) r = next;
        const int to = bottom > b->h ? b->h : bottom;
        for (; r < to; r++) {
            float *row = ring + (size_t)(r % slots) * slot;
            if (copied) to_panels(copied + (size_t)r * w * ce, w, ce, row, wide, b->pad_left);
            else if (b->expand_i16)
                kk_pointwise_i16_to(level, x + (size_t)r * w * b->input, w, b->input, b->expand_i16, ce, b->expand_bias, 1,
                                    0, row + left, in_panels);
            else
                kernels->pointwise(x + (size_t)r * w * b->input, w, b->input, packed_weights(b->expand_weight, b->input),
                                   ce, b->expand_bias, 1, 0, row + left, in_panels);
        }
        if (to > next) next = to;
        for (int i = 0; i < count; i++) {
            const int first = (oy + i) * b->stride - b->pad_top;
            for (int t = 0; t < k; t++) {
                const int row = first + t;
                rows[t] = row < 0 || row >= b->h ? 0 : ring + (size_t)(row % slots) * slot;
            }
            kernels->depthwise_row(rows, ce, wide, b->depthwise, k, b->stride, 1, depthwise + (size_t)i * b->ow * ce, b->ow);
        }
        const size_t out = (size_t)oy * b->ow * b->output;
        if (b->project_i16)
            kk_pointwise_i16(level, depthwise, count * b->ow, ce, b->project_i16, b->output, b->project_bias, 0,
                            b->residual ? x + out : 0, y + out);
        else
            kernels->pointwise(depthwise, count * b->ow, ce, packed_weights(b->project_weight, ce), b->output,
                               b->project_bias, 0, b->residual ? x + out : 0, y + out, kk_rows_of(b->output));
    }
}

void kk_mean_rows(const float *in, int n, int c, float *out) {
    for (int j = 0; j < c; j++) out[j] = 0;
    for (int i = 0; i < n; i++)
        for (int j = 0; j < c; j++) out[j] += in[(size_t)i * c + j];
    float scale = 1.0f / (float)n;
    for (int j = 0; j < c; j++) out[j] *= scale;
}

void kk_rms_rows(const float *in, int n, int c, float *out) {
    for (int j = 0; j < c; j++) out[j] = 0;
    for (int i = 0; i < n; i++)
        for (int j = 0; j < c; j++) out[j] += in[(size_t)i * c + j] * in[(size_t)i * c + j];
    float scale = 1.0f / (float)n;
    for (int j = 0; j < c; j++) out[j] = sqrtf(out[j] * scale);
}
