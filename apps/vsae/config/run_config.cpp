// Parsing, validation and serialisation of the run config.
#include "apps/vsae/config/run_config.hpp"

#include <cstdio>

#include <limits>

#include "apps/vsae/config/json_reader.hpp"
#include "engine/core/check.hpp"
#include "engine/ops/firing.hpp"

namespace vsae::config {

using nlohmann::json;

namespace {

constexpr std::int64_t kMaxInt = std::numeric_limits<std::int32_t>::max();

// The method a sparsity.method name selects; identity for a name that selects none.
SaeKind parse_method(const std::string& s) {
  for (SaeKind kind : {SaeKind::topk, SaeKind::l1, SaeKind::l1_prox, SaeKind::batchtopk, SaeKind::jumprelu})
    if (s == to_string(kind)) return kind;
  return SaeKind::identity;
}

void read_jumprelu(JsonReader r, double& coefficient, ModelConfig& m) {
  coefficient = r.number("coefficient", coefficient, 0.0, 1e6);
  m.jumprelu_bandwidth = static_cast<float>(r.number("bandwidth", m.jumprelu_bandwidth, 0.0, 1e3));
  if (m.jumprelu_bandwidth <= 0.0f) throw Error(r.key_path("bandwidth") + " must be positive");
  m.jumprelu_initial_threshold =
      static_cast<float>(r.number("initial_threshold", m.jumprelu_initial_threshold, 0.0, 1e3));
  if (m.jumprelu_initial_threshold <= 0.0f) throw Error(r.key_path("initial_threshold") + " must be positive");
  m.jumprelu_threshold_lr_scale =
      static_cast<float>(r.number("threshold_lr_scale", m.jumprelu_threshold_lr_scale, 0.0, 1e6));
  if (m.jumprelu_threshold_lr_scale <= 0.0f) throw Error(r.key_path("threshold_lr_scale") + " must be positive");
  r.reject_unknown_keys();
}

void read_dataset(JsonReader r, DatasetConfig& d) {
  d.name = r.string("name", d.name, {"dsprites", "shapes3d"});
  d.source = r.string("source", d.source);
  if (d.source.empty()) throw Error(r.key_path("source") + " must be \"procedural\" or a file path");
  d.subset = r.integer("subset", d.subset, 0, 737280);
  r.reject_unknown_keys();
}

void read_model(JsonReader r, ModelConfig& m) {
  std::vector<std::int64_t> convs = r.integers("conv_channels", {32, 32, 64, 64}, 1, 1024);
  if (convs.size() != 4) throw Error(r.key_path("conv_channels") + " must list 4 channel counts");
  m.conv_channels.assign(convs.begin(), convs.end());
  m.hidden = static_cast<int>(r.integer("hidden", m.hidden, 1, 65536));
  m.sae_width = static_cast<int>(r.integer("sae_width", m.sae_width, 1, 65536));
  m.latent = static_cast<int>(r.integer("latent", m.latent, 1, 1024));
  JsonReader sae = r.section("sae");
  m.pre_encoder_bias = sae.boolean("pre_encoder_bias", m.pre_encoder_bias);
  m.decoder_bias_init =
      sae.string("decoder_bias_init", m.decoder_bias_init, {"default", "zeros", "mean", "geometric_median"});
  m.init_samples = sae.integer("init_samples", m.init_samples, 1, 1 << 24);
  m.tied_init = sae.boolean("tied_init", m.tied_init);
  m.unit_norm_decoder = sae.boolean("unit_norm_decoder", m.unit_norm_decoder);
  sae.reject_unknown_keys();
  r.reject_unknown_keys();
}

void read_schedule(JsonReader r, ScheduleConfig& s, std::int64_t width, std::int64_t train_epochs) {
  s.type = r.string("type", s.type, {"linear", "exponential", "cosine", "step"});
  const std::string bound = "1 and sae_width (" + std::to_string(width) + ")";
  auto k_in_range = [&](const std::string& key, std::int64_t fallback) {
    std::int64_t k = r.integer(key, std::min(fallback, width), std::numeric_limits<std::int64_t>::min(), kMaxInt);
    if (k < 1 || k > width)
      throw Error(r.key_path(key) + " must be between " + bound + ", got " + std::to_string(k));
    return k;
  };
  s.start = k_in_range("start", s.start);
  s.end = k_in_range("end", s.end);
  if (s.end > s.start)
    throw Error(r.key_path("end") + " (" + std::to_string(s.end) + ") must not exceed " + r.key_path("start") + " (" +
                std::to_string(s.start) + ")");
  s.epochs = r.integer("epochs", std::min(s.epochs, train_epochs), 0, train_epochs);
  s.granularity = r.string("granularity", s.granularity, {"epoch", "step"});
  s.step_every = r.integer("step_every", s.step_every, 1, kMaxInt);
  r.reject_unknown_keys();
}

void read_controller(JsonReader r, ControllerConfig& c) {
  c.mode = r.string("mode", c.mode, {"tracking", "adaptive", "fixed"});
  c.initial = r.number("initial", c.initial, 0.0, 1e6);
  c.rate = r.number("rate", c.rate, 0.0, 10.0);
  c.min = r.number("min", c.min, 0.0, 1e6);
  c.max = r.number("max", c.max, 0.0, 1e6);
  c.floor = r.number("floor", c.floor, 0.0, 1.0);
  if (c.min > c.max) throw Error(r.key_path("min") + " must not exceed " + r.key_path("max"));
  if (c.initial < c.min || c.initial > c.max)
    throw Error(r.key_path("initial") + " must lie within [" + r.key_path("min") + ", " + r.key_path("max") + "]");
  r.reject_unknown_keys();
}

void read_l1_prox(JsonReader r, ModelConfig& m) {
  m.l1_prox_threshold = r.string("threshold", m.l1_prox_threshold, {"absolute", "relative", "per_unit"});
  m.l1_prox_scale_beta = static_cast<float>(r.number("scale_beta", m.l1_prox_scale_beta, 0.0, 1.0));
  if (m.l1_prox_scale_beta >= 1.0f) throw Error(r.key_path("scale_beta") + " must be below 1");
  r.reject_unknown_keys();
}

void read_training(JsonReader r, TrainingConfig& t) {
  t.epochs = r.integer("epochs", t.epochs, 1, 100000);
  t.extra_epochs = r.integer("extra_epochs", t.extra_epochs, 0, 100000);
  t.batch_size = r.integer("batch_size", t.batch_size, 1, 65536);
  t.lr = r.number("lr", t.lr, 0.0, 10.0);
  if (t.lr <= 0.0) throw Error(r.key_path("lr") + " must be positive");
  t.adam_beta1 = r.number("adam_beta1", t.adam_beta1, 0.0, 0.999999);
  t.adam_beta2 = r.number("adam_beta2", t.adam_beta2, 0.0, 0.999999999);
  t.adam_eps = r.number("adam_eps", t.adam_eps, 1e-30, 1.0);
  t.beta = r.number("beta", t.beta, 0.0, 1e6);
  t.gamma = r.number("gamma", t.gamma, 0.0, 1e6);
  t.tf32 = r.boolean("tf32", t.tf32);
  t.cuda_graph = r.boolean("cuda_graph", t.cuda_graph);
  r.reject_unknown_keys();
}

void read_eval(JsonReader r, EvalConfig& e) {
  e.samples = r.integer("samples", e.samples, 0, 737280);
  e.mig_bins = r.integer("mig_bins", e.mig_bins, 2, 1000);
  e.dead_thresholds = r.numbers("dead_thresholds", e.dead_thresholds, 0.0, 1.0);
  e.activation_eps = r.numbers("activation_eps", e.activation_eps, 0.0, 1e6);
  // The evaluator counts every ε in one firing_stats pass, which takes at most this many.
  if (e.activation_eps.size() > static_cast<std::size_t>(kMaxFiringThresholds))
    throw Error(r.key_path("activation_eps") + " must list at most " + std::to_string(kMaxFiringThresholds) +
                " values, got " + std::to_string(e.activation_eps.size()));
  r.reject_unknown_keys();
}

void read_output(JsonReader r, OutputConfig& o, const std::string& run_name) {
  o.dir = r.string("dir", "runs/" + run_name);
  if (o.dir.empty()) throw Error(r.key_path("dir") + " must not be empty");
  o.checkpoint_every = r.integer("checkpoint_every", o.checkpoint_every, 0, 100000);
  o.save_latents = r.boolean("save_latents", o.save_latents);
  r.reject_unknown_keys();
}

void read_revival(JsonReader r, RevivalConfig& v, ModelConfig& m) {
  v.method = r.string("method", v.method, {"none", "auxk", "resample"});
  const std::int64_t width = m.sae_width;
  v.auxk_k = r.integer("auxk_k", std::min(v.auxk_k, width), 1, kMaxInt);
  if (v.auxk_k > width)
    throw Error(r.key_path("auxk_k") + " must be between 1 and sae_width (" + std::to_string(width) + "), got " +
                std::to_string(v.auxk_k));
  v.auxk_alpha = r.number("auxk_alpha", v.auxk_alpha, 0.0, 1e6);
  v.dead_steps = r.integer("dead_steps", v.dead_steps, 1, kMaxInt);
  v.resample_every = r.integer("resample_every", v.resample_every, 1, 100000);
  v.resample_scale = r.number("resample_scale", v.resample_scale, 0.0, 1e3);
  if (v.resample_scale <= 0.0) throw Error(r.key_path("resample_scale") + " must be positive");
  r.reject_unknown_keys();
  m.dead_steps = v.method == "none" ? 0 : static_cast<int>(v.dead_steps);
  m.auxk_k = v.method == "auxk" ? static_cast<int>(v.auxk_k) : 0;
  m.auxk_alpha = static_cast<float>(v.auxk_alpha);
}

}  // namespace

json resume_identity(json resolved) {
  resolved.erase("device");
  resolved.erase("output");
  // The settings of the other sparsifiers do not change what this one computes, so a sweep may
  // tune JumpReLU without invalidating its Top-k members.
  // A file without a valid sparsity section keeps all of it, so it differs from any parsed config.
  const auto sparsity = resolved.find("sparsity");
  if (sparsity == resolved.end() || !sparsity->is_object()) return resolved;
  const auto method_it = sparsity->find("method");
  if (method_it == sparsity->end() || !method_it->is_string()) return resolved;
  const SaeKind method = parse_method(method_it->get<std::string>());
  if (method != SaeKind::jumprelu) sparsity->erase("jumprelu");
  if (method != SaeKind::batchtopk) sparsity->erase("batchtopk");
  // An absolute τ ignores the statistics' decay; erasing it keeps older L1-prox checkpoints resumable.
  const auto l1_prox = sparsity->find("l1_prox");
  if (l1_prox != sparsity->end()) {
    const bool absolute = !l1_prox->is_object() || !l1_prox->contains("threshold") ||
                          (*l1_prox)["threshold"] == "absolute";
    if (method != SaeKind::l1_prox || absolute) sparsity->erase("l1_prox");
  }
  if (!has_controlled_coefficient(method)) sparsity->erase("controller");
  return resolved;
}

std::string resume_digest(const RunConfig& config) {
  std::uint64_t hash = 0xcbf29ce484222325ull;
  for (unsigned char c : resume_identity(config.to_json()).dump()) hash = (hash ^ c) * 0x100000001b3ull;
  char hex[17];
  std::snprintf(hex, sizeof hex, "%016llx", static_cast<unsigned long long>(hash));
  return hex;
}

std::string first_difference(const json& a, const json& b) {
  const json patch = json::diff(a, b);
  if (patch.empty()) return "";
  json::json_pointer at(patch[0]["path"].get<std::string>());
  std::string path;
  for (; !at.empty(); at.pop_back()) path = at.back() + (path.empty() ? "" : "." + path);
  return path.empty() ? "the whole config" : path;
}

const char* to_string(SaeKind kind) {
  switch (kind) {
    case SaeKind::identity: return "identity";
    case SaeKind::topk: return "topk";
    case SaeKind::l1: return "l1";
    case SaeKind::l1_prox: return "l1_prox";
    case SaeKind::batchtopk: return "batchtopk";
    case SaeKind::jumprelu: return "jumprelu";
  }
  return "?";
}

RunConfig parse_run_config(const json& root) {
  RunConfig c;
  JsonReader r(&root, "");
  c.name = r.string("name", c.name);
  if (c.name.empty() || c.name.find('/') != std::string::npos)
    throw Error("name must be a non-empty string without '/'");
  c.seed = static_cast<std::uint64_t>(r.integer("seed", 0, 0, std::numeric_limits<std::int64_t>::max()));
  c.device = r.string("device", c.device, {"auto", "cpu", "cuda"});
  read_dataset(r.section("dataset"), c.dataset);
  c.model.channels = c.dataset.name == "dsprites" ? 1 : 3;
  if (c.dataset.name == "shapes3d" && c.dataset.subset > 480000)
    throw Error("dataset.subset must be between 0 and 480000 for shapes3d, got " + std::to_string(c.dataset.subset));
  read_model(r.section("model"), c.model);
  read_training(r.section("training"), c.training);

  JsonReader sparsity = r.section("sparsity");
  c.sparsity.method =
      parse_method(sparsity.string("method", "topk", {"topk", "l1", "l1_prox", "batchtopk", "jumprelu"}));
  c.model.sae = c.sparsity.method;
  read_schedule(sparsity.section("schedule"), c.sparsity.schedule, c.model.sae_width, c.training.epochs);
  read_controller(sparsity.section("controller"), c.sparsity.controller);
  read_jumprelu(sparsity.section("jumprelu"), c.sparsity.jumprelu_coefficient, c.model);
  c.model.multi_topk = sparsity.boolean("multi_topk", c.model.multi_topk);
  JsonReader batchtopk = sparsity.section("batchtopk");
  c.model.batchtopk_threshold_beta =
      static_cast<float>(batchtopk.number("threshold_beta", c.model.batchtopk_threshold_beta, 0.0, 1.0));
  if (c.model.batchtopk_threshold_beta >= 1.0f)
    throw Error(batchtopk.key_path("threshold_beta") + " must be below 1");
  batchtopk.reject_unknown_keys();
  read_l1_prox(sparsity.section("l1_prox"), c.model);
  if (c.model.multi_topk && c.sparsity.method != SaeKind::topk)
    throw Error(sparsity.key_path("multi_topk") + " composes with method \"topk\" only");
  if (c.model.l1_prox_threshold != "absolute" && c.sparsity.method != SaeKind::l1_prox)
    throw Error(sparsity.key_path("l1_prox") + ".threshold \"" + c.model.l1_prox_threshold +
                "\" applies to method \"l1_prox\" only");
  sparsity.reject_unknown_keys();

  read_eval(r.section("evaluation"), c.eval);
  read_output(r.section("output"), c.output, c.name);
  read_revival(r.section("revival"), c.revival, c.model);
  // A sweep section is expanded by apps/vsae/sweep into member configs; one run ignores it.
  r.raw("sweep");
  r.reject_unknown_keys();
  return c;
}

json RunConfig::to_json() const {
  return json{
      {"name", name},
      {"seed", seed},
      {"device", device},
      {"dataset", {{"name", dataset.name}, {"source", dataset.source}, {"subset", dataset.subset}}},
      {"model",
       {{"conv_channels", model.conv_channels},
        {"hidden", model.hidden},
        {"sae_width", model.sae_width},
        {"latent", model.latent},
        {"sae",
         {{"pre_encoder_bias", model.pre_encoder_bias},
          {"decoder_bias_init", model.decoder_bias_init},
          {"init_samples", model.init_samples},
          {"tied_init", model.tied_init},
          {"unit_norm_decoder", model.unit_norm_decoder}}}}},
      {"sparsity",
       {{"method", to_string(sparsity.method)},
        {"schedule",
         {{"type", sparsity.schedule.type},
          {"start", sparsity.schedule.start},
          {"end", sparsity.schedule.end},
          {"epochs", sparsity.schedule.epochs},
          {"granularity", sparsity.schedule.granularity},
          {"step_every", sparsity.schedule.step_every}}},
        {"controller",
         {{"mode", sparsity.controller.mode},
          {"initial", sparsity.controller.initial},
          {"rate", sparsity.controller.rate},
          {"min", sparsity.controller.min},
          {"max", sparsity.controller.max},
          {"floor", sparsity.controller.floor}}},
        {"multi_topk", model.multi_topk},
        {"batchtopk", {{"threshold_beta", model.batchtopk_threshold_beta}}},
        {"l1_prox",
         {{"threshold", model.l1_prox_threshold},
          {"scale_beta", model.l1_prox_scale_beta}}},
        {"jumprelu",
         {{"coefficient", sparsity.jumprelu_coefficient},
          {"bandwidth", model.jumprelu_bandwidth},
          {"initial_threshold", model.jumprelu_initial_threshold},
          {"threshold_lr_scale", model.jumprelu_threshold_lr_scale}}}}},
      {"training",
       {{"epochs", training.epochs},
        {"extra_epochs", training.extra_epochs},
        {"batch_size", training.batch_size},
        {"lr", training.lr},
        {"adam_beta1", training.adam_beta1},
        {"adam_beta2", training.adam_beta2},
        {"adam_eps", training.adam_eps},
        {"beta", training.beta},
        {"gamma", training.gamma},
        {"tf32", training.tf32},
        {"cuda_graph", training.cuda_graph}}},
      {"evaluation",
       {{"samples", eval.samples},
        {"mig_bins", eval.mig_bins},
        {"dead_thresholds", eval.dead_thresholds},
        {"activation_eps", eval.activation_eps}}},
      {"output",
       {{"dir", output.dir}, {"checkpoint_every", output.checkpoint_every}, {"save_latents", output.save_latents}}},
      {"revival",
       {{"method", revival.method},
        {"auxk_k", revival.auxk_k},
        {"auxk_alpha", revival.auxk_alpha},
        {"dead_steps", revival.dead_steps},
        {"resample_every", revival.resample_every},
        {"resample_scale", revival.resample_scale}}},
  };
}

}  // namespace vsae::config
