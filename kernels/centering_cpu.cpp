// CPU twin of the pre-encoder bias: OpenMP over rows forward, over column blocks backward.
#include "kernels/centering_cpu.hpp"

#include <algorithm>

#include "kernels/cpu_parallel.hpp"

namespace vsae::cpu_kernels {

void centering_forward(const float* x, const float* b, float* y, std::int64_t batch,
                       std::int64_t dim) {
#pragma omp parallel for schedule(static) if (worth_threads(batch * dim))
  for (std::int64_t n = 0; n < batch; ++n) {
    const float* xr = x + n * dim;
    float* yr = y + n * dim;
    for (std::int64_t d = 0; d < dim; ++d) yr[d] = xr[d] - b[d];
  }
}

namespace {

// Columns per block: a thread walks every row of its block, contiguous along each row, so the
// inner loop vectorises and each column's sum runs in row order whichever thread owns it.
constexpr std::int64_t kBlockCols = 64;

template <bool kWriteDx>
void backward_columns(const float* dy, float* dx, float* db, std::int64_t batch, std::int64_t dim,
                      std::int64_t begin, std::int64_t end) {
  double sum[kBlockCols] = {};
  const std::int64_t cols = end - begin;
  for (std::int64_t n = 0; n < batch; ++n) {
    const float* g = dy + n * dim + begin;
    float* dxr = kWriteDx ? dx + n * dim + begin : nullptr;
    for (std::int64_t j = 0; j < cols; ++j) {
      if constexpr (kWriteDx) dxr[j] += g[j];
      sum[j] += static_cast<double>(g[j]);
    }
  }
  for (std::int64_t j = 0; j < cols; ++j) db[begin + j] -= static_cast<float>(sum[j]);
}

}  // namespace

void centering_backward(const float* dy, float* dx, float* db, std::int64_t batch,
                        std::int64_t dim) {
  const std::int64_t blocks = (dim + kBlockCols - 1) / kBlockCols;
#pragma omp parallel for schedule(static) if (worth_threads(batch * dim))
  for (std::int64_t k = 0; k < blocks; ++k) {
    const std::int64_t begin = k * kBlockCols, end = std::min(dim, begin + kBlockCols);
    if (dx != nullptr)
      backward_columns<true>(dy, dx, db, batch, dim, begin, end);
    else
      backward_columns<false>(dy, dx, db, batch, dim, begin, end);
  }
}

}  // namespace vsae::cpu_kernels
