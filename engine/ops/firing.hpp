// Activation statistics: per-neuron firing counts (a > ε) and maximum activation over a batch,
// accumulated on the device. Training fuses the counts into the sparsifier (ActivityCounters);
// the evaluation pass calls firing_stats on any (N, W) activations.
#pragma once

#include <vector>

#include "engine/core/backend.hpp"

namespace vsae {

// Where a sparsifier's forward pass records activity. Either tensor may be undefined (skipped).
struct ActivityCounters {
  Tensor fire_count;    // i32 (W): += #rows with a_j > eps (the epoch's per-neuron firing counter)
  Tensor batch_active;  // i32 (1): = #{(n, j) : a_nj > eps} over this batch (overwritten), for L0
  float eps = 0.0f;     // >= 0
};

// Most thresholds one firing_stats pass counts at once.
constexpr int kMaxFiringThresholds = 4;

// a: f32 (N, W). counts: i32 (E, W) with E = eps.size() in [1, kMaxFiringThresholds]:
// counts[e][j] += #{n : a[n][j] > eps[e]}. max_act: f32 (W) or undefined:
// max_act[j] = max(max_act[j], max_n a[n][j]); NaN activations are ignored there. Initialise
// max_act to -Inf (or 0 for ReLU codes) before the first batch.
void firing_stats(Backend& be, const Tensor& a, const std::vector<float>& eps, const Tensor& counts,
                  const Tensor& max_act);

// Validates counters against width W on `be` (shared by the sparsifier ops).
void check_activity_counters(const Backend& be, const ActivityCounters& counters,
                             std::int64_t width, const char* op);

}  // namespace vsae
