// CPU twin of kernels/l1.cuh: the L1 and L1-prox sparsifier forwards and the λ/τ controller.
#pragma once

#include <cstdint>

namespace vsae::cpu_kernels {

// z_pre, a: (B, W); bias: (W). a = max(z_pre + b − τ·s, 0) with τ = *tau and s = *tau_scale
// (1 when null), or a = max(z_pre + b − t_j, 0) with t = thresholds (W) when that is set, or
// ReLU(z_pre + b) when both tau and thresholds are null. fire_count: (W) or null (+= per column
// a > eps); batch_active: (1) or null (= #a > eps). penalty: (1) or null, = λ·Σa / B with
// λ = *lambda.
void l1_forward(const float* z_pre, const float* bias, const float* tau, const float* tau_scale,
                const float* thresholds, std::int64_t batch, std::int64_t width, float* a,
                std::int32_t* fire_count, std::int32_t* batch_active, float eps,
                const float* lambda, float* penalty);

// The relative L1-prox threshold's scale (kernels/l1.cuh): s_b = sqrt(mean (z_pre + b)²), squared
// and summed in double in index order (NaN when B = 0). update: *scale = s_b and the running scale
// moves (set while unset, < 0 or not finite, else β·running + (1 − β)·s_b; unchanged when s_b is
// not finite); otherwise *scale = *running, or s_b while it is unset.
void l1_prox_scale(const float* z_pre, const float* bias, std::int64_t batch, std::int64_t width,
                   float* running, float beta, bool update, float* scale);

// The per-unit L1-prox threshold (kernels/l1.cuh): per column j, the batch's mean μ_j and
// standard deviation σ_j of z = z_pre + b, summed in double over 8 row stripes (rows ≡ s mod 8,
// in order) joined in stripe order, as the CUDA kernel does (NaN when B = 0). update: μ_j, σ_j
// are used and the running pair moves (set while unset, running_std < 0 or either not finite,
// else β·running + (1 − β)·batch; unchanged when μ_j or σ_j is not finite); otherwise the running
// pair is used, or the batch's while it is unset. threshold_j = fmaf(τ, σ_j, μ_j); used_mean,
// used_std receive the pair used; eval_active (or null) = #entries above evaluation's threshold
// at τ_e = eval_tau after the update (kernels/l1.cuh).
void l1_prox_unit_threshold(const float* z_pre, const float* bias, std::int64_t batch,
                            std::int64_t width, float tau, float* running_mean,
                            float* running_std, float beta, bool update, float* threshold,
                            float* used_mean, float* used_std, float eval_tau,
                            std::int32_t* eval_active);

// The backward through the batch's statistics (kernels/l1.cuh), with the CUDA kernel's stripe
// order and explicit fmas: dz_pre += g − (G_j/B)·(1 + τ·ẑ), db += its column sums.
void l1_prox_per_unit_backward(const float* z_pre, const float* bias, const float* a,
                               const float* da, float tau, const float* mean,
                               const float* std_dev, std::int64_t batch, std::int64_t width,
                               float* dz_pre, float* db);

// coef ← clamp(next, max(lo, floor), hi) with next = coef·exp(η·(L0 − k)/k), or
// coef + η·(L0 − k)/k when additive (a signed coefficient), L0 = batch_active / batch_rows,
// k = k_target (a NaN floor counts as none; additive ignores the floor); unchanged when
// k_target <= 0.
void sparsity_controller_update(float* coef, std::int32_t batch_active, std::int32_t k_target,
                                std::int64_t batch_rows, float eta, float lo, float hi,
                                float floor = 0.0f, bool additive = false);

// The tracking controller's windup floor: rho · factor · mean_{a > 0} |signal| / divisor, summed
// in double in index order; 0 when no entry of a is positive or the divisor is not > 0. a, signal:
// (count).
float controller_floor(const float* a, const float* signal, std::int64_t count, float factor,
                       float rho, float divisor = 1.0f);

}  // namespace vsae::cpu_kernels
