// CUDA implementations of the 2-D convolution ops in engine/ops/conv.hpp, through cuDNN.
// Arguments are already checked by the op layer; shapes and semantics are documented there.
#pragma once

#include "engine/core/backend.hpp"
#include "engine/ops/conv.hpp"

namespace vsae::cuda {

void conv2d_forward(Backend& be, const Tensor& x, const Tensor& w, const Tensor& y, ConvParams p);
void conv2d_backward(Backend& be, const Tensor& x, const Tensor& w, const Tensor& dy,
                     const Tensor& dx, const Tensor& dw, ConvParams p, DxMode dx_mode);

void conv_transpose2d_forward(Backend& be, const Tensor& x, const Tensor& w, const Tensor& y,
                              ConvParams p);
void conv_transpose2d_backward(Backend& be, const Tensor& x, const Tensor& w, const Tensor& dy,
                               const Tensor& dx, const Tensor& dw, ConvParams p, DxMode dx_mode);

// Choose the algorithms for these shapes (once, under be.tf32()) and reserve their workspace.
void conv2d_prepare(Backend& be, const Shape& x, const Shape& w, ConvParams p);
void conv_transpose2d_prepare(Backend& be, const Shape& x, const Shape& w, ConvParams p);

}  // namespace vsae::cuda
