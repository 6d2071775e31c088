// CPU twin of kernels/reparam.cuh: Philox normal noise and the reparameterisation trick.
#pragma once

#include <cstdint>

namespace vsae::cpu_kernels {

// eps: (count); eps[i] = philox_normal(seed, RngStream::reparam_noise, i, *step).
void fill_normal(std::uint64_t seed, const std::int32_t* step, float* eps, std::int64_t count);

// mu, logvar, eps, z: (count). z = mu + exp(0.5·logvar)·eps.
void reparam_forward(const float* mu, const float* logvar, const float* eps, float* z,
                     std::int64_t count);

// dmu += dz; dlogvar += dz·eps·0.5·exp(0.5·logvar). Either output may be null.
void reparam_backward(const float* logvar, const float* eps, const float* dz, float* dmu,
                      float* dlogvar, std::int64_t count);

}  // namespace vsae::cpu_kernels
