// JumpReLU forward, sparsity loss and backward on the CPU. Threads split the columns into blocks;
// each thread walks every row of its block, contiguous along each row, so every column's counts
// and sums run in row order whichever thread owns it.
#include "kernels/jumprelu_cpu.hpp"

#include <algorithm>

#include "kernels/cpu_parallel.hpp"

namespace vsae::cpu_kernels {

namespace {
constexpr std::int64_t kBlockCols = 64;
}  // namespace

void jumprelu_forward(const float* z_pre, const float* bias, const float* log_threshold,
                      std::int64_t batch, std::int64_t width, float* a, std::int32_t* fire_count,
                      std::int32_t* batch_active, float eps) {
  const std::int64_t blocks = (width + kBlockCols - 1) / kBlockCols;
  std::int64_t active = 0;
#pragma omp parallel for schedule(static) reduction(+ : active) if (worth_threads(batch * width))
  for (std::int64_t k = 0; k < blocks; ++k) {
    const std::int64_t begin = k * kBlockCols, cols = std::min(width, begin + kBlockCols) - begin;
    float theta[kBlockCols];
    std::int32_t fired[kBlockCols] = {};
    for (std::int64_t j = 0; j < cols; ++j) theta[j] = jumprelu_threshold(log_threshold[begin + j]);
    for (std::int64_t n = 0; n < batch; ++n) {
      const float* zr = z_pre + n * width + begin;
      const float* br = bias + begin;
      float* ar = a + n * width + begin;
      for (std::int64_t j = 0; j < cols; ++j) {
        const float v = jumprelu_gate(zr[j] + br[j], theta[j]);
        ar[j] = v;
        fired[j] += v > eps;
      }
    }
    for (std::int64_t j = 0; j < cols; ++j) {
      active += fired[j];
      if (fire_count) fire_count[begin + j] += fired[j];
    }
  }
  if (batch_active) *batch_active = static_cast<std::int32_t>(active);
}

float jumprelu_sparsity_loss(std::int32_t batch_active, std::int64_t batch_rows, std::int32_t k,
                             float lambda) {
  return jumprelu_loss_value(batch_active, batch_rows, k, lambda);
}

void jumprelu_backward(const float* z_pre, const float* bias, const float* log_threshold,
                       const float* da, std::int64_t batch, std::int64_t width, float bandwidth,
                       double slope, float* dz_pre, float* db, float* dlog_threshold) {
  const std::int64_t blocks = (width + kBlockCols - 1) / kBlockCols;
  const float half = 0.5f * bandwidth;
#pragma omp parallel for schedule(static) if (worth_threads(batch * width))
  for (std::int64_t k = 0; k < blocks; ++k) {
    const std::int64_t begin = k * kBlockCols, cols = std::min(width, begin + kBlockCols) - begin;
    float theta[kBlockCols];
    double g_sum[kBlockCols] = {}, da_sum[kBlockCols] = {};
    std::int64_t in_count[kBlockCols] = {};
    for (std::int64_t j = 0; j < cols; ++j) theta[j] = jumprelu_threshold(log_threshold[begin + j]);
    for (std::int64_t n = 0; n < batch; ++n) {
      const std::int64_t row = n * width + begin;
      for (std::int64_t j = 0; j < cols; ++j) {
        const float z = z_pre[row + j] + bias[begin + j];
        const float d = da[row + j];
        // z > θ is false for NaN z: no gradient, as sparse_backward's a > 0 mask gives L1.
        const float g = z > theta[j] ? d : 0.0f;
        dz_pre[row + j] += g;
        g_sum[j] += static_cast<double>(g);
        if (jumprelu_in_window(z, theta[j], half)) {
          da_sum[j] += static_cast<double>(d);
          ++in_count[j];
        }
      }
    }
    for (std::int64_t j = 0; j < cols; ++j) {
      db[begin + j] += static_cast<float>(g_sum[j]);
      dlog_threshold[begin + j] +=
          jumprelu_dlog_threshold(theta[j], bandwidth, da_sum[j], in_count[j], slope, batch);
    }
  }
}

}  // namespace vsae::cpu_kernels
