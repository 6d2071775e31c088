// CPU twin of the fused Adam update, with the same float arithmetic as the CUDA kernel.
#include "kernels/adam_cpu.hpp"

#include <cmath>

namespace vsae::cpu_kernels {

void adam_step(float* params, const float* grads, float* m, float* v, const std::int32_t* step,
               std::int64_t count, const AdamHyper& hyper) {
  // Bias corrections in double, as PyTorch computes them on the host.
  const double bias1 = 1.0 - std::pow(static_cast<double>(hyper.beta1), static_cast<double>(*step));
  const double bias2 = 1.0 - std::pow(static_cast<double>(hyper.beta2), static_cast<double>(*step));
  const auto step_size = static_cast<float>(static_cast<double>(hyper.lr) / bias1);
  const auto bias2_sqrt = static_cast<float>(std::sqrt(bias2));
  const float beta1 = hyper.beta1, beta2 = hyper.beta2, eps = hyper.eps;
#pragma omp parallel for simd schedule(static)
  for (std::int64_t i = 0; i < count; ++i) {
    const float g = grads[i];
    m[i] += (1.0f - beta1) * (g - m[i]);  // PyTorch's lerp form of beta1·m + (1 − beta1)·g
    v[i] = beta2 * v[i] + (1.0f - beta2) * g * g;
    const float denom = std::sqrt(v[i]) / bias2_sqrt + eps;
    params[i] -= step_size * (m[i] / denom);
  }
}

}  // namespace vsae::cpu_kernels
