// CUDA kernels for the pre-encoder bias y = x − b[d] and its backward pass: one column-tiled pass
// accumulates dx and reduces the bias gradient on chip; tall batches add a second, fixed-order
// pass over the row splits.
#include "engine/core/check.hpp"
#include "kernels/centering.cuh"
#include "kernels/launch_geometry.cuh"

namespace vsae::cuda_kernels {

static __global__ void centering_forward_kernel(const float* x, const float* b, float* y,
                                                std::int64_t total, std::int64_t dim) {
  for (std::int64_t i = blockIdx.x * static_cast<std::int64_t>(blockDim.x) + threadIdx.x; i < total;
       i += static_cast<std::int64_t>(gridDim.x) * blockDim.x)
    y[i] = x[i] - b[i % dim];
}

// grid (col_blocks, splits), block (32, 8). With one split the CTA subtracts its column sums
// straight from db; otherwise it leaves them in partial[split][col] for the finish kernel.
static __global__ void __launch_bounds__(kTileCols* kTileRows)
    centering_backward_kernel(const float* __restrict__ dy, float* __restrict__ dx,
                              std::int64_t batch, std::int64_t dim, std::int64_t rows_per_split,
                              float* __restrict__ db, float* __restrict__ partial) {
  __shared__ float col_sum[kTileRows][kTileCols + 1];
  const std::int64_t col = static_cast<std::int64_t>(blockIdx.x) * kTileCols + threadIdx.x;
  const std::int64_t row_begin = static_cast<std::int64_t>(blockIdx.y) * rows_per_split;
  const std::int64_t row_end = min(batch, row_begin + rows_per_split);

  float sum = 0.0f;
  if (col < dim) {
    for (std::int64_t row = row_begin + threadIdx.y; row < row_end; row += kTileRows) {
      const std::int64_t i = row * dim + col;
      const float g = dy[i];
      if (dx != nullptr) dx[i] += g;
      sum += g;
    }
  }
  col_sum[threadIdx.y][threadIdx.x] = sum;
  __syncthreads();
  if (threadIdx.y != 0 || col >= dim) return;
  float total = 0.0f;
#pragma unroll
  for (int r = 0; r < kTileRows; ++r) total += col_sum[r][threadIdx.x];
  if (gridDim.y == 1)
    db[col] -= total;
  else
    partial[static_cast<std::int64_t>(blockIdx.y) * dim + col] = total;
}

// db[col] −= Σ_split partial[split][col], the splits summed in order.
static __global__ void centering_backward_finish_kernel(const float* __restrict__ partial,
                                                        int splits, std::int64_t dim,
                                                        float* __restrict__ db) {
  const std::int64_t col = static_cast<std::int64_t>(blockIdx.x) * blockDim.x + threadIdx.x;
  if (col >= dim) return;
  float total = 0.0f;
  for (int s = 0; s < splits; ++s) total += partial[s * dim + col];
  db[col] -= total;
}

void centering_forward(const float* x, const float* b, float* y, std::int64_t batch,
                       std::int64_t dim, cudaStream_t stream) {
  VSAE_CHECK(batch >= 0 && dim >= 0,
             "centering_forward: bad size (" << batch << ", " << dim << ")");
  VSAE_CHECK(x && b && y, "centering_forward: null pointer");
  const std::int64_t total = batch * dim;
  if (total == 0) return;
  centering_forward_kernel<<<elementwise_blocks(total), kElementwiseThreads, 0, stream>>>(
      x, b, y, total, dim);
  CUDA_CHECK_LAUNCH();
}

std::size_t centering_backward_scratch_floats(std::int64_t batch, std::int64_t dim) {
  const ColumnTiling t = column_tiling(batch, dim);
  return t.splits > 1 ? static_cast<std::size_t>(t.splits) * static_cast<std::size_t>(dim) : 0;
}

void centering_backward(const float* dy, float* dx, float* db, float* scratch, std::int64_t batch,
                        std::int64_t dim, cudaStream_t stream) {
  VSAE_CHECK(batch >= 0 && dim >= 0,
             "centering_backward: bad size (" << batch << ", " << dim << ")");
  VSAE_CHECK(dy && db, "centering_backward: null pointer");
  if (batch == 0 || dim == 0) return;
  const ColumnTiling t = column_tiling(batch, dim);
  VSAE_CHECK(t.splits == 1 || scratch,
             "centering_backward: needs scratch for " << t.splits << " row splits");
  centering_backward_kernel<<<t.grid(), t.block(), 0, stream>>>(dy, dx, batch, dim,
                                                                t.rows_per_split, db, scratch);
  CUDA_CHECK_LAUNCH();
  if (t.splits > 1) {
    const int threads = kElementwiseThreads;
    const auto blocks = static_cast<unsigned>((dim + threads - 1) / threads);
    centering_backward_finish_kernel<<<blocks, threads, 0, stream>>>(scratch, t.splits, dim, db);
    CUDA_CHECK_LAUNCH();
  }
}

}  // namespace vsae::cuda_kernels
