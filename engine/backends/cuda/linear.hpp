// CUDA implementation of the fully connected op in engine/ops/linear.hpp, through cuBLAS.
// Arguments are already checked by the op layer; shapes and semantics are documented there.
#pragma once

#include "engine/core/backend.hpp"

namespace vsae::cuda {

void linear_forward(Backend& be, const Tensor& x, const Tensor& w, const Tensor& y);
void linear_backward(Backend& be, const Tensor& x, const Tensor& w, const Tensor& dy,
                     const Tensor& dx, const Tensor& dw);

}  // namespace vsae::cuda
