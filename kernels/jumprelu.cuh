// Launchers for the JumpReLU sparsifier: the forward fused with the bias add and the activity
// counts, the one-thread sparsity loss, and the column-tiled backward with the threshold's
// straight-through gradient. The scalar rules are shared with the CPU twin
// (kernels/jumprelu_cpu.hpp).
#pragma once

#include <cuda_runtime.h>

#include <cstddef>
#include <cstdint>

namespace vsae::cuda_kernels {

// z_pre, a: (B, W); bias, log_threshold: (W). a = z where z > θ else 0 (NaN z passes through),
// z = z_pre + bias, θ = exp(log_threshold). fire_count: (W) or null, += per column #(a > eps);
// batch_active: (1) or null, = #(a > eps) (integer atomics only: exact).
void jumprelu_forward(const float* z_pre, const float* bias, const float* log_threshold,
                      std::int64_t batch, std::int64_t width, float* a, std::int32_t* fire_count,
                      std::int32_t* batch_active, float eps, cudaStream_t stream);

// batch_active, k_target: i32 (1); lambda, loss: f32 (1) on the device. One thread:
// loss = λ·(batch_active / batch_rows / k − 1)², 0 when k <= 0.
void jumprelu_sparsity_loss(const std::int32_t* batch_active, std::int64_t batch_rows,
                            const std::int32_t* k_target, const float* lambda, float* loss,
                            cudaStream_t stream);

// Floats of scratch that jumprelu_backward needs for (B, W) (0 when it needs none).
std::size_t jumprelu_backward_scratch_floats(std::int64_t batch, std::int64_t width);

// z_pre, da, dz_pre: (B, W); bias, log_threshold, db, dlog_threshold: (W). batch_active,
// k_target: i32 (1), lambda: f32 (1) on the device, all three null for no sparsity term.
// g = da·[z > θ]; dz_pre += g; db += Σ_rows g; dlog_threshold += θ·dθ with the window sums of
// jumprelu_dlog_threshold, every column summed in an order fixed by (B, W).
// scratch: jumprelu_backward_scratch_floats(B, W) floats on the device.
void jumprelu_backward(const float* z_pre, const float* bias, const float* log_threshold,
                       const float* da, std::int64_t batch, std::int64_t width, float bandwidth,
                       const std::int32_t* batch_active, const std::int32_t* k_target,
                       const float* lambda, float* dz_pre, float* db, float* dlog_threshold,
                       float* scratch, cudaStream_t stream);

}  // namespace vsae::cuda_kernels
