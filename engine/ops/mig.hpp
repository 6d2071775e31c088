// Mutual Information Gap (disentanglement_lib's discrete MIG) of codes against ground-truth factor
// classes. The joint latent-bin × factor-class histograms are built on the backend; the mutual
// information (sklearn's mutual_info_score, nats) and the gap are finished on the host in double.
#pragma once

#include <cstdint>
#include <vector>

#include "engine/core/backend.hpp"

namespace vsae {

struct MigResult {
  int num_latents = 0;
  int num_factors = 0;
  std::int64_t num_samples = 0;
  std::vector<double> mutual_info;      // (L, F) row-major: I(latent l; factor f) in nats
  std::vector<double> factor_entropy;   // (F): H(factor f) in nats
  std::vector<int> best_latent;         // (F): argmax_l I(l; f), the lower index on ties
  std::vector<double> gap;              // (F): (best − second-best I) / H(f); 0 when H(f) = 0
  double mig = 0.0;                     // mean of gap over the factors with H(f) > 0
  std::vector<double> latent_best_nmi;  // (L): max_f I(l; f) / H(f), the unit's interpretability
  std::vector<int> latent_best_factor;  // (L): that factor (lower index on ties; 0 if all are 0)
};

// codes: f32 (N, L), finite (NaN/Inf throw, as np.histogram does); factors: i32 (N, F) with
// factors[n][f] in [0, num_classes[f]) (anything else throws). Each latent is discretised like
// disentanglement_lib: np.histogram(codes[:, l], bins) edges over its own [min, max] (min − 0.5 and
// max + 0.5 for a constant latent), computed in double, then np.digitize(x, edges[:-1]).
// With L = 1 the second-best MI is taken as 0. Synchronises with the device and allocates its
// own buffers: an evaluation-time op, not for captured training steps.
MigResult compute_mig(Backend& be, const Tensor& codes, const Tensor& factors,
                      const std::vector<int>& num_classes, int bins = 20);

}  // namespace vsae
