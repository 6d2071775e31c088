// Wiring of one run: the backend, the resident data, the run directory and the trainer.
#include "apps/vsae/run/train_run.hpp"

#include <iostream>

#include "apps/vsae/run/run_data.hpp"
#include "apps/vsae/run/run_directory.hpp"
#include "engine/core/backend.hpp"

namespace vsae {

nlohmann::json train_run(const config::RunConfig& config, const TrainOptions& options) {
  auto backend = Backend::create(parse_device_choice(config.device), &std::cerr);
  RunDirectory out(config.output.dir);
  RunData data = load_run_data(config, *backend, &std::cerr);
  Trainer trainer(config, *backend, *data.train, *data.eval, out);
  return trainer.run(options);
}

}  // namespace vsae
