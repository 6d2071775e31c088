// Sparsifier backward on the CPU: one pass that masks, adds the penalty slope and sums the bias.
#include "kernels/sparse_grad_cpu.hpp"

#include "kernels/cpu_parallel.hpp"

namespace vsae::cpu_kernels {

void sparse_backward(const float* a, const float* da, const float* lambda, std::int64_t batch,
                     std::int64_t width, float* dz_pre, float* db) {
  const float slope = lambda ? *lambda / static_cast<float>(batch) : 0.0f;
  // Columns are independent, so threads split them and each sums its rows in order.
#pragma omp parallel for schedule(static) if (worth_threads(batch * width))
  for (std::int64_t j = 0; j < width; ++j) {
    float sum = 0.0f;
    for (std::int64_t n = 0; n < batch; ++n) {
      const std::int64_t i = n * width + j;
      const float g = a[i] > 0.0f ? da[i] + slope : 0.0f;
      dz_pre[i] += g;
      sum += g;
    }
    db[j] += sum;
  }
}

}  // namespace vsae::cpu_kernels
