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
// a = max(z_pre + b − τ·s, 0) with s = *tau_scale, or s = 1 when tau_scale is null.
// fire_count: (W) or null, += per column #(a > eps); batch_active: (1) or null, = #(a > eps).
// penalty: (1) or null, = λ·Σa / B with λ = *lambda (fixed-order sum; needs B >= 1).
// scratch: l1_forward_scratch_floats(B, W) floats on the device (unused without penalty).
void l1_forward(const float* z_pre, const float* bias, const float* tau, const float* tau_scale,
                std::int64_t batch, std::int64_t width, float* a, std::int32_t* fire_count,
                std::int32_t* batch_active, float eps, const float* lambda, float* penalty,
                float* scratch, cudaStream_t stream);

// The relative L1-prox threshold's scale. With s_b = sqrt(mean over the B·W entries of
// (z_pre + b)²) (squared and summed in double in a fixed order; NaN when B = 0): training (update)
// writes scale = s_b and moves the running scale, running ← s_b while it is unset (< 0 or not
// finite), else β·running + (1 − β)·s_b, and leaves it alone when s_b is not finite; evaluation
// writes scale = running, or s_b while running is unset. z_pre: (B, W); bias: (W); running,
// scale: (1) on the device; scratch: l1_prox_scale_scratch_floats(B, W) floats.
void l1_prox_scale(const float* z_pre, const float* bias, std::int64_t batch, std::int64_t width,
                   float* running, float beta, bool update, float* scale, float* scratch,
                   cudaStream_t stream);

// coef, batch_active, k_target: (1) on the device; floor: (1) on the device or null. One thread:
// coef ← clamp(coef·exp(η·(batch_active / batch_rows − k)/k), max(lo, *floor), hi) (a NaN floor
// counts as none), skipped when k <= 0.
void sparsity_controller_update(float* coef, const std::int32_t* batch_active,
                                const std::int32_t* k_target, std::int64_t batch_rows, float eta,
                                float lo, float hi, const float* floor, cudaStream_t stream);

// a, signal: (count); floor: (1); divisor: (1) on the device, or null for 1. One CTA, fixed-order
// sums: floor = rho · factor · mean_{a > 0} |signal| / divisor, or 0 when no a is positive or the
// divisor is not > 0.
void controller_floor(const float* a, const float* signal, std::int64_t count, float factor,
                      float rho, const float* divisor, float* floor, cudaStream_t stream);

}  // namespace vsae::cuda_kernels
