// The evaluation pass after each epoch (DESIGN §6): the fixed evaluation set runs through the
// model without touching the training counters, giving per-unit firing counts over the ε grid,
// per-unit maximum activation, mean L0, losses, MIG of mu and of the SAE codes, and γ of the SAE
// input.
#pragma once

#include <cstdint>
#include <vector>

#include "apps/vsae/config/run_config.hpp"
#include "apps/vsae/metrics/dead_neurons.hpp"
#include "apps/vsae/metrics/input_centering.hpp"
#include "apps/vsae/model/vae_sae.hpp"
#include "engine/ops/mig.hpp"

namespace vsae {

// The evaluation images and their factor classes, resident on the backend.
struct EvalSet {
  Tensor images;   // u8 (N, C, H, W)
  Tensor classes;  // i32 (N, F)
  std::vector<int> num_classes;  // (F)
  float pixel_scale = 1.0f;
};

struct EvalResult {
  std::int64_t samples = 0;
  LossValues loss;  // means over the evaluation set
  double mean_l0 = 0.0;  // active SAE units per example (a > 0)
  std::vector<std::vector<std::int64_t>> fire_counts;  // [ε][unit]
  std::vector<float> max_activation;                   // [unit]
  metrics::DeadNeuronGrid dead;
  MigResult mig;      // of mu
  MigResult sae_mig;  // of the SAE codes
  metrics::CenteringStats sae_input;  // γ of what the SAE's encoder reads (h, or h − b_dec)
};

class Evaluator {
 public:
  Evaluator(Backend& be, VaeSaeModel& model, EvalSet set, const config::EvalConfig& config);
  EvalResult run(Backend& be);
  // The last pass's mu (N, L) and SAE codes (N, W), for latents.npy / sae_codes.npy.
  const Tensor& latents() const { return mu_all_; }
  const Tensor& codes() const { return codes_all_; }

 private:
  VaeSaeModel& model_;
  EvalSet set_;
  config::EvalConfig config_;
  std::int64_t n_;
  Storage buffers_;
  Tensor order_, cursor_, mu_all_, codes_all_, counts_, max_act_;
};

}  // namespace vsae
