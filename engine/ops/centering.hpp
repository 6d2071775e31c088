// The SAE's pre-encoder bias: the encoder sees h − b_dec (z = W_enc (h − b_dec) + b_enc), so the
// op subtracts a per-feature bias from every row, and its backward accumulates into both inputs.
#pragma once

#include "engine/core/backend.hpp"

namespace vsae {

// x, y: f32 (B, D); b: f32 (D). y[n][d] = x[n][d] − b[d]. y may alias x (in place).
void centering_forward(Backend& be, const Tensor& x, const Tensor& b, const Tensor& y);

// dy, dx: f32 (B, D); db: f32 (D). dx += dy (accumulated: x is the SAE input h, which the SAE loss
// also reads, so this is never its only gradient: GradUse::accumulated); db −= Σ_n dy[n] in
// an order fixed by the sizes (bitwise reproducible; no float atomics). dx may be undefined
// (skipped).
void centering_backward(Backend& be, const Tensor& dy, const Tensor& dx, const Tensor& db);

// Reserves the CUDA scratch centering_backward needs for x's shape (B, D); call at plan time,
// before graph capture (no-op on the CPU).
void centering_prepare(Backend& be, const Shape& x);

}  // namespace vsae
