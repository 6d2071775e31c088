// CPU twin of kernels/losses.cuh: the loss terms, reduced in double in a thread-count-independent
// order, and their accumulating gradients.
#pragma once

#include <cstdint>

namespace vsae::cpu_kernels {

// Forward terms: inputs flattened to `count` elements; *loss = (Σ over elements) / batch.
// Backward terms: *weight is the term's weight; gradients accumulate (+=), null ones are skipped.

// Σ max(l,0) − l·t + log(1 + e^{−|l|})
void bce_logits_forward(const float* logits, const float* target, float* loss, std::int64_t count,
                        std::int64_t batch);
// dlogits += weight·(σ(l) − t)/batch
void bce_logits_backward(const float* logits, const float* target, const float* weight,
                         float* dlogits, std::int64_t count, std::int64_t batch);

// Σ 0.5·(mu² + e^{logvar} − logvar − 1)
void kl_forward(const float* mu, const float* logvar, float* loss, std::int64_t count,
                std::int64_t batch);
// dmu += weight·mu/batch; dlogvar += weight·0.5·(e^{logvar} − 1)/batch
void kl_backward(const float* mu, const float* logvar, const float* weight, float* dmu,
                 float* dlogvar, std::int64_t count, std::int64_t batch);

// Σ (a − b)²
void mse_forward(const float* a, const float* b, float* loss, std::int64_t count,
                 std::int64_t batch);
// da += weight·2(a − b)/batch; db −= weight·2(a − b)/batch
void mse_backward(const float* a, const float* b, const float* weight, float* da, float* db,
                  std::int64_t count, std::int64_t batch);

}  // namespace vsae::cpu_kernels
