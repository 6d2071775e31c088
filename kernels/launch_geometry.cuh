// Launch geometry shared by the hand-written kernels. Column tiling serves the column-reducing
// kernels (sparsifier forward/backward, firing statistics, MIG ranges): a CTA owns 32 columns of a
// row range, so per-column results are reduced on chip and leave the CTA once, in an order fixed
// by the sizes alone (kernels/column_split.hpp), whatever the GPU.
#pragma once

#include <cuda_runtime.h>

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <map>
#include <mutex>
#include <utility>

#include "engine/core/check.hpp"
#include "engine/core/cuda_check.hpp"
#include "kernels/column_split.hpp"

namespace vsae::cuda_kernels {

// Grid-stride elementwise kernels: 256-thread blocks, enough of them to cover `count` once, capped
// so huge tensors loop instead of launching millions of short-lived blocks.
constexpr int kElementwiseThreads = 256;
inline unsigned int elementwise_blocks(std::int64_t count) {
  constexpr std::int64_t kMaxBlocks = 4096;
  return static_cast<unsigned int>(
      std::clamp<std::int64_t>((count + kElementwiseThreads - 1) / kElementwiseThreads, 1, kMaxBlocks));
}

struct ColumnTiling : ColumnSplit {
  dim3 grid() const {
    return dim3(static_cast<unsigned>(col_blocks), static_cast<unsigned>(splits));
  }
  dim3 block() const { return dim3(kTileCols, kTileRows); }
};

inline ColumnTiling column_tiling(std::int64_t rows, std::int64_t cols,
                                  std::int64_t min_rows = 64) {
  return ColumnTiling{column_split(rows, cols, min_rows)};
}

inline int current_sm_count() {
  int device = 0, sms = 0;
  CUDA_CHECK(cudaGetDevice(&device));
  CUDA_CHECK(cudaDeviceGetAttribute(&sms, cudaDevAttrMultiProcessorCount, device));
  return sms;
}

namespace detail {
// The dynamic shared memory each kernel has been opened up to, per device.
struct SmemLimits {
  std::mutex mutex;
  std::map<std::pair<int, const void*>, std::size_t> bytes;
};
inline SmemLimits& smem_limits() {
  static SmemLimits limits;
  return limits;
}
}  // namespace detail

// Lets `kernel` launch with `bytes` of dynamic shared memory. Past the 48 KiB that static and
// dynamic shared memory may use together by default, it opts in up to the device's limit, or
// throws naming `what`. The limit only ever rises: a captured graph node launched with more keeps
// relying on it after a smaller eager launch of the same kernel (AuxK Top-k after the main one).
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
  detail::SmemLimits& limits = detail::smem_limits();
  std::lock_guard<std::mutex> lock(limits.mutex);
  std::size_t& allowed = limits.bytes[{device, reinterpret_cast<const void*>(kernel)}];
  if (bytes <= allowed) return;
  CUDA_CHECK(cudaFuncSetAttribute(kernel, cudaFuncAttributeMaxDynamicSharedMemorySize,
                                  static_cast<int>(bytes)));
  allowed = bytes;
}

}  // namespace vsae::cuda_kernels
