// CUDA kernels for the reparameterisation trick; the noise comes from the shared Philox code.
#include <algorithm>

#include "engine/core/cuda_check.hpp"
#include "engine/core/philox.hpp"
#include "kernels/reparam.cuh"
#include "kernels/launch_geometry.cuh"

namespace vsae::cuda_kernels {

namespace {
constexpr int kThreads = kElementwiseThreads;
}  // namespace

static __global__ void fill_normal_kernel(std::uint64_t seed, const std::int32_t* step, float* eps,
                                          std::int64_t count) {
  const auto draw = static_cast<std::uint32_t>(*step);
  for (std::int64_t i = blockIdx.x * static_cast<std::int64_t>(blockDim.x) + threadIdx.x; i < count;
       i += static_cast<std::int64_t>(gridDim.x) * blockDim.x)
    eps[i] = philox_normal(seed, RngStream::reparam_noise, static_cast<std::uint32_t>(i), draw);
}

static __global__ void reparam_forward_kernel(const float* mu, const float* logvar,
                                              const float* eps, float* z, std::int64_t count) {
  for (std::int64_t i = blockIdx.x * static_cast<std::int64_t>(blockDim.x) + threadIdx.x; i < count;
       i += static_cast<std::int64_t>(gridDim.x) * blockDim.x)
    z[i] = mu[i] + expf(0.5f * logvar[i]) * eps[i];
}

static __global__ void reparam_backward_kernel(const float* logvar, const float* eps,
                                               const float* dz, float* dmu, float* dlogvar,
                                               std::int64_t count) {
  for (std::int64_t i = blockIdx.x * static_cast<std::int64_t>(blockDim.x) + threadIdx.x; i < count;
       i += static_cast<std::int64_t>(gridDim.x) * blockDim.x) {
    const float g = dz[i];
    if (dmu != nullptr) dmu[i] += g;
    if (dlogvar != nullptr) dlogvar[i] += g * eps[i] * 0.5f * expf(0.5f * logvar[i]);
  }
}

void fill_normal(std::uint64_t seed, const std::int32_t* step, float* eps, std::int64_t count,
                 cudaStream_t stream) {
  VSAE_CHECK(step && eps, "fill_normal: null pointer");
  // The element index is a 32-bit Philox counter word.
  VSAE_CHECK(count >= 0 && count <= 0xffffffffLL,
             "fill_normal: " << count << " draws exceed the counter range");
  if (count == 0) return;
  fill_normal_kernel<<<elementwise_blocks(count), kThreads, 0, stream>>>(seed, step, eps, count);
  CUDA_CHECK_LAUNCH();
}

void reparam_forward(const float* mu, const float* logvar, const float* eps, float* z,
                     std::int64_t count, cudaStream_t stream) {
  VSAE_CHECK(mu && logvar && eps && z, "reparam_forward: null pointer");
  VSAE_CHECK(count >= 0, "reparam_forward: bad size " << count);
  if (count == 0) return;
  reparam_forward_kernel<<<elementwise_blocks(count), kThreads, 0, stream>>>(mu, logvar, eps, z, count);
  CUDA_CHECK_LAUNCH();
}

void reparam_backward(const float* logvar, const float* eps, const float* dz, float* dmu,
                      float* dlogvar, std::int64_t count, cudaStream_t stream) {
  VSAE_CHECK(logvar && eps && dz, "reparam_backward: null pointer");
  VSAE_CHECK(count >= 0, "reparam_backward: bad size " << count);
  if (count == 0 || (dmu == nullptr && dlogvar == nullptr)) return;
  reparam_backward_kernel<<<elementwise_blocks(count), kThreads, 0, stream>>>(logvar, eps, dz, dmu, dlogvar,
                                                                      count);
  CUDA_CHECK_LAUNCH();
}

}  // namespace vsae::cuda_kernels
