// CPU twin of the fused bias + activation: OpenMP loops over the (sample, channel) planes.
#include "kernels/bias_act_cpu.hpp"

#include <vector>

#include "kernels/cpu_parallel.hpp"

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
  // First over the (sample, channel) planes in memory order, so the threads stream through
  // contiguous memory: g, dx = g, and each plane's sum of g in double. Then each channel's
  // planes are added in sample order. Every sum has a fixed order, so the result does not depend
  // on the thread count. kLanes independent partial sums per plane break the serial chain of
  // double additions: element i goes to lane i % kLanes, whole blocks of kLanes first (one
  // vector of doubles), then the tail; the lanes are combined in lane order.
  constexpr std::int64_t kLanes = 8;
  const std::int64_t whole = s / kLanes * kLanes;
  thread_local std::vector<double> plane_sums;  // grow-only: a training step allocates nothing
  if (static_cast<std::int64_t>(plane_sums.size()) < n * c) plane_sums.resize(static_cast<std::size_t>(n * c));
  double* sums = plane_sums.data();
#pragma omp parallel for schedule(static) if (worth_threads(n * c * s))
  for (std::int64_t plane = 0; plane < n * c; ++plane) {
    const float* yp = y + plane * s;
    const float* dyp = dy + plane * s;
    float* dxp = dx != nullptr ? dx + plane * s : nullptr;
    double lane[kLanes] = {};
    for (std::int64_t i = 0; i < whole; i += kLanes) {
      for (std::int64_t l = 0; l < kLanes; ++l) {
        const float g = masked_grad(yp[i + l], dyp[i + l], relu);
        if (dxp != nullptr) dxp[i + l] = g;
        lane[l] += g;
      }
    }
    for (std::int64_t i = whole; i < s; ++i) {
      const float g = masked_grad(yp[i], dyp[i], relu);
      if (dxp != nullptr) dxp[i] = g;
      lane[i - whole] += g;
    }
    double sum = 0.0;
    for (double part : lane) sum += part;
    sums[plane] = sum;
  }
  for (std::int64_t ch = 0; ch < c; ++ch) {
    double sum = 0.0;
    for (std::int64_t row = 0; row < n; ++row) sum += sums[row * c + ch];
    db[ch] += static_cast<float>(sum);
  }
}

}  // namespace vsae::cpu_kernels
