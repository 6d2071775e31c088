// CPU twin of kernels/gather.cuh: batch assembly from the uint8 dataset and counters.
#pragma once

#include <cstdint>

namespace vsae::cpu_kernels {

// images: (M, D) u8; order: (P) i32; *cursor: the batch's first position in order; out: (B, D) f32.
// out[b] = scale · images[order[(cursor + b) mod P]]; an index outside [0, M) gives a NaN image,
// as on CUDA.
void gather_batch(const std::uint8_t* images, std::int64_t m, std::int64_t d,
                  const std::int32_t* order, std::int64_t p, const std::int32_t* cursor, float* out,
                  std::int64_t b, float scale);

// *counter += delta
void advance_counter(std::int32_t* counter, int delta);

}  // namespace vsae::cpu_kernels
