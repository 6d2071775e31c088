// CPU twin of kernels/sparse_grad.cuh: the backward pass shared by every SAE sparsifier.
#pragma once

#include <cstdint>

namespace vsae::cpu_kernels {

// a, da, dz_pre: (B, W); db: (W); lambda: (1) or null. g = [a > 0]·(da + λ/B) (λ = 0 when null);
// dz_pre += g, db += Σ_rows g.
void sparse_backward(const float* a, const float* da, const float* lambda, std::int64_t batch,
                     std::int64_t width, float* dz_pre, float* db);

}  // namespace vsae::cpu_kernels
