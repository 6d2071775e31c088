// The sparsity schedule k(e): the target number of active SAE units, from `start` to `end` over
// the schedule's epochs (the last schedule epoch trains at exactly `end`), then held at `end`.
#pragma once

#include <cstdint>

#include "apps/vsae/config/run_config.hpp"

namespace vsae {

class SparsitySchedule {
 public:
  SparsitySchedule(const config::ScheduleConfig& config, std::int64_t steps_per_epoch);

  // Target k for a step: per-epoch schedules change only at epoch boundaries.
  std::int64_t k_at(std::int64_t epoch, std::int64_t step_in_epoch) const;
  std::int64_t k_at_epoch(std::int64_t epoch) const { return k_at(epoch, 0); }
  // True when epoch e is past the schedule (the extra epochs at the final sparsity).
  bool finished(std::int64_t epoch) const { return epoch >= config_.epochs; }

 private:
  // Progress p in [0, 1] -> k, rounded to the nearest unit and kept within [end, start].
  std::int64_t k_of_progress(double p) const;

  config::ScheduleConfig config_;
  std::int64_t steps_per_epoch_;
};

}  // namespace vsae
