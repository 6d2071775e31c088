// CUDA dead-neuron revival kernels. All are small next to a training step: the counter update and
// mask read the (B, W) codes once; resampling runs one CTA per resampled unit between steps.
#include <algorithm>
#include <cub/block/block_reduce.cuh>
#include <limits>

#include "engine/core/check.hpp"
#include "engine/core/cuda_check.hpp"
#include "kernels/revival.cuh"
#include "kernels/launch_geometry.cuh"

namespace vsae::cuda_kernels {

namespace {
constexpr int kThreads = kElementwiseThreads;
}  // namespace

// One thread per unit walks the rows; neighbouring threads read neighbouring columns (coalesced).
static __global__ void steps_since_fired_kernel(const float* __restrict__ a, std::int64_t batch,
                                                std::int64_t width, std::int32_t* since) {
  const std::int64_t j = blockIdx.x * static_cast<std::int64_t>(blockDim.x) + threadIdx.x;
  if (j >= width) return;
  bool fired = false;
  for (std::int64_t n = 0; n < batch && !fired; ++n) fired = a[n * width + j] > 0.0f;
  const std::int32_t s = since[j];
  since[j] = fired ? 0 : (s < INT32_MAX ? s + 1 : s);
}

static __global__ void mask_live_units_kernel(const float* __restrict__ z_pre,
                                              const std::int32_t* __restrict__ since,
                                              std::int32_t dead_steps, std::int64_t width,
                                              std::int64_t count, float* __restrict__ z_dead) {
  for (std::int64_t i = blockIdx.x * static_cast<std::int64_t>(blockDim.x) + threadIdx.x; i < count;
       i += static_cast<std::int64_t>(gridDim.x) * blockDim.x)
    z_dead[i] = since[i % width] >= dead_steps ? z_pre[i] : -INFINITY;
}

static __global__ void residual_kernel(const float* __restrict__ target,
                                       const float* __restrict__ approx, std::int64_t count,
                                       float* __restrict__ e) {
  for (std::int64_t i = blockIdx.x * static_cast<std::int64_t>(blockDim.x) + threadIdx.x; i < count;
       i += static_cast<std::int64_t>(gridDim.x) * blockDim.x)
    e[i] = target[i] - approx[i];
}

// One CTA per resampled unit: reduce the source row's norm, then write the unit's encoder row,
// decoder column and moments. Distinct units make the CTAs' writes disjoint.
static __global__ void __launch_bounds__(kThreads)
    resample_units_kernel(const std::int32_t* __restrict__ units,
                          const std::int32_t* __restrict__ sources,
                          const float* __restrict__ directions, std::int64_t hidden,
                          std::int64_t width, float enc_norm, ResampleTargets t,
                          std::int32_t* since) {
  using Reduce = cub::BlockReduce<float, kThreads>;
  __shared__ typename Reduce::TempStorage reduce;
  __shared__ float norm;
  const std::int64_t u = units[blockIdx.x];
  const float* dir = directions + static_cast<std::int64_t>(sources[blockIdx.x]) * hidden;
  float sq = 0.0f;
  for (std::int64_t c = threadIdx.x; c < hidden; c += kThreads) sq += dir[c] * dir[c];
  const float total = Reduce(reduce).Sum(sq);
  if (threadIdx.x == 0) norm = sqrtf(total);
  __syncthreads();
  for (std::int64_t c = threadIdx.x; c < hidden; c += kThreads) {
    const float d = norm > 0.0f ? dir[c] / norm : (c == u % hidden ? 1.0f : 0.0f);
    t.w_dec[c * width + u] = d;
    t.w_enc[u * hidden + c] = enc_norm * d;
#pragma unroll
    for (int m = 0; m < 2; ++m) {
      t.moments_w_dec[m][c * width + u] = 0.0f;
      t.moments_w_enc[m][u * hidden + c] = 0.0f;
    }
  }
  if (threadIdx.x == 0) {
    t.b_enc[u] = 0.0f;
    t.moments_b_enc[0][u] = 0.0f;
    t.moments_b_enc[1][u] = 0.0f;
    since[u] = 0;
  }
}

void steps_since_fired_update(const float* a, std::int64_t batch, std::int64_t width,
                              std::int32_t* since, cudaStream_t stream) {
  VSAE_CHECK(a && since, "steps_since_fired_update: null pointer");
  VSAE_CHECK(batch >= 0 && width >= 1,
             "steps_since_fired_update: bad size (" << batch << ", " << width << ")");
  const auto blocks = static_cast<unsigned int>((width + kThreads - 1) / kThreads);
  steps_since_fired_kernel<<<blocks, kThreads, 0, stream>>>(a, batch, width, since);
  CUDA_CHECK_LAUNCH();
}

void mask_live_units(const float* z_pre, const std::int32_t* since, std::int32_t dead_steps,
                     std::int64_t batch, std::int64_t width, float* z_dead, cudaStream_t stream) {
  VSAE_CHECK(z_pre && since && z_dead, "mask_live_units: null pointer");
  VSAE_CHECK(batch >= 0 && width >= 1,
             "mask_live_units: bad size (" << batch << ", " << width << ")");
  const std::int64_t count = batch * width;
  if (count == 0) return;
  mask_live_units_kernel<<<elementwise_blocks(count), kThreads, 0, stream>>>(z_pre, since, dead_steps,
                                                                     width, count, z_dead);
  CUDA_CHECK_LAUNCH();
}

void residual(const float* target, const float* approx, std::int64_t n, float* e,
              cudaStream_t stream) {
  VSAE_CHECK(target && approx && e, "residual: null pointer");
  VSAE_CHECK(n >= 0, "residual: bad size " << n);
  if (n == 0) return;
  residual_kernel<<<elementwise_blocks(n), kThreads, 0, stream>>>(target, approx, n, e);
  CUDA_CHECK_LAUNCH();
}

void resample_units(const std::int32_t* units, const std::int32_t* sources, std::int64_t count,
                    const float* directions, std::int64_t hidden, std::int64_t width,
                    float enc_norm, const ResampleTargets& targets, std::int32_t* since,
                    cudaStream_t stream) {
  VSAE_CHECK(units && sources && directions && since && targets.w_enc && targets.b_enc &&
                 targets.w_dec,
             "resample_units: null pointer");
  VSAE_CHECK(count >= 0 && count <= width && hidden >= 1 && width >= 1,
             "resample_units: bad size (count " << count << ", H " << hidden << ", W " << width
                                                << ")");
  if (count == 0) return;
  resample_units_kernel<<<static_cast<unsigned int>(count), kThreads, 0, stream>>>(
      units, sources, directions, hidden, width, enc_norm, targets, since);
  CUDA_CHECK_LAUNCH();
}

}  // namespace vsae::cuda_kernels
