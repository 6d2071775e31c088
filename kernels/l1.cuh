// Launchers for the L1 sparsifiers (a = ReLU(z) with its penalty, and the prox a = max(z − τ, 0)),
// each fused with the bias add and the activity counts, and for the device-side λ/τ controller.
#pragma once

#include <cuda_runtime.h>

#include <cstddef>
#include <cstdint>

namespace vsae::cuda_kernels {

// Floats of scratch that l1_forward needs for (B, W).
std::size_t l1_forward_scratch_floats(std::int64_t batch, std::int64_t width);

// z_pre, a: (B, W); bias: (W); tau: (1) on the device, or null for a = ReLU(z_pre + b), else
// a = max(z_pre + b − τ, 0). fire_count: (W) or null, += per column #(a > eps); batch_active: (1)
// or null, = #(a > eps). penalty: (1) or null, = λ·Σa / B with λ = *lambda (fixed-order sum;
// needs B >= 1).
// scratch: l1_forward_scratch_floats(B, W) floats on the device (unused without penalty).
void l1_forward(const float* z_pre, const float* bias, const float* tau, std::int64_t batch,
                std::int64_t width, float* a, std::int32_t* fire_count, std::int32_t* batch_active,
                float eps, const float* lambda, float* penalty, float* scratch,
                cudaStream_t stream);

// coef, batch_active, k_target: (1) on the device; floor: (1) on the device or null. One thread:
// coef ← clamp(coef·exp(η·(batch_active / batch_rows − k)/k), max(lo, *floor), hi) (a NaN floor
// counts as none), skipped when k <= 0.
void sparsity_controller_update(float* coef, const std::int32_t* batch_active,
                                const std::int32_t* k_target, std::int64_t batch_rows, float eta,
                                float lo, float hi, const float* floor, cudaStream_t stream);

// a, signal: (count); floor: (1). One CTA, fixed-order sums:
// floor = rho · factor · mean_{a > 0} |signal|, or 0 when no a is positive.
void controller_floor(const float* a, const float* signal, std::int64_t count, float factor,
                      float rho, float* floor, cudaStream_t stream);

}  // namespace vsae::cuda_kernels
