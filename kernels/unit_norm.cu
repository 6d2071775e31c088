// CUDA kernels for unit-norm decoder columns. Columns are strided by W in the (D, W) layout, so a
// CTA of (32, 8) threads takes 32 adjacent columns (coalesced row segments) and all D rows: its
// eight row lanes sum in double, are combined in lane order, and the same CTA rewrites the column.
#include "engine/core/check.hpp"
#include "kernels/launch_geometry.cuh"
#include "kernels/unit_norm.cuh"

namespace vsae::cuda_kernels {

// grid (ceil(W / 32)), block (32, 8). PROJECT: dw −= (⟨dw, w⟩/⟨w, w⟩)·w per column; otherwise
// w_out = w / ‖w‖ (w_out is w itself: no __restrict__). A column with ⟨w, w⟩ = 0 is skipped
// either way (NaN ≠ 0, so NaN columns are not).
template <bool PROJECT>
static __global__ void __launch_bounds__(kTileCols* kTileRows)
    unit_norm_columns_kernel(const float* w, float* dw, float* w_out, std::int64_t rows,
                             std::int64_t cols) {
  __shared__ double ww_part[kTileRows][kTileCols + 1];
  __shared__ double dw_part[kTileRows][kTileCols + 1];
  __shared__ double factor[kTileCols];
  __shared__ bool skip[kTileCols];
  const std::int64_t col = static_cast<std::int64_t>(blockIdx.x) * kTileCols + threadIdx.x;

  double ww = 0.0, dww = 0.0;
  if (col < cols) {
    for (std::int64_t row = threadIdx.y; row < rows; row += kTileRows) {
      const std::int64_t i = row * cols + col;
      const double wi = w[i];
      ww += wi * wi;
      if (PROJECT) dww += static_cast<double>(dw[i]) * wi;
    }
  }
  ww_part[threadIdx.y][threadIdx.x] = ww;
  dw_part[threadIdx.y][threadIdx.x] = dww;
  __syncthreads();
  if (threadIdx.y == 0) {
    double ww_total = 0.0, dww_total = 0.0;
#pragma unroll
    for (int r = 0; r < kTileRows; ++r) {
      ww_total += ww_part[r][threadIdx.x];
      dww_total += dw_part[r][threadIdx.x];
    }
    skip[threadIdx.x] = ww_total == 0.0;
    factor[threadIdx.x] = PROJECT ? dww_total / ww_total : sqrt(ww_total);
  }
  __syncthreads();
  if (col >= cols || skip[threadIdx.x]) return;
  const double f = factor[threadIdx.x];
  for (std::int64_t row = threadIdx.y; row < rows; row += kTileRows) {
    const std::int64_t i = row * cols + col;
    if (PROJECT)
      dw[i] = static_cast<float>(static_cast<double>(dw[i]) - f * static_cast<double>(w[i]));
    else
      w_out[i] = static_cast<float>(static_cast<double>(w[i]) / f);
  }
}

namespace {

void check_sizes(std::int64_t rows, std::int64_t cols, const char* op) {
  VSAE_CHECK(rows >= 0 && cols >= 0, op << ": bad size (" << rows << ", " << cols << ")");
  VSAE_CHECK((cols + kTileCols - 1) / kTileCols <= 0x7fffffff,
             op << ": too many columns (" << cols << ")");
}

unsigned int column_blocks(std::int64_t cols) {
  return static_cast<unsigned int>((cols + kTileCols - 1) / kTileCols);
}

}  // namespace

void decoder_grad_remove_parallel(const float* w, float* dw, std::int64_t rows, std::int64_t cols,
                                  cudaStream_t stream) {
  check_sizes(rows, cols, "decoder_grad_remove_parallel");
  VSAE_CHECK(w && dw, "decoder_grad_remove_parallel: null pointer");
  if (rows == 0 || cols == 0) return;
  unit_norm_columns_kernel<true>
      <<<column_blocks(cols), dim3(kTileCols, kTileRows), 0, stream>>>(w, dw, nullptr, rows, cols);
  CUDA_CHECK_LAUNCH();
}

void decoder_normalize_columns(float* w, std::int64_t rows, std::int64_t cols,
                               cudaStream_t stream) {
  check_sizes(rows, cols, "decoder_normalize_columns");
  VSAE_CHECK(w, "decoder_normalize_columns: null pointer");
  if (rows == 0 || cols == 0) return;
  unit_norm_columns_kernel<false>
      <<<column_blocks(cols), dim3(kTileCols, kTileRows), 0, stream>>>(w, nullptr, w, rows, cols);
  CUDA_CHECK_LAUNCH();
}

}  // namespace vsae::cuda_kernels
