// CUDA MIG statistics: column-tiled per-latent ranges, then joint histograms where each CTA owns a
// group of latents over a row range, counts in shared memory and merges once into global memory.
#include <algorithm>

#include "engine/core/check.hpp"
#include "kernels/launch_geometry.cuh"
#include "kernels/mig.cuh"
#include "kernels/ordered_key.hpp"

namespace vsae::cuda_kernels {

namespace {

constexpr int kHistThreads = 512;
// Shared memory per histogram CTA: two CTAs still fit an SM on A100 and H100.
constexpr std::size_t kHistSmemBudget = 96 * 1024;

struct ClassOffsets {
  std::int32_t offset[kMigMaxFactors + 1];
};

// The histogram bin of x as np.digitize(x, edges[:-1]) − 1 for increasing edges with
// edges[0] <= x: the largest b < bins with edges[b] <= x. The linear guess is exact or one off;
// the two walks make the result depend on the double edges alone.
__device__ __forceinline__ int digitize_bin(double x, const double* edges, int bins,
                                            double inv_width) {
  int b = static_cast<int>((x - edges[0]) * inv_width);
  b = min(max(b, 0), bins - 1);
  while (b + 1 < bins && edges[b + 1] <= x) ++b;
  while (b > 0 && edges[b] > x) --b;
  return b;
}

}  // namespace

// grid (col_blocks, splits), block (32, 8).
static __global__ void __launch_bounds__(kTileCols* kTileRows)
    latent_ranges_kernel(const float* __restrict__ codes, std::int64_t rows, std::int64_t latents,
                         std::int64_t rows_per_split, std::uint32_t* __restrict__ key_lo,
                         std::uint32_t* __restrict__ key_hi, std::int32_t* __restrict__ nonfinite) {
  __shared__ std::uint32_t lo_keys[kTileRows][kTileCols + 1];
  __shared__ std::uint32_t hi_keys[kTileRows][kTileCols + 1];
  const std::int64_t col = static_cast<std::int64_t>(blockIdx.x) * kTileCols + threadIdx.x;
  const std::int64_t row_begin = static_cast<std::int64_t>(blockIdx.y) * rows_per_split;
  const std::int64_t row_end = min(rows, row_begin + rows_per_split);
  std::uint32_t lo = 0xFFFFFFFFu, hi = 0u;
  bool bad = false;
  if (col < latents) {
#pragma unroll 4
    for (std::int64_t row = row_begin + threadIdx.y; row < row_end; row += kTileRows) {
      const float v = codes[row * latents + col];
      bad |= !isfinite(v);
      const std::uint32_t k = ordered_key(v);
      lo = min(lo, k);
      hi = max(hi, k);
    }
  }
  lo_keys[threadIdx.y][threadIdx.x] = lo;
  hi_keys[threadIdx.y][threadIdx.x] = hi;
  // __syncthreads_or is also the barrier that publishes the tiles.
  if (__syncthreads_or(bad) && threadIdx.x == 0 && threadIdx.y == 0) atomicExch(nonfinite, 1);
  if (threadIdx.y != 0 || col >= latents) return;
#pragma unroll
  for (int r = 1; r < kTileRows; ++r) {
    lo = min(lo, lo_keys[r][threadIdx.x]);
    hi = max(hi, hi_keys[r][threadIdx.x]);
  }
  atomicMin(&key_lo[col], lo);
  atomicMax(&key_hi[col], hi);
}

// grid (ceil(L / group), splits), block kHistThreads. Dynamic shared memory, in order:
// edges (group, bins + 1) and inverse bin widths (group) as doubles, then the group's histograms
// (group, bins, S) as ints. Consecutive threads take consecutive latents of one row, so code loads
// coalesce and the row's factor classes are shared through L1.
static __global__ void __launch_bounds__(kHistThreads)
    mig_histogram_kernel(const float* __restrict__ codes, const std::int32_t* __restrict__ factors,
                         std::int64_t rows, int latents, int num_factors, ClassOffsets classes,
                         const double* __restrict__ edges, int bins, int group,
                         std::int64_t rows_per_split, std::int32_t* __restrict__ hist,
                         std::int32_t* __restrict__ bad_class) {
  extern __shared__ double smem_edges[];
  const int total_classes = classes.offset[num_factors];
  const int first = blockIdx.x * group;
  const int count = min(group, latents - first);
  double* inv_width = smem_edges + group * (bins + 1);
  int* local = reinterpret_cast<int*>(inv_width + group);
  const int cells = count * bins * total_classes;

  for (int i = threadIdx.x; i < count * (bins + 1); i += kHistThreads)
    smem_edges[i] = edges[static_cast<std::int64_t>(first) * (bins + 1) + i];
  for (int i = threadIdx.x; i < cells; i += kHistThreads) local[i] = 0;
  __syncthreads();
  for (int g = threadIdx.x; g < count; g += kHistThreads) {
    const double* e = smem_edges + g * (bins + 1);
    inv_width[g] = bins / (e[bins] - e[0]);
  }
  __syncthreads();

  const std::int64_t row_begin = static_cast<std::int64_t>(blockIdx.y) * rows_per_split;
  const std::int64_t row_end = min(rows, row_begin + rows_per_split);
  // rows_per_split · group <= 2^30 (set at launch), so the item index fits 32 bits.
  const int items = static_cast<int>((row_end - row_begin) * count);
  bool bad = false;
  for (int it = threadIdx.x; it < items; it += kHistThreads) {
    const std::int64_t row = row_begin + it / count;
    const int g = it % count;
    const double x = codes[row * latents + first + g];
    const int b = digitize_bin(x, smem_edges + g * (bins + 1), bins, inv_width[g]);
    int* cell = local + (g * bins + b) * total_classes;
    const std::int32_t* y = factors + row * num_factors;
    for (int f = 0; f < num_factors; ++f) {
      const int c = __ldg(y + f);
      const int lo = classes.offset[f], n = classes.offset[f + 1] - lo;
      if (static_cast<unsigned>(c) < static_cast<unsigned>(n))
        atomicAdd(&cell[lo + c], 1);
      else
        bad = true;
    }
  }
  if (__syncthreads_or(bad) && threadIdx.x == 0) atomicExch(bad_class, 1);
  std::int32_t* out = hist + static_cast<std::int64_t>(first) * bins * total_classes;
  for (int i = threadIdx.x; i < cells; i += kHistThreads)
    if (local[i] != 0) atomicAdd(&out[i], local[i]);
}

void latent_ranges(const float* codes, std::int64_t rows, std::int64_t latents,
                   std::uint32_t* key_lo, std::uint32_t* key_hi, std::int32_t* nonfinite,
                   cudaStream_t stream) {
  VSAE_CHECK(codes && key_lo && key_hi && nonfinite, "latent_ranges: null tensor");
  VSAE_CHECK(rows >= 1 && latents >= 1,
             "latent_ranges: bad size (" << rows << ", " << latents << ")");
  CUDA_CHECK(cudaMemsetAsync(key_lo, 0xFF,
                             static_cast<std::size_t>(latents) * sizeof(std::uint32_t), stream));
  CUDA_CHECK(cudaMemsetAsync(key_hi, 0, static_cast<std::size_t>(latents) * sizeof(std::uint32_t),
                             stream));
  CUDA_CHECK(cudaMemsetAsync(nonfinite, 0, sizeof(std::int32_t), stream));
  const ColumnTiling t = column_tiling(rows, latents);
  latent_ranges_kernel<<<t.grid(), t.block(), 0, stream>>>(codes, rows, latents, t.rows_per_split,
                                                           key_lo, key_hi, nonfinite);
  CUDA_CHECK_LAUNCH();
}

void mig_histograms(const float* codes, const std::int32_t* factors, std::int64_t rows,
                    std::int64_t latents, int num_factors, const std::int32_t* class_offset,
                    const double* edges, int bins, std::int32_t* hist, std::int32_t* bad_class,
                    cudaStream_t stream) {
  VSAE_CHECK(codes && factors && class_offset && edges && hist && bad_class,
             "mig_histograms: null tensor");
  VSAE_CHECK(rows >= 1 && latents >= 1 && latents < (1 << 24),
             "mig_histograms: bad size (" << rows << ", " << latents << ")");
  VSAE_CHECK(num_factors >= 1 && num_factors <= kMigMaxFactors,
             "mig_histograms: " << num_factors << " factors, expected 1.." << kMigMaxFactors);
  VSAE_CHECK(bins >= 1, "mig_histograms: bins must be >= 1, got " << bins);
  ClassOffsets classes{};
  for (int f = 0; f <= num_factors; ++f) {
    classes.offset[f] = class_offset[f];
    VSAE_CHECK(f == 0 ? class_offset[0] == 0 : class_offset[f] > class_offset[f - 1],
               "mig_histograms: class offsets must start at 0 and increase");
  }
  const std::int64_t total_classes = class_offset[num_factors];

  int device = 0, optin = 0;
  CUDA_CHECK(cudaGetDevice(&device));
  CUDA_CHECK(cudaDeviceGetAttribute(&optin, cudaDevAttrMaxSharedMemoryPerBlockOptin, device));
  const std::size_t per_latent = static_cast<std::size_t>(bins) *
                                     static_cast<std::size_t>(total_classes) *
                                     sizeof(std::int32_t) +
                                 static_cast<std::size_t>(bins + 2) * sizeof(double);
  const std::size_t budget =
      std::min<std::size_t>(kHistSmemBudget, static_cast<std::size_t>(optin));
  VSAE_CHECK(per_latent <= static_cast<std::size_t>(optin),
             "mig_histograms: " << bins << " bins x " << total_classes << " classes need "
                                << per_latent
                                << " bytes of shared memory per latent, the GPU allows " << optin);
  const int group = static_cast<int>(std::clamp<std::int64_t>(
      static_cast<std::int64_t>(std::max<std::size_t>(1, budget / per_latent)), 1, latents));
  const std::size_t smem = per_latent * static_cast<std::size_t>(group);
  const std::int64_t groups = (latents + group - 1) / group;

  // About four CTAs per SM in total, each with at least 256 rows so the merge stays cheap, and few
  // enough rows that a CTA's item index (and its stride past the end) fits an int.
  const std::int64_t target = 4 * static_cast<std::int64_t>(current_sm_count());
  std::int64_t splits = std::clamp<std::int64_t>(target / groups, 1, (rows + 255) / 256);
  std::int64_t rows_per_split = (rows + splits - 1) / splits;
  rows_per_split = std::min<std::int64_t>(rows_per_split, (std::int64_t{1} << 30) / group);
  splits = (rows + rows_per_split - 1) / rows_per_split;
  VSAE_CHECK(splits <= 65535, "mig_histograms: " << rows << " rows need too many row splits");

  CUDA_CHECK(cudaMemsetAsync(
      hist, 0, static_cast<std::size_t>(latents) * bins * total_classes * sizeof(std::int32_t),
      stream));
  CUDA_CHECK(cudaMemsetAsync(bad_class, 0, sizeof(std::int32_t), stream));
  allow_dynamic_smem(mig_histogram_kernel, smem, "mig_histograms");
  const dim3 grid(static_cast<unsigned>(groups), static_cast<unsigned>(splits));
  mig_histogram_kernel<<<grid, kHistThreads, smem, stream>>>(
      codes, factors, rows, static_cast<int>(latents), num_factors, classes, edges, bins, group,
      rows_per_split, hist, bad_class);
  CUDA_CHECK_LAUNCH();
}

}  // namespace vsae::cuda_kernels
