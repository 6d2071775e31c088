// Fully connected layer without bias (bias_act adds it): y = x Wᵀ, PyTorch layout.
// CUDA: cuBLAS (TF32 when be.tf32()). CPU: OpenBLAS sgemm. Backward ACCUMULATES into dx/dw.
#pragma once

#include "engine/core/backend.hpp"

namespace vsae {

// x: (N, IN), w: (OUT, IN), y: (N, OUT)
void linear_forward(Backend& be, const Tensor& x, const Tensor& w, const Tensor& y);
// What the CUDA backend needs before a step is captured (the cuBLAS handle); call at plan time
// (no-op on the CPU).
void linear_prepare(Backend& be);
// dy: (N, OUT); dx += dy W (skipped when undefined); dw += dyᵀ x
void linear_backward(Backend& be, const Tensor& x, const Tensor& w, const Tensor& dy,
                     const Tensor& dx, const Tensor& dw);

}  // namespace vsae
