// Firing statistics on the CPU: threads own disjoint columns, so no reduction is shared.
#include "kernels/firing_cpu.hpp"

#include "kernels/cpu_parallel.hpp"

namespace vsae::cpu_kernels {

void firing_stats(const float* a, std::int64_t rows, std::int64_t width, const float* eps,
                  int num_eps, std::int32_t* counts, float* max_act) {
#pragma omp parallel for schedule(static) if (worth_threads(rows * width))
  for (std::int64_t j = 0; j < width; ++j) {
    for (std::int64_t n = 0; n < rows; ++n) {
      const float v = a[n * width + j];
      for (int e = 0; e < num_eps; ++e) counts[e * width + j] += v > eps[e];
      if (max_act && v > max_act[j]) max_act[j] = v;
    }
  }
}

}  // namespace vsae::cpu_kernels
