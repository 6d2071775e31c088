// Launcher for the activation-statistics kernel: per-neuron firing counts for up to four
// thresholds and the per-neuron maximum, over any (N, W) activations, in one read of a.
#pragma once

#include <cuda_runtime.h>

#include <cstdint>

namespace vsae::cuda_kernels {

constexpr int kFiringMaxThresholds = 4;

// a: (N, W); eps: num_eps host values (1..4); counts: (num_eps, W), counts[e][j] += #(a[:, j] >
// eps[e]); max_act: (W) or null, max_act[j] = max(max_act[j], max_n a[n][j]) ignoring NaN.
void firing_stats(const float* a, std::int64_t rows, std::int64_t width, const float* eps,
                  int num_eps, std::int32_t* counts, float* max_act, cudaStream_t stream);

}  // namespace vsae::cuda_kernels
