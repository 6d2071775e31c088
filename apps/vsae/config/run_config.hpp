// The run config: one JSON file describes a whole run. Every default lives here (and in the
// README's config reference); the resolved config, defaults filled in, is written to config.json.
#pragma once

#include <algorithm>
#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "apps/vsae/model/vae_sae.hpp"

namespace vsae::config {

struct DatasetConfig {
  std::string name = "dsprites";       // dsprites | shapes3d
  std::string source = "procedural";   // procedural | path to the real .npz / .h5 file
  std::int64_t subset = 0;             // 0: the whole dataset; N: a fixed random subset of N images
};

struct ScheduleConfig {
  std::string type = "linear";  // linear | exponential | cosine | step
  std::int64_t start = 500;
  std::int64_t end = 50;
  std::int64_t epochs = 50;     // the schedule reaches `end` after this many epochs, then holds
  std::string granularity = "epoch";  // epoch | step
  std::int64_t step_every = 10;       // for type "step": epochs between drops

  // The 0-based epoch at whose end k has reached `end` (the paper's "at k = end" point).
  std::int64_t end_epoch() const { return std::max<std::int64_t>(epochs, 1) - 1; }
};

struct ControllerConfig {
  // tracking: λ/τ track k(e), never below `floor` times their scale on the active units (no windup);
  // adaptive: the same update without that floor (the original controller, for older runs);
  // fixed: the coefficient stays `initial`.
  std::string mode = "tracking";
  double initial = 1e-3;  // initial λ (l1) or τ (l1_prox)
  // η in λ ← λ·exp(η·(L0 − k)/k), applied every step. The original controller ran with 0.05 (runs
  // before the tracking mode record it in their config.json); at 0.05 L0 lagged k by up to 13 %
  // once k fell at 256 steps per epoch, at 0.15 by at most 9 % (configs/paper/cpu.json, dSprites).
  double rate = 0.15;
  double min = 1e-7;
  double max = 1000.0;
  // tracking: ρ of SparsityControl::floor_ratio. At 0.05 the floor alone held L0 near 160 where
  // the SAE's own L0 is about 320; at 0.002 it leaves that L0 alone and still bounds the windup.
  double floor = 0.002;
};

struct SparsityConfig {
  SaeKind method = SaeKind::topk;
  ScheduleConfig schedule;
  ControllerConfig controller;  // l1, l1_prox
  double jumprelu_coefficient = 1.0;  // jumprelu: λ of λ·(L0/k − 1)² (dictionary_learning's default)
};

struct TrainingConfig {
  std::int64_t epochs = 50;
  std::int64_t extra_epochs = 100;
  std::int64_t batch_size = 64;
  double lr = 1e-4;
  double adam_beta1 = 0.9;
  double adam_beta2 = 0.999;
  double adam_eps = 1e-8;
  double beta = 1.0;   // KL weight
  double gamma = 1.0;  // SAE reconstruction weight
  bool tf32 = true;
  bool cuda_graph = true;  // replay each training step as one CUDA Graph (CUDA only)
};

struct EvalConfig {
  std::int64_t samples = 10000;  // 0: the whole dataset
  std::int64_t mig_bins = 20;
  std::vector<double> dead_thresholds{0.0, 1e-4, 1e-3, 1e-2};
  std::vector<double> activation_eps{0.0, 1e-3};
};

struct OutputConfig {
  std::string dir;  // default: runs/<name>
  std::int64_t checkpoint_every = 5;
  bool save_latents = false;
};

// Dead-neuron revival (issue 6, beyond the paper): "dead" means no firing in the last dead_steps
// training steps, counted per unit on the device.
struct RevivalConfig {
  std::string method = "none";     // none | auxk | resample
  std::int64_t auxk_k = 128;       // dead units in the AuxK Top-k (Gao et al.: about d_model / 2)
  double auxk_alpha = 1.0 / 32.0;  // AuxK loss weight (Gao et al.)
  std::int64_t dead_steps = 1000;  // 64,000 images at batch 64, ~9% of a dSprites epoch
  std::int64_t resample_every = 5;   // epochs between resamplings
  // Resampled encoder rows: this × the live rows' mean norm. Bricken et al. use 0.2 with an L1 SAE,
  // where any positive pre-activation fires; under Top-k a new unit must win a slot, and 0.2 loses.
  double resample_scale = 1.0;
};

struct RunConfig {
  std::string name = "run";
  std::uint64_t seed = 0;
  std::string device = "auto";
  DatasetConfig dataset;
  ModelConfig model;
  SparsityConfig sparsity;
  TrainingConfig training;
  EvalConfig eval;
  OutputConfig output;
  RevivalConfig revival;

  nlohmann::json to_json() const;  // the resolved config, every default filled in
};

// Validates the whole config before anything is allocated; throws vsae::Error naming the key path.
RunConfig parse_run_config(const nlohmann::json& root);

const char* to_string(SaeKind kind);

// What must stay the same for a run to resume: the resolved config without `device` and
// `output` (a run may move to another device or directory between its pieces), and without the
// sections of the sparsifiers it does not use (sparsity.jumprelu, .batchtopk, .controller).
nlohmann::json resume_identity(nlohmann::json resolved);
// A stable digest of resume_identity (FNV-1a, the same on every platform and build).
std::string resume_digest(const RunConfig& config);
// The first key path ("sparsity.controller.max") where two configs differ; "" when they are equal.
std::string first_difference(const nlohmann::json& a, const nlohmann::json& b);

}  // namespace vsae::config
