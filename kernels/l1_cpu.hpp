// CPU twin of kernels/l1.cuh: the L1 and L1-prox sparsifier forwards and the λ/τ controller.
#pragma once

#include <cstdint>

namespace vsae::cpu_kernels {

// z_pre, a: (B, W); bias: (W). a = max(z_pre + b − τ·s, 0) with τ = *tau and s = *tau_scale
// (1 when null), or ReLU(z_pre + b) when tau is null. fire_count: (W) or null (+= per column
// a > eps); batch_active: (1) or null (= #a > eps). penalty: (1) or null, = λ·Σa / B with
// λ = *lambda.
void l1_forward(const float* z_pre, const float* bias, const float* tau, const float* tau_scale,
                std::int64_t batch, std::int64_t width, float* a, std::int32_t* fire_count,
                std::int32_t* batch_active, float eps, const float* lambda, float* penalty);

// The relative L1-prox threshold's scale (kernels/l1.cuh): s_b = sqrt(mean (z_pre + b)²), squared
// and summed in double in index order (NaN when B = 0). update: *scale = s_b and the running scale
// moves (set while unset, < 0 or not finite, else β·running + (1 − β)·s_b; unchanged when s_b is
// not finite); otherwise *scale = *running, or s_b while it is unset.
void l1_prox_scale(const float* z_pre, const float* bias, std::int64_t batch, std::int64_t width,
                   float* running, float beta, bool update, float* scale);

// coef ← clamp(coef·exp(η·(L0 − k)/k), max(lo, floor), hi) with L0 = batch_active / batch_rows,
// k = k_target (a NaN floor counts as none); unchanged when k_target <= 0.
void sparsity_controller_update(float* coef, std::int32_t batch_active, std::int32_t k_target,
                                std::int64_t batch_rows, float eta, float lo, float hi,
                                float floor = 0.0f);

// The tracking controller's windup floor: rho · factor · mean_{a > 0} |signal| / divisor, summed
// in double in index order; 0 when no entry of a is positive or the divisor is not > 0. a, signal:
// (count).
float controller_floor(const float* a, const float* signal, std::int64_t count, float factor,
                       float rho, float divisor = 1.0f);

}  // namespace vsae::cpu_kernels
