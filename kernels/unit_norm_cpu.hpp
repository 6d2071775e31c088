// CPU twin of kernels/unit_norm.cuh: unit-norm decoder columns of a (D, W) matrix.
#pragma once

#include <cstdint>

namespace vsae::cpu_kernels {

// w, dw: (D, W). dw[:, j] −= (⟨dw_j, w_j⟩ / ⟨w_j, w_j⟩)·w_j for every column with ⟨w_j, w_j⟩ ≠ 0;
// the dot products in double, each in row order.
void decoder_grad_remove_parallel(const float* w, float* dw, std::int64_t rows, std::int64_t cols);

// w: (D, W), in place. w[:, j] /= ‖w_j‖₂ (in double, row order) for every nonzero column.
void decoder_normalize_columns(float* w, std::int64_t rows, std::int64_t cols);

}  // namespace vsae::cpu_kernels
