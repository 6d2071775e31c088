// L1 / L1-prox forward and the sparsity controller on the CPU.
#include "kernels/l1_cpu.hpp"

#include <algorithm>
#include <cmath>

#include "kernels/cpu_parallel.hpp"

namespace vsae::cpu_kernels {

void l1_forward(const float* z_pre, const float* bias, const float* tau, const float* tau_scale,
                std::int64_t batch, std::int64_t width, float* a, std::int32_t* fire_count,
                std::int32_t* batch_active, float eps, const float* lambda, float* penalty) {
  const float shift = tau ? (tau_scale ? *tau * *tau_scale : *tau) : 0.0f;
  double total = 0.0;
  std::int64_t active = 0;
#pragma omp parallel for schedule(static) reduction(+ : total, active) if (worth_threads(batch * width))
  for (std::int64_t n = 0; n < batch; ++n) {
    for (std::int64_t j = 0; j < width; ++j) {
      const std::int64_t i = n * width + j;
      const float z = tau ? (z_pre[i] + bias[j]) - shift : z_pre[i] + bias[j];
      // NaN passes through, as in Top-k, so a diverged encoder is not hidden.
      const float v = z <= 0.0f ? 0.0f : z;
      a[i] = v;
      total += v;
      active += v > eps;
    }
  }
  if (fire_count)
    for (std::int64_t n = 0; n < batch; ++n)
      for (std::int64_t j = 0; j < width; ++j) fire_count[j] += a[n * width + j] > eps;
  if (batch_active) *batch_active = static_cast<std::int32_t>(active);
  if (penalty)
    *penalty =
        static_cast<float>(static_cast<double>(*lambda) * total / static_cast<double>(batch));
}

void l1_prox_scale(const float* z_pre, const float* bias, std::int64_t batch, std::int64_t width,
                   float* running, float beta, bool update, float* scale) {
  double sum = 0.0;
  for (std::int64_t n = 0; n < batch; ++n)
    for (std::int64_t j = 0; j < width; ++j) {
      const double z = static_cast<double>(z_pre[n * width + j] + bias[j]);
      sum += z * z;
    }
  const float batch_scale = batch == 0 ? std::nanf("")
                                       : static_cast<float>(std::sqrt(
                                             sum / static_cast<double>(batch * width)));
  const float r = *running;
  const bool unset = !(r >= 0.0f) || std::isinf(r);
  if (!update) {
    *scale = unset ? batch_scale : r;
    return;
  }
  *scale = batch_scale;
  if (std::isfinite(batch_scale))
    *running = unset ? batch_scale : beta * r + (1.0f - beta) * batch_scale;
}

void sparsity_controller_update(float* coef, std::int32_t batch_active, std::int32_t k_target,
                                std::int64_t batch_rows, float eta, float lo, float hi,
                                float floor) {
  if (k_target <= 0) return;
  const float k = static_cast<float>(k_target);
  const float l0 = static_cast<float>(batch_active) / static_cast<float>(batch_rows);
  const float low = floor > lo ? std::min(floor, hi) : lo;
  *coef = std::clamp(*coef * std::exp(eta * (l0 - k) / k), low, hi);
}

float controller_floor(const float* a, const float* signal, std::int64_t count, float factor,
                       float rho, float divisor) {
  double sum = 0.0;
  std::int64_t active = 0;
  for (std::int64_t i = 0; i < count; ++i) {
    if (a[i] > 0.0f) {
      sum += std::fabs(signal[i]);
      ++active;
    }
  }
  if (active == 0 || !(divisor > 0.0f)) return 0.0f;
  return static_cast<float>(static_cast<double>(rho) * factor * sum / static_cast<double>(active) /
                            static_cast<double>(divisor));
}

}  // namespace vsae::cpu_kernels
