// Launchers for batch assembly from the resident uint8 dataset and for device-side counters.
#pragma once

#include <cuda_runtime.h>

#include <cstdint>

namespace vsae::cuda_kernels {

// images: (M, D) u8, D = C·H·W; order: (P) i32; cursor: (1) i32 on the device; out: (B, D) f32.
// out[b] = scale · images[order[(cursor + b) mod P]]. 16-byte loads when D is a multiple of 16 and
// the buffers are aligned. An index outside [0, M) reads nothing: that image is filled with NaN so
// the loss shows it (the kernel cannot raise an error without a host sync).
void gather_batch(const std::uint8_t* images, std::int64_t m, std::int64_t d,
                  const std::int32_t* order, std::int64_t p, const std::int32_t* cursor, float* out,
                  std::int64_t b, float scale, cudaStream_t stream);

// counter: (1) i32 on the device; counter += delta.
void advance_counter(std::int32_t* counter, int delta, cudaStream_t stream);

}  // namespace vsae::cuda_kernels
