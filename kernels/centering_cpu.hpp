// CPU twin of kernels/centering.cuh: the readable reference for the SAE's pre-encoder bias.
#pragma once

#include <cstdint>

namespace vsae::cpu_kernels {

// x, y: (B, D); b: (D). y = x − b[d]. y may alias x.
void centering_forward(const float* x, const float* b, float* y, std::int64_t batch,
                       std::int64_t dim);

// dy, dx: (B, D); db: (D). dx may be null (skipped). dx += dy; db −= Σ_rows dy, each column summed
// in double in row order, whatever the thread count.
void centering_backward(const float* dy, float* dx, float* db, std::int64_t batch,
                        std::int64_t dim);

}  // namespace vsae::cpu_kernels
