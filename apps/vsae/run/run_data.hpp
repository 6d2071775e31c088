// The data of one run, from its config: the training set (whole dataset or a fixed subset) and
// the fixed evaluation set, both resident on the backend.
#pragma once

#include <iosfwd>
#include <memory>

#include "apps/vsae/config/run_config.hpp"
#include "apps/vsae/data/resident.hpp"

namespace vsae {

struct RunData {
  std::unique_ptr<data::ResidentDataset> train;
  std::unique_ptr<data::ResidentDataset> eval;
};

// Opens the dataset (generator or real file), makes the training set resident and draws the
// evaluation set (evaluation.samples images with the run seed; 0: the whole dataset).
RunData load_run_data(const config::RunConfig& config, Backend& be, std::ostream* log);

}  // namespace vsae
