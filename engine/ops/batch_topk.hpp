// BatchTopK sparsifier of the SAE (Bussmann, Leask & Nanda 2024): training keeps the k·B largest
// z = z_pre + b_enc over the whole batch, so examples share one budget; a running threshold θ of
// the smallest kept activations then makes evaluation per-example, a = z·[z > θ], so an image's
// code does not depend on its batch. k is a device scalar, as for Top-k.
#pragma once

#include "engine/core/backend.hpp"
#include "engine/ops/firing.hpp"

namespace vsae {

// θ's decay, as dictionary_learning's BatchTopK trainer (threshold_beta).
constexpr float kBatchTopkThresholdBeta = 0.999f;
// θ's "unset" value: any θ < 0 means no batch has set it yet.
constexpr float kBatchTopkThresholdUnset = -1.0f;
// Most entries B·W one batch may hold.
constexpr std::int64_t kBatchTopkMaxEntries = (std::int64_t{1} << 30) - 1;

// Training forward. z_pre: f32 (B, W), the encoder GEMM output without bias; bias: f32 (W);
// k: i32 (1), the per-example budget, read on the device; clamp(k·B, 0, B·W) entries are kept.
// a: f32 (B, W), written whole: a = max(z, 0) on the kept entries of the flattened batch, ranked
//   larger z first, NaN above +Inf, ties to the lower flattened index n·W + j; 0 elsewhere. So
//   when k·B exceeds the number of positive z, a keeps exactly the positive ones. NaN passes
//   through to a.
// min_kept: f32 (1) or undefined: the smallest a > 0 of this batch, or NaN when no a is positive
//   (batch_topk_update_threshold then leaves θ unchanged).
// counters as topk_forward: fire_count += per column #(a > eps), batch_active = #(a > eps).
void batch_topk_forward(Backend& be, const Tensor& z_pre, const Tensor& bias, const Tensor& k,
                        const Tensor& a, const Tensor& min_kept, const ActivityCounters& counters);

// min_kept, threshold: f32 (1). θ ← m when θ < 0 (unset; initialise θ to
// kBatchTopkThresholdUnset), else θ ← β·θ + (1 − β)·m; no update when m is NaN (no positive
// activation in the batch). beta: host value in [0, 1).
void batch_topk_update_threshold(Backend& be, const Tensor& min_kept, float beta,
                                 const Tensor& threshold);

// Evaluation forward, per example. z_pre, a: f32 (B, W); bias: f32 (W); threshold: f32 (1), θ.
// a = z where z > θ (strict), 0 elsewhere; NaN passes through. With θ unset (θ < 0, or NaN) it
// falls back to a = max(z, 0). Counters as batch_topk_forward.
void batch_topk_eval_forward(Backend& be, const Tensor& z_pre, const Tensor& bias,
                             const Tensor& threshold, const Tensor& a,
                             const ActivityCounters& counters);

// a, da, dz_pre: f32 (B, W); db: f32 (W). The gradient passes exactly where a > 0 (kept and
// positive), as for Top-k: dz_pre += g and db += Σ_rows g with g = da·[a > 0], in a fixed order.
void batch_topk_backward(Backend& be, const Tensor& a, const Tensor& da, const Tensor& dz_pre,
                         const Tensor& db);

// Reserves the CUDA scratch the BatchTopK ops need for (B, W) (the forward needs none; the
// backward's column sums do); call at plan time, before graph capture. A no-op on the CPU.
void batch_topk_prepare(Backend& be, std::int64_t batch, std::int64_t width);

}  // namespace vsae
