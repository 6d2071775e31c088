// Checkpoints: parameters (PyTorch names, so load_state_dict reads them), Adam moments, the device
// scalars and the trainer's progress, in one safetensors file written atomically.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "apps/vsae/model/vae_sae.hpp"

namespace vsae {

// What the trainer needs, besides the model, to continue exactly where it stopped.
struct TrainerState {
  std::int64_t epochs_done = 0;  // completed epochs; training resumes at this epoch index
  std::int64_t steps_done = 0;   // steps of epoch `epochs_done` already trained (a graceful stop)
  std::vector<std::int32_t> dead_at_schedule_end;  // per SAE unit (empty before the schedule ends)
  std::vector<std::int32_t> revived;               // per SAE unit
  std::vector<std::int32_t> last_fired;            // per SAE unit: last epoch it fired in evaluation
  std::string config_digest;    // config::resume_digest of the config the checkpoint was made with
  std::string config_identity;  // config::resume_identity of that config, as JSON text
};

void save_checkpoint(const std::string& path, Backend& be, VaeSaeModel& model, const TrainerState& state);
// Restores into a model built from the same config; any mismatch (missing tensor, wrong shape,
// different config) is an error naming the checkpoint and the problem.
void load_checkpoint(const std::string& path, Backend& be, VaeSaeModel& model, TrainerState& state);

}  // namespace vsae
