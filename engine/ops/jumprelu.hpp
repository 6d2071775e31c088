// JumpReLU sparsifier of the SAE (Rajamanoharan et al. 2024): a = z·H(z − θ) with a learned
// per-unit threshold θ = exp(log_threshold), fused with the bias add and the activity counts, its
// L0 sparsity loss λ·(L0/k − 1)² (dictionary_learning's JumpReLU trainer) and the backward with
// the straight-through (rectangle-kernel) pseudo-gradients for the threshold.
#pragma once

#include "engine/core/backend.hpp"
#include "engine/ops/firing.hpp"

namespace vsae {

// z_pre, a: f32 (B, W); b_enc, log_threshold: f32 (W).
// z = z_pre + b_enc; θ = exp(log_threshold) (−Inf gives θ = 0: ReLU restricted to z > 0);
// a = z where z > θ (strict: z == θ gives 0), else 0. A NaN z passes through to a (as in L1 and
// Top-k, so a diverged encoder is not hidden); it never counts as firing. counters as in
// l1_forward. Since θ >= 0, a > 0 exactly where z > θ, so batch_active counted with eps = 0 is the
// L0 (#{(n, j) : z_nj > θ_j}) that the sparsity loss and the backward read.
void jumprelu_forward(Backend& be, const Tensor& z_pre, const Tensor& b_enc,
                      const Tensor& log_threshold, const Tensor& a,
                      const ActivityCounters& counters);

// The sparsity term's device scalars; all undefined: no sparsity term in the backward.
struct JumpReluSparsity {
  Tensor batch_active;  // i32 (1): #(z > θ) over the batch (jumprelu_forward's, eps = 0)
  Tensor k_target;      // i32 (1): k, the schedule's target L0 per row; k <= 0: no target
  Tensor lambda;        // f32 (1): λ
};

// batch_active, k_target: i32 (1); lambda, loss: f32 (1). With L0 = batch_active / batch_rows:
// loss = λ·(L0/k − 1)², computed in double on one device thread; 0 when k <= 0. batch_rows >= 1.
void jumprelu_sparsity_loss(Backend& be, const Tensor& batch_active, std::int64_t batch_rows,
                            const Tensor& k_target, const Tensor& lambda, const Tensor& loss);

// Backward of jumprelu_forward plus the sparsity term. z_pre, da, dz_pre: f32 (B, W); b_enc,
// log_threshold, db_enc, dlog_threshold: f32 (W); bandwidth ε: finite, > 0. z is recomputed as
// z_pre + b_enc. With K(u) = 1 for −1/2 < u < 1/2, else 0 (open window, evaluated as
// −ε/2 < z − θ < ε/2 without a division, so z − θ = ±ε/2 exactly lies outside):
//   g = da·[z > θ]; dz_pre += g; db_enc += Σ_n g (no gradient from the sparsity term; NaN z: 0);
//   dθ_j = Σ_n da_nj·(−θ_j/ε)·K((z_nj − θ_j)/ε) − c·(1/(B·ε))·Σ_n K((z_nj − θ_j)/ε),
//     c = λ·2·(L0/k − 1)/k, L0 = batch_active / B (c = 0 without the sparsity term or k <= 0);
//   dlog_threshold += θ·dθ (the chain rule through θ = exp(log_threshold)).
// Column sums run in an order fixed by (B, W) (bitwise reproducible; no float atomics).
// θ = +Inf (log_threshold above ~88.7) gives a NaN dlog_threshold.
void jumprelu_backward(Backend& be, const Tensor& z_pre, const Tensor& b_enc,
                       const Tensor& log_threshold, const Tensor& da, float bandwidth,
                       const JumpReluSparsity& sparsity, const Tensor& dz_pre, const Tensor& db_enc,
                       const Tensor& dlog_threshold);

// Reserves the CUDA scratch the JumpReLU ops need for (B, W); call at plan time, before graph
// capture (no-op on the CPU).
void jumprelu_prepare(Backend& be, std::int64_t batch, std::int64_t width);

}  // namespace vsae
