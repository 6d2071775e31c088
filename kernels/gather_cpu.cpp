// CPU twin of the batch gather: one OpenMP iteration per batch row.
#include "kernels/gather_cpu.hpp"

#include <limits>

namespace vsae::cpu_kernels {

void gather_batch(const std::uint8_t* images, std::int64_t m, std::int64_t d,
                  const std::int32_t* order, std::int64_t p, const std::int32_t* cursor, float* out,
                  std::int64_t b, float scale) {
  const std::int64_t start = *cursor;
#pragma omp parallel for schedule(static)
  for (std::int64_t row = 0; row < b; ++row) {
    std::int64_t pos = (start + row) % p;
    if (pos < 0) pos += p;
    const std::int64_t index = order[pos];
    float* dst = out + row * d;
    if (index < 0 || index >= m) {
      for (std::int64_t k = 0; k < d; ++k) dst[k] = std::numeric_limits<float>::quiet_NaN();
      continue;
    }
    const std::uint8_t* src = images + index * d;
    for (std::int64_t k = 0; k < d; ++k) dst[k] = scale * static_cast<float>(src[k]);
  }
}

void advance_counter(std::int32_t* counter, int delta) {
  *counter += delta;
}

}  // namespace vsae::cpu_kernels
