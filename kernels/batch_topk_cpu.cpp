// BatchTopK on the CPU: nth_element over one 64-bit rank per entry of the flattened batch, then one
// ordered scan for a, the smallest kept activation and the counters.
#include "kernels/batch_topk_cpu.hpp"

#include <algorithm>
#include <cmath>
#include <functional>
#include <limits>
#include <vector>

#include "kernels/cpu_parallel.hpp"
#include "kernels/ordered_key.hpp"

namespace vsae::cpu_kernels {

namespace {

// Counts a > eps per column and in total; shared by both forwards.
void count_activity(const float* a, std::int64_t batch, std::int64_t width,
                    std::int32_t* fire_count, std::int32_t* batch_active, float eps) {
  if (!fire_count && !batch_active) return;
  std::int64_t active = 0;
  for (std::int64_t n = 0; n < batch; ++n)
    for (std::int64_t j = 0; j < width; ++j)
      if (a[n * width + j] > eps) {
        ++active;
        if (fire_count) ++fire_count[j];
      }
  if (batch_active) *batch_active = static_cast<std::int32_t>(active);
}

}  // namespace

void batch_topk_forward(const float* z_pre, const float* bias, std::int32_t k, std::int64_t batch,
                        std::int64_t width, float* a, float* min_kept, std::int32_t* fire_count,
                        std::int32_t* batch_active, float eps) {
  const std::int64_t total = batch * width;
  const std::int64_t keep = std::clamp<std::int64_t>(std::int64_t{k} * batch, 0, total);

  // rank(i) = (ordered_key(z_i), −i) packed so that a larger rank means "kept first": the key in
  // the high word, the complemented flattened index in the low word (ties to the lower index).
  std::vector<std::uint64_t> rank(static_cast<std::size_t>(total));
  const auto rank_of = [&](std::int64_t i) {
    const float z = z_pre[i] + bias[i % width];
    return std::uint64_t{ordered_key(z)} << 32 | (0xFFFFFFFFu - static_cast<std::uint32_t>(i));
  };
#pragma omp parallel for schedule(static) if (worth_threads(total))
  for (std::int64_t i = 0; i < total; ++i) rank[static_cast<std::size_t>(i)] = rank_of(i);

  // The keep-th largest rank is the last one kept; every larger rank is kept too. Ranks are
  // distinct, so this is exactly the stable order's first `keep` entries.
  std::uint64_t last = std::numeric_limits<std::uint64_t>::max();
  if (keep > 0) {
    std::vector<std::uint64_t> order = rank;
    std::nth_element(order.begin(), order.begin() + (keep - 1), order.end(),
                     std::greater<std::uint64_t>());
    last = order[static_cast<std::size_t>(keep - 1)];
  }

  float smallest = std::numeric_limits<float>::quiet_NaN();
  for (std::int64_t i = 0; i < total; ++i) {
    const float z = z_pre[i] + bias[i % width];
    const bool kept = keep > 0 && rank[static_cast<std::size_t>(i)] >= last;
    a[i] = kept && !(z <= 0.0f) ? z : 0.0f;
    if (a[i] > 0.0f && (std::isnan(smallest) || a[i] < smallest)) smallest = a[i];
  }
  if (min_kept) *min_kept = smallest;
  count_activity(a, batch, width, fire_count, batch_active, eps);
}

void batch_topk_update_threshold(const float* min_kept, float beta, float* threshold) {
  const float m = *min_kept;
  if (std::isnan(m)) return;
  const float theta = *threshold;
  // Separate roundings (the GPU uses __fmul_rn / __fadd_rn) so both backends agree bitwise.
  const float kept_part = beta * theta;
  const float new_part = (1.0f - beta) * m;
  *threshold = theta < 0.0f ? m : kept_part + new_part;
}

void batch_topk_eval_forward(const float* z_pre, const float* bias, float threshold,
                             std::int64_t batch, std::int64_t width, float* a,
                             std::int32_t* fire_count, std::int32_t* batch_active, float eps) {
  const float t = threshold >= 0.0f ? threshold : 0.0f;
  const std::int64_t total = batch * width;
#pragma omp parallel for schedule(static) if (worth_threads(total))
  for (std::int64_t i = 0; i < total; ++i) {
    const float z = z_pre[i] + bias[i % width];
    a[i] = z <= t ? 0.0f : z;
  }
  count_activity(a, batch, width, fire_count, batch_active, eps);
}

}  // namespace vsae::cpu_kernels
