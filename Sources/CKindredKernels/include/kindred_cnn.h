// CNN kernels for KindredFeatures, NHWC layout (channels contiguous, so every loop over channels
// is a SIMD loop). Why C is explained in kindred_kernels.h. The kernels exist for three
// instruction-set levels, chosen by the caller (normally the highest this CPU runs; tests run each
// level against the others): 0 the x86-64 baseline, 1 AVX2+FMA, 2 AVX-512.
//
// Every output value is summed in one fixed order whatever the rows a call covers, so a layer cut
// into row ranges (for threads, however they are shared out) gives bit-identical results to one
// call over all rows.
#ifndef KINDRED_CNN_H
#define KINDRED_CNN_H
#include <stddef.h>

/// The highest level this CPU runs.
int kk_cnn_level(void);
/// Whether this CPU runs `level`.
int kk_cnn_supports(int level);
/// The level's name ("baseline", "avx2", "avx512"), or null when this CPU lacks it.
const char *kk_cnn_isa(int level);

/// A 1×1 convolution: out[r][j] = act(bias[j] + Σ_q in[r][q] · w[q][j]) (+ residual[r][j] when
/// residual is not null) for rows × k inputs and n outputs (w is k×n, row-major). Blocks of rows ×
/// outputs stay in registers over all k; bias, ReLU6 and the residual are applied as each block
/// is stored, so each output is written once.
///
/// At level 2 (AVX-512) a convolution of at most KK_NARROW_OUTPUTS outputs keeps all of them for
/// 8 or 12 rows in registers at once, in one pass over the inputs (the early projections, 16–40
/// outputs); the arithmetic is the same, bit for bit.
#define KK_NARROW_OUTPUTS 48
void kk_pointwise(int level, const float *in, int rows, int k, const float *w, int n, const float *bias, int relu6,
                  const float *residual, float *out);

/// Columns of a 1×1 convolution's weights that `kk_pointwise_pack` stores together.
#define KK_WEIGHT_PANEL 32
/// Floats a k×n weight takes packed: ⌈n/32⌉ panels of k × 32.
size_t kk_pointwise_size(int k, int n);
/// Packs a k×n weight (row-major, input × output) into panels of 32 columns, [⌈n/32⌉][k][32],
/// columns past n zero. A block of outputs then reads its weights front to back, 128 contiguous
/// bytes an input, where rows of n put each input's n·4 bytes apart (up to 4.6 KB): the stream
/// the prefetchers follow and the TLB holds. The arithmetic is unchanged, bit for bit.
void kk_pointwise_pack(const float *w, int k, int n, float *packed);
/// `kk_pointwise` with weights packed by `kk_pointwise_pack`.
void kk_pointwise_packed(int level, const float *in, int rows, int k, const float *packed, int n, const float *bias,
                         int relu6, const float *residual, float *out);

/// The output rows of one layer, shared out among the parts of a thread team. Each part starts
/// with an equal contiguous range and takes it top-down a few rows at a time; a part that runs
/// out moves the far half of the largest range left into its own. So a core slowed by another
/// process (or by the hypervisor) hands its rows to the other cores instead of holding the layer
/// up, and when no core is slowed each part computes exactly its equal range. Which part computes
/// a row never changes a bit of it. Set up by `kk_rows_init` before each layer (one part: the
/// whole layer on one thread).
typedef struct kk_rows kk_rows;
#define KK_ROWS_MAX_PARTS 64
/// Bytes a kk_rows takes; allocate them 64-byte aligned.
size_t kk_rows_size(void);
/// `count` rows over `parts` parts (at most KK_ROWS_MAX_PARTS).
void kk_rows_init(kk_rows *rows, int count, int parts);
/// A dense k×k convolution (the stem) over an H×W×C image into OH×OW×N, "SAME" padding given as
/// pad_top/pad_left: the output rows `part` claims from `rows`, each gathered (im2col) into
/// `scratch` (OW·k·k·C floats) and run through the 1×1 kernel with weights (k·k·C)×N.
void kk_conv_shared(int level, const float *in, int h, int w, int c, const float *weights, const float *bias, int k,
                    int stride, int pad_top, int pad_left, int n, int relu6, float *out, int ow, kk_rows *rows, int part,
                    float *scratch);
/// `kk_pointwise_packed` over the rows `part` claims from `rows` (the layer's pixels), w packed by
/// `kk_pointwise_pack`; in 16-bit integers (`kk_pointwise_i16` at the same level) when `packed`,
/// w's int16 packing, is not null.
void kk_pointwise_shared(int level, kk_rows *rows, int part, const float *in, int k, const float *w, const void *packed,
                         int n, const float *bias, int relu6, const float *residual, float *out);
#define KK_BLOCK_MAX_KERNEL 7

/// Channels kept together where a depthwise convolution reads them: its input rows hold each 16
/// channels of all their pixels side by side ([⌈c/16⌉][pixels][16], channels past c zero), and its
/// packed weights each 16 channels' bias and taps ([⌈c/16⌉][1 + k·k][16]). So every vector the
/// kernel loads sits a constant distance from the last: one register addresses them all. 16 is
/// an AVX-512 vector; the narrower levels take a panel in two or four.
#define KK_PANEL 16

/// Where a 1×1 convolution stores output (i, j): out[i·row + ⌊j/16⌋·panel + j mod 16]. Rows of n
/// outputs (NHWC) are {n, 16}; a depthwise convolution's input row of W pixels is {16, 16·W}.
typedef struct {
    size_t row, panel;
} kk_layout;

/// Where output (i, j) goes in layout o.
static inline float *kk_layout_at(float *out, kk_layout o, int i, int j) {
    return out + (size_t)i * o.row + (size_t)(j / KK_PANEL) * o.panel + j % KK_PANEL;
}
/// Rows of n outputs, channels contiguous (NHWC).
static inline kk_layout kk_rows_of(int n) { return (kk_layout){(size_t)n, KK_PANEL}; }

/// Floats a depthwise convolution's packed weights take (`kk_depthwise_pack`).
size_t kk_depthwise_size(int k, int c);
/// Packs a k×k depthwise convolution's weights (k × k × c, row-major) and its bias (c) into
/// `packed`: [⌈c/16⌉][1 + k·k][16], each panel's bias first, channels past c zero.
void kk_depthwise_pack(const float *weight, const float *bias, int k, int c, float *packed);

/// Reduced precision (cnn_i16.c): a 1×1 convolution in 16-bit integers. Each output column's
/// weights are quantised to ±1023 by their largest magnitude once (`kk_i16_pack`), each row of
/// inputs likewise as it is read; products are summed exactly in int32, then scaled back, with the
/// bias, ReLU6 and residual of `kk_pointwise`. Every output is computed the same way by each
/// kernel (AVX-512 VNNI, AVX2, portable), bit for bit, whatever the rows a call covers.
#define KK_I16_MAX_INPUTS 2048
/// The best int16 kernel this CPU runs: 2 AVX-512 VNNI, 1 AVX2 (with FMA), 0 the portable one
/// (slower than the fp32 kernels: callers keep fp32 there).
int kk_i16_level(void);
/// Bytes a packed k×n weight takes (allocate them 64-byte aligned).
size_t kk_i16_size(int k, int n);
/// Packs a k×n weight (row-major, input × output) into `packed`, k ≤ KK_I16_MAX_INPUTS.
void kk_i16_pack(const float *w, int k, int n, void *packed);
/// `kk_pointwise` with packed weights (k and n as packed), by the kernel of `level` (as
/// `kk_i16_level`; the CNN's kernel levels map onto these), or the best this CPU has below it.
void kk_pointwise_i16(int level, const float *in, int rows, int k, const void *packed, int n, const float *bias,
                      int relu6, const float *residual, float *out);
/// `kk_pointwise_i16` storing its outputs in `layout` (residual, when given, stays rows of n).
void kk_pointwise_i16_to(int level, const float *in, int rows, int k, const void *packed, int n, const float *bias,
                         int relu6, const float *residual, float *out, kk_layout layout);

/// One inverted-residual block (MobileNetV2 / EfficientNet MBConv): expand 1×1 with ReLU6 (absent
/// when expand_weight is null), depthwise kernel×kernel with ReLU6, project 1×1, plus the input
/// when residual. 1×1 weights come packed by `kk_pointwise_pack`; the depthwise convolution's
/// weights and bias by `kk_depthwise_pack`.
typedef struct {
    int h, w, input, expanded, output;
    int kernel, stride, pad_top, pad_left, oh, ow;
    const float *expand_weight, *expand_bias;
    const float *depthwise;
    const float *project_weight, *project_bias;
    int residual;
    /// The expansion's and projection's weights packed for `kk_pointwise_i16`, or null: the
    /// block's 1×1 convolutions then run in 16-bit integers (`kk_pointwise_i16` at the block's level).
    const void *expand_i16, *project_i16;
} kk_block;

/// Floats of scratch `kk_block_rows` needs: a ring of the depthwise convolution's input rows,
/// zero-padded left and right, and a band of its output rows.
size_t kk_block_scratch(const kk_block *b);

/// The output rows `part` claims from `rows` of block `b`, from its input x (H×W×input) into y
/// (OH×OW×output), fused in bands of rows: each input row is expanded once into a ring of rows,
/// so the 6×-wider expanded activation never leaves the cache, and each band's depthwise rows are
/// projected together. With `expanded` not null (the whole H×W×expanded expansion, computed
/// beforehand by the caller, e.g. split over threads without overlap) the ring's rows are copied
/// from it. kernel ≤ KK_BLOCK_MAX_KERNEL.
void kk_block_shared(int level, const kk_block *b, const float *x, const float *expanded, float *y, kk_rows *rows,
                     int part, float *scratch);
/// out[j] = mean over the n rows of in (n×c).
void kk_mean_rows(const float *in, int n, int c, float *out);
/// The root mean square of each of c columns over n rows (generalised-mean pooling with p = 2;
/// the rows are ReLU6 outputs, never negative): out[j] = sqrt(Σ_i in[i][j]² / n).
void kk_rms_rows(const float *in, int n, int c, float *out);
#endif
