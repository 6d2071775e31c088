// Launchers for the unit-norm decoder column kernels: one CTA owns 32 columns of a (D, W) matrix,
// reduces their dot products on chip in a fixed order, then rewrites the columns.
#pragma once

#include <cuda_runtime.h>

#include <cstdint>

namespace vsae::cuda_kernels {

// w, dw: (D, W). dw[:, j] −= (⟨dw_j, w_j⟩ / ⟨w_j, w_j⟩)·w_j for every column with ⟨w_j, w_j⟩ ≠ 0;
// the dot products in double, in an order fixed by D.
void decoder_grad_remove_parallel(const float* w, float* dw, std::int64_t rows, std::int64_t cols,
                                  cudaStream_t stream);

// w: (D, W), in place. w[:, j] /= ‖w_j‖₂ (in double) for every nonzero column.
void decoder_normalize_columns(float* w, std::int64_t rows, std::int64_t cols, cudaStream_t stream);

}  // namespace vsae::cuda_kernels
