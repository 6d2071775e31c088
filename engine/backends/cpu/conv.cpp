// CPU convolution: the whole batch is lowered to one column matrix (im2col) so that each pass is a
// single large sgemm, which OpenBLAS threads. The lowering loops use OpenMP too: the project links
// the OpenMP build of OpenBLAS, so both share one thread pool (with the pthread build the two pools
// spun against each other and such loops made the convolutions 3x slower).
#include "engine/backends/cpu/conv.hpp"

#include <cblas.h>

#include <algorithm>
#include <climits>
#include <cstdint>
#include <cstring>
#include <vector>

#include "kernels/cpu_parallel.hpp"

namespace vsae::cpu {

namespace {

using Index = std::int64_t;

// One cross-correlation: input (N, C, H, W) with weight (O, C, KH, KW) gives output (N, O, OH, OW).
// The transposed convolution is the adjoint of this same map with input and output swapped.
struct Lowering {
  Index n, c, h, w;
  Index o, kh, kw;
  Index oh, ow;
  Index stride, pad;

  Index rows() const { return c * kh * kw; }  // of the column matrix: one per (c, kh, kw)
  Index plane() const { return oh * ow; }     // output pixels per image and channel
  Index cols() const { return n * plane(); }  // of the column matrix: one per (n, oh, ow)
};

Lowering make_lowering(const Shape& in, const Shape& weight, const Shape& out, ConvParams p) {
  Lowering g{in[0],     in[1],  in[2],  in[3],    weight[0], weight[2],
             weight[3], out[2], out[3], p.stride, p.pad};
  VSAE_CHECK(g.rows() <= INT_MAX && g.cols() <= INT_MAX, "conv (cpu): lowered matrix "
                                                             << g.rows() << " x " << g.cols()
                                                             << " exceeds the BLAS index range");
  return g;
}

// Grow-only per-thread buffers: a training step calls the same shapes over and over, and
// re-allocating tens of megabytes each time would cost as much as the arithmetic.
float* workspace(int slot, Index count) {
  thread_local std::vector<float> buffers[2];
  std::vector<float>& buffer = buffers[slot];
  if (static_cast<Index>(buffer.size()) < count) buffer.resize(static_cast<std::size_t>(count));
  return buffer.data();
}

// The outputs o in [begin, end) whose input index o·stride − pad + k lies inside [0, size): the
// loops below split each row into padding, a branch-free interior, and padding.
struct Span {
  Index begin, end;
};
Span inside(Index outputs, Index size, Index k, Index stride, Index pad) {
  const Index lo = pad - k;  // o·stride ≥ lo
  const Index hi = size - 1 + pad - k;  // o·stride ≤ hi
  const Index begin = lo <= 0 ? 0 : (lo + stride - 1) / stride;
  const Index end = hi < 0 ? 0 : std::min(outputs, hi / stride + 1);
  return {std::min(begin, outputs), std::max(end, std::min(begin, outputs))};
}

// cols (rows, cols): cols[(c, kh, kw)][(n, oh, ow)] = x[n, c, oh·s − p + kh, ow·s − p + kw], 0 in
// the padding. Threads own whole rows of cols.
void im2col(const Lowering& g, const float* x, float* cols) {
  const Index taps = g.kh * g.kw;
#pragma omp parallel for collapse(2) schedule(static) if (cpu_kernels::worth_threads(g.rows() * g.cols()))
  for (Index c = 0; c < g.c; ++c) {
    for (Index tap = 0; tap < taps; ++tap) {
      const Index kh = tap / g.kw, kw = tap % g.kw;
      const Span rows = inside(g.oh, g.h, kh, g.stride, g.pad);
      const Span span = inside(g.ow, g.w, kw, g.stride, g.pad);
      for (Index n = 0; n < g.n; ++n) {
        const float* image = x + (n * g.c + c) * g.h * g.w;
        float* out = cols + (c * taps + tap) * g.cols() + n * g.plane();
        for (Index oh = 0; oh < g.oh; ++oh, out += g.ow) {
          if (oh < rows.begin || oh >= rows.end) {
            std::fill(out, out + g.ow, 0.0f);
            continue;
          }
          const float* in = image + (oh * g.stride - g.pad + kh) * g.w;
          const Index shift = kw - g.pad;
          std::fill(out, out + span.begin, 0.0f);
          for (Index ow = span.begin; ow < span.end; ++ow) out[ow] = in[ow * g.stride + shift];
          std::fill(out + span.end, out + g.ow, 0.0f);
        }
      }
    }
  }
}

// The adjoint of im2col: adds every column entry back onto the input pixel it was read from.
// Threads own whole (n, c) input planes, so no two write the same pixel; each plane's additions
// happen in the same order whatever the thread count.
void col2im_add(const Lowering& g, const float* cols, float* dx) {
  const Index taps = g.kh * g.kw;
#pragma omp parallel for collapse(2) schedule(static) if (cpu_kernels::worth_threads(g.rows() * g.cols()))
  for (Index n = 0; n < g.n; ++n) {
    for (Index c = 0; c < g.c; ++c) {
      float* image = dx + (n * g.c + c) * g.h * g.w;
      for (Index tap = 0; tap < taps; ++tap) {
        const Index kh = tap / g.kw, kw = tap % g.kw;
        const Span rows = inside(g.oh, g.h, kh, g.stride, g.pad);
        const Span span = inside(g.ow, g.w, kw, g.stride, g.pad);
        const float* row = cols + (c * taps + tap) * g.cols() + n * g.plane();
        for (Index oh = rows.begin; oh < rows.end; ++oh) {
          float* in = image + (oh * g.stride - g.pad + kh) * g.w;
          const float* src = row + oh * g.ow;
          const Index shift = kw - g.pad;
          for (Index ow = span.begin; ow < span.end; ++ow) in[ow * g.stride + shift] += src[ow];
        }
      }
    }
  }
}

// (N, O, OH·OW) -> (O, N·OH·OW): the output-gradient layout the lowered GEMMs multiply with.
void to_channel_major(const Lowering& g, const float* batch_major, float* channel_major) {
  for (Index n = 0; n < g.n; ++n)
    for (Index o = 0; o < g.o; ++o)
      std::memcpy(channel_major + o * g.cols() + n * g.plane(),
                  batch_major + (n * g.o + o) * g.plane(),
                  static_cast<std::size_t>(g.plane()) * sizeof(float));
}

// (O, N·OH·OW) -> (N, O, OH·OW), overwriting or adding to the destination.
void to_batch_major(const Lowering& g, const float* channel_major, float* batch_major,
                    bool accumulate) {
  for (Index n = 0; n < g.n; ++n) {
    for (Index o = 0; o < g.o; ++o) {
      const float* src = channel_major + o * g.cols() + n * g.plane();
      float* dst = batch_major + (n * g.o + o) * g.plane();
      for (Index i = 0; i < g.plane(); ++i) dst[i] = accumulate ? dst[i] + src[i] : src[i];
    }
  }
}

int blas_int(Index v) {
  return static_cast<int>(v);
}

// out (=|+=) conv(in, weight)
void lowered_forward(const Lowering& g, const float* in, const float* weight, float* out,
                     bool accumulate) {
  float* cols = workspace(0, g.rows() * g.cols());
  float* product = workspace(1, g.o * g.cols());
  im2col(g, in, cols);
  // product (O, N·P) = weight (O, R) · cols (R, N·P)
  cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, blas_int(g.o), blas_int(g.cols()),
              blas_int(g.rows()), 1.0f, weight, blas_int(g.rows()), cols, blas_int(g.cols()), 0.0f,
              product, blas_int(g.cols()));
  to_batch_major(g, product, out, accumulate);
}

// din (=|+=) the gradient of conv with respect to its input, given dout.
void lowered_backward_data(const Lowering& g, const float* weight, const float* dout, float* din,
                           bool accumulate) {
  float* cols = workspace(0, g.rows() * g.cols());
  float* dout_cm = workspace(1, g.o * g.cols());
  to_channel_major(g, dout, dout_cm);
  // cols (R, N·P) = weightᵀ (R, O) · dout (O, N·P)
  cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, blas_int(g.rows()), blas_int(g.cols()),
              blas_int(g.o), 1.0f, weight, blas_int(g.rows()), dout_cm, blas_int(g.cols()), 0.0f,
              cols, blas_int(g.cols()));
  if (!accumulate)
    std::memset(din, 0, static_cast<std::size_t>(g.n * g.c * g.h * g.w) * sizeof(float));
  col2im_add(g, cols, din);
}

// dweight += dout (O, N·P) · colsᵀ (N·P, R), cols being im2col(in); one GEMM reduces over the batch.
void filter_gemm(const Lowering& g, const float* dout_cm, const float* cols, float* dweight) {
  cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, blas_int(g.o), blas_int(g.rows()),
              blas_int(g.cols()), 1.0f, dout_cm, blas_int(g.cols()), cols, blas_int(g.cols()), 1.0f,
              dweight, blas_int(g.rows()));
}

// dweight += the gradient of conv with respect to its weight.
void lowered_backward_filter(const Lowering& g, const float* in, const float* dout,
                             float* dweight) {
  float* cols = workspace(0, g.rows() * g.cols());
  float* dout_cm = workspace(1, g.o * g.cols());
  im2col(g, in, cols);
  to_channel_major(g, dout, dout_cm);
  filter_gemm(g, dout_cm, cols, dweight);
}

}  // namespace

void conv2d_forward(const Tensor& x, const Tensor& w, const Tensor& y, ConvParams p) {
  Lowering g = make_lowering(x.shape, w.shape, y.shape, p);
  lowered_forward(g, x.ptr<float>(), w.ptr<float>(), y.ptr<float>(), false);
}

void conv2d_backward(const Tensor& x, const Tensor& w, const Tensor& dy, const Tensor& dx,
                     const Tensor& dw, ConvParams p) {
  Lowering g = make_lowering(x.shape, w.shape, dy.shape, p);
  if (dx.defined())
    lowered_backward_data(g, w.ptr<float>(), dy.ptr<float>(), dx.ptr<float>(), true);
  lowered_backward_filter(g, x.ptr<float>(), dy.ptr<float>(), dw.ptr<float>());
}

// The transposed convolution y = convᵀ(x) uses the lowering of the conv that maps y's shape to
// x's shape with the same weight: (I, O, KH, KW) reads as a conv from O to I channels.
void conv_transpose2d_forward(const Tensor& x, const Tensor& w, const Tensor& y, ConvParams p) {
  Lowering g = make_lowering(y.shape, w.shape, x.shape, p);
  lowered_backward_data(g, w.ptr<float>(), x.ptr<float>(), y.ptr<float>(), false);
}

void conv_transpose2d_backward(const Tensor& x, const Tensor& w, const Tensor& dy, const Tensor& dx,
                               const Tensor& dw, ConvParams p) {
  Lowering g = make_lowering(dy.shape, w.shape, x.shape, p);
  // Both gradients read the same lowering of dy, so it is built once (it is the largest buffer
  // of the step for the wide decoder layers).
  float* cols = workspace(0, g.rows() * g.cols());
  float* product = workspace(1, g.o * g.cols());
  im2col(g, dy.ptr<float>(), cols);
  if (dx.defined()) {
    // product (O, N·P) = weight (O, R) · cols (R, N·P), then dx += it in x's layout.
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, blas_int(g.o), blas_int(g.cols()),
                blas_int(g.rows()), 1.0f, w.ptr<float>(), blas_int(g.rows()), cols, blas_int(g.cols()),
                0.0f, product, blas_int(g.cols()));
    to_batch_major(g, product, dx.ptr<float>(), true);
  }
  to_channel_major(g, x.ptr<float>(), product);
  filter_gemm(g, product, cols, dw.ptr<float>());
}

}  // namespace vsae::cpu
