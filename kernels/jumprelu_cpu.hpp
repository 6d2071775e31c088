// CPU twin of kernels/jumprelu.cuh (the JumpReLU sparsifier), and the scalar rules that both
// backends share so that they gate, window and scale every element the same way.
#pragma once

#include <cmath>
#include <cstdint>

#if defined(__CUDACC__)
#define VSAE_JUMPRELU_HD __host__ __device__ __forceinline__
#else
#define VSAE_JUMPRELU_HD inline
#endif

namespace vsae {

// θ = exp(log_threshold), in double and rounded once, so that both backends see the same θ (the
// f32 exp of the two math libraries may differ by an ulp, which would move ties with z).
VSAE_JUMPRELU_HD float jumprelu_threshold(float log_threshold) {
#if defined(__CUDA_ARCH__)
  return static_cast<float>(::exp(static_cast<double>(log_threshold)));
#else
  return static_cast<float>(std::exp(static_cast<double>(log_threshold)));
#endif
}

// a = z·H(z − θ), written so that a NaN z passes through (as ReLU's z <= 0 ? 0 : z in L1).
VSAE_JUMPRELU_HD float jumprelu_gate(float z, float theta) {
  return z <= theta ? 0.0f : z;
}

// K((z − θ)/ε) = 1 for −ε/2 < z − θ < ε/2 (half = ε/2); no division, so the edges are exact.
VSAE_JUMPRELU_HD bool jumprelu_in_window(float z, float theta, float half) {
  const float u = z - theta;
  return -half < u && u < half;
}

// c = ∂L_s/∂L0 = λ·2·(L0/k − 1)/k with L0 = active / batch; 0 when k <= 0 (no target).
VSAE_JUMPRELU_HD double jumprelu_loss_slope(std::int32_t active, std::int64_t batch, std::int32_t k,
                                            float lambda) {
  if (k <= 0) return 0.0;
  const double kd = static_cast<double>(k);
  const double l0 = static_cast<double>(active) / static_cast<double>(batch);
  return static_cast<double>(lambda) * 2.0 * (l0 / kd - 1.0) / kd;
}

// L_s = λ·(L0/k − 1)², 0 when k <= 0.
VSAE_JUMPRELU_HD float jumprelu_loss_value(std::int32_t active, std::int64_t batch, std::int32_t k,
                                           float lambda) {
  if (k <= 0) return 0.0f;
  const double r =
      static_cast<double>(active) / static_cast<double>(batch) / static_cast<double>(k) - 1.0;
  return static_cast<float>(static_cast<double>(lambda) * r * r);
}

// The log-threshold gradient of one column from its window sums: sum_da = Σ_window da,
// count = #window, slope = jumprelu_loss_slope. θ·dθ with
// dθ = −(θ/ε)·sum_da − slope·count/(B·ε).
VSAE_JUMPRELU_HD float jumprelu_dlog_threshold(float theta, float bandwidth, double sum_da,
                                               std::int64_t count, double slope,
                                               std::int64_t batch) {
  const double t = static_cast<double>(theta), e = static_cast<double>(bandwidth);
  const double dtheta =
      -(t / e) * sum_da - slope * static_cast<double>(count) / (static_cast<double>(batch) * e);
  return static_cast<float>(t * dtheta);
}

namespace cpu_kernels {

// z_pre, a: (B, W); bias, log_threshold: (W). a = jumprelu_gate(z_pre + bias, θ).
// fire_count: (W) or null (+= per column #(a > eps)); batch_active: (1) or null (= #(a > eps)).
void jumprelu_forward(const float* z_pre, const float* bias, const float* log_threshold,
                      std::int64_t batch, std::int64_t width, float* a, std::int32_t* fire_count,
                      std::int32_t* batch_active, float eps);

// L_s = jumprelu_loss_value(batch_active, batch_rows, k, λ).
float jumprelu_sparsity_loss(std::int32_t batch_active, std::int64_t batch_rows, std::int32_t k,
                             float lambda);

// z_pre, da, dz_pre: (B, W); bias, log_threshold, db, dlog_threshold: (W). slope: the sparsity
// term's c (jumprelu_loss_slope, 0 for none). g = da·[z > θ]; dz_pre += g; db += Σ_rows g;
// dlog_threshold += jumprelu_dlog_threshold(...) over the window sums. Each column sums its rows
// in order in double, whatever the thread count.
void jumprelu_backward(const float* z_pre, const float* bias, const float* log_threshold,
                       const float* da, std::int64_t batch, std::int64_t width, float bandwidth,
                       double slope, float* dz_pre, float* db, float* dlog_threshold);

}  // namespace cpu_kernels
}  // namespace vsae
