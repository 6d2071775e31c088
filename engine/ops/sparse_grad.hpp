// The backward pass shared by every SAE sparsifier (Top-k, L1, L1-prox): each outputs a = z − shift
// on its live set and 0 elsewhere, so the gradient reaches z exactly where a > 0.
#pragma once

#include "engine/core/backend.hpp"

namespace vsae {

// a, da, dz_pre: f32 (B, W); db: f32 (W); lambda: f32 (1) or undefined (no penalty term).
// g = [a > 0]·(da + λ/B); dz_pre += g; db += Σ_rows g in an order fixed by the sizes (bitwise
// reproducible on one GPU; no float atomics).
void sparse_backward(Backend& be, const Tensor& a, const Tensor& da, const Tensor& lambda,
                     const Tensor& dz_pre, const Tensor& db);

// Reserves the CUDA scratch sparse_backward needs for (B, W); a no-op on the CPU.
void sparse_backward_prepare(Backend& be, std::int64_t batch, std::int64_t width);

}  // namespace vsae
