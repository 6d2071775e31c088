// CPU twin of kernels/adam.cuh: the fused Adam update over one flat parameter arena.
#pragma once

#include <cstdint>

#include "engine/ops/adam.hpp"

namespace vsae::cpu_kernels {

// params, grads, m, v: (count). *step: the 1-based step number after this update.
// PyTorch Adam without weight decay.
void adam_step(float* params, const float* grads, float* m, float* v, const std::int32_t* step,
               std::int64_t count, const AdamHyper& hyper);

}  // namespace vsae::cpu_kernels
