// CPU twin of kernels/batch_topk.cuh: the readable reference for BatchTopK (Bussmann, Leask & Nanda
// 2024): the k·B largest z over the whole batch, its running threshold, and the per-example eval.
#pragma once

#include <cstdint>

namespace vsae::cpu_kernels {

// z_pre, a: (B, W); bias: (W). Keeps the clamp(k·B, 0, B·W) largest z = z_pre + b of the flattened
// batch, ranked by ordered_key (ties to the lower flattened index n·W + j, NaN above +Inf), and
// writes a = max(z, 0) there, 0 elsewhere (NaN passes through). min_kept: (1) or null, the
// smallest a > 0, NaN when none is. fire_count: (W) or null, += per column #(a > eps);
// batch_active: (1) or null, = #(a > eps). B·W < 2^31.
void batch_topk_forward(const float* z_pre, const float* bias, std::int32_t k, std::int64_t batch,
                        std::int64_t width, float* a, float* min_kept, std::int32_t* fire_count,
                        std::int32_t* batch_active, float eps);

// threshold, min_kept: (1). θ = m when θ < 0 (unset), else β·θ + (1 − β)·m (two roundings, no
// FMA, as on the GPU); left unchanged when m is NaN (no positive activation).
void batch_topk_update_threshold(const float* min_kept, float beta, float* threshold);

// z_pre, a: (B, W); bias: (W); threshold: (1). a = z where z > θ and 0 elsewhere (NaN passes
// through), with θ replaced by 0 when it is unset (θ < 0 or NaN): then a = max(z, 0). Counters as
// batch_topk_forward.
void batch_topk_eval_forward(const float* z_pre, const float* bias, float threshold,
                             std::int64_t batch, std::int64_t width, float* a,
                             std::int32_t* fire_count, std::int32_t* batch_active, float eps);

}  // namespace vsae::cpu_kernels
