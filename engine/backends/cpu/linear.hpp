// CPU twin of the fully connected op in engine/ops/linear.hpp: OpenBLAS sgemm.
// Arguments are already checked by the op layer; shapes and semantics are documented there.
#pragma once

#include "engine/core/tensor.hpp"

namespace vsae::cpu {

void linear_forward(const Tensor& x, const Tensor& w, const Tensor& y);
void linear_backward(const Tensor& x, const Tensor& w, const Tensor& dy, const Tensor& dx,
                     const Tensor& dw);

}  // namespace vsae::cpu
