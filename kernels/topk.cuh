// Launcher for the fused Top-k sparsifier: bias add, per-row radix select of the k largest,
// a = max(z, 0) on them, kept indices / bit mask, and the activity counts, in one kernel.
#pragma once

#include <cuda_runtime.h>

#include <cstdint>

namespace vsae::cuda_kernels {

// z_pre, a: (B, W); bias: (W); k: (1) on the device, clamped to [0, min(W, kcap)] (kcap = W when
// indices is null). indices: (B, kcap) or null: kept positions ascending, then -1.
// mask: (B, ceil(W / 32)) or null: bit j % 32 of word j / 32 set iff j was kept.
// fire_count: (W) or null, += per column #(a > eps); batch_active: (1) or null, = #(a > eps).
// Ranking uses ordered_key: larger z first, lower index first among equal z, NaN above +Inf.
// 1 <= W <= 16384 (the row lives in shared memory).
void topk_forward(const float* z_pre, const float* bias, const std::int32_t* k, std::int64_t batch,
                  std::int64_t width, float* a, std::int32_t* indices, std::int64_t kcap,
                  std::int32_t* mask, std::int32_t* fire_count, std::int32_t* batch_active,
                  float eps, cudaStream_t stream);

}  // namespace vsae::cuda_kernels
