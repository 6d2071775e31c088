// The hybrid VAE-SAE of DESIGN §4 assembled on the graph engine, with its training step.
// The SAE sits in the main path: the latent heads read ĥ, the SAE's reconstruction of h.
#pragma once

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "engine/graph/graph.hpp"
#include "engine/graph/sparsifier_node.hpp"
#include "engine/ops/adam.hpp"
#include "engine/ops/l1.hpp"

namespace vsae {

enum class SaeKind { identity, topk, l1, l1_prox, batchtopk, jumprelu };

// The methods whose coefficient (λ or τ) the sparsity controller moves.
inline bool has_controlled_coefficient(SaeKind kind) { return kind == SaeKind::l1 || kind == SaeKind::l1_prox; }

struct ModelConfig {
  int channels = 1;  // 1 for dSprites, 3 for Shapes3D
  int image_size = 64;
  std::vector<int> conv_channels{32, 32, 64, 64};
  int kernel = 4;
  int hidden = 256;
  int sae_width = 500;
  int latent = 10;
  SaeKind sae = SaeKind::identity;
  // SAE controls (DESIGN §10), all off by default: the paper's plain SAE.
  bool pre_encoder_bias = false;   // z = W_enc (h − b_dec) + b_enc
  bool tied_init = false;          // W_enc = W_decᵀ at step 0
  bool unit_norm_decoder = false;  // unit decoder columns: parallel gradient removed, renormalised each step
  // b_dec at step 0: "default" (PyTorch's uniform, like every bias), "zeros", "mean" or
  // "geometric_median" of h over init_samples training images (the trainer computes it).
  std::string decoder_bias_init = "default";
  std::int64_t init_samples = 4096;
  // Multi-TopK (EleutherAI sparsify), with Top-k only: the top 4k units also reconstruct h through
  // the same decoder, and that squared error joins the loss with weight γ/8.
  bool multi_topk = false;
  // JumpReLU: the pseudo-gradient's bandwidth ε and θ's starting value (dictionary_learning's 0.001).
  float jumprelu_bandwidth = 0.001f;
  float jumprelu_initial_threshold = 0.001f;
  // jumprelu: Adam's lr for sae.log_threshold is training.lr times this (log θ moves about that
  // much per step).
  float jumprelu_threshold_lr_scale = 1.0f;
  // BatchTopK: θ ← β·θ + (1 − β)·(the batch's smallest kept activation) each training step.
  // dictionary_learning's 0.999 averages over about 1000 steps, several CPU-scale epochs.
  float batchtopk_threshold_beta = 0.999f;
  // L1-prox's threshold: "absolute" (a = max(z − τ, 0)); "relative", τ in units of s, the RMS of the
  // SAE's pre-activations (a = max(z − τ·s, 0)), so that growing z cannot outrun the threshold; or
  // "per_unit", a = max(z_j − μ_j − τ·σ_j, 0) with unit j's own mean and standard deviation and a
  // signed τ, so that no unit escapes it by an offset or a scale of its own. The statistics are
  // the batch's in training and running means of them, with decay l1_prox_scale_beta per step,
  // in evaluation.
  std::string l1_prox_threshold = "absolute";
  float l1_prox_scale_beta = 0.99f;
  // Dead-neuron revival (issue 6). dead_steps > 0 keeps, per SAE unit, the training steps since it
  // last fired; a unit is dead once that count reaches dead_steps. auxk_k > 0 (needs dead_steps)
  // adds the AuxK loss auxk_alpha·mean_n ||e − W_dec a_aux||² over the auxk_k largest dead units.
  int dead_steps = 0;
  int auxk_k = 0;
  float auxk_alpha = 1.0f / 32.0f;
};

struct LossValues {
  float recon = 0, kl = 0, sae = 0, l1 = 0, total = 0;  // l1: the weighted penalty λ·mean Σ|a|
  float aux = 0;  // the AuxK term before its weight auxk_alpha (0 without AuxK)
  float sparsity = 0;    // JumpReLU's λ·(L0/k − 1)² (0 otherwise)
  float multi_topk = 0;  // Multi-TopK's Σ(ĥ₄ₖ − h)² before its weight γ/8 (0 without it)
};

class VaeSaeModel {
 public:
  VaeSaeModel(Backend& be, const ModelConfig& config, int batch, std::uint64_t seed);

  // One optimisation step on the batch already in input(): step += 1, forward, backward, Adam,
  // then (L1 methods with a controller) the device-side λ/τ update. Asynchronous on CUDA; no
  // allocation, no host synchronisation.
  void train_step(Backend& be, const AdamHyper& hyper);
  // The first half of train_step: step += 1, forward, backward (gradients ready, no update).
  void forward_backward(Backend& be);
  // Forward only, with the training firing counters left alone (evaluation).
  void evaluate_batch(Backend& be);
  // Sets b_dec to the trainer's mean or geometric-median initialisation (decoder_bias_init), and
  // keeps a copy that checkpoints record as state.sae_decoder_bias_init; before the first step.
  void set_decoder_bias(Backend& be, const std::vector<float>& bias);
  // The loss terms of the last forward (synchronises with the device).
  LossValues read_losses(Backend& be) const;
  // Loss weights β (KL) and γ (SAE reconstruction), kept on the device.
  void set_loss_weights(Backend& be, float beta, float gamma);

  // ---- sparsity state, all device-resident ---------------------------------------------------
  void set_k(Backend& be, std::int64_t k);             // Top-k's k; the L1 controller's target
  // λ (l1) or τ (l1_prox; with the per-unit threshold, evaluation's τ too)
  void set_coefficient(Backend& be, float value);
  float read_coefficient(Backend& be) const;
  // The relative L1-prox threshold's running scale, what evaluation uses (< 0 before the first
  // training step).
  bool has_l1_prox_running_scale() const { return l1_prox_running_scale_.defined(); }
  float read_l1_prox_running_scale(Backend& be) const;
  // The per-unit L1-prox threshold's evaluation τ, tracked apart from training's.
  bool has_l1_prox_eval_tau() const { return l1_prox_eval_tau_.defined(); }
  float read_l1_prox_eval_tau(Backend& be) const;
  // With the per-unit L1-prox threshold, τ is signed: the update is additive, clamped to
  // [−control.hi, control.hi], with no floor (an all-active code is always within reach); a second
  // update moves evaluation's τ on the count of evaluation's thresholds on the training batch.
  void enable_controller(const SparsityControl& control);
  void reset_fire_counts(Backend& be);
  std::vector<std::int64_t> read_fire_counts(Backend& be) const;  // per SAE unit, since the reset
  bool has_sae() const { return codes_ != nullptr; }
  Value& codes() { return *codes_; }  // SAE activations a (B, W)
  Value& sae_input() { return *sae_input_; }  // h (B, hidden), what the SAE reconstructs
  // What the SAE's encoder reads (B, hidden): h − b_dec with the pre-encoder bias, else h.
  Value& encoder_input() { return *encoder_input_; }

  // ---- dead-neuron revival (config_.dead_steps > 0) ------------------------------------------
  bool tracks_dead() const { return residual_ != nullptr; }
  std::vector<std::int32_t> read_steps_since_fired(Backend& be) const;  // per SAE unit
  void set_steps_since_fired(Backend& be, const std::vector<std::int32_t>& steps);
  // Re-initialises every unit dead now (steps since fired >= dead_steps) from the worst-reconstructed
  // inputs of the last forward batch and returns how many; see the definition for the recipe. Between steps only.
  std::int64_t resample_dead_units(Backend& be, float scale);

  // The device scalars a checkpoint must carry (step, k, coefficient, the epoch's training firing
  // counts for a stop mid-epoch, and the revival counters when tracked), by name.
  std::vector<std::pair<std::string, Tensor>> state_tensors() const {
    std::vector<std::pair<std::string, Tensor>> state{
        {"step", step_}, {"k", k_}, {"coefficient", coefficient_}, {"fire_count", fire_count_}};
    if (tracks_dead()) state.emplace_back("steps_since_fired", since_fired_);
    if (decoder_bias_init_.defined()) state.emplace_back("sae_decoder_bias_init", decoder_bias_init_);
    if (config_.sae == SaeKind::batchtopk) state.emplace_back("batchtopk_threshold", batchtopk_threshold_);
    if (l1_prox_running_scale_.defined()) state.emplace_back("l1_prox_running_scale", l1_prox_running_scale_);
    if (l1_prox_running_mean_.defined()) {
      state.emplace_back("l1_prox_running_mean", l1_prox_running_mean_);
      state.emplace_back("l1_prox_running_std", l1_prox_running_std_);
      state.emplace_back("l1_prox_eval_tau", l1_prox_eval_tau_);
    }
    return state;
  }

  Graph& graph() { return graph_; }
  // Times every graph node, the optimizer and the controller of each step (null: off).
  void set_profile(OpProfile* profile) {
    profile_ = profile;
    graph_.set_profile(profile);
  }
  const ModelConfig& config() const { return config_; }
  int batch() const { return batch_; }
  Value& input() { return *input_; }
  Value& logits() { return *logits_; }
  Value& mu() { return *mu_; }
  Value& logvar() { return *logvar_; }
  const Tensor& step() const { return step_; }

 private:
  Value* build_encoder(Value* x);
  Value* build_sae(Value* h);
  SparsifierNode* add_sparsifier(Value* z_pre, Parameter* b_enc);
  Value* build_decoder(Value* z);
  void build_losses(Value* x, Value* h, Value* h_hat);
  Value* add_multi_topk(Value* z_pre, Parameter* b_enc);  // ĥ from the top 4k units
  void build_revival(Value* h, Value* z_pre, Parameter* b_enc, Value* h_hat);
  void initialise_sae_weights(Backend& be);  // unit-norm decoder, zero b_dec, tied encoder

  ModelConfig config_;
  int batch_;
  std::uint64_t seed_;
  Graph graph_;
  OpProfile* profile_ = nullptr;
  Storage scalars_;  // device scalars and counters
  Tensor step_, weight_one_, weight_beta_, weight_gamma_, weight_multi_topk_;
  Tensor k_, k_multi_, coefficient_, controller_floor_, batch_active_, fire_count_;
  Tensor batchtopk_min_kept_, batchtopk_threshold_;  // BatchTopK's batch minimum and running θ
  Tensor l1_prox_scale_, l1_prox_running_scale_;  // relative L1-prox: this pass's s and the running s
  // Per-unit L1-prox (W each): the running μ and σ, and this pass's thresholds and the μ, σ they used;
  // (1): evaluation's τ, and the training batch's entries above evaluation's thresholds.
  Tensor l1_prox_running_mean_, l1_prox_running_std_, l1_prox_unit_threshold_, l1_prox_pass_mean_, l1_prox_pass_std_;
  Tensor l1_prox_eval_tau_, l1_prox_eval_active_;
  Tensor since_fired_, auxk_k_, weight_auxk_, resample_scratch_;  // revival state
  Tensor decoder_bias_init_;  // (hidden), with a data-dependent decoder_bias_init only
  Value *input_ = nullptr, *logits_ = nullptr, *mu_ = nullptr, *logvar_ = nullptr, *codes_ = nullptr;
  Value *recon_loss_ = nullptr, *kl_loss_ = nullptr, *sae_loss_ = nullptr, *l1_loss_ = nullptr;
  Value *sparsity_loss_ = nullptr, *multi_topk_loss_ = nullptr;
  Value *sae_input_ = nullptr, *encoder_input_ = nullptr, *residual_ = nullptr, *aux_loss_ = nullptr;
  SparsifierNode* sparsify_ = nullptr;
  Parameter *decoder_weight_ = nullptr, *decoder_bias_ = nullptr;  // W_dec (hidden, W), b_dec (hidden)
  SparsityControl controller_;
  bool has_controller_ = false;
  float beta_ = 1.0f, gamma_ = 1.0f;
};

}  // namespace vsae
