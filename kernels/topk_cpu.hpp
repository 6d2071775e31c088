// CPU twin of kernels/topk.cuh: the readable reference for the fused Top-k sparsifier.
#pragma once

#include <cstdint>

namespace vsae::cpu_kernels {

// z_pre, a: (B, W); bias: (W); indices: (B, kcap) or null; mask: (B, ceil(W / 32)) or null;
// fire_count: (W) or null; batch_active: (1) or null. k is clamped to [0, min(W, kcap)] (kcap = W
// without indices). Semantics as engine/ops/topk.hpp: the k largest z = z_pre + b per row, ranked
// by ordered_key (ties to the lower index), a = max(z, 0) there, indices ascending then -1.
void topk_forward(const float* z_pre, const float* bias, std::int32_t k, std::int64_t batch,
                  std::int64_t width, float* a, std::int32_t* indices, std::int64_t kcap,
                  std::int32_t* mask, std::int32_t* fire_count, std::int32_t* batch_active,
                  float eps);

}  // namespace vsae::cpu_kernels
