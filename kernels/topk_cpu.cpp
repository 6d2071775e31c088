// Top-k on the CPU: nth_element under the (larger value, lower index) order, then one scan per row.
#include "kernels/topk_cpu.hpp"

#include <algorithm>
#include <numeric>
#include <vector>

#include "kernels/cpu_parallel.hpp"
#include "kernels/ordered_key.hpp"

namespace vsae::cpu_kernels {

void topk_forward(const float* z_pre, const float* bias, std::int32_t k, std::int64_t batch,
                  std::int64_t width, float* a, std::int32_t* indices, std::int64_t kcap,
                  std::int32_t* mask, std::int32_t* fire_count, std::int32_t* batch_active,
                  float eps) {
  const std::int64_t cap = indices ? std::min(kcap, width) : width;
  const std::int64_t keep = std::clamp<std::int64_t>(k, 0, cap);
  const std::int64_t mask_words = (width + 31) / 32;

#pragma omp parallel if (worth_threads(batch * width))
  {
    std::vector<std::uint32_t> key(static_cast<std::size_t>(width));
    std::vector<std::int32_t> order(static_cast<std::size_t>(width));
#pragma omp for schedule(static)
    for (std::int64_t n = 0; n < batch; ++n) {
      const float* zp = z_pre + n * width;
      for (std::int64_t j = 0; j < width; ++j) key[j] = ordered_key(zp[j] + bias[j]);
      // The k-th entry of the order "larger key first, lower index first among equal keys" is the
      // last one kept; every entry before it in that order is kept too.
      auto before = [&](std::int32_t x, std::int32_t y) {
        return key[x] != key[y] ? key[x] > key[y] : x < y;
      };
      std::int32_t last = -1;
      if (keep > 0) {
        std::iota(order.begin(), order.end(), 0);
        std::nth_element(order.begin(), order.begin() + (keep - 1), order.end(), before);
        last = order[static_cast<std::size_t>(keep - 1)];
      }
      float* an = a + n * width;
      std::int64_t pos = 0;
      for (std::int64_t j = 0; j < width; ++j) {
        const bool kept = last >= 0 && (j == last || before(static_cast<std::int32_t>(j), last));
        const float z = zp[j] + bias[j];
        an[j] = kept && !(z <= 0.0f) ? z : 0.0f;
        if (kept && indices) indices[n * kcap + pos] = static_cast<std::int32_t>(j);
        pos += kept;
        if (mask) {
          auto& word = reinterpret_cast<std::uint32_t*>(mask)[n * mask_words + j / 32];
          if (j % 32 == 0) word = 0;
          word |= static_cast<std::uint32_t>(kept) << (j % 32);
        }
      }
      if (indices)
        for (std::int64_t p = keep; p < kcap; ++p) indices[n * kcap + p] = -1;
    }
  }

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

}  // namespace vsae::cpu_kernels
