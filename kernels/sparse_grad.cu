// CUDA backward of the sparsifiers: one column-tiled pass masks the gradient, accumulates dz_pre
// and reduces the bias gradient on chip; tall batches add a second, fixed-order pass over row
// splits.
#include "engine/core/check.hpp"
#include "kernels/launch_geometry.cuh"
#include "kernels/sparse_grad.cuh"

namespace vsae::cuda_kernels {

// grid (col_blocks, splits), block (32, 8). With one split the CTA adds its column sums straight
// into db; otherwise it leaves them in partial[split][col] for sparse_backward_finish_kernel.
static __global__ void __launch_bounds__(kTileCols* kTileRows)
    sparse_backward_kernel(const float* __restrict__ a, const float* __restrict__ da,
                           const float* __restrict__ lambda, std::int64_t batch, std::int64_t width,
                           std::int64_t rows_per_split, float* __restrict__ dz_pre,
                           float* __restrict__ db, float* __restrict__ partial) {
  __shared__ float col_sum[kTileRows][kTileCols + 1];
  const std::int64_t col = static_cast<std::int64_t>(blockIdx.x) * kTileCols + threadIdx.x;
  const std::int64_t row_begin = static_cast<std::int64_t>(blockIdx.y) * rows_per_split;
  const std::int64_t row_end = min(batch, row_begin + rows_per_split);
  const float slope = lambda ? *lambda / static_cast<float>(batch) : 0.0f;

  float sum = 0.0f;
  if (col < width) {
#pragma unroll 4
    for (std::int64_t row = row_begin + threadIdx.y; row < row_end; row += kTileRows) {
      const std::int64_t i = row * width + col;
      const float g = a[i] > 0.0f ? da[i] + slope : 0.0f;
      dz_pre[i] += g;
      sum += g;
    }
  }
  col_sum[threadIdx.y][threadIdx.x] = sum;
  __syncthreads();
  if (threadIdx.y != 0 || col >= width) return;
  float total = 0.0f;
#pragma unroll
  for (int r = 0; r < kTileRows; ++r) total += col_sum[r][threadIdx.x];
  if (gridDim.y == 1)
    db[col] += total;
  else
    partial[static_cast<std::int64_t>(blockIdx.y) * width + col] = total;
}

// db[col] += Σ_split partial[split][col], splits summed in order.
static __global__ void sparse_backward_finish_kernel(const float* __restrict__ partial, int splits,
                                                     std::int64_t width, float* __restrict__ db) {
  const std::int64_t col = static_cast<std::int64_t>(blockIdx.x) * blockDim.x + threadIdx.x;
  if (col >= width) return;
  float total = 0.0f;
  for (int s = 0; s < splits; ++s) total += partial[s * width + col];
  db[col] += total;
}

std::size_t sparse_backward_scratch_floats(std::int64_t batch, std::int64_t width) {
  const ColumnTiling t = column_tiling(batch, width);
  return t.splits > 1 ? static_cast<std::size_t>(t.splits) * static_cast<std::size_t>(width) : 0;
}

void sparse_backward(const float* a, const float* da, const float* lambda, std::int64_t batch,
                     std::int64_t width, float* dz_pre, float* db, float* scratch,
                     cudaStream_t stream) {
  VSAE_CHECK(batch >= 0 && width >= 0,
             "sparse_backward: bad size (" << batch << ", " << width << ")");
  VSAE_CHECK(a && da && dz_pre && db, "sparse_backward: null tensor");
  if (batch == 0 || width == 0) return;
  const ColumnTiling t = column_tiling(batch, width);
  VSAE_CHECK(t.splits == 1 || scratch,
             "sparse_backward: needs scratch for " << t.splits << " row splits");
  sparse_backward_kernel<<<t.grid(), t.block(), 0, stream>>>(a, da, lambda, batch, width,
                                                             t.rows_per_split, dz_pre, db, scratch);
  CUDA_CHECK_LAUNCH();
  if (t.splits > 1) {
    const int threads = 256;
    const auto blocks = static_cast<unsigned>((width + threads - 1) / threads);
    sparse_backward_finish_kernel<<<blocks, threads, 0, stream>>>(scratch, t.splits, width, db);
    CUDA_CHECK_LAUNCH();
  }
}

}  // namespace vsae::cuda_kernels
