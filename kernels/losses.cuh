// Launchers for the VAE-SAE loss terms. Forward kernels reduce to a device scalar in a fixed order
// (per-block partial sums in double, then one block sums them), so losses are bitwise reproducible.
#pragma once

#include <cuda_runtime.h>

#include <cstddef>
#include <cstdint>

namespace vsae::cuda_kernels {

// Bytes of scratch a forward loss over `count` elements needs.
std::size_t loss_scratch_bytes(std::int64_t count);

// Forward terms: inputs are (batch, ...) flattened to `count` elements; loss: (1) receives the sum
// over all elements divided by `batch`. scratch: loss_scratch_bytes(count) bytes on the device.
// Backward terms: `weight` is a device f32 scalar; gradients accumulate (+=), null ones are
// skipped.

// logits, target: (count). Σ max(l,0) − l·t + log(1 + e^{−|l|}).
void bce_logits_forward(const float* logits, const float* target, float* loss, std::int64_t count,
                        std::int64_t batch, void* scratch, cudaStream_t stream);
// dlogits += weight·(σ(l) − t)/batch
void bce_logits_backward(const float* logits, const float* target, const float* weight,
                         float* dlogits, std::int64_t count, std::int64_t batch,
                         cudaStream_t stream);

// mu, logvar: (count). Σ 0.5·(mu² + e^{logvar} − logvar − 1).
void kl_forward(const float* mu, const float* logvar, float* loss, std::int64_t count,
                std::int64_t batch, void* scratch, cudaStream_t stream);
// dmu += weight·mu/batch; dlogvar += weight·0.5·(e^{logvar} − 1)/batch
void kl_backward(const float* mu, const float* logvar, const float* weight, float* dmu,
                 float* dlogvar, std::int64_t count, std::int64_t batch, cudaStream_t stream);

// a, b: (count). Σ (a − b)².
void mse_forward(const float* a, const float* b, float* loss, std::int64_t count,
                 std::int64_t batch, void* scratch, cudaStream_t stream);
// da += weight·2(a − b)/batch; db −= weight·2(a − b)/batch
void mse_backward(const float* a, const float* b, const float* weight, float* da, float* db,
                  std::int64_t count, std::int64_t batch, cudaStream_t stream);

}  // namespace vsae::cuda_kernels
