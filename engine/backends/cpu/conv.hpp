// CPU twins of the 2-D convolution ops in engine/ops/conv.hpp, through oneDNN (conv.cpp).
// Arguments are already checked by the op layer; shapes and semantics are documented there.
#pragma once

#include "engine/core/tensor.hpp"
#include "engine/ops/conv.hpp"

namespace vsae::cpu {

// The convolution's forward also applies the optional output pass: y = act(conv(x, w) + bias), bias
// (O) or null, fused into oneDNN's primitive (a bias argument and an eltwise post-op).
void conv2d_forward(const Tensor& x, const Tensor& w, const Tensor& y, ConvParams p, const float* bias,
                    Activation act);
void conv2d_backward(const Tensor& x, const Tensor& w, const Tensor& dy, const Tensor& dx,
                     const Tensor& dw, ConvParams p);

void conv_transpose2d_forward(const Tensor& x, const Tensor& w, const Tensor& y, ConvParams p);
void conv_transpose2d_backward(const Tensor& x, const Tensor& w, const Tensor& dy, const Tensor& dx,
                               const Tensor& dw, ConvParams p);

}  // namespace vsae::cpu
