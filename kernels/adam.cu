// CUDA kernel for the fused Adam update: float4 over the aligned bulk, scalar over the tail.
#include <algorithm>
#include <cstdint>

#include "engine/core/cuda_check.hpp"
#include "kernels/adam.cuh"
#include "kernels/launch_geometry.cuh"

namespace vsae::cuda_kernels {

namespace {

constexpr int kThreads = kElementwiseThreads;

// Per-step constants. Like PyTorch, the bias corrections are computed in double and enter the
// float update as a step size and a divisor.
struct AdamCoefficients {
  float beta1, beta2, eps, step_size, bias2_sqrt;
};

__device__ AdamCoefficients coefficients(const AdamHyper& h, std::int32_t step) {
  const double bias1 = 1.0 - pow(static_cast<double>(h.beta1), static_cast<double>(step));
  const double bias2 = 1.0 - pow(static_cast<double>(h.beta2), static_cast<double>(step));
  return AdamCoefficients{h.beta1, h.beta2, h.eps,
                          static_cast<float>(static_cast<double>(h.lr) / bias1),
                          static_cast<float>(sqrt(bias2))};
}

__device__ __forceinline__ void adam_update(float& p, float g, float& m, float& v,
                                            const AdamCoefficients& c) {
  m += (1.0f - c.beta1) * (g - m);  // PyTorch's lerp form of beta1·m + (1 − beta1)·g
  v = c.beta2 * v + (1.0f - c.beta2) * g * g;
  const float denom = sqrtf(v) / c.bias2_sqrt + c.eps;
  p -= c.step_size * (m / denom);
}

bool aligned16(const void* p) {
  return reinterpret_cast<std::uintptr_t>(p) % 16 == 0;
}

}  // namespace

// Elements [0, 4·quads) go through float4 loads; [4·quads, count) one float at a time.
static __global__ void adam_kernel(float* params, const float* grads, float* m, float* v,
                                   const std::int32_t* step, std::int64_t count, std::int64_t quads,
                                   AdamHyper hyper) {
  const AdamCoefficients c = coefficients(hyper, *step);
  const std::int64_t first = blockIdx.x * static_cast<std::int64_t>(blockDim.x) + threadIdx.x;
  const std::int64_t stride = static_cast<std::int64_t>(gridDim.x) * blockDim.x;
  for (std::int64_t q = first; q < quads; q += stride) {
    float4 p4 = reinterpret_cast<float4*>(params)[q];
    const float4 g4 = reinterpret_cast<const float4*>(grads)[q];
    float4 m4 = reinterpret_cast<float4*>(m)[q];
    float4 v4 = reinterpret_cast<float4*>(v)[q];
    adam_update(p4.x, g4.x, m4.x, v4.x, c);
    adam_update(p4.y, g4.y, m4.y, v4.y, c);
    adam_update(p4.z, g4.z, m4.z, v4.z, c);
    adam_update(p4.w, g4.w, m4.w, v4.w, c);
    reinterpret_cast<float4*>(params)[q] = p4;
    reinterpret_cast<float4*>(m)[q] = m4;
    reinterpret_cast<float4*>(v)[q] = v4;
  }
  for (std::int64_t i = 4 * quads + first; i < count; i += stride)
    adam_update(params[i], grads[i], m[i], v[i], c);
}

void adam_step(float* params, const float* grads, float* m, float* v, const std::int32_t* step,
               std::int64_t count, const AdamHyper& hyper, cudaStream_t stream) {
  VSAE_CHECK(params && grads && m && v && step, "adam_step: null pointer");
  VSAE_CHECK(count >= 0, "adam_step: bad size " << count);
  if (count == 0) return;
  const bool vectorised = aligned16(params) && aligned16(grads) && aligned16(m) && aligned16(v);
  const std::int64_t quads = vectorised ? count / 4 : 0;
  const std::int64_t work = std::max<std::int64_t>(quads, count - 4 * quads);
  adam_kernel<<<elementwise_blocks(work), kThreads, 0, stream>>>(params, grads, m, v, step, count, quads, hyper);
  CUDA_CHECK_LAUNCH();
}

}  // namespace vsae::cuda_kernels
