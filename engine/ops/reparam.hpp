// Reparameterisation zlat = mu + exp(0.5·logvar) ⊙ eps, with eps from the shared Philox generator,
// so both backends draw bit-identical noise for the same (seed, step).
#pragma once

#include <cstdint>

#include "engine/core/backend.hpp"

namespace vsae {

// eps[i] = philox_normal(seed, RngStream::reparam_noise, i, *step). step: i32 (1), read on the
// device so a captured graph draws fresh noise on every replay.
void fill_normal(Backend& be, std::uint64_t seed, const Tensor& step, const Tensor& eps);

// mu, logvar, eps, z: (N, L)
void reparam_forward(Backend& be, const Tensor& mu, const Tensor& logvar, const Tensor& eps, const Tensor& z);
// dmu += dz; dlogvar += dz · eps · 0.5·exp(0.5·logvar)
void reparam_backward(Backend& be, const Tensor& logvar, const Tensor& eps, const Tensor& dz,
                      const Tensor& dmu, const Tensor& dlogvar);

}  // namespace vsae
