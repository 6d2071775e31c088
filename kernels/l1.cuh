// Launchers for the L1 sparsifiers (a = ReLU(z) with its penalty, and the prox a = max(z − τ, 0)),
// each fused with the bias add and the activity counts, and for the device-side λ/τ controller.
#pragma once

#include <cuda_runtime.h>

#include <cstddef>
#include <cstdint>

namespace vsae::cuda_kernels {

// Floats of scratch that l1_forward needs for (B, W).
std::size_t l1_forward_scratch_floats(std::int64_t batch, std::int64_t width);
// Floats of scratch that l1_prox_scale needs for (B, W) (its partial sums are doubles).
std::size_t l1_prox_scale_scratch_floats(std::int64_t batch, std::int64_t width);

// z_pre, a: (B, W); bias: (W); tau: (1) on the device, or null for a = ReLU(z_pre + b), else
// a = max(z_pre + b − τ·s, 0) with s = *tau_scale, or s = 1 when tau_scale is null; thresholds:
// (W) on the device or null, when set a = max(z_pre + b − t_j, 0) (tau and tau_scale unread).
// fire_count: (W) or null, += per column #(a > eps); batch_active: (1) or null, = #(a > eps).
// penalty: (1) or null, = λ·Σa / B with λ = *lambda (fixed-order sum; needs B >= 1).
// scratch: l1_forward_scratch_floats(B, W) floats on the device (unused without penalty).
void l1_forward(const float* z_pre, const float* bias, const float* tau, const float* tau_scale,
                const float* thresholds, std::int64_t batch, std::int64_t width, float* a,
                std::int32_t* fire_count, std::int32_t* batch_active, float eps,
                const float* lambda, float* penalty, float* scratch, cudaStream_t stream);

// The relative L1-prox threshold's scale. With s_b = sqrt(mean over the B·W entries of
// (z_pre + b)²) (squared and summed in double in a fixed order; NaN when B = 0): training (update)
// writes scale = s_b and moves the running scale, running ← s_b while it is unset (< 0 or not
// finite), else β·running + (1 − β)·s_b, and leaves it alone when s_b is not finite; evaluation
// writes scale = running, or s_b while running is unset. z_pre: (B, W); bias: (W); running,
// scale: (1) on the device; scratch: l1_prox_scale_scratch_floats(B, W) floats.
void l1_prox_scale(const float* z_pre, const float* bias, std::int64_t batch, std::int64_t width,
                   float* running, float beta, bool update, float* scale, float* scratch,
                   cudaStream_t stream);

// The per-unit L1-prox threshold t_j = μ_j + τ·σ_j (fmaf), μ_j and σ_j the mean and standard
// deviation of column j of z = z_pre + b over the batch (NaN when B = 0), summed in double over
// 8 row stripes joined in stripe order (the CPU twin's order).
// Training (update) uses the batch's pair and moves the running pair: set while unset
// (running_std < 0, or either not finite), else β·running + (1 − β)·batch, unchanged where the
// batch's pair is not finite; evaluation uses the running pair, or the batch's while it is unset.
// used_mean, used_std receive the pair used. eval_active: (1) or null, = the number of entries
// with (z_pre + b) − t_eval > 0, t_eval = μ' + τ_e·σ' with τ_e = *eval_tau and (μ', σ') the pair
// evaluation would use after this call (the running pair, or the batch's where it is unset): what
// evaluation's own τ is tracked on. z_pre: (B, W); bias, running_mean, running_std, threshold,
// used_mean, used_std: (W); tau, eval_tau (null without eval_active): (1); all on the device.
void l1_prox_unit_threshold(const float* z_pre, const float* bias, std::int64_t batch,
                            std::int64_t width, const float* tau, float* running_mean,
                            float* running_std, float beta, bool update, float* threshold,
                            float* used_mean, float* used_std, const float* eval_tau,
                            std::int32_t* eval_active, cudaStream_t stream);

// The backward of a = max(z − μ_j − τ·σ_j, 0) through the batch's μ_j and σ_j (training): with
// g = [a > 0]·da and G_j = Σ_rows g (double, fixed order), dz_pre += g − (G_j/B)·(1 + τ·ẑ),
// ẑ = (z − μ_j)/σ_j (0 where σ_j is not > 0), and db += the column sums of that increment.
// z_pre, a, da, dz_pre: (B, W), B >= 1; bias, mean, std_dev, db: (W); tau: (1).
void l1_prox_per_unit_backward(const float* z_pre, const float* bias, const float* a,
                               const float* da, const float* tau, const float* mean,
                               const float* std_dev, std::int64_t batch, std::int64_t width,
                               float* dz_pre, float* db, cudaStream_t stream);

// coef, batch_active, k_target: (1) on the device; floor: (1) on the device or null. One thread:
// coef ← clamp(next, max(lo, *floor), hi) (a NaN floor counts as none), skipped when k <= 0, with
// step = η·(batch_active / batch_rows − k)/k and next = coef·exp(step), or coef + step when
// additive (a signed coefficient: lo may be negative, and the floor is not read).
void sparsity_controller_update(float* coef, const std::int32_t* batch_active,
                                const std::int32_t* k_target, std::int64_t batch_rows, float eta,
                                float lo, float hi, const float* floor, bool additive,
                                cudaStream_t stream);

// a, signal: (count); floor: (1); divisor: (1) on the device, or null for 1. One CTA, fixed-order
// sums: floor = rho · factor · mean_{a > 0} |signal| / divisor, or 0 when no a is positive or the
// divisor is not > 0.
void controller_floor(const float* a, const float* signal, std::int64_t count, float factor,
                      float rho, const float* divisor, float* floor, cudaStream_t stream);

}  // namespace vsae::cuda_kernels
