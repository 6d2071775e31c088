// Per-channel bias plus an optional ReLU, in one pass: y = act(x + b[c]).
// Serves linear layers (x: (N, C)) and convolutions (x: (N, C, H, W)).
#pragma once

#include "engine/core/backend.hpp"

namespace vsae {

enum class Activation { none, relu };

// x, y: (N, C, ...) with the same shape; b: (C). y may alias x (in place).
void bias_act_forward(Backend& be, const Tensor& x, const Tensor& b, const Tensor& y, Activation act);
// Uses y (post-activation) for the ReLU mask. dx = g (written: its only gradient, see
// GradUse::written), db += Σ_{n,spatial} g, where g = dy·act'(y). dx may be undefined (skipped).
void bias_act_backward(Backend& be, const Tensor& y, const Tensor& dy, const Tensor& dx,
                       const Tensor& db, Activation act);
// Reserves the CUDA scratch bias_act_backward needs for y's shape; call at plan time, before graph
// capture (no-op on the CPU).
void bias_act_prepare(Backend& be, const Shape& y);

}  // namespace vsae
