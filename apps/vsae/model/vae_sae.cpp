// Builds the VAE-SAE graph layer by layer with the DESIGN §4 names and runs its training step.
#include "apps/vsae/model/vae_sae.hpp"

#include <algorithm>
#include <cmath>
#include <numeric>

#include "engine/graph/batch_topk_node.hpp"
#include "engine/graph/jumprelu_node.hpp"
#include "engine/graph/l1_nodes.hpp"
#include "engine/graph/layers.hpp"
#include "engine/graph/nodes.hpp"
#include "engine/graph/revival_nodes.hpp"
#include "engine/graph/topk_node.hpp"
#include "engine/ops/batch_topk.hpp"
#include "engine/ops/gather.hpp"
#include "engine/ops/revival.hpp"
#include "engine/ops/unit_norm.hpp"

namespace vsae {

namespace {
constexpr ConvParams kDownsample{2, 1};  // 4x4 kernels, stride 2, pad 1 halve the resolution
}

VaeSaeModel::VaeSaeModel(Backend& be, const ModelConfig& config, int batch, std::uint64_t seed)
    : config_(config), batch_(batch), seed_(seed) {
  VSAE_CHECK(batch > 0, "batch size must be positive, got " << batch);
  VSAE_CHECK(config.conv_channels.size() == 4, "the encoder has 4 conv layers");
  VSAE_CHECK(config.auxk_k <= 0 || (config.dead_steps > 0 && config.auxk_k <= config.sae_width),
             "AuxK needs dead_steps > 0 and auxk_k <= the SAE width, got auxk_k " << config.auxk_k);
  VSAE_CHECK(!config.multi_topk || config.sae == SaeKind::topk, "Multi-TopK composes with Top-k only");

  const Shape scalar{1}, per_unit{config.sae_width};
  ArenaPlan plan;
  std::size_t step_off = plan.reserve(scalar, DType::i32);
  std::size_t one_off = plan.reserve(scalar, DType::f32);
  std::size_t beta_off = plan.reserve(scalar, DType::f32);
  std::size_t gamma_off = plan.reserve(scalar, DType::f32);
  std::size_t multi_w_off = plan.reserve(scalar, DType::f32);
  std::size_t k_multi_off = plan.reserve(scalar, DType::i32);
  std::size_t min_kept_off = plan.reserve(scalar, DType::f32);
  std::size_t threshold_off = plan.reserve(scalar, DType::f32);
  std::size_t prox_scale_off = plan.reserve(scalar, DType::f32);
  std::size_t prox_running_off = plan.reserve(scalar, DType::f32);
  const bool prox_per_unit = config.sae == SaeKind::l1_prox && config.l1_prox_threshold == "per_unit";
  const Shape prox_units{prox_per_unit ? config.sae_width : 0};
  std::size_t prox_mean_off = plan.reserve(prox_units, DType::f32);
  std::size_t prox_std_off = plan.reserve(prox_units, DType::f32);
  std::size_t prox_threshold_off = plan.reserve(prox_units, DType::f32);
  std::size_t prox_pass_mean_off = plan.reserve(prox_units, DType::f32);
  std::size_t prox_pass_std_off = plan.reserve(prox_units, DType::f32);
  std::size_t prox_eval_active_off = plan.reserve(scalar, DType::i32);
  std::size_t prox_eval_tau_off = plan.reserve(scalar, DType::f32);
  std::size_t k_off = plan.reserve(scalar, DType::i32);
  std::size_t coef_off = plan.reserve(scalar, DType::f32);
  std::size_t floor_off = plan.reserve(scalar, DType::f32);
  std::size_t active_off = plan.reserve(scalar, DType::i32);
  std::size_t fire_off = plan.reserve(per_unit, DType::i32);
  std::size_t since_off = plan.reserve(per_unit, DType::i32);
  std::size_t auxk_k_off = plan.reserve(scalar, DType::i32);
  std::size_t auxk_w_off = plan.reserve(scalar, DType::f32);
  std::size_t resample_off = plan.reserve(Shape{2 * config.sae_width}, DType::i32);
  const bool data_init = config.decoder_bias_init == "mean" || config.decoder_bias_init == "geometric_median";
  std::size_t bias_init_off = plan.reserve(Shape{config.hidden}, DType::f32);
  scalars_ = be.allocate(plan.total_bytes());
  step_ = scalars_.view(scalar, DType::i32, step_off);
  weight_one_ = scalars_.view(scalar, DType::f32, one_off);
  weight_beta_ = scalars_.view(scalar, DType::f32, beta_off);
  weight_gamma_ = scalars_.view(scalar, DType::f32, gamma_off);
  weight_multi_topk_ = scalars_.view(scalar, DType::f32, multi_w_off);
  k_multi_ = scalars_.view(scalar, DType::i32, k_multi_off);
  batchtopk_min_kept_ = scalars_.view(scalar, DType::f32, min_kept_off);
  batchtopk_threshold_ = scalars_.view(scalar, DType::f32, threshold_off);
  be.upload(batchtopk_threshold_, &kBatchTopkThresholdUnset);
  if (prox_per_unit) {
    l1_prox_running_mean_ = scalars_.view(per_unit, DType::f32, prox_mean_off);
    l1_prox_running_std_ = scalars_.view(per_unit, DType::f32, prox_std_off);
    l1_prox_unit_threshold_ = scalars_.view(per_unit, DType::f32, prox_threshold_off);
    l1_prox_pass_mean_ = scalars_.view(per_unit, DType::f32, prox_pass_mean_off);
    l1_prox_pass_std_ = scalars_.view(per_unit, DType::f32, prox_pass_std_off);
    l1_prox_eval_active_ = scalars_.view(scalar, DType::i32, prox_eval_active_off);
    l1_prox_eval_tau_ = scalars_.view(scalar, DType::f32, prox_eval_tau_off);
    be.zero(l1_prox_eval_tau_);
    be.zero(l1_prox_running_mean_);
    const std::vector<float> unset(static_cast<std::size_t>(config.sae_width), -1.0f);
    be.upload(l1_prox_running_std_, unset.data());
  }
  if (config.sae == SaeKind::l1_prox && config.l1_prox_threshold == "relative") {
    l1_prox_scale_ = scalars_.view(scalar, DType::f32, prox_scale_off);
    l1_prox_running_scale_ = scalars_.view(scalar, DType::f32, prox_running_off);
    const float unset = -1.0f;
    be.upload(l1_prox_running_scale_, &unset);
  }
  k_ = scalars_.view(scalar, DType::i32, k_off);
  coefficient_ = scalars_.view(scalar, DType::f32, coef_off);
  controller_floor_ = scalars_.view(scalar, DType::f32, floor_off);
  batch_active_ = scalars_.view(scalar, DType::i32, active_off);
  fire_count_ = scalars_.view(per_unit, DType::i32, fire_off);
  since_fired_ = scalars_.view(per_unit, DType::i32, since_off);
  auxk_k_ = scalars_.view(scalar, DType::i32, auxk_k_off);
  weight_auxk_ = scalars_.view(scalar, DType::f32, auxk_w_off);
  resample_scratch_ = scalars_.view(Shape{2 * config.sae_width}, DType::i32, resample_off);
  if (data_init && config.sae != SaeKind::identity) {
    decoder_bias_init_ = scalars_.view(Shape{config.hidden}, DType::f32, bias_init_off);
    be.zero(decoder_bias_init_);
  }
  be.zero(since_fired_);
  const std::int32_t auxk_k = std::max(config.auxk_k, 0);
  be.upload(auxk_k_, &auxk_k);
  be.upload(weight_auxk_, &config.auxk_alpha);
  const float one = 1.0f;
  be.upload(weight_one_, &one);
  set_loss_weights(be, beta_, gamma_);
  set_k(be, config.sae_width);

  input_ = graph_.value("input", Shape{batch, config.channels, config.image_size, config.image_size}, false);
  Value* h = build_encoder(input_);
  Value* h_hat = build_sae(h);
  mu_ = linear_layer(graph_, "head.mu", h_hat, config.latent, Activation::none);
  logvar_ = linear_layer(graph_, "head.logvar", h_hat, config.latent, Activation::none);
  Value* eps = graph_.value("eps", mu_->shape, false);
  graph_.add<NormalNoiseNode>(eps, seed_, step_);
  Value* zlat = graph_.value("zlat", mu_->shape);
  graph_.add<ReparamNode>(mu_, logvar_, eps, zlat);
  logits_ = build_decoder(zlat);
  build_losses(input_, h, h_hat);

  graph_.plan(be, seed_);
  if (has_sae()) initialise_sae_weights(be);
}

// Unit-norm columns first, so that tied encoder rows are unit vectors too (as SAELens does).
void VaeSaeModel::initialise_sae_weights(Backend& be) {
  Parameter& w_dec = *decoder_weight_;
  if (config_.unit_norm_decoder) decoder_normalize_columns(be, w_dec.value);
  if (config_.decoder_bias_init == "zeros") be.zero(decoder_bias_->value);
  if (config_.sae == SaeKind::jumprelu) {
    const std::vector<float> log_threshold(static_cast<std::size_t>(config_.sae_width),
                                           std::log(config_.jumprelu_initial_threshold));
    be.upload(graph_.find_parameter("sae.log_threshold").value, log_threshold.data());
  }
  if (!config_.tied_init) return;
  Parameter& w_enc = graph_.find_parameter("sae.enc.weight");
  const std::int64_t hidden = w_dec.shape[0], width = w_dec.shape[1];
  std::vector<float> dec(static_cast<std::size_t>(hidden * width)), enc(dec.size());
  be.download(dec.data(), w_dec.value);
  for (std::int64_t r = 0; r < hidden; ++r)
    for (std::int64_t j = 0; j < width; ++j) enc[static_cast<std::size_t>(j * hidden + r)] = dec[static_cast<std::size_t>(r * width + j)];
  be.upload(w_enc.value, enc.data());
}

void VaeSaeModel::set_decoder_bias(Backend& be, const std::vector<float>& bias) {
  VSAE_CHECK(has_sae() && static_cast<std::int64_t>(bias.size()) == decoder_bias_->value.numel(),
             "set_decoder_bias: " << bias.size() << " values for the SAE decoder bias");
  be.upload(decoder_bias_->value, bias.data());
  if (decoder_bias_init_.defined()) be.upload(decoder_bias_init_, bias.data());
}

Value* VaeSaeModel::build_encoder(Value* x) {
  Value* y = x;
  for (std::size_t i = 0; i < config_.conv_channels.size(); ++i)
    y = conv2d_layer(graph_, "encoder.conv" + std::to_string(i + 1), y, config_.conv_channels[i],
                     config_.kernel, kDownsample, Activation::relu);
  Value* flat = graph_.alias("encoder.flatten", y, Shape{batch_, y->shape.numel() / batch_});
  return linear_layer(graph_, "encoder.fc1", flat, config_.hidden, Activation::relu);
}

Value* VaeSaeModel::build_sae(Value* h) {
  if (config_.sae == SaeKind::identity) return h;
  sae_input_ = h;
  const std::int64_t width = config_.sae_width, hidden = h->shape[1];
  Parameter* w_enc = graph_.parameter("sae.enc.weight", Shape{width, hidden}, ParamInit{hidden});
  Parameter* b_enc = graph_.parameter("sae.enc.bias", Shape{width}, ParamInit{hidden});
  Parameter* w_dec = graph_.parameter("sae.dec.weight", Shape{hidden, width}, ParamInit{width});
  Parameter* b_dec = graph_.parameter("sae.dec.bias", Shape{hidden}, ParamInit{width});
  decoder_weight_ = w_dec;
  decoder_bias_ = b_dec;
  Value* encoder_input = h;
  if (config_.pre_encoder_bias) {
    encoder_input = graph_.value("sae.centered_input", h->shape);
    graph_.add<CenteringNode>(h, b_dec, encoder_input);
  }
  encoder_input_ = encoder_input;
  Value* z_pre = graph_.value("sae.enc.pre", Shape{batch_, width});
  graph_.add<LinearNode>(encoder_input, w_enc, z_pre);
  codes_ = graph_.value("sae.codes", Shape{batch_, width});
  sparsify_ = add_sparsifier(z_pre, b_enc);
  Value* h_hat = linear_layer(graph_, "sae.dec", codes_, w_dec, b_dec, Activation::none);
  if (config_.multi_topk) {
    multi_topk_loss_ = graph_.value("loss.multi_topk", Shape{1}, false);
    graph_.add<MseLossNode>(add_multi_topk(z_pre, b_enc), h, multi_topk_loss_, weight_multi_topk_);
  }
  if (config_.dead_steps > 0) build_revival(h, z_pre, b_enc, h_hat);
  return h_hat;
}

// The node of the configured method; its losses and device state are made here too.
SparsifierNode* VaeSaeModel::add_sparsifier(Value* z_pre, Parameter* b_enc) {
  const ActivityCounters counters{fire_count_, batch_active_, 0.0f};
  switch (config_.sae) {
    case SaeKind::topk: return graph_.add<TopkNode>(z_pre, b_enc, codes_, k_, counters);
    case SaeKind::l1:
      l1_loss_ = graph_.value("loss.l1", Shape{1}, false);
      return graph_.add<L1Node>(z_pre, b_enc, codes_, coefficient_, l1_loss_, counters);
    case SaeKind::l1_prox:
      if (l1_prox_unit_threshold_.defined())
        return graph_.add<L1ProxPerUnitNode>(
            z_pre, b_enc, codes_, coefficient_, counters,
            L1ProxPerUnit{l1_prox_running_mean_, l1_prox_running_std_, l1_prox_unit_threshold_, l1_prox_pass_mean_,
                          l1_prox_pass_std_, l1_prox_eval_tau_, l1_prox_eval_active_, config_.l1_prox_scale_beta});
      return graph_.add<L1ProxNode>(z_pre, b_enc, codes_, coefficient_, counters,
                                    L1ProxRelative{l1_prox_running_scale_, l1_prox_scale_, config_.l1_prox_scale_beta});
    case SaeKind::batchtopk:
      return graph_.add<BatchTopkNode>(z_pre, b_enc, codes_, k_, batchtopk_min_kept_, batchtopk_threshold_,
                                       config_.batchtopk_threshold_beta, counters);
    case SaeKind::jumprelu: {
      Parameter* log_threshold = graph_.parameter("sae.log_threshold", Shape{config_.sae_width}, ParamInit{1});
      log_threshold->lr_scale = config_.jumprelu_threshold_lr_scale;
      sparsity_loss_ = graph_.value("loss.sparsity", Shape{1}, false);
      return graph_.add<JumpReluNode>(z_pre, b_enc, log_threshold, codes_, k_, coefficient_,
                                      config_.jumprelu_bandwidth, sparsity_loss_, counters);
    }
    case SaeKind::identity: break;
  }
  throw Error("add_sparsifier: the model has no SAE");
}

// Multi-TopK's second reconstruction: the same pre-activations through Top-k at 4k (its own
// device scalar, set with k), decoded by the shared W_dec and b_dec. Its codes count no activity.
Value* VaeSaeModel::add_multi_topk(Value* z_pre, Parameter* b_enc) {
  Value* codes = graph_.value("sae.multi_topk.codes", z_pre->shape);
  graph_.add<TopkNode>(z_pre, b_enc, codes, k_multi_, ActivityCounters{});
  return linear_layer(graph_, "sae.multi_topk.recon", codes, decoder_weight_, decoder_bias_, Activation::none);
}

void VaeSaeModel::build_revival(Value* h, Value* z_pre, Parameter* b_enc, Value* h_hat) {
  residual_ = graph_.value("sae.residual", h->shape, false);
  graph_.add<ResidualNode>(h, h_hat, residual_);
  if (config_.auxk_k <= 0) return;
  // AuxK (Gao et al. 2024): the dead units' k_aux largest pre-activations reconstruct the SAE's
  // residual through the shared decoder weight, without its bias; the residual is a constant target.
  Value* z_dead = graph_.value("sae.auxk.masked_pre", z_pre->shape, false);
  Value* a_aux = graph_.value("sae.auxk.codes", z_pre->shape);
  graph_.add<AuxkCodesNode>(z_pre, b_enc, since_fired_, config_.dead_steps, auxk_k_, z_dead, a_aux);
  Value* e_hat = graph_.value("sae.auxk.recon", h->shape);
  graph_.add<LinearNode>(a_aux, &graph_.find_parameter("sae.dec.weight"), e_hat);
  aux_loss_ = graph_.value("loss.aux", Shape{1}, false);
  graph_.add<MseLossNode>(e_hat, residual_, aux_loss_, weight_auxk_);
}

Value* VaeSaeModel::build_decoder(Value* z) {
  Value* y = linear_layer(graph_, "decoder.fc2", z, config_.hidden, Activation::relu);
  const int c_last = config_.conv_channels.back();
  const int side = config_.image_size >> config_.conv_channels.size();
  y = linear_layer(graph_, "decoder.fc3", y, c_last * side * side, Activation::relu);
  y = graph_.alias("decoder.unflatten", y, Shape{batch_, c_last, side, side});
  // Mirror of the encoder: 64→64→32→32→C.
  const std::vector<int> outs{config_.conv_channels[2], config_.conv_channels[1], config_.conv_channels[0],
                              config_.channels};
  for (std::size_t i = 0; i < outs.size(); ++i) {
    bool last = i + 1 == outs.size();
    y = conv_transpose2d_layer(graph_, "decoder.deconv" + std::to_string(i + 1), y, outs[i], config_.kernel,
                               kDownsample, last ? Activation::none : Activation::relu);
  }
  return y;
}

void VaeSaeModel::build_losses(Value* x, Value* h, Value* h_hat) {
  recon_loss_ = graph_.value("loss.recon", Shape{1}, false);
  graph_.add<BceLogitsLossNode>(logits_, x, recon_loss_, weight_one_);
  kl_loss_ = graph_.value("loss.kl", Shape{1}, false);
  graph_.add<KlLossNode>(mu_, logvar_, kl_loss_, weight_beta_);
  if (h_hat != h) {
    sae_loss_ = graph_.value("loss.sae", Shape{1}, false);
    graph_.add<MseLossNode>(h_hat, h, sae_loss_, weight_gamma_);
  }
}

void VaeSaeModel::set_loss_weights(Backend& be, float beta, float gamma) {
  beta_ = beta;
  gamma_ = gamma;
  be.upload(weight_beta_, &beta);
  be.upload(weight_gamma_, &gamma);
  const float multi = gamma / 8.0f;
  be.upload(weight_multi_topk_, &multi);
}

void VaeSaeModel::forward_backward(Backend& be) {
  advance_counter(be, step_, 1);
  graph_.forward(be);
  // After the forward: this step's AuxK mask counts only the steps before it.
  if (tracks_dead()) steps_since_fired_update(be, codes_->data, since_fired_);
  graph_.backward(be);
}

void VaeSaeModel::train_step(Backend& be, const AdamHyper& hyper) {
  forward_backward(be);
  Parameter* w_dec = config_.unit_norm_decoder ? decoder_weight_ : nullptr;
  // Unit-norm decoder: the step may only turn a column, so the gradient along it goes first, and
  // the column is put back on the sphere after the step.
  if (w_dec)
    profiled(profile_, be, "unit-norm decoder", [&] { decoder_grad_remove_parallel(be, w_dec->value, w_dec->grad); });
  profiled(profile_, be, "adam", [&] {
    for (const ParamGroup& g : graph_.param_groups()) {
      AdamHyper scaled = hyper;
      scaled.lr *= g.lr_scale;
      adam_step(be, g.params, g.grads, g.adam_m, g.adam_v, step_, scaled);
    }
  });
  if (w_dec) profiled(profile_, be, "unit-norm decoder", [&] { decoder_normalize_columns(be, w_dec->value); });
  if (has_controller_)
    profiled(profile_, be, "sparsity controller", [&] {
      if (controller_.floor_ratio <= 0.0f) {
        sparsity_controller_update(be, coefficient_, batch_active_, k_, batch_, controller_);
        // The per-unit L1-prox threshold: evaluation's τ tracks k with evaluation's thresholds.
        if (l1_prox_eval_tau_.defined())
          sparsity_controller_update(be, l1_prox_eval_tau_, l1_prox_eval_active_, k_, batch_, controller_);
        return;
      }
      // λ/B competes with the data gradient of each active code; τ shifts the active codes (by τ·s
      // when relative, so its floor is in units of s).
      const bool l1 = config_.sae == SaeKind::l1;
      controller_floor(be, codes_->data, l1 ? codes_->grad : codes_->data, l1 ? static_cast<float>(batch_) : 1.0f,
                       controller_.floor_ratio, controller_floor_, l1_prox_scale_);
      sparsity_controller_update(be, coefficient_, batch_active_, k_, batch_, controller_, controller_floor_);
    });
}

void VaeSaeModel::evaluate_batch(Backend& be) {
  if (sparsify_) sparsify_->set_training(false);
  graph_.forward(be);
  if (sparsify_) sparsify_->set_training(true);
}

void VaeSaeModel::set_k(Backend& be, std::int64_t k) {
  VSAE_CHECK(k >= 1 && k <= config_.sae_width, "k must be between 1 and the SAE width " << config_.sae_width << ", got " << k);
  const std::int32_t value = static_cast<std::int32_t>(k);
  be.upload(k_, &value);
  const std::int32_t multi = static_cast<std::int32_t>(std::min<std::int64_t>(4 * k, config_.sae_width));
  be.upload(k_multi_, &multi);
}

void VaeSaeModel::enable_controller(const SparsityControl& control) {
  controller_ = control;
  if (l1_prox_unit_threshold_.defined()) {
    controller_.additive = true;
    controller_.lo = -control.hi;
    controller_.floor_ratio = 0.0f;
  }
  has_controller_ = true;
}

void VaeSaeModel::set_coefficient(Backend& be, float value) {
  be.upload(coefficient_, &value);
  if (l1_prox_eval_tau_.defined()) be.upload(l1_prox_eval_tau_, &value);
}

float VaeSaeModel::read_l1_prox_eval_tau(Backend& be) const {
  VSAE_CHECK(l1_prox_eval_tau_.defined(), "read_l1_prox_eval_tau: the L1-prox threshold is not per-unit");
  float value = 0;
  be.download(&value, l1_prox_eval_tau_);
  return value;
}

float VaeSaeModel::read_coefficient(Backend& be) const {
  float value = 0;
  be.download(&value, coefficient_);
  return value;
}

float VaeSaeModel::read_l1_prox_running_scale(Backend& be) const {
  VSAE_CHECK(l1_prox_running_scale_.defined(), "read_l1_prox_running_scale: the L1-prox threshold is not relative");
  float value = 0;
  be.download(&value, l1_prox_running_scale_);
  return value;
}

void VaeSaeModel::reset_fire_counts(Backend& be) { be.zero(fire_count_); }

std::vector<std::int64_t> VaeSaeModel::read_fire_counts(Backend& be) const {
  std::vector<std::int32_t> raw(static_cast<std::size_t>(fire_count_.numel()));
  be.download(raw.data(), fire_count_);
  return std::vector<std::int64_t>(raw.begin(), raw.end());
}

LossValues VaeSaeModel::read_losses(Backend& be) const {
  LossValues out;
  be.download(&out.recon, recon_loss_->data);
  be.download(&out.kl, kl_loss_->data);
  if (sae_loss_) be.download(&out.sae, sae_loss_->data);
  if (l1_loss_) be.download(&out.l1, l1_loss_->data);
  if (aux_loss_) be.download(&out.aux, aux_loss_->data);
  if (sparsity_loss_) be.download(&out.sparsity, sparsity_loss_->data);
  if (multi_topk_loss_) be.download(&out.multi_topk, multi_topk_loss_->data);
  out.total = out.recon + beta_ * out.kl + gamma_ * out.sae + out.l1 + config_.auxk_alpha * out.aux + out.sparsity +
              gamma_ / 8.0f * out.multi_topk;
  return out;
}

std::vector<std::int32_t> VaeSaeModel::read_steps_since_fired(Backend& be) const {
  std::vector<std::int32_t> steps(static_cast<std::size_t>(since_fired_.numel()));
  be.download(steps.data(), since_fired_);
  return steps;
}

void VaeSaeModel::set_steps_since_fired(Backend& be, const std::vector<std::int32_t>& steps) {
  VSAE_CHECK(static_cast<std::int64_t>(steps.size()) == since_fired_.numel(),
             "set_steps_since_fired: " << steps.size() << " values for " << since_fired_.numel() << " units");
  be.upload(since_fired_, steps.data());
}

// A simplified Bricken et al. (2023) resampling. Each dead unit takes the direction of the SAE
// input h of one example of the last forward batch, examples ranked by their residual ||h − ĥ||²
// (worst reconstructed first, cycling when there are more dead units than examples; Bricken
// samples ∝ loss² over many inputs instead): the decoder column becomes the unit direction, the encoder row that direction times `scale` times the mean norm of the live
// encoder rows (all rows when none is live), the encoder bias 0, and their Adam moments 0. The
// unit's steps-since-fired restarts at 0, so it has dead_steps steps to fire before it can be
// resampled again.
std::int64_t VaeSaeModel::resample_dead_units(Backend& be, float scale) {
  VSAE_CHECK(tracks_dead(), "resampling needs an SAE with dead-unit tracking (dead_steps > 0)");
  const std::vector<std::int32_t> since = read_steps_since_fired(be);
  std::vector<std::int32_t> units;
  for (std::size_t j = 0; j < since.size(); ++j)
    if (since[j] >= config_.dead_steps) units.push_back(static_cast<std::int32_t>(j));
  if (units.empty()) return 0;

  const std::int64_t rows = residual_->shape[0], hidden = residual_->shape[1];
  std::vector<float> e(static_cast<std::size_t>(rows * hidden));
  be.download(e.data(), residual_->data);
  std::vector<double> loss(static_cast<std::size_t>(rows), 0.0);
  for (std::int64_t n = 0; n < rows; ++n)
    for (std::int64_t c = 0; c < hidden; ++c) loss[n] += double(e[n * hidden + c]) * e[n * hidden + c];
  std::vector<std::int32_t> order(static_cast<std::size_t>(rows));
  std::iota(order.begin(), order.end(), 0);
  std::stable_sort(order.begin(), order.end(), [&](std::int32_t a, std::int32_t b) { return loss[a] > loss[b]; });
  std::vector<std::int32_t> sources(units.size());
  for (std::size_t i = 0; i < units.size(); ++i) sources[i] = order[i % order.size()];

  Parameter& w_enc = graph_.find_parameter("sae.enc.weight");
  Parameter& b_enc = graph_.find_parameter("sae.enc.bias");
  Parameter& w_dec = graph_.find_parameter("sae.dec.weight");
  std::vector<float> w(static_cast<std::size_t>(w_enc.value.numel()));
  be.download(w.data(), w_enc.value);
  double live_norm = 0.0, all_norm = 0.0;
  std::int64_t live = 0;
  for (std::size_t j = 0; j < since.size(); ++j) {
    double sq = 0.0;
    for (std::int64_t c = 0; c < hidden; ++c) sq += double(w[j * hidden + c]) * w[j * hidden + c];
    all_norm += std::sqrt(sq);
    if (since[j] < config_.dead_steps) live_norm += std::sqrt(sq), ++live;
  }
  const double mean_norm = live > 0 ? live_norm / live : all_norm / static_cast<double>(since.size());
  const SaeResampleTensors targets{w_enc.value, b_enc.value, w_dec.value, w_enc.adam_m, w_enc.adam_v,
                                   b_enc.adam_m, b_enc.adam_v, w_dec.adam_m, w_dec.adam_v};
  resample_units(be, units, sources, resample_scratch_, sae_input_->data, static_cast<float>(scale * mean_norm),
                 targets, since_fired_);
  return static_cast<std::int64_t>(units.size());
}

}  // namespace vsae
