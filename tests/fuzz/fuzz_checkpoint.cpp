// The checkpoint reader on --resume: the safetensors container, then the strict load into a model
// (every tensor present with the model's dtype and shape, the trainer's metadata). The model is
// the one of seed_run.json, whose run wrote the seed checkpoint. vsae::Error is the one allowed
// refusal.
#include "apps/vsae/config/run_config.hpp"
#include "apps/vsae/sweep/grid.hpp"
#include "apps/vsae/train/checkpoint.hpp"
#include "engine/core/backend.hpp"
#include "engine/core/check.hpp"
#include "tests/fuzz/fuzz_input.hpp"

namespace {

struct Target {
  std::unique_ptr<vsae::Backend> be = vsae::Backend::make_cpu();
  vsae::config::RunConfig config =
      vsae::config::parse_run_config(vsae::sweep::read_json_file(VSAE_FUZZ_SEED_RUN));
  vsae::VaeSaeModel model{*be, config.model, 2, config.seed};
};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  static Target target;
  vsae::TrainerState state;
  try {
    vsae::load_checkpoint(vsae::fuzz::as_file(data, size), *target.be, target.model, state);
  } catch (const vsae::Error& e) {
    vsae::fuzz::refused(e);
  }
  return 0;
}
