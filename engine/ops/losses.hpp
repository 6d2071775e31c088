// The VAE-SAE loss terms. Each is summed over one example and averaged over the batch (N = dim 0),
// written to a device scalar so a step never syncs with the host.
// Backward ops take the term's weight as a device scalar (β, γ, λ can change without re-capture)
// and ACCUMULATE into the input gradients.
#pragma once

#include "engine/core/backend.hpp"

namespace vsae {

// recon = mean_n Σ_pixels [max(l,0) − l·t + log(1 + e^{−|l|})]; logits, target: (N, ...); loss: (1)
void bce_logits_forward(Backend& be, const Tensor& logits, const Tensor& target, const Tensor& loss);
// dlogits += weight · (σ(l) − t) / N
void bce_logits_backward(Backend& be, const Tensor& logits, const Tensor& target, const Tensor& weight,
                         const Tensor& dlogits);

// kl = mean_n Σ_j 0.5·(mu² + e^{logvar} − logvar − 1); mu, logvar: (N, L); loss: (1)
void kl_forward(Backend& be, const Tensor& mu, const Tensor& logvar, const Tensor& loss);
// dmu += weight·mu/N; dlogvar += weight·0.5·(e^{logvar} − 1)/N
void kl_backward(Backend& be, const Tensor& mu, const Tensor& logvar, const Tensor& weight,
                 const Tensor& dmu, const Tensor& dlogvar);

// sae = mean_n Σ (a − b)²; a, b: (N, ...); loss: (1)
void mse_forward(Backend& be, const Tensor& a, const Tensor& b, const Tensor& loss);
// da += weight·2(a − b)/N; db −= weight·2(a − b)/N (either may be undefined)
void mse_backward(Backend& be, const Tensor& a, const Tensor& b, const Tensor& weight, const Tensor& da,
                  const Tensor& db);

// Reserves the CUDA scratch a forward loss over inputs of `shape` needs; call at plan time, before
// graph capture (no-op on the CPU).
void loss_prepare(Backend& be, const Shape& shape);

}  // namespace vsae
