// CPU twins of the 2-D convolution ops in engine/ops/conv.hpp, through oneDNN (conv.cpp).
// Arguments are already checked by the op layer; shapes and semantics are documented there.
#pragma once

#include <memory>

#include "engine/core/tensor.hpp"
#include "engine/ops/conv.hpp"

namespace vsae::cpu {

// One graph node's state (ConvNodeState in engine/ops/conv.hpp) for the forward with this output
// pass; `producer` (or null) is the state of the node whose output x is.
std::shared_ptr<ConvNodeState> conv_node_state(const Shape& x, const Shape& w, const Shape& y, ConvParams p,
                                               bool transposed, bool with_bias, Activation act,
                                               ConvNodeState* producer);

// The convolution's forward also applies the optional output pass: y = act(conv(x, w) + bias), bias
// (O) or null, fused into oneDNN's primitive (a bias argument and an eltwise post-op).
// A null node state: the ops as they are, with primitives shared per shape.
void conv2d_forward(const Tensor& x, const Tensor& w, const Tensor& y, ConvParams p, const float* bias,
                    Activation act, ConvNodeState* node);
void conv2d_backward(const Tensor& x, const Tensor& w, const Tensor& dy, const Tensor& dx,
                     const Tensor& dw, ConvParams p, DxMode dx_mode, const ConvNodeState* node);

void conv_transpose2d_forward(const Tensor& x, const Tensor& w, const Tensor& y, ConvParams p,
                              ConvNodeState* node);
void conv_transpose2d_backward(const Tensor& x, const Tensor& w, const Tensor& dy, const Tensor& dx,
                               const Tensor& dw, ConvParams p, DxMode dx_mode, const ConvNodeState* node);

}  // namespace vsae::cpu
