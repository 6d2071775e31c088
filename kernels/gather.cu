// CUDA kernels that gather a shuffled batch of uint8 images into float, and bump device counters.
#include <math_constants.h>

#include <algorithm>

#include "engine/core/cuda_check.hpp"
#include "kernels/gather.cuh"

namespace vsae::cuda_kernels {

namespace {

constexpr int kThreads = 256;
// blockIdx.y walks the batch; larger batches loop over it.
constexpr std::int64_t kMaxBatchBlocks = 65535;
constexpr std::int64_t kMaxChunkBlocks = 1024;

// The source image of batch row `row`, or -1 when `order` names an image that does not exist.
__device__ __forceinline__ std::int64_t source_image(const std::int32_t* order, std::int64_t p,
                                                     const std::int32_t* cursor, std::int64_t m,
                                                     std::int64_t row) {
  std::int64_t pos = (static_cast<std::int64_t>(*cursor) + row) % p;
  if (pos < 0) pos += p;
  const std::int64_t index = order[pos];
  return index >= 0 && index < m ? index : -1;
}

__device__ __forceinline__ float4 bytes_to_float4(unsigned int word, float scale) {
  return make_float4(
      scale * static_cast<float>(word & 0xffu), scale * static_cast<float>((word >> 8) & 0xffu),
      scale * static_cast<float>((word >> 16) & 0xffu), scale * static_cast<float>(word >> 24));
}

dim3 gather_grid(std::int64_t chunks, std::int64_t b) {
  return dim3(static_cast<unsigned int>(
                  std::clamp<std::int64_t>((chunks + kThreads - 1) / kThreads, 1, kMaxChunkBlocks)),
              static_cast<unsigned int>(std::min(b, kMaxBatchBlocks)));
}

bool aligned16(const void* p) {
  return reinterpret_cast<std::uintptr_t>(p) % 16 == 0;
}

}  // namespace

// One 16-byte load of pixels becomes four float4 stores (memory order is little-endian).
static __global__ void gather_vec16_kernel(const std::uint8_t* images, std::int64_t m,
                                           std::int64_t d, const std::int32_t* order,
                                           std::int64_t p, const std::int32_t* cursor, float* out,
                                           std::int64_t b, float scale) {
  const std::int64_t chunks = d / 16;
  for (std::int64_t row = blockIdx.y; row < b; row += gridDim.y) {
    const std::int64_t index = source_image(order, p, cursor, m, row);
    const uint4* src = reinterpret_cast<const uint4*>(images + (index < 0 ? 0 : index) * d);
    float4* dst = reinterpret_cast<float4*>(out + row * d);
    for (std::int64_t k = blockIdx.x * static_cast<std::int64_t>(blockDim.x) + threadIdx.x;
         k < chunks; k += static_cast<std::int64_t>(gridDim.x) * blockDim.x) {
      if (index < 0) {
        const float4 nan4 = make_float4(CUDART_NAN_F, CUDART_NAN_F, CUDART_NAN_F, CUDART_NAN_F);
        for (int j = 0; j < 4; ++j) dst[4 * k + j] = nan4;
        continue;
      }
      const uint4 raw = src[k];
      dst[4 * k + 0] = bytes_to_float4(raw.x, scale);
      dst[4 * k + 1] = bytes_to_float4(raw.y, scale);
      dst[4 * k + 2] = bytes_to_float4(raw.z, scale);
      dst[4 * k + 3] = bytes_to_float4(raw.w, scale);
    }
  }
}

// Any image size or alignment: one pixel per thread.
static __global__ void gather_scalar_kernel(const std::uint8_t* images, std::int64_t m,
                                            std::int64_t d, const std::int32_t* order,
                                            std::int64_t p, const std::int32_t* cursor, float* out,
                                            std::int64_t b, float scale) {
  for (std::int64_t row = blockIdx.y; row < b; row += gridDim.y) {
    const std::int64_t index = source_image(order, p, cursor, m, row);
    for (std::int64_t k = blockIdx.x * static_cast<std::int64_t>(blockDim.x) + threadIdx.x; k < d;
         k += static_cast<std::int64_t>(gridDim.x) * blockDim.x)
      out[row * d + k] =
          index < 0 ? CUDART_NAN_F : scale * static_cast<float>(images[index * d + k]);
  }
}

static __global__ void advance_counter_kernel(std::int32_t* counter, int delta) {
  *counter += delta;
}

void gather_batch(const std::uint8_t* images, std::int64_t m, std::int64_t d,
                  const std::int32_t* order, std::int64_t p, const std::int32_t* cursor, float* out,
                  std::int64_t b, float scale, cudaStream_t stream) {
  VSAE_CHECK(images && order && cursor && out, "gather_batch: null pointer");
  VSAE_CHECK(m > 0 && d >= 0 && p > 0 && b >= 0,
             "gather_batch: bad sizes M=" << m << " D=" << d << " P=" << p << " B=" << b);
  if (b == 0 || d == 0) return;
  const bool vectorised = d % 16 == 0 && aligned16(images) && aligned16(out);
  if (vectorised) {
    gather_vec16_kernel<<<gather_grid(d / 16, b), kThreads, 0, stream>>>(images, m, d, order, p,
                                                                         cursor, out, b, scale);
  } else {
    gather_scalar_kernel<<<gather_grid(d, b), kThreads, 0, stream>>>(images, m, d, order, p, cursor,
                                                                     out, b, scale);
  }
  CUDA_CHECK_LAUNCH();
}

void advance_counter(std::int32_t* counter, int delta, cudaStream_t stream) {
  VSAE_CHECK(counter != nullptr, "advance_counter: null pointer");
  advance_counter_kernel<<<1, 1, 0, stream>>>(counter, delta);
  CUDA_CHECK_LAUNCH();
}

}  // namespace vsae::cuda_kernels
