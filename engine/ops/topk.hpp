// Fused Top-k sparsifier of the SAE: z = z_pre + b_enc, keep the k largest z per row (ties to the
// lower index), a = max(z, 0) on the kept entries and 0 elsewhere, with the activity counts fused.
// k is a device scalar, so a schedule changes it without re-capturing a CUDA graph.
#pragma once

#include "engine/core/backend.hpp"
#include "engine/ops/firing.hpp"

namespace vsae {

// Widest row the fused kernel holds on chip.
constexpr std::int64_t kTopkMaxWidth = 16384;

// z_pre: f32 (B, W), the encoder GEMM output without bias; bias: f32 (W); k: i32 (1), read on the
// device and clamped to [0, min(W, K)] (K = indices' capacity, W when indices is undefined).
// a: f32 (B, W), written whole.
// indices: i32 (B, K) or undefined: row n's kept positions in ASCENDING index order in
//   indices[n][0, k), and -1 in indices[n][k, K).
// mask: i32 (B, ceil(W / 32)) or undefined: bit (j % 32) of mask[n][j / 32] is set iff j was kept
//   (kept entries with z <= 0 are set although their a is 0).
// NaN in z ranks above +Inf and passes through to a; ±Inf are ordinary values.
void topk_forward(Backend& be, const Tensor& z_pre, const Tensor& bias, const Tensor& k,
                  const Tensor& a, const Tensor& indices, const Tensor& mask,
                  const ActivityCounters& counters);

// a, da, dz_pre: f32 (B, W); db: f32 (W). The gradient passes exactly where a > 0 (kept and
// positive): dz_pre += g and db += Σ_rows g with g = da·[a > 0]. The bias sum has a fixed order
// (bitwise reproducible, no float atomics).
void topk_backward(Backend& be, const Tensor& a, const Tensor& da, const Tensor& dz_pre,
                   const Tensor& db);

// Reserves the CUDA scratch the Top-k ops need for (B, W); call at plan time, before graph capture.
// A no-op on the CPU.
void topk_prepare(Backend& be, std::int64_t batch, std::int64_t width);

}  // namespace vsae
