// CUDA activation statistics: column-tiled so each CTA reduces its counts and maxima on chip and
// touches global memory once per column (integer and order-free atomics, hence deterministic).
#include "engine/core/check.hpp"
#include "kernels/firing.cuh"
#include "kernels/launch_geometry.cuh"

namespace vsae::cuda_kernels {

namespace {

struct Thresholds {
  float eps[kFiringMaxThresholds];
};

// Float max through integer atomics: non-negative floats order like their bits as signed ints,
// negative ones inversely to their bits as unsigned ints. −0 becomes +0, whose bits are not the
// most negative int.
__device__ __forceinline__ void atomic_max_float(float* address, float value) {
  if (value >= 0.0f)
    atomicMax(reinterpret_cast<int*>(address), __float_as_int(value + 0.0f));
  else
    atomicMin(reinterpret_cast<unsigned*>(address), __float_as_uint(value));
}

}  // namespace

// grid (col_blocks, splits), block (32, 8).
static __global__ void __launch_bounds__(kTileCols* kTileRows)
    firing_stats_kernel(const float* __restrict__ a, std::int64_t rows, std::int64_t width,
                        std::int64_t rows_per_split, Thresholds thresholds, int num_eps,
                        std::int32_t* __restrict__ counts, float* __restrict__ max_act) {
  __shared__ int col_count[kFiringMaxThresholds][kTileRows][kTileCols + 1];
  __shared__ float col_max[kTileRows][kTileCols + 1];
  const std::int64_t col = static_cast<std::int64_t>(blockIdx.x) * kTileCols + threadIdx.x;
  const std::int64_t row_begin = static_cast<std::int64_t>(blockIdx.y) * rows_per_split;
  const std::int64_t row_end = min(rows, row_begin + rows_per_split);

  int fired[kFiringMaxThresholds] = {0, 0, 0, 0};
  float best = -INFINITY;
  if (col < width) {
#pragma unroll 4
    for (std::int64_t row = row_begin + threadIdx.y; row < row_end; row += kTileRows) {
      const float v = a[row * width + col];
#pragma unroll
      for (int e = 0; e < kFiringMaxThresholds; ++e) fired[e] += v > thresholds.eps[e];
      best = fmaxf(best, v);  // fmaxf drops NaN
    }
  }
#pragma unroll
  for (int e = 0; e < kFiringMaxThresholds; ++e) col_count[e][threadIdx.y][threadIdx.x] = fired[e];
  col_max[threadIdx.y][threadIdx.x] = best;
  __syncthreads();
  if (threadIdx.y != 0 || col >= width) return;
  for (int e = 0; e < num_eps; ++e) {
    int total = 0;
#pragma unroll
    for (int r = 0; r < kTileRows; ++r) total += col_count[e][r][threadIdx.x];
    if (total != 0) atomicAdd(&counts[e * width + col], total);
  }
  if (max_act) {
#pragma unroll
    for (int r = 1; r < kTileRows; ++r) best = fmaxf(best, col_max[r][threadIdx.x]);
    if (best > -INFINITY) atomic_max_float(&max_act[col], best);
  }
}

void firing_stats(const float* a, std::int64_t rows, std::int64_t width, const float* eps,
                  int num_eps, std::int32_t* counts, float* max_act, cudaStream_t stream) {
  VSAE_CHECK(a && eps && counts, "firing_stats: null tensor");
  VSAE_CHECK(rows >= 0 && width >= 1, "firing_stats: bad size (" << rows << ", " << width << ")");
  VSAE_CHECK(num_eps >= 1 && num_eps <= kFiringMaxThresholds,
             "firing_stats: " << num_eps << " thresholds, expected 1.." << kFiringMaxThresholds);
  if (rows == 0) return;
  // Unused threshold slots are +Inf so they count nothing; only num_eps of them are written.
  Thresholds thresholds{{INFINITY, INFINITY, INFINITY, INFINITY}};
  for (int e = 0; e < num_eps; ++e) thresholds.eps[e] = eps[e];
  const ColumnTiling t = column_tiling(rows, width);
  firing_stats_kernel<<<t.grid(), t.block(), 0, stream>>>(a, rows, width, t.rows_per_split,
                                                          thresholds, num_eps, counts, max_act);
  CUDA_CHECK_LAUNCH();
}

}  // namespace vsae::cuda_kernels
