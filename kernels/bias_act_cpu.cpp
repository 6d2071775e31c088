// CPU twin of the fused bias + activation: one OpenMP loop per (sample, channel) plane.
#include "kernels/bias_act_cpu.hpp"

namespace vsae::cpu_kernels {

namespace {
float masked_grad(float y, float dy, bool relu) {
  return relu && !(y > 0.0f) ? 0.0f : dy;
}
}  // namespace

void bias_act_forward(const float* x, const float* b, float* y, std::int64_t n, std::int64_t c,
                      std::int64_t s, Activation act) {
  const bool relu = act == Activation::relu;
#pragma omp parallel for schedule(static)
  for (std::int64_t plane = 0; plane < n * c; ++plane) {
    const float bias = b[plane % c];
    const float* xp = x + plane * s;
    float* yp = y + plane * s;
    for (std::int64_t i = 0; i < s; ++i) {
      float v = xp[i] + bias;
      yp[i] = relu ? (v > 0.0f ? v : 0.0f) : v;
    }
  }
}

void bias_act_backward(const float* y, const float* dy, float* dx, float* db, std::int64_t n,
                       std::int64_t c, std::int64_t s, Activation act) {
  const bool relu = act == Activation::relu;
  // Parallel over channels: each thread owns its channel's sum, accumulated in double in a fixed
  // order, so the result does not depend on the thread count. kLanes independent partial sums
  // break the serial chain of double additions, which otherwise bounds the loop at one element
  // per add latency; the lanes are combined in a fixed order too.
  // Element i of a plane goes to lane i % kLanes, in order; whole blocks of kLanes first (one
  // vector of doubles), then the tail.
  constexpr std::int64_t kLanes = 8;
  const std::int64_t whole = s / kLanes * kLanes;
#pragma omp parallel for schedule(static)
  for (std::int64_t ch = 0; ch < c; ++ch) {
    double lane[kLanes] = {};
    for (std::int64_t row = 0; row < n; ++row) {
      const std::int64_t base = (row * c + ch) * s;
      const float* yp = y + base;
      const float* dyp = dy + base;
      float* dxp = dx != nullptr ? dx + base : nullptr;
      for (std::int64_t i = 0; i < whole; i += kLanes) {
        for (std::int64_t l = 0; l < kLanes; ++l) {
          const float g = masked_grad(yp[i + l], dyp[i + l], relu);
          if (dxp != nullptr) dxp[i + l] += g;
          lane[l] += g;
        }
      }
      for (std::int64_t i = whole; i < s; ++i) {
        const float g = masked_grad(yp[i], dyp[i], relu);
        if (dxp != nullptr) dxp[i] += g;
        lane[i - whole] += g;
      }
    }
    double sum = 0.0;
    for (double part : lane) sum += part;
    db[ch] += static_cast<float>(sum);
  }
}

}  // namespace vsae::cpu_kernels
