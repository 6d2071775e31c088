// Launcher for the fused Adam update over one flat parameter arena.
#pragma once

#include <cuda_runtime.h>

#include <cstdint>

#include "engine/ops/adam.hpp"

namespace vsae::cuda_kernels {

// params, grads, m, v: (count). step: device i32, the 1-based step number after this update.
// PyTorch Adam without weight decay; float4 loads when all four buffers are 16-byte aligned.
void adam_step(float* params, const float* grads, float* m, float* v, const std::int32_t* step,
               std::int64_t count, const AdamHyper& hyper, cudaStream_t stream);

}  // namespace vsae::cuda_kernels
