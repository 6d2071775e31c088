// Launchers for the SAE's pre-encoder bias, y = x − b[d], and its backward pass with a
// deterministic, column-tiled bias reduction (kernels/launch_geometry.cuh).
#pragma once

#include <cuda_runtime.h>

#include <cstddef>
#include <cstdint>

namespace vsae::cuda_kernels {

// x, y: (B, D); b: (D). y = x − b[d]. y may alias x.
void centering_forward(const float* x, const float* b, float* y, std::int64_t batch,
                       std::int64_t dim, cudaStream_t stream);

// Floats of scratch that centering_backward needs for (B, D) (0 when it needs none).
std::size_t centering_backward_scratch_floats(std::int64_t batch, std::int64_t dim);

// dy, dx: (B, D); db: (D). dx may be null (skipped). dx += dy; db −= Σ_rows dy, summed in float
// in an order fixed by (B, D) alone, so results are bitwise reproducible.
// scratch: centering_backward_scratch_floats(B, D) floats on the device.
void centering_backward(const float* dy, float* dx, float* db, float* scratch, std::int64_t batch,
                        std::int64_t dim, cudaStream_t stream);

}  // namespace vsae::cuda_kernels
