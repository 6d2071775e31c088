// Launchers for the backward pass shared by every SAE sparsifier (Top-k, L1, L1-prox): the gradient
// reaches z exactly where a > 0, since each of them outputs a = z − shift on its live set and 0
// elsewhere; L1 adds the slope λ/B of its penalty there.
#pragma once

#include <cuda_runtime.h>

#include <cstddef>
#include <cstdint>

namespace vsae::cuda_kernels {

// Floats of scratch that sparse_backward needs for (B, W) (0 when it needs none).
std::size_t sparse_backward_scratch_floats(std::int64_t batch, std::int64_t width);

// a, da, dz_pre: (B, W); db: (W); lambda: (1) on the device or null (no penalty).
// g = [a > 0]·(da + λ/B); dz_pre += g; db += Σ_rows g in an order fixed by (B, W) and the GPU.
// scratch: sparse_backward_scratch_floats(B, W) floats on the device.
void sparse_backward(const float* a, const float* da, const float* lambda, std::int64_t batch,
                     std::int64_t width, float* dz_pre, float* db, float* scratch,
                     cudaStream_t stream);

}  // namespace vsae::cuda_kernels
