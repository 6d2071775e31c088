// 2-D convolution and transposed convolution, NCHW, f32, with an optional output pass: bias plus
// activation (bias_act's forward), whose backward stays bias_act_backward's.
// CUDA: cuDNN with algorithms chosen once per shape, then the bias_act kernel on y.
// CPU: oneDNN, with primitives built once per shape; the output pass is fused into the
// convolution, and runs as bias_act after the transposed convolution.
// Backward ops ACCUMULATE into dw (+=) and, unless told to write it, into dx; an undefined dx is
// skipped.
#pragma once

#include <memory>

#include "engine/core/backend.hpp"
#include "engine/ops/bias_act.hpp"

namespace vsae {

namespace cpu {
struct ConvNodeState;
}
// What one graph node's convolution keeps from plan time on (conv*_prepare makes it; the node's
// forward and backward take it; null: the ops as they are). On the CPU: the node's copy of x in
// the blocked layout oneDNN's kernels read. The forward makes it, or, where x is the output of
// another node's conv2d (`producer`), that node's forward writes it, as it holds its output in
// that layout anyway; backward-weights reads it again instead of converting x once more. So x must
// keep its values from a node's forward to its backward, as the graph's saved activations do.
// CUDA: none.
using ConvNodeState = cpu::ConvNodeState;

struct ConvParams {
  int stride = 2;
  int pad = 1;
};

// The forward ops' output pass: y = act(conv(x, w) + bias[o]), bias (O). Without a bias, y = conv(x, w).
struct ConvEpilogue {
  const Tensor* bias = nullptr;
  Activation act = Activation::none;
};

// How a backward op forms dx: added to it (x may feed other ops as well), or written whole (x's
// gradient is this op's alone, and its buffer need not be zeroed first).
enum class DxMode { accumulate, write };

// x: (N, C, H, W), w: (O, C, KH, KW) -> y: (N, O, (H + 2p - KH)/s + 1, (W + 2p - KW)/s + 1)
Shape conv2d_output_shape(const Shape& x, const Shape& w, ConvParams p);
void conv2d_forward(Backend& be, const Tensor& x, const Tensor& w, const Tensor& y, ConvParams p,
                    const ConvEpilogue& epilogue = {}, ConvNodeState* node = nullptr);
void conv2d_backward(Backend& be, const Tensor& x, const Tensor& w, const Tensor& dy,
                     const Tensor& dx, const Tensor& dw, ConvParams p, DxMode dx_mode = DxMode::accumulate,
                     const ConvNodeState* node = nullptr);

// PyTorch ConvTranspose2d (output_padding 0): x: (N, I, H, W), w: (I, O, KH, KW)
// -> y: (N, O, (H - 1)s - 2p + KH, (W - 1)s - 2p + KW). It is the adjoint of conv2d.
Shape conv_transpose2d_output_shape(const Shape& x, const Shape& w, ConvParams p);
void conv_transpose2d_forward(Backend& be, const Tensor& x, const Tensor& w, const Tensor& y, ConvParams p,
                              const ConvEpilogue& epilogue = {}, ConvNodeState* node = nullptr);
void conv_transpose2d_backward(Backend& be, const Tensor& x, const Tensor& w, const Tensor& dy,
                               const Tensor& dx, const Tensor& dw, ConvParams p,
                               DxMode dx_mode = DxMode::accumulate, const ConvNodeState* node = nullptr);

// Call at plan time. CUDA chooses its algorithms for these shapes and reserves their scratch (and
// returns null); the CPU returns the node's state for the forward with `epilogue`.
std::shared_ptr<ConvNodeState> conv2d_prepare(Backend& be, const Shape& x, const Shape& w, ConvParams p,
                                              const ConvEpilogue& epilogue = {}, ConvNodeState* producer = nullptr);
std::shared_ptr<ConvNodeState> conv_transpose2d_prepare(Backend& be, const Shape& x, const Shape& w, ConvParams p);

}  // namespace vsae
