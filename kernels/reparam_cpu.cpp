// CPU twin of the reparameterisation kernels; the noise matches CUDA's up to logf/cosf rounding.
#include "kernels/reparam_cpu.hpp"

#include <cmath>

#include "engine/core/philox.hpp"

namespace vsae::cpu_kernels {

void fill_normal(std::uint64_t seed, const std::int32_t* step, float* eps, std::int64_t count) {
  const auto draw = static_cast<std::uint32_t>(*step);
#pragma omp parallel for schedule(static)
  for (std::int64_t i = 0; i < count; ++i)
    eps[i] = philox_normal(seed, RngStream::reparam_noise, static_cast<std::uint32_t>(i), draw);
}

void reparam_forward(const float* mu, const float* logvar, const float* eps, float* z,
                     std::int64_t count) {
#pragma omp parallel for schedule(static)
  for (std::int64_t i = 0; i < count; ++i) z[i] = mu[i] + std::exp(0.5f * logvar[i]) * eps[i];
}

void reparam_backward(const float* logvar, const float* eps, const float* dz, float* dmu,
                      float* dlogvar, std::int64_t count) {
#pragma omp parallel for schedule(static)
  for (std::int64_t i = 0; i < count; ++i) {
    const float g = dz[i];
    if (dmu != nullptr) dmu[i] += g;
    if (dlogvar != nullptr) dlogvar[i] += g * eps[i] * 0.5f * std::exp(0.5f * logvar[i]);
  }
}

}  // namespace vsae::cpu_kernels
