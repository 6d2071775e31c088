// CUDA JumpReLU: a column-tiled forward (θ and the bias loaded once per thread, firing counts
// leave each CTA once per column), a one-thread sparsity loss, and a column-tiled backward that
// reduces the bias gradient and the threshold's window sums on chip; tall batches add a second,
// fixed-order pass over row splits. Integer atomics only, so every float result is reproducible.
#include <cmath>
#include <cub/block/block_reduce.cuh>

#include "engine/core/check.hpp"
#include "kernels/jumprelu.cuh"
#include "kernels/jumprelu_cpu.hpp"
#include "kernels/launch_geometry.cuh"

namespace vsae::cuda_kernels {

namespace {
using TileCount = cub::BlockReduce<int, kTileCols, cub::BLOCK_REDUCE_WARP_REDUCTIONS, kTileRows>;
}  // namespace

// grid (col_blocks, splits), block (32, 8).
static __global__ void __launch_bounds__(kTileCols* kTileRows)
    jumprelu_forward_kernel(const float* __restrict__ z_pre, const float* __restrict__ bias,
                            const float* __restrict__ log_threshold, std::int64_t batch,
                            std::int64_t width, std::int64_t rows_per_split, float* __restrict__ a,
                            std::int32_t* __restrict__ fire_count,
                            std::int32_t* __restrict__ batch_active, float eps) {
  __shared__ TileCount::TempStorage reduce;
  __shared__ int col_count[kTileRows][kTileCols + 1];
  const std::int64_t col = static_cast<std::int64_t>(blockIdx.x) * kTileCols + threadIdx.x;
  const std::int64_t row_begin = static_cast<std::int64_t>(blockIdx.y) * rows_per_split;
  const std::int64_t row_end = min(batch, row_begin + rows_per_split);

  int fired = 0;
  if (col < width) {
    const float b = bias[col];
    const float theta = jumprelu_threshold(log_threshold[col]);
#pragma unroll 4
    for (std::int64_t row = row_begin + threadIdx.y; row < row_end; row += kTileRows) {
      const std::int64_t i = row * width + col;
      const float v = jumprelu_gate(z_pre[i] + b, theta);
      a[i] = v;
      fired += v > eps;
    }
  }
  col_count[threadIdx.y][threadIdx.x] = fired;
  if (batch_active) {
    const int tile_fired = TileCount(reduce).Sum(fired);
    if (threadIdx.x == 0 && threadIdx.y == 0 && tile_fired != 0)
      atomicAdd(batch_active, tile_fired);
  }
  if (fire_count) {
    __syncthreads();
    if (threadIdx.y == 0 && col < width) {
      int total = 0;
#pragma unroll
      for (int r = 0; r < kTileRows; ++r) total += col_count[r][threadIdx.x];
      if (total != 0) atomicAdd(&fire_count[col], total);
    }
  }
}

static __global__ void jumprelu_sparsity_loss_kernel(const std::int32_t* batch_active,
                                                     std::int64_t batch_rows,
                                                     const std::int32_t* k_target,
                                                     const float* lambda, float* loss) {
  *loss = jumprelu_loss_value(*batch_active, batch_rows, *k_target, *lambda);
}

// The sparsity term's slope c, 0 without one; read by the threads that finish a column.
static __device__ __forceinline__ double loss_slope(const std::int32_t* batch_active,
                                                    const std::int32_t* k_target,
                                                    const float* lambda, std::int64_t batch) {
  return lambda ? jumprelu_loss_slope(*batch_active, batch, *k_target, *lambda) : 0.0;
}

// Where the row splits leave their per-column sums: partial[split][col] for g and for da over the
// window, and the window counts, each region splits × width long.
struct BackwardPartials {
  float* g;
  float* da;
  int* count;
};

static __device__ __forceinline__ BackwardPartials backward_partials(float* scratch, int splits,
                                                                     std::int64_t width) {
  const std::int64_t region = static_cast<std::int64_t>(splits) * width;
  return {scratch, scratch + region, reinterpret_cast<int*>(scratch + 2 * region)};
}

// grid (col_blocks, splits), block (32, 8). With one split the CTA finishes its columns; otherwise
// it leaves their sums in the partials for jumprelu_backward_finish_kernel.
static __global__ void __launch_bounds__(kTileCols* kTileRows)
    jumprelu_backward_kernel(const float* __restrict__ z_pre, const float* __restrict__ bias,
                             const float* __restrict__ log_threshold, const float* __restrict__ da,
                             std::int64_t batch, std::int64_t width, std::int64_t rows_per_split,
                             float bandwidth, const std::int32_t* __restrict__ batch_active,
                             const std::int32_t* __restrict__ k_target,
                             const float* __restrict__ lambda, float* __restrict__ dz_pre,
                             float* __restrict__ db, float* __restrict__ dlog_threshold,
                             float* __restrict__ scratch) {
  __shared__ float g_tile[kTileRows][kTileCols + 1];
  __shared__ float da_tile[kTileRows][kTileCols + 1];
  __shared__ int count_tile[kTileRows][kTileCols + 1];
  const std::int64_t col = static_cast<std::int64_t>(blockIdx.x) * kTileCols + threadIdx.x;
  const std::int64_t row_begin = static_cast<std::int64_t>(blockIdx.y) * rows_per_split;
  const std::int64_t row_end = min(batch, row_begin + rows_per_split);
  const float half = 0.5f * bandwidth;

  float g_sum = 0.0f, da_sum = 0.0f, theta = 0.0f;
  int in_count = 0;
  if (col < width) {
    const float b = bias[col];
    theta = jumprelu_threshold(log_threshold[col]);
#pragma unroll 4
    for (std::int64_t row = row_begin + threadIdx.y; row < row_end; row += kTileRows) {
      const std::int64_t i = row * width + col;
      const float z = z_pre[i] + b;
      const float d = da[i];
      // z > θ is false for NaN z: no gradient, as sparse_backward's a > 0 mask gives L1.
      const float g = z > theta ? d : 0.0f;
      dz_pre[i] += g;
      g_sum += g;
      if (jumprelu_in_window(z, theta, half)) {
        da_sum += d;
        ++in_count;
      }
    }
  }
  g_tile[threadIdx.y][threadIdx.x] = g_sum;
  da_tile[threadIdx.y][threadIdx.x] = da_sum;
  count_tile[threadIdx.y][threadIdx.x] = in_count;
  __syncthreads();
  if (threadIdx.y != 0 || col >= width) return;
  float g_total = 0.0f, da_total = 0.0f;
  int count_total = 0;
#pragma unroll
  for (int r = 0; r < kTileRows; ++r) {
    g_total += g_tile[r][threadIdx.x];
    da_total += da_tile[r][threadIdx.x];
    count_total += count_tile[r][threadIdx.x];
  }
  if (gridDim.y == 1) {
    db[col] += g_total;
    dlog_threshold[col] +=
        jumprelu_dlog_threshold(theta, bandwidth, da_total, count_total,
                                loss_slope(batch_active, k_target, lambda, batch), batch);
    return;
  }
  const BackwardPartials p = backward_partials(scratch, static_cast<int>(gridDim.y), width);
  const std::int64_t at = static_cast<std::int64_t>(blockIdx.y) * width + col;
  p.g[at] = g_total;
  p.da[at] = da_total;
  p.count[at] = count_total;
}

// Per column: the splits' sums added in split order, then db and dlog_threshold as above.
static __global__ void jumprelu_backward_finish_kernel(
    float* __restrict__ scratch, int splits, std::int64_t batch, std::int64_t width,
    const float* __restrict__ log_threshold, float bandwidth,
    const std::int32_t* __restrict__ batch_active, const std::int32_t* __restrict__ k_target,
    const float* __restrict__ lambda, float* __restrict__ db, float* __restrict__ dlog_threshold) {
  const std::int64_t col = static_cast<std::int64_t>(blockIdx.x) * blockDim.x + threadIdx.x;
  if (col >= width) return;
  const BackwardPartials p = backward_partials(scratch, splits, width);
  float g_total = 0.0f, da_total = 0.0f;
  int count_total = 0;
  for (int s = 0; s < splits; ++s) {
    const std::int64_t at = static_cast<std::int64_t>(s) * width + col;
    g_total += p.g[at];
    da_total += p.da[at];
    count_total += p.count[at];
  }
  db[col] += g_total;
  dlog_threshold[col] += jumprelu_dlog_threshold(
      jumprelu_threshold(log_threshold[col]), bandwidth, da_total, count_total,
      loss_slope(batch_active, k_target, lambda, batch), batch);
}

void jumprelu_forward(const float* z_pre, const float* bias, const float* log_threshold,
                      std::int64_t batch, std::int64_t width, float* a, std::int32_t* fire_count,
                      std::int32_t* batch_active, float eps, cudaStream_t stream) {
  VSAE_CHECK(z_pre && bias && log_threshold && a, "jumprelu_forward: null tensor");
  VSAE_CHECK(batch >= 0 && width >= 1,
             "jumprelu_forward: bad size (" << batch << ", " << width << ")");
  VSAE_CHECK(eps >= 0.0f, "jumprelu_forward: eps must be >= 0, got " << eps);
  if (batch_active) CUDA_CHECK(cudaMemsetAsync(batch_active, 0, sizeof(std::int32_t), stream));
  if (batch == 0) return;
  const ColumnTiling t = column_tiling(batch, width);
  jumprelu_forward_kernel<<<t.grid(), t.block(), 0, stream>>>(
      z_pre, bias, log_threshold, batch, width, t.rows_per_split, a, fire_count, batch_active, eps);
  CUDA_CHECK_LAUNCH();
}

void jumprelu_sparsity_loss(const std::int32_t* batch_active, std::int64_t batch_rows,
                            const std::int32_t* k_target, const float* lambda, float* loss,
                            cudaStream_t stream) {
  VSAE_CHECK(batch_active && k_target && lambda && loss, "jumprelu_sparsity_loss: null tensor");
  VSAE_CHECK(batch_rows >= 1,
             "jumprelu_sparsity_loss: batch_rows must be >= 1, got " << batch_rows);
  jumprelu_sparsity_loss_kernel<<<1, 1, 0, stream>>>(batch_active, batch_rows, k_target, lambda,
                                                     loss);
  CUDA_CHECK_LAUNCH();
}

std::size_t jumprelu_backward_scratch_floats(std::int64_t batch, std::int64_t width) {
  if (batch <= 0 || width <= 0) return 0;
  const ColumnTiling t = column_tiling(batch, width);
  return t.splits > 1 ? 3 * static_cast<std::size_t>(t.splits) * static_cast<std::size_t>(width)
                      : 0;
}

void jumprelu_backward(const float* z_pre, const float* bias, const float* log_threshold,
                       const float* da, std::int64_t batch, std::int64_t width, float bandwidth,
                       const std::int32_t* batch_active, const std::int32_t* k_target,
                       const float* lambda, float* dz_pre, float* db, float* dlog_threshold,
                       float* scratch, cudaStream_t stream) {
  VSAE_CHECK(batch >= 0 && width >= 0,
             "jumprelu_backward: bad size (" << batch << ", " << width << ")");
  VSAE_CHECK(z_pre && bias && log_threshold && da && dz_pre && db && dlog_threshold,
             "jumprelu_backward: null tensor");
  VSAE_CHECK((batch_active && k_target && lambda) || (!batch_active && !k_target && !lambda),
             "jumprelu_backward: the sparsity term needs batch_active, k_target and lambda");
  VSAE_CHECK(bandwidth > 0.0f && std::isfinite(bandwidth),
             "jumprelu_backward: bandwidth must be finite and > 0, got " << bandwidth);
  if (batch == 0 || width == 0) return;
  const ColumnTiling t = column_tiling(batch, width);
  VSAE_CHECK(t.splits == 1 || scratch,
             "jumprelu_backward: needs scratch for " << t.splits << " row splits");
  jumprelu_backward_kernel<<<t.grid(), t.block(), 0, stream>>>(
      z_pre, bias, log_threshold, da, batch, width, t.rows_per_split, bandwidth, batch_active,
      k_target, lambda, dz_pre, db, dlog_threshold, scratch);
  CUDA_CHECK_LAUNCH();
  if (t.splits > 1) {
    const int threads = kElementwiseThreads;
    const auto blocks = static_cast<unsigned>((width + threads - 1) / threads);
    jumprelu_backward_finish_kernel<<<blocks, threads, 0, stream>>>(
        scratch, t.splits, batch, width, log_threshold, bandwidth, batch_active, k_target, lambda,
        db, dlog_threshold);
    CUDA_CHECK_LAUNCH();
  }
}

}  // namespace vsae::cuda_kernels
