// L1 / L1-prox forward and the sparsity controller on the CPU.
#include "kernels/l1_cpu.hpp"

#include <algorithm>
#include <cmath>

#include "kernels/cpu_parallel.hpp"

namespace vsae::cpu_kernels {

namespace {
constexpr std::int64_t kStripes = 8;  // the CUDA kernels' rows per column tile (block (32, 8))
}  // namespace

void l1_forward(const float* z_pre, const float* bias, const float* tau, const float* tau_scale,
                const float* thresholds, std::int64_t batch, std::int64_t width, float* a,
                std::int32_t* fire_count, std::int32_t* batch_active, float eps,
                const float* lambda, float* penalty) {
  const bool prox = tau || thresholds;
  const float shift = tau ? (tau_scale ? *tau * *tau_scale : *tau) : 0.0f;
  double total = 0.0;
  std::int64_t active = 0;
#pragma omp parallel for schedule(static) reduction(+ : total, active) if (worth_threads(batch * width))
  for (std::int64_t n = 0; n < batch; ++n) {
    for (std::int64_t j = 0; j < width; ++j) {
      const std::int64_t i = n * width + j;
      const float z = prox ? (z_pre[i] + bias[j]) - (thresholds ? thresholds[j] : shift) : z_pre[i] + bias[j];
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

void l1_prox_unit_threshold(const float* z_pre, const float* bias, std::int64_t batch,
                            std::int64_t width, float tau, float* running_mean,
                            float* running_std, float beta, bool update, float* threshold,
                            float* used_mean, float* used_std, float eval_tau,
                            std::int32_t* eval_active) {
  std::int64_t above = 0;
  const double rows = static_cast<double>(batch);
#pragma omp parallel for schedule(static) reduction(+ : above) if (worth_threads(batch * width))
  for (std::int64_t j = 0; j < width; ++j) {
    const auto z = [&](std::int64_t n) { return static_cast<double>(z_pre[n * width + j] + bias[j]); };
    double sum = 0.0;
    for (std::int64_t s = 0; s < kStripes; ++s) {
      double part = 0.0;
      for (std::int64_t n = s; n < batch; n += kStripes) part += z(n);
      sum += part;
    }
    const double mean = sum / rows;
    double sq = 0.0;
    for (std::int64_t s = 0; s < kStripes; ++s) {
      double part = 0.0;
      for (std::int64_t n = s; n < batch; n += kStripes) part = std::fma(z(n) - mean, z(n) - mean, part);
      sq += part;
    }
    const float m = batch == 0 ? std::nanf("") : static_cast<float>(mean);
    const float sd = batch == 0 ? std::nanf("") : static_cast<float>(std::sqrt(sq / rows));
    float rm = running_mean[j], rs = running_std[j];
    bool unset = !(rs >= 0.0f) || std::isinf(rs) || !std::isfinite(rm);
    if (update && std::isfinite(m) && std::isfinite(sd)) {
      rm = unset ? m : std::fmaf(beta, rm, (1.0f - beta) * m);
      rs = unset ? sd : std::fmaf(beta, rs, (1.0f - beta) * sd);
      running_mean[j] = rm;
      running_std[j] = rs;
      unset = false;
    }
    const float use_m = update || unset ? m : rm, use_s = update || unset ? sd : rs;
    threshold[j] = std::fmaf(tau, use_s, use_m);
    used_mean[j] = use_m;
    used_std[j] = use_s;
    if (!eval_active) continue;
    const float eval_threshold = unset ? std::fmaf(eval_tau, sd, m) : std::fmaf(eval_tau, rs, rm);
    for (std::int64_t n = 0; n < batch; ++n) above += (z_pre[n * width + j] + bias[j]) - eval_threshold > 0.0f;
  }
  if (eval_active) *eval_active = static_cast<std::int32_t>(above);
}

void l1_prox_per_unit_backward(const float* z_pre, const float* bias, const float* a,
                               const float* da, float tau, const float* mean,
                               const float* std_dev, std::int64_t batch, std::int64_t width,
                               float* dz_pre, float* db) {
#pragma omp parallel for schedule(static) if (worth_threads(batch * width))
  for (std::int64_t j = 0; j < width; ++j) {
    const auto g = [&](std::int64_t n) {
      const std::int64_t i = n * width + j;
      return a[i] > 0.0f ? da[i] : 0.0f;
    };
    double sum = 0.0;
    for (std::int64_t s = 0; s < kStripes; ++s) {
      double part = 0.0;
      for (std::int64_t n = s; n < batch; n += kStripes) part += g(n);
      sum += part;
    }
    const float coef = static_cast<float>(sum / static_cast<double>(batch));
    const float m = mean[j], sd = std_dev[j];
    double column = 0.0;
    for (std::int64_t s = 0; s < kStripes; ++s) {
      double part = 0.0;
      for (std::int64_t n = s; n < batch; n += kStripes) {
        const std::int64_t i = n * width + j;
        const float z_hat = sd > 0.0f ? ((z_pre[i] + bias[j]) - m) / sd : 0.0f;
        const float d = std::fmaf(-coef, std::fmaf(tau, z_hat, 1.0f), g(n));
        dz_pre[i] += d;
        part += d;
      }
      column += part;
    }
    db[j] += static_cast<float>(column);
  }
}

void sparsity_controller_update(float* coef, std::int32_t batch_active, std::int32_t k_target,
                                std::int64_t batch_rows, float eta, float lo, float hi,
                                float floor, bool additive) {
  if (k_target <= 0) return;
  const float k = static_cast<float>(k_target);
  const float l0 = static_cast<float>(batch_active) / static_cast<float>(batch_rows);
  const float low = !additive && floor > lo ? std::min(floor, hi) : lo;
  const float step = eta * (l0 - k) / k;
  *coef = std::clamp(additive ? *coef + step : *coef * std::exp(step), low, hi);
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
