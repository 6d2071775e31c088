// CPU twin of kernels/firing.cuh: per-neuron firing counts and maximum activation.
#pragma once

#include <cstdint>

namespace vsae::cpu_kernels {

// a: (N, W); eps: (E); counts: (E, W), counts[e][j] += #{n : a[n][j] > eps[e]};
// max_act: (W) or null, max_act[j] = max(max_act[j], max over the non-NaN a[n][j]).
void firing_stats(const float* a, std::int64_t rows, std::int64_t width, const float* eps,
                  int num_eps, std::int32_t* counts, float* max_act);

}  // namespace vsae::cpu_kernels
