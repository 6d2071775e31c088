// CPU twin of kernels/bias_act.cuh: the readable reference for the fused bias + activation.
#pragma once

#include <cstdint>

#include "engine/ops/bias_act.hpp"

namespace vsae::cpu_kernels {

// x, y: (N, C, S); b: (C). y may alias x.
void bias_act_forward(const float* x, const float* b, float* y, std::int64_t n, std::int64_t c,
                      std::int64_t s, Activation act);

// y, dy, dx: (N, C, S); db: (C). dx may be null. dx = g, db += Σ_{n,s} g with g = dy·act'(y).
void bias_act_backward(const float* y, const float* dy, float* dx, float* db, std::int64_t n,
                       std::int64_t c, std::int64_t s, Activation act);

}  // namespace vsae::cpu_kernels
