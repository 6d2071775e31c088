// The epoch loop: schedule, batches, evaluation, revival tracking, checkpoints and outputs.
#include "apps/vsae/train/trainer.hpp"

#include <chrono>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <utility>

#include "apps/vsae/run/stop_signal.hpp"
#include "apps/vsae/train/schedule.hpp"
#include "apps/vsae/data/npy.hpp"
#include "apps/vsae/data/sampling.hpp"
#include "apps/vsae/model/decoder_bias_init.hpp"
#include "engine/core/versions.hpp"
#include "engine/io/safetensors.hpp"
#include "engine/ops/gather.hpp"

#ifndef VSAE_GIT_COMMIT
#define VSAE_GIT_COMMIT "unknown"
#endif

namespace vsae {

namespace {

using nlohmann::json;
using Clock = std::chrono::steady_clock;

// How often (in steps) the host reads the loss to stop a diverged run early.
constexpr std::int64_t kNanCheckEvery = 200;
// output.save_latents also writes the representations at the schedule's end (k = end) here, under
// the run directory, when extra epochs follow it (tools/vsae_py/files.py reads it as SCHEDULE_END_DIR).
constexpr const char* kScheduleEndDir = "schedule_end";

double seconds_since(Clock::time_point t) { return std::chrono::duration<double>(Clock::now() - t).count(); }

json loss_json(const LossValues& l) {
  return {{"recon", l.recon}, {"kl", l.kl},   {"sae", l.sae},
          {"l1", l.l1},       {"aux", l.aux}, {"sparsity", l.sparsity}, {"multi_topk", l.multi_topk}, {"total", l.total}};
}

json mig_json(const MigResult& m) {
  return {{"mig", m.mig}, {"gap", m.gap}, {"best_latent", m.best_latent}, {"factor_entropy", m.factor_entropy}};
}

bool finite(const LossValues& l) { return std::isfinite(l.total) && std::isfinite(l.recon) && std::isfinite(l.kl); }

// The TF32 switch must be set before the model and the evaluator plan their cuDNN algorithms and
// cuBLAS math modes, so it is applied while the backend reference is bound, ahead of both.
Backend& with_tf32(Backend& be, bool on) {
  be.set_tf32(on);
  return be;
}

}  // namespace

Trainer::Trainer(const config::RunConfig& config, Backend& be, data::ResidentDataset& train,
                 data::ResidentDataset& eval, RunDirectory& out)
    : config_(config),
      be_(with_tf32(be, config.training.tf32)),
      train_(train),
      eval_(eval),
      out_(out),
      model_(be, config.model, static_cast<int>(config.training.batch_size), config.seed),
      evaluator_(be, model_, EvalSet{eval.images(), eval.classes(), eval.num_classes(), eval.pixel_scale()}, config.eval),
      steps_per_epoch_(train_.size() / config.training.batch_size) {
  VSAE_CHECK(steps_per_epoch_ >= 1, "the training set has " << train_.size()
                                                             << " images, fewer than one batch of "
                                                             << config.training.batch_size);
  const config::TrainingConfig& t = config.training;
  adam_ = AdamHyper{static_cast<float>(t.lr), static_cast<float>(t.adam_beta1), static_cast<float>(t.adam_beta2),
                    static_cast<float>(t.adam_eps)};
  model_.set_loss_weights(be, static_cast<float>(t.beta), static_cast<float>(t.gamma));
  const config::ControllerConfig& c = config.sparsity.controller;
  if (config.sparsity.method == SaeKind::jumprelu)
    model_.set_coefficient(be, static_cast<float>(config.sparsity.jumprelu_coefficient));
  if (has_controlled_coefficient(config.sparsity.method)) {
    model_.set_coefficient(be, static_cast<float>(c.initial));
    if (c.mode != "fixed")
      model_.enable_controller(SparsityControl{static_cast<float>(c.rate), static_cast<float>(c.min),
                                               static_cast<float>(c.max),
                                               c.mode == "tracking" ? static_cast<float>(c.floor) : 0.0f});
  }
  buffers_ = be.allocate(Storage::kAlignment);
  cursor_ = buffers_.view(Shape{1}, DType::i32);
  step_graph_ = std::make_unique<StepGraph>(be, t.cuda_graph);
  state_.config_digest = config::resume_digest(config);
  state_.config_identity = config::resume_identity(config.to_json()).dump();
}

json Trainer::run(const TrainOptions& options) {
  namespace fs = std::filesystem;
  // A resumed run has its b_dec (and this initial value) in the checkpoint.
  if (!options.resume) initialise_decoder_bias();
  if (!options.dump_step_dir.empty()) {
    dump_step(options.dump_step_dir);
    return json::object();
  }
  if (options.resume) {
    if (!fs::exists(out_.checkpoint_path()))
      throw Error("--resume: no checkpoint in " + out_.path() + " (expected " + out_.checkpoint_path() + ")");
    load_checkpoint(out_.checkpoint_path(), be_, model_, state_);
    const std::int64_t total = config_.training.epochs + config_.training.extra_epochs;
    if (state_.epochs_done < 0 || state_.epochs_done > total)
      throw Error("checkpoint " + out_.checkpoint_path() + ": epochs_done " + std::to_string(state_.epochs_done) +
                  " is outside 0.." + std::to_string(total));
    if (state_.steps_done < 0 || state_.steps_done >= steps_per_epoch_ || (state_.steps_done > 0 && state_.epochs_done == total))
      throw Error("checkpoint " + out_.checkpoint_path() + ": steps_done " + std::to_string(state_.steps_done) +
                  " is outside 0.." + std::to_string(steps_per_epoch_ - 1) + " of epoch " +
                  std::to_string(state_.epochs_done + 1));
    // Nothing would run, and results.json needs the last epoch's evaluation.
    if (state_.epochs_done == total)
      throw Error("--resume: the run in " + out_.path() + " already finished all " + std::to_string(total) +
                  " epochs; nothing is left to resume");
    // results.json summarises the whole run, so the epochs before the resume join the history.
    history_ = out_.truncate_metrics(state_.epochs_done);
    std::fprintf(stderr, "vsae_gpu: resuming %s after epoch %lld, step %lld\n", out_.path().c_str(),
                 static_cast<long long>(state_.epochs_done), static_cast<long long>(state_.steps_done));
  } else if (fs::exists(out_.file("metrics.jsonl")) || fs::exists(out_.checkpoint_path())) {
    throw Error("run directory " + out_.path() + " already holds a run; pass --resume to continue it or --out to start elsewhere");
  }
  out_.write_json("config.json", config_.to_json());

  const config::TrainingConfig& t = config_.training;
  const std::int64_t total_epochs = t.epochs + t.extra_epochs;
  const std::int64_t schedule_end = config_.sparsity.schedule.end_epoch();
  metrics::RevivalTracker revival;
  if (!state_.dead_at_schedule_end.empty())
    revival.restore(std::vector<bool>(state_.dead_at_schedule_end.begin(), state_.dead_at_schedule_end.end()),
                    std::vector<bool>(state_.revived.begin(), state_.revived.end()));
  metrics::DeathTracker deaths;
  deaths.restore(state_.last_fired);
  progress_ = std::make_unique<Progress>(total_epochs, steps_per_epoch_, t.batch_size);

  const auto run_start = Clock::now();
  EvalResult last;
  for (std::int64_t epoch = state_.epochs_done; epoch < total_epochs; ++epoch) {
    const auto epoch_start = Clock::now();
    train_epoch(epoch, std::exchange(state_.steps_done, 0));
    const double train_seconds = seconds_since(epoch_start);
    train_seconds_ += train_seconds;
    last = evaluator_.run(be_);
    if (model_.has_sae()) {
      const std::vector<std::int64_t>& fired = last.fire_counts.front();
      if (epoch == schedule_end) revival.mark_schedule_end(metrics::never_fired(fired));
      // The representations at k = end too, when extra epochs follow, for the metric suite.
      if (epoch == schedule_end && epoch + 1 < total_epochs && config_.output.save_latents)
        save_representations(kScheduleEndDir);
      if (epoch > schedule_end && revival.marked()) revival.update(fired);
      deaths.update(epoch, fired);
    }
    json line = epoch_metrics(epoch, last, seconds_since(epoch_start), train_seconds);
    progress_->epoch_done(epoch, epoch_summary(line));
    if (model_.tracks_dead()) line["revival"] = revive(epoch, total_epochs);
    line["revived"] = revival.marked() ? json(revival.revived()) : json(nullptr);
    line["dead_at_schedule_end"] = revival.marked() ? json(revival.dead_at_end()) : json(nullptr);
    out_.append_metrics(line);
    history_.push_back(line);

    state_.dead_at_schedule_end.assign(revival.dead_at_end_mask().begin(), revival.dead_at_end_mask().end());
    state_.revived.assign(revival.revived_mask().begin(), revival.revived_mask().end());
    state_.last_fired = deaths.last_fired();
    const bool last_epoch = epoch + 1 == total_epochs;
    const std::int64_t every = config_.output.checkpoint_every;
    const int signal = stop_requested();
    if (last_epoch || signal != 0 || (every > 0 && (epoch + 1) % every == 0)) save(epoch + 1, 0);
    if (signal != 0 && !last_epoch) throw stopped(signal, epoch + 1, 0);
  }
  if (config_.output.save_latents) save_latents();
  json result = results(last, seconds_since(run_start));
  result["recovered_neurons"] = revival.marked() ? json(revival.revived()) : json(nullptr);
  result["dead_at_schedule_end"] = revival.marked() ? json(revival.dead_at_end()) : json(nullptr);
  if (model_.has_sae()) {
    // Per unit: the first epoch from which it never fired again on the evaluation set; null for
    // a unit alive at the end.
    json death = json::array();
    for (std::int64_t e : deaths.death_epochs(total_epochs - 1)) death.push_back(e < 0 ? json(nullptr) : json(e));
    result["death_epoch"] = death;
  }
  out_.write_json("results.json", result);
  return result;
}

void Trainer::train_epoch(std::int64_t epoch, std::int64_t first_step) {
  const config::TrainingConfig& t = config_.training;

  SparsitySchedule schedule(config_.sparsity.schedule, steps_per_epoch_);
  std::int64_t k = schedule.k_at(epoch, first_step);
  if (model_.has_sae()) model_.set_k(be_, k);
  // The permutation is a pure function of (seed, epoch), so a resumed epoch draws the same one;
  // the cursor and (from the checkpoint) the firing counts continue where the stop left them.
  const Tensor& order = train_.shuffle(static_cast<std::uint32_t>(epoch));
  const std::int32_t cursor = static_cast<std::int32_t>(first_step * t.batch_size);
  be_.upload(cursor_, &cursor);
  if (first_step == 0) model_.reset_fire_counts(be_);
  const bool per_step = config_.sparsity.schedule.granularity == "step";
  for (std::int64_t s = first_step; s < steps_per_epoch_; ++s) {
    if (per_step && model_.has_sae()) {
      std::int64_t ks = schedule.k_at(epoch, s);
      if (ks != k) model_.set_k(be_, k = ks);
    }
    // k, λ, the cursor and the step number live in device memory, so one captured graph serves
    // every step; `order` is rebound by address (shuffle refills the same buffer each epoch).
    step_graph_->run(
        [&] {
          gather_batch(be_, train_.images(), order, cursor_, model_.input().data, train_.pixel_scale());
          advance_counter(be_, cursor_, static_cast<int>(t.batch_size));
          model_.train_step(be_, adam_);
        },
        {order.data});
    const std::int64_t global = epoch * steps_per_epoch_ + s + 1;
    if (global % kNanCheckEvery == 0 || s + 1 == steps_per_epoch_) {
      LossValues l = model_.read_losses(be_);
      if (!finite(l))
        throw Error("training diverged: the loss is not finite at step " + std::to_string(global) + " (epoch " +
                    std::to_string(epoch + 1) + "); the last good checkpoint is kept in " + out_.path());
    }
    progress_->step(epoch, s, k);
    // Between steps, never inside a replay; the epoch's last step goes on to its evaluation.
    if (const int signal = stop_requested(); signal != 0 && s + 1 < steps_per_epoch_) {
      save(epoch, s + 1);
      throw stopped(signal, epoch, s + 1);
    }
  }
  images_trained_ += (steps_per_epoch_ - first_step) * t.batch_size;
  // Read now: the evaluation pass that follows overwrites the model's loss values.
  last_train_loss_ = model_.read_losses(be_);
}

// decoder_bias_init "mean" or "geometric_median": b_dec from the SAE inputs h of init_samples
// training images (a subset drawn with the run's seed), computed on the host in double before the
// first step. The images go through the evaluation forward pass, a batch at a time.
void Trainer::initialise_decoder_bias() {
  const ModelConfig& m = config_.model;
  if (!model_.has_sae() || (m.decoder_bias_init != "mean" && m.decoder_bias_init != "geometric_median")) return;
  const std::vector<std::int64_t> sample =
      data::random_subset(train_.size(), m.init_samples, config_.seed, RngStream::sae_init_sample);
  const std::int64_t n = static_cast<std::int64_t>(sample.size()), batch = model_.batch();
  const std::int64_t hidden = model_.sae_input().shape[1];
  // The last batch wraps to the first images; only its real rows are kept.
  const std::int64_t padded = (n + batch - 1) / batch * batch;
  std::vector<std::int32_t> order(static_cast<std::size_t>(padded));
  for (std::int64_t i = 0; i < padded; ++i) order[static_cast<std::size_t>(i)] = static_cast<std::int32_t>(sample[static_cast<std::size_t>(i % n)]);
  Storage buffers = be_.allocate(static_cast<std::size_t>(padded + 1) * sizeof(std::int32_t));
  Tensor order_t = buffers.view(Shape{padded}, DType::i32), cursor = buffers.view(Shape{1}, DType::i32, static_cast<std::size_t>(padded) * sizeof(std::int32_t));
  be_.upload(order_t, order.data());
  be_.zero(cursor);
  std::vector<float> h(static_cast<std::size_t>(n * hidden));
  for (std::int64_t begin = 0; begin < n; begin += batch) {
    gather_batch(be_, train_.images(), order_t, cursor, model_.input().data, train_.pixel_scale());
    advance_counter(be_, cursor, static_cast<int>(batch));
    model_.evaluate_batch(be_);
    const std::int64_t rows = std::min(batch, n - begin);
    const Tensor& all = model_.sae_input().data;
    be_.download(h.data() + begin * hidden, Tensor(all.data, Shape{rows, hidden}, all.dtype, all.device));
  }
  const std::vector<float> bias =
      m.decoder_bias_init == "mean" ? column_mean(h, hidden) : geometric_median(h, hidden);
  model_.set_decoder_bias(be_, bias);
  double norm = 0.0;
  for (float v : bias) norm += double(v) * v;
  std::fprintf(stderr, "vsae_gpu: SAE decoder bias set to the %s of h over %lld training images (norm %.4g)\n",
               m.decoder_bias_init == "mean" ? "mean" : "geometric median", static_cast<long long>(n), std::sqrt(norm));
}

// The per-epoch progress line, from the epoch's metrics: what a user watches to see learning.
std::string Trainer::epoch_summary(const json& line) const {
  const json& l = line["eval_loss"];
  char text[256];
  int n = std::snprintf(text, sizeof text, "k=%lld  eval recon %.1f  kl %.2f  sae %.3f",
                        static_cast<long long>(line["k"].get<std::int64_t>()), l["recon"].get<double>(),
                        l["kl"].get<double>(), l["sae"].get<double>());
  if (line.contains("mean_l0"))
    n += std::snprintf(text + n, sizeof text - static_cast<std::size_t>(n), "  L0 %.1f  dead %.1f%%",
                       line["mean_l0"].get<double>(), 100.0 * line["dead"]["headline_dead_fraction"].get<double>());
  std::snprintf(text + n, sizeof text - static_cast<std::size_t>(n), "  MIG %.3f  %.0f img/s",
                line["mig"]["mig"].get<double>(), line["images_per_s"].get<double>());
  return text;
}

json Trainer::epoch_metrics(std::int64_t epoch, const EvalResult& eval, double seconds, double train_seconds) {
  const config::TrainingConfig& t = config_.training;
  SparsitySchedule schedule(config_.sparsity.schedule, steps_per_epoch_);
  json line{{"epoch", epoch},
            {"phase", schedule.finished(epoch) ? "extra" : "schedule"},
            {"k", schedule.k_at_epoch(epoch)},
            {"train_loss_last_batch", loss_json(last_train_loss_)},
            {"eval_loss", loss_json(eval.loss)},
            {"eval_samples", eval.samples},
            {"mig", mig_json(eval.mig)},
            {"wall_s", seconds},
            {"train_s", train_seconds},
            {"images_per_s", static_cast<double>(steps_per_epoch_ * t.batch_size) / train_seconds}};
  if (has_controlled_coefficient(config_.sparsity.method)) line["coefficient"] = model_.read_coefficient(be_);
  if (model_.has_l1_prox_running_scale()) line["l1_prox_running_scale"] = model_.read_l1_prox_running_scale(be_);
  if (model_.has_l1_prox_eval_tau()) line["l1_prox_eval_tau"] = model_.read_l1_prox_eval_tau(be_);
  if (model_.has_sae()) {
    std::vector<std::int64_t> trained = model_.read_fire_counts(be_);
    std::int64_t dead_in_training = std::count(trained.begin(), trained.end(), 0);
    line["dead_in_training"] = static_cast<double>(dead_in_training) / static_cast<double>(trained.size());
    line["mean_l0"] = eval.mean_l0;
    line["dead"] = eval.dead.to_json();
    line["sae_mig"] = mig_json(eval.sae_mig);
    line["sae_input"] = eval.sae_input.to_json();
  }
  return line;
}

// After an epoch's evaluation (so its metrics show the trained state, and the next epoch's show
// whether resampled units survive): the fraction dead by the training counter and, every
// resample_every epochs except after the last, the resampling.
json Trainer::revive(std::int64_t epoch, std::int64_t total_epochs) {
  const config::RevivalConfig& r = config_.revival;
  const std::vector<std::int32_t> since = model_.read_steps_since_fired(be_);
  const auto dead = std::count_if(since.begin(), since.end(), [&](std::int32_t s) { return s >= r.dead_steps; });
  json out{{"method", r.method},
           {"dead_steps", r.dead_steps},
           {"dead_by_counter", static_cast<double>(dead) / static_cast<double>(since.size())},
           {"resampled", 0}};
  if (r.method == "resample" && (epoch + 1) % r.resample_every == 0 && epoch + 1 < total_epochs)
    out["resampled"] = model_.resample_dead_units(be_, static_cast<float>(r.resample_scale));
  return out;
}

void Trainer::save(std::int64_t epochs_done, std::int64_t steps_done) {
  state_.epochs_done = epochs_done;
  state_.steps_done = steps_done;
  save_checkpoint(out_.checkpoint_path(), be_, model_, state_);
  state_.steps_done = 0;
}

Stopped Trainer::stopped(int signal, std::int64_t epochs_done, std::int64_t steps_done) const {
  const std::string where = steps_done > 0 ? "in epoch " + std::to_string(epochs_done + 1) + " after step " +
                                                  std::to_string(steps_done) + " of " + std::to_string(steps_per_epoch_)
                                            : "after epoch " + std::to_string(epochs_done);
  return Stopped(signal, "stopped by " + signal_name(signal) + " " + where + "; the checkpoint in " + out_.path() +
                             " holds that position; continue with --resume (same --json and --out)");
}

json Trainer::results(const EvalResult& last, double seconds) const {
  json r{{"name", config_.name},
         {"dataset", config_.dataset.name},
         {"method", config::to_string(config_.sparsity.method)},
         {"seed", config_.seed},
         {"epochs", history_.empty() ? json(nullptr) : history_.back()["epoch"]},
         {"final", history_.empty() ? json(nullptr) : history_.back()},
         {"wall_s", seconds},
         {"train_s", train_seconds_},
         {"images_per_s", train_seconds_ > 0 ? static_cast<double>(images_trained_) / train_seconds_ : 0.0},
         {"device", be_.name()},
         {"backend", to_string(be_.device())},
         {"git_commit", VSAE_GIT_COMMIT},
         {"versions", library_versions()}};
  const std::int64_t schedule_end = config_.sparsity.schedule.end_epoch();
  for (const json& line : history_)
    if (line["epoch"] == schedule_end) r["at_schedule_end"] = line;
  if (model_.has_sae()) {
    // Per-unit interpretability: the best normalised MI of each live unit with any factor.
    json units = json::array();
    const std::vector<std::int64_t>& fired = last.fire_counts.front();
    for (std::size_t i = 0; i < fired.size(); ++i)
      if (fired[i] > 0)
        units.push_back({{"unit", i}, {"best_nmi", last.sae_mig.latent_best_nmi[i]},
                         {"factor", last.sae_mig.latent_best_factor[i]}});
    r["live_unit_interpretability"] = units;
    // Per-unit firing frequency on the evaluation set (first ε), for histograms (tools/report.py).
    json frequency = json::array();
    for (std::int64_t count : fired) frequency.push_back(static_cast<double>(count) / static_cast<double>(last.samples));
    r["final_fire_frequency"] = frequency;
  }
  return r;
}

void Trainer::save_representations(const std::string& subdir) {
  namespace fs = std::filesystem;
  const std::string dir = subdir.empty() ? out_.path() : out_.file(subdir);
  std::error_code ec;
  fs::create_directories(dir, ec);
  if (ec) throw Error("cannot create " + dir + ": " + ec.message());
  auto save = [&](const std::string& name, const Tensor& t) {
    std::vector<std::uint8_t> host(t.bytes());
    be_.download(host.data(), t);
    data::write_npy(dir + "/" + name, data::NpyHeader{"<f4", {t.dim(0), t.numel() / t.dim(0)}}, host.data());
  };
  save("latents.npy", evaluator_.latents());
  if (model_.has_sae()) save("sae_codes.npy", evaluator_.codes());
}

void Trainer::save_latents() {
  save_representations("");
  const std::vector<std::int32_t>& classes = eval_.host_classes();
  const std::int64_t n = eval_.size();
  data::write_npy(out_.file("factors.npy"),
                  data::NpyHeader{"<i4", {n, static_cast<std::int64_t>(classes.size()) / n}}, classes.data());
  // The dataset index of each row, so the evaluation images can be re-created outside the run
  // (`vsae_gpu export-dataset --indices`), e.g. to check a Python model against latents.npy.
  data::write_npy(out_.file("eval_indices.npy"), data::NpyHeader{"<i8", {n}}, eval_.indices().data());
}

void Trainer::dump_step(const std::string& dir) {
  namespace fs = std::filesystem;
  std::error_code ec;
  fs::create_directories(dir, ec);
  if (ec) throw Error("--dump-step: cannot create " + dir + ": " + ec.message());
  SparsitySchedule schedule(config_.sparsity.schedule, steps_per_epoch_);
  const std::int64_t k = schedule.k_at_epoch(0);
  if (model_.has_sae()) model_.set_k(be_, k);
  const Tensor& order = train_.shuffle(0);
  be_.zero(cursor_);
  gather_batch(be_, train_.images(), order, cursor_, model_.input().data, train_.pixel_scale());

  auto host = [&](const Tensor& t) { return download_host(be_, t); };
  SafetensorsFile f;
  for (const Parameter& p : model_.graph().parameters()) f.tensors["params." + p.name] = host(p.value);
  if (model_.tracks_dead()) {
    // A fresh model has no dead unit; marking every second one dead exercises AuxK in the check.
    std::vector<std::int32_t> since(static_cast<std::size_t>(config_.model.sae_width), 0);
    for (std::size_t j = 1; j < since.size(); j += 2) since[j] = config_.model.dead_steps;
    model_.set_steps_since_fired(be_, since);
    std::vector<float> dead(since.size());
    for (std::size_t j = 0; j < since.size(); ++j) dead[j] = since[j] >= config_.model.dead_steps ? 1.0f : 0.0f;
    f.tensors["revival.dead"] = HostTensor::from_floats(dead, {static_cast<std::int64_t>(dead.size())});
  }
  model_.forward_backward(be_);
  f.tensors["input"] = host(model_.input().data);
  f.tensors["eps"] = host(model_.graph().find_value("eps").data);
  for (const char* term : {"recon", "kl", "sae", "l1", "aux", "sparsity", "multi_topk"}) {
    const std::string name = std::string("loss.") + term;  // absent for the identity SAE or without L1
    if (model_.graph().has_value(name)) f.tensors[name] = host(model_.graph().find_value(name).data);
  }
  LossValues l = model_.read_losses(be_);
  f.tensors["loss.total"] = HostTensor::from_floats({l.total}, {});
  if (model_.has_sae()) f.tensors["sae.codes"] = host(model_.codes().data);
  for (const Parameter& p : model_.graph().parameters()) f.tensors["grads." + p.name] = host(p.grad);

  const ModelConfig& m = config_.model;
  f.metadata = {{"method", config::to_string(m.sae)},
                {"channels", std::to_string(m.channels)},
                {"conv_channels", json(m.conv_channels).dump()},
                {"hidden", std::to_string(m.hidden)},
                {"sae_width", std::to_string(m.sae_width)},
                {"latent", std::to_string(m.latent)},
                {"k", std::to_string(k)},
                {"coef", json(model_.has_sae() && (has_controlled_coefficient(m.sae) || m.sae == SaeKind::jumprelu)
                                  ? model_.read_coefficient(be_)
                                  : 0.0f)
                             .dump()},
                {"bandwidth", json(m.jumprelu_bandwidth).dump()},
                {"multi_topk", m.multi_topk ? "true" : "false"},
                {"beta", json(config_.training.beta).dump()},
                {"gamma", json(config_.training.gamma).dump()},
                {"auxk_k", std::to_string(m.auxk_k)},
                {"auxk_alpha", json(m.auxk_alpha).dump()},
                {"pre_encoder_bias", m.pre_encoder_bias ? "true" : "false"},
                {"l1_prox_threshold", m.l1_prox_threshold}};
  write_safetensors(dir + "/step.safetensors", f);
  std::fprintf(stderr, "vsae_gpu: wrote the golden step to %s/step.safetensors\n", dir.c_str());
}

}  // namespace vsae
