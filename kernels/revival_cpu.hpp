// CPU twin of kernels/revival.cuh: the readable reference for the dead-neuron revival kernels
// (steps-since-fired counters, the AuxK dead-unit mask and residual, resampling of dead units).
#pragma once

#include <cstdint>

namespace vsae::cpu_kernels {

// a: (B, W); since: (W). since[j] = 0 when some a[n][j] > 0, else since[j] + 1 (saturating).
void steps_since_fired_update(const float* a, std::int64_t batch, std::int64_t width,
                              std::int32_t* since);

// z_pre, z_dead: (B, W); since: (W). z_dead[n][j] = z_pre[n][j] where since[j] >= dead_steps,
// -Inf elsewhere (a live unit can never be selected by a Top-k over z_dead).
void mask_live_units(const float* z_pre, const std::int32_t* since, std::int32_t dead_steps,
                     std::int64_t batch, std::int64_t width, float* z_dead);

// target, approx, e: (n) elements. e = target - approx.
void residual(const float* target, const float* approx, std::int64_t n, float* e);

// The tensors one resampling rewrites: parameters (W_enc (W, H), b_enc (W), W_dec (H, W)) and the
// two Adam moments of each, in the same layouts.
struct ResampleTargets {
  float* w_enc;
  float* b_enc;
  float* w_dec;
  float* moments_w_enc[2];
  float* moments_b_enc[2];
  float* moments_w_dec[2];
};

// For each i < count, with u = units[i] (distinct, in [0, W)) and d = directions[sources[i]] / its
// norm (row of (rows, H); the basis vector e_(u mod H) when that row is zero):
// W_dec[:, u] = d, W_enc[u, :] = enc_norm·d, b_enc[u] = 0, their Adam moments 0, since[u] = 0.
void resample_units(const std::int32_t* units, const std::int32_t* sources, std::int64_t count,
                    const float* directions, std::int64_t hidden, std::int64_t width,
                    float enc_norm, const ResampleTargets& targets, std::int32_t* since);

}  // namespace vsae::cpu_kernels
