// Unit-norm decoder columns on the CPU. The columns are strided in the (D, W) layout, so a thread
// takes a block of adjacent columns and streams its rows twice (sums, then updates): the inner
// loops run along contiguous memory, and each column's sums run in row order whatever the thread.
#include "kernels/unit_norm_cpu.hpp"

#include <algorithm>
#include <cmath>

#include "kernels/cpu_parallel.hpp"

namespace vsae::cpu_kernels {

namespace {

constexpr std::int64_t kBlockCols = 64;

// Columns [begin, end). PROJECT: dw −= (⟨dw, w⟩/⟨w, w⟩)·w; otherwise w /= ‖w‖. Columns with
// ⟨w, w⟩ = 0 are skipped (NaN ≠ 0, so NaN columns are not).
template <bool PROJECT>
void column_block(const float* w, float* dw, float* w_out, std::int64_t rows, std::int64_t cols,
                  std::int64_t begin, std::int64_t end) {
  const std::int64_t n = end - begin;
  double ww[kBlockCols] = {}, dww[kBlockCols] = {}, factor[kBlockCols];
  for (std::int64_t r = 0; r < rows; ++r) {
    const float* wr = w + r * cols + begin;
    const float* dwr = PROJECT ? dw + r * cols + begin : nullptr;
    for (std::int64_t j = 0; j < n; ++j) {
      const double wi = wr[j];
      ww[j] += wi * wi;
      if constexpr (PROJECT) dww[j] += static_cast<double>(dwr[j]) * wi;
    }
  }
  bool any = false;
  for (std::int64_t j = 0; j < n; ++j) {
    any |= ww[j] != 0.0;
    factor[j] = PROJECT ? dww[j] / ww[j] : std::sqrt(ww[j]);
  }
  if (!any) return;
  for (std::int64_t r = 0; r < rows; ++r) {
    const float* wr = w + r * cols + begin;
    for (std::int64_t j = 0; j < n; ++j) {
      if (ww[j] == 0.0) continue;
      if constexpr (PROJECT) {
        float* dwr = dw + r * cols + begin;
        dwr[j] = static_cast<float>(static_cast<double>(dwr[j]) -
                                    factor[j] * static_cast<double>(wr[j]));
      } else {
        w_out[r * cols + begin + j] = static_cast<float>(static_cast<double>(wr[j]) / factor[j]);
      }
    }
  }
}

template <bool PROJECT>
void all_columns(const float* w, float* dw, float* w_out, std::int64_t rows, std::int64_t cols) {
  const std::int64_t blocks = (cols + kBlockCols - 1) / kBlockCols;
#pragma omp parallel for schedule(static) if (worth_threads(rows * cols))
  for (std::int64_t k = 0; k < blocks; ++k) {
    const std::int64_t begin = k * kBlockCols;
    column_block<PROJECT>(w, dw, w_out, rows, cols, begin, std::min(cols, begin + kBlockCols));
  }
}

}  // namespace

void decoder_grad_remove_parallel(const float* w, float* dw, std::int64_t rows, std::int64_t cols) {
  all_columns<true>(w, dw, nullptr, rows, cols);
}

void decoder_normalize_columns(float* w, std::int64_t rows, std::int64_t cols) {
  all_columns<false>(w, nullptr, w, rows, cols);
}

}  // namespace vsae::cpu_kernels
