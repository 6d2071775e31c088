// Launchers for the fused per-channel bias + activation kernels and their backward pass.
// Shapes are flattened to (N, C, S): S is the spatial size, 1 for linear layers.
#pragma once

#include <cuda_runtime.h>

#include <cstddef>
#include <cstdint>

#include "engine/ops/bias_act.hpp"

namespace vsae::cuda_kernels {

// x, y: (N, C, S); b: (C). y may alias x.
void bias_act_forward(const float* x, const float* b, float* y, std::int64_t n, std::int64_t c,
                      std::int64_t s, Activation act, cudaStream_t stream);

// Floats of scratch that bias_act_backward needs for these sizes (0 when it needs none).
std::size_t bias_act_backward_scratch_floats(std::int64_t n, std::int64_t c, std::int64_t s);

// y, dy, dx: (N, C, S); db: (C). dx may be null (skipped); dx = g and db += Σ_{n,s} g with
// g = dy·act'(y). scratch: bias_act_backward_scratch_floats(n, c, s) floats on the device.
// The db reduction order depends on the sizes only, so results are bitwise reproducible.
void bias_act_backward(const float* y, const float* dy, float* dx, float* db, float* scratch,
                       std::int64_t n, std::int64_t c, std::int64_t s, Activation act,
                       cudaStream_t stream);

}  // namespace vsae::cuda_kernels
