// 2-D convolution and transposed convolution, NCHW, f32, with an optional output pass: bias plus
// activation (bias_act's forward), whose backward stays bias_act_backward's.
// CUDA: cuDNN with algorithms chosen once per shape, then the bias_act kernel on y.
// CPU: oneDNN, with primitives built once per shape; the output pass is fused into the
// convolution, and runs as bias_act after the transposed convolution.
// Backward ops ACCUMULATE into dx/dw (+=); an undefined dx is skipped.
#pragma once

#include "engine/core/backend.hpp"
#include "engine/ops/bias_act.hpp"

namespace vsae {

struct ConvParams {
  int stride = 2;
  int pad = 1;
};

// The forward ops' output pass: y = act(conv(x, w) + bias[o]), bias (O). Without a bias, y = conv(x, w).
struct ConvEpilogue {
  const Tensor* bias = nullptr;
  Activation act = Activation::none;
};

// x: (N, C, H, W), w: (O, C, KH, KW) -> y: (N, O, (H + 2p - KH)/s + 1, (W + 2p - KW)/s + 1)
Shape conv2d_output_shape(const Shape& x, const Shape& w, ConvParams p);
void conv2d_forward(Backend& be, const Tensor& x, const Tensor& w, const Tensor& y, ConvParams p,
                    const ConvEpilogue& epilogue = {});
void conv2d_backward(Backend& be, const Tensor& x, const Tensor& w, const Tensor& dy,
                     const Tensor& dx, const Tensor& dw, ConvParams p);

// PyTorch ConvTranspose2d (output_padding 0): x: (N, I, H, W), w: (I, O, KH, KW)
// -> y: (N, O, (H - 1)s - 2p + KH, (W - 1)s - 2p + KW). It is the adjoint of conv2d.
Shape conv_transpose2d_output_shape(const Shape& x, const Shape& w, ConvParams p);
void conv_transpose2d_forward(Backend& be, const Tensor& x, const Tensor& w, const Tensor& y, ConvParams p,
                              const ConvEpilogue& epilogue = {});
void conv_transpose2d_backward(Backend& be, const Tensor& x, const Tensor& w, const Tensor& dy,
                               const Tensor& dx, const Tensor& dw, ConvParams p);

// Scratch the CUDA backend will need for these shapes; call at plan time (no-op on the CPU).
void conv2d_prepare(Backend& be, const Shape& x, const Shape& w, ConvParams p);
void conv_transpose2d_prepare(Backend& be, const Shape& x, const Shape& w, ConvParams p);

}  // namespace vsae
