// Builds the training and evaluation sets of a run.
#include "apps/vsae/run/run_data.hpp"

#include "apps/vsae/data/sources.hpp"

namespace vsae {

RunData load_run_data(const config::RunConfig& config, Backend& be, std::ostream* log) {
  std::unique_ptr<data::Dataset> dataset = data::open_dataset(config.dataset.name, config.dataset.source);
  RunData d;
  d.train = std::make_unique<data::ResidentDataset>(
      be, *dataset, data::ResidentOptions{config.dataset.subset, config.seed, RngStream::dataset_subset}, log);
  d.eval = std::make_unique<data::ResidentDataset>(
      be, *dataset, data::ResidentOptions{config.eval.samples, config.seed, RngStream::eval_subset}, log);
  return d;
}

}  // namespace vsae
