// Launch geometry shared by the hand-written kernels. Column tiling serves the column-reducing
// kernels (sparsifier forward/backward, firing statistics, MIG ranges): a CTA owns 32 columns of a
// row range, so per-column results are reduced on chip and leave the CTA once, in an order fixed
// by the sizes alone.
#pragma once

#include <cuda_runtime.h>

#include <algorithm>
#include <cstddef>
#include <cstdint>

#include "engine/core/check.hpp"
#include "engine/core/cuda_check.hpp"

namespace vsae::cuda_kernels {

// Grid-stride elementwise kernels: 256-thread blocks, enough of them to cover `count` once, capped
// so huge tensors loop instead of launching millions of short-lived blocks.
constexpr int kElementwiseThreads = 256;
inline unsigned int elementwise_blocks(std::int64_t count) {
  constexpr std::int64_t kMaxBlocks = 4096;
  return static_cast<unsigned int>(
      std::clamp<std::int64_t>((count + kElementwiseThreads - 1) / kElementwiseThreads, 1, kMaxBlocks));
}

constexpr int kTileCols = 32;  // one warp across the columns: coalesced 128-byte row segments
constexpr int kTileRows = 8;   // warps per CTA, each walking its own rows

struct ColumnTiling {
  int col_blocks = 1;
  int splits = 1;  // row ranges, gridDim.y
  std::int64_t rows_per_split = 0;
  dim3 grid() const {
    return dim3(static_cast<unsigned>(col_blocks), static_cast<unsigned>(splits));
  }
  dim3 block() const { return dim3(kTileCols, kTileRows); }
};

inline int current_sm_count() {
  int device = 0, sms = 0;
  CUDA_CHECK(cudaGetDevice(&device));
  CUDA_CHECK(cudaDeviceGetAttribute(&sms, cudaDevAttrMultiProcessorCount, device));
  return sms;
}

// Enough CTAs to keep every SM streaming (8 resident CTAs of 256 threads each), but at least
// `min_rows` rows per split so per-CTA reductions stay cheap next to the rows they cover.
inline ColumnTiling column_tiling(std::int64_t rows, std::int64_t cols,
                                  std::int64_t min_rows = 64) {
  ColumnTiling t;
  t.col_blocks = static_cast<int>((cols + kTileCols - 1) / kTileCols);
  const std::int64_t target_ctas = 8 * static_cast<std::int64_t>(current_sm_count());
  const std::int64_t want = std::max<std::int64_t>(1, target_ctas / t.col_blocks);
  const std::int64_t most = std::max<std::int64_t>(1, (rows + min_rows - 1) / min_rows);
  std::int64_t splits = std::min({want, most, std::int64_t{65535}});
  t.rows_per_split = std::max<std::int64_t>(1, (rows + splits - 1) / splits);
  t.splits =
      static_cast<int>(std::max<std::int64_t>(1, (rows + t.rows_per_split - 1) / t.rows_per_split));
  return t;
}

// Lets `kernel` launch with `bytes` of dynamic shared memory. Past the 48 KiB that static and
// dynamic shared memory may use together by default, it opts in up to the device's limit, or
// throws naming `what`.
template <class Kernel>
void allow_dynamic_smem(Kernel* kernel, std::size_t bytes, const char* what) {
  cudaFuncAttributes attributes{};
  CUDA_CHECK(cudaFuncGetAttributes(&attributes, kernel));
  const std::size_t total = bytes + attributes.sharedSizeBytes;
  if (total <= 48 * 1024) return;
  int device = 0, optin = 0;
  CUDA_CHECK(cudaGetDevice(&device));
  CUDA_CHECK(cudaDeviceGetAttribute(&optin, cudaDevAttrMaxSharedMemoryPerBlockOptin, device));
  VSAE_CHECK(
      total <= static_cast<std::size_t>(optin),
      what << " needs " << total << " bytes of shared memory per CTA, the GPU allows " << optin);
  CUDA_CHECK(cudaFuncSetAttribute(kernel, cudaFuncAttributeMaxDynamicSharedMemorySize,
                                  static_cast<int>(bytes)));
}

}  // namespace vsae::cuda_kernels
