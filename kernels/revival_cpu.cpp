// Dead-neuron revival on the CPU: plain loops, one pass each; resampling touches only the chosen
// units' rows and columns.
#include "kernels/revival_cpu.hpp"

#include <cmath>
#include <limits>

#include "kernels/cpu_parallel.hpp"

namespace vsae::cpu_kernels {

void steps_since_fired_update(const float* a, std::int64_t batch, std::int64_t width,
                              std::int32_t* since) {
#pragma omp parallel for schedule(static) if (worth_threads(batch * width))
  for (std::int64_t j = 0; j < width; ++j) {
    bool fired = false;
    for (std::int64_t n = 0; n < batch && !fired; ++n) fired = a[n * width + j] > 0.0f;
    if (fired)
      since[j] = 0;
    else if (since[j] < std::numeric_limits<std::int32_t>::max())
      ++since[j];
  }
}

void mask_live_units(const float* z_pre, const std::int32_t* since, std::int32_t dead_steps,
                     std::int64_t batch, std::int64_t width, float* z_dead) {
  const float minus_inf = -std::numeric_limits<float>::infinity();
#pragma omp parallel for schedule(static) if (worth_threads(batch * width))
  for (std::int64_t n = 0; n < batch; ++n)
    for (std::int64_t j = 0; j < width; ++j)
      z_dead[n * width + j] = since[j] >= dead_steps ? z_pre[n * width + j] : minus_inf;
}

void residual(const float* target, const float* approx, std::int64_t n, float* e) {
#pragma omp parallel for schedule(static) if (worth_threads(n))
  for (std::int64_t i = 0; i < n; ++i) e[i] = target[i] - approx[i];
}

void resample_units(const std::int32_t* units, const std::int32_t* sources, std::int64_t count,
                    const float* directions, std::int64_t hidden, std::int64_t width,
                    float enc_norm, const ResampleTargets& t, std::int32_t* since) {
  for (std::int64_t i = 0; i < count; ++i) {
    const std::int64_t u = units[i];
    const float* dir = directions + static_cast<std::int64_t>(sources[i]) * hidden;
    float sq = 0.0f;
    for (std::int64_t c = 0; c < hidden; ++c) sq += dir[c] * dir[c];
    const float norm = std::sqrt(sq);
    for (std::int64_t c = 0; c < hidden; ++c) {
      const float d = norm > 0.0f ? dir[c] / norm : (c == u % hidden ? 1.0f : 0.0f);
      t.w_dec[c * width + u] = d;
      t.w_enc[u * hidden + c] = enc_norm * d;
      for (int m = 0; m < 2; ++m) {
        t.moments_w_dec[m][c * width + u] = 0.0f;
        t.moments_w_enc[m][u * hidden + c] = 0.0f;
      }
    }
    t.b_enc[u] = 0.0f;
    t.moments_b_enc[0][u] = t.moments_b_enc[1][u] = 0.0f;
    since[u] = 0;
  }
}

}  // namespace vsae::cpu_kernels
