// One training run in this process, from a validated config: backend, data, trainer, outputs.
// Used by `vsae_gpu --json run.json` and by the sweep runner for in-process members.
#pragma once

#include <nlohmann/json.hpp>

#include "apps/vsae/config/run_config.hpp"
#include "apps/vsae/train/trainer.hpp"

namespace vsae {

// Returns results.json's content (empty for a --dump-step run).
nlohmann::json train_run(const config::RunConfig& config, const TrainOptions& options);

}  // namespace vsae
