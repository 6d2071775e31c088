// Launchers for BatchTopK (Bussmann, Leask & Nanda 2024): the fused training forward that keeps the
// k·B largest z of the whole batch (one-CTA radix select), the one-thread running-threshold update,
// and the per-example evaluation forward a = z·[z > θ].
#pragma once

#include <cuda_runtime.h>

#include <cstdint>

namespace vsae::cuda_kernels {

// z_pre, a: (B, W); bias: (W); k: (1) on the device, the per-example budget; clamp(k·B, 0, B·W)
// entries of the flattened batch are kept, ranked by ordered_key (larger z first, NaN above +Inf,
// ties to the lower flattened index n·W + j). a = max(z, 0) on them (NaN passes through), 0
// elsewhere. min_kept: (1) or null, the smallest a > 0, NaN when none is. fire_count: (W) or null,
// += per column #(a > eps); batch_active: (1) or null, = #(a > eps). B·W < 2^30. Needs no scratch.
void batch_topk_forward(const float* z_pre, const float* bias, const std::int32_t* k,
                        std::int64_t batch, std::int64_t width, float* a, float* min_kept,
                        std::int32_t* fire_count, std::int32_t* batch_active, float eps,
                        cudaStream_t stream);

// threshold, min_kept: (1) on the device. θ = m when θ < 0 (unset), else β·θ + (1 − β)·m; left
// unchanged when m is NaN.
void batch_topk_update_threshold(const float* min_kept, float beta, float* threshold,
                                 cudaStream_t stream);

// z_pre, a: (B, W); bias: (W); threshold: (1) on the device. a = z where z > θ, 0 elsewhere (NaN
// passes through); θ < 0 or NaN (unset) acts as 0, i.e. a = max(z, 0). Counters as above.
void batch_topk_eval_forward(const float* z_pre, const float* bias, const float* threshold,
                             std::int64_t batch, std::int64_t width, float* a,
                             std::int32_t* fire_count, std::int32_t* batch_active, float eps,
                             cudaStream_t stream);

}  // namespace vsae::cuda_kernels
