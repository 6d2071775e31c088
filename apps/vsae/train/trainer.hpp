// The training loop of one run: the sparsity schedule, per-epoch shuffled batches gathered on the
// device, the evaluation pass after every epoch, the extra epochs at the final sparsity with
// revival tracking, checkpoints, metrics.jsonl and results.json.
#pragma once

#include <cstdint>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>

#include "apps/vsae/config/run_config.hpp"
#include "apps/vsae/data/resident.hpp"
#include "apps/vsae/model/vae_sae.hpp"
#include "apps/vsae/run/run_directory.hpp"
#include "apps/vsae/run/stop_signal.hpp"
#include "apps/vsae/train/checkpoint.hpp"
#include "apps/vsae/train/evaluator.hpp"
#include "apps/vsae/train/progress.hpp"
#include "engine/graph/step_graph.hpp"

namespace vsae {

struct TrainOptions {
  bool resume = false;
  std::string dump_step_dir;  // write the first training step as a golden dump, then stop
};

class Trainer {
 public:
  // `train` and `eval` must outlive the trainer.
  Trainer(const config::RunConfig& config, Backend& be, data::ResidentDataset& train, data::ResidentDataset& eval,
          RunDirectory& out);
  // Runs (or resumes) every epoch; returns results.json's content.
  nlohmann::json run(const TrainOptions& options);

 private:
  // Trains the epoch's steps from `first_step` on (non-zero after a stop mid-epoch); on a stop
  // request it checkpoints the position after the current step and throws Stopped.
  void initialise_decoder_bias();  // model.sae.decoder_bias_init mean / geometric_median
  void train_epoch(std::int64_t epoch, std::int64_t first_step);
  nlohmann::json epoch_metrics(std::int64_t epoch, const EvalResult& eval, double seconds, double train_seconds);
  std::string epoch_summary(const nlohmann::json& line) const;
  nlohmann::json revive(std::int64_t epoch, std::int64_t total_epochs);  // revival.method != none
  void save(std::int64_t epochs_done, std::int64_t steps_done);
  Stopped stopped(int signal, std::int64_t epochs_done, std::int64_t steps_done) const;
  nlohmann::json results(const EvalResult& last, double seconds) const;
  void dump_step(const std::string& dir);
  // latents.npy and sae_codes.npy of the last evaluation, in the run directory's `subdir` ("" for
  // the run directory itself).
  void save_representations(const std::string& subdir);
  void save_latents();  // the representations at the end of training, factors.npy and eval_indices.npy

  config::RunConfig config_;
  Backend& be_;
  std::unique_ptr<Progress> progress_;
  data::ResidentDataset& train_;
  data::ResidentDataset& eval_;
  RunDirectory& out_;
  VaeSaeModel model_;
  Evaluator evaluator_;
  AdamHyper adam_;
  std::int64_t steps_per_epoch_;
  Storage buffers_;
  Tensor cursor_;
  std::unique_ptr<StepGraph> step_graph_;  // the training step, graph-replayed on CUDA
  TrainerState state_;
  LossValues last_train_loss_;  // of the last training batch of the latest epoch
  std::int64_t images_trained_ = 0;
  double train_seconds_ = 0;
  nlohmann::json history_ = nlohmann::json::array();  // per-epoch summaries for results.json
};

}  // namespace vsae
