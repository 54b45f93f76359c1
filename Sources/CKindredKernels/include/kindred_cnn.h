// CNN kernels for KindredFeatures, NHWC layout (channels contiguous, so every loop over channels
// is a SIMD loop). Compiled for AVX2+FMA and for the x86-64 baseline, chosen at run time; why C is
// explained in kindred_kernels.h. Each processes a range of output rows so callers can split
// work across threads.
#ifndef KINDRED_CNN_H
#define KINDRED_CNN_H
#include <stddef.h>

/// Depthwise k×k convolution with bias and optional ReLU6, TensorFlow "SAME" padding given as
/// pad_top/pad_left. in: H×W×C; weights: k×k×C; out: OH×OW×C. Computes output rows [row_begin, row_end).
void kk_depthwise(const float *in, int h, int w, int c, const float *weights, const float *bias, int k, int stride,
                  int pad_top, int pad_left, float *out, int oh, int ow, int relu6, int row_begin, int row_end);

/// A 1×1 convolution: out[r][j] = act(bias[j] + Σ_q in[r][q] · w[q][j]) for rows × k inputs and
/// n outputs (w is k×n, row-major). Blocks of 4 rows × 16 outputs stay in registers over all k,
/// and bias and ReLU6 are applied as each block is stored, so each output is written once.
void kk_pointwise(const float *in, int rows, int k, const float *w, int n, const float *bias, int relu6, float *out);

/// x[r][j] = act(x[r][j] + bias[j]) for rows [row_begin, row_end) of a rows×cols matrix.
void kk_bias_activate(float *x, int cols, const float *bias, int relu6, int row_begin, int row_end);

/// y[i] += x[i] for i in [begin, end).
void kk_add(float *y, const float *x, size_t begin, size_t end);

/// im2col for a k×k convolution over an H×W×C image: row (oy*OW+ox) holds the k·k·C inputs in
/// (ky, kx, c) order, zeros outside the image. Rows [row_begin, row_end) of the OH output rows.
void kk_im2col(const float *in, int h, int w, int c, int k, int stride, int pad_top, int pad_left,
               int oh, int ow, float *col, int row_begin, int row_end);

/// out[j] = mean over the n rows of in (n×c).
void kk_mean_rows(const float *in, int n, int c, float *out);
#endif
