// Launchers for the dead-neuron revival kernels: per-unit steps-since-fired counters, the AuxK
// dead-unit mask and residual, and the resampling of dead units' SAE rows and columns.
#pragma once

#include <cuda_runtime.h>

#include <cstdint>

namespace vsae::cuda_kernels {

// a: (B, W); since: (W). since[j] = 0 when some a[n][j] > 0, else since[j] + 1 (saturating).
void steps_since_fired_update(const float* a, std::int64_t batch, std::int64_t width,
                              std::int32_t* since, cudaStream_t stream);

// z_pre, z_dead: (B, W); since: (W). z_dead = z_pre where since[j] >= dead_steps, -Inf elsewhere.
void mask_live_units(const float* z_pre, const std::int32_t* since, std::int32_t dead_steps,
                     std::int64_t batch, std::int64_t width, float* z_dead, cudaStream_t stream);

// target, approx, e: (n). e = target - approx.
void residual(const float* target, const float* approx, std::int64_t n, float* e,
              cudaStream_t stream);

// W_enc (W, H), b_enc (W), W_dec (H, W) and their two Adam moments each, same layouts.
struct ResampleTargets {
  float* w_enc;
  float* b_enc;
  float* w_dec;
  float* moments_w_enc[2];
  float* moments_b_enc[2];
  float* moments_w_dec[2];
};

// units, sources: (count) on the device; directions: (rows, H); since: (W). For each i, with
// u = units[i] (distinct) and d = directions[sources[i]] normalised (e_(u mod H) when zero):
// W_dec[:, u] = d, W_enc[u, :] = enc_norm·d, b_enc[u] = 0, their moments 0, since[u] = 0.
void resample_units(const std::int32_t* units, const std::int32_t* sources, std::int64_t count,
                    const float* directions, std::int64_t hidden, std::int64_t width,
                    float enc_norm, const ResampleTargets& targets, std::int32_t* since,
                    cudaStream_t stream);

}  // namespace vsae::cuda_kernels
