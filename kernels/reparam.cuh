// Launchers for the reparameterisation kernels: Philox normal noise and z = mu + σ ⊙ eps.
#pragma once

#include <cuda_runtime.h>

#include <cstdint>

namespace vsae::cuda_kernels {

// eps: (count); eps[i] = philox_normal(seed, RngStream::reparam_noise, i, *step). step: device i32.
void fill_normal(std::uint64_t seed, const std::int32_t* step, float* eps, std::int64_t count,
                 cudaStream_t stream);

// mu, logvar, eps, z: (count). z = mu + exp(0.5·logvar)·eps.
void reparam_forward(const float* mu, const float* logvar, const float* eps, float* z,
                     std::int64_t count, cudaStream_t stream);

// logvar, eps, dz, dmu, dlogvar: (count). dmu += dz; dlogvar += dz·eps·0.5·exp(0.5·logvar).
// Either output may be null (skipped).
void reparam_backward(const float* logvar, const float* eps, const float* dz, float* dmu,
                      float* dlogvar, std::int64_t count, cudaStream_t stream);

}  // namespace vsae::cuda_kernels
