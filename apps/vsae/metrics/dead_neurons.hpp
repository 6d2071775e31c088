// Dead-neuron accounting from per-unit firing counts (DESIGN §6): the (t, ε) grid, and revival
// tracking for the extra epochs (a unit dead when the schedule ended that fires again later).
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <vector>

namespace vsae::metrics {

struct DeadNeuronGrid {
  std::vector<double> thresholds;              // t: a unit is dead when its firing frequency f ≤ t
  std::vector<double> activation_eps;          // ε: a unit fires on x when a(x) > ε
  std::vector<std::vector<double>> fraction;   // [ε][t]: fraction of units dead
  std::vector<std::vector<std::int64_t>> count;  // [ε][t]: number of units dead

  // The headline figure: t = 0, ε = 0 (never fires on the evaluation set), if in the grid.
  double headline() const;
  nlohmann::json to_json() const;
};

// counts[e][i]: how many of `samples` inputs made unit i exceed activation_eps[e].
DeadNeuronGrid dead_neuron_grid(const std::vector<std::vector<std::int64_t>>& counts, std::int64_t samples,
                                const std::vector<double>& thresholds, const std::vector<double>& activation_eps);

// Units with a zero count: dead at t = 0.
std::vector<bool> never_fired(const std::vector<std::int64_t>& counts);

class RevivalTracker {
 public:
  // Records which units were dead (never fired on the evaluation set) when the schedule ended.
  void mark_schedule_end(const std::vector<bool>& dead);
  bool marked() const { return !dead_at_end_.empty(); }
  // Updates with an epoch's counts; returns how many units dead at the schedule's end have fired
  // at least once since.
  std::int64_t update(const std::vector<std::int64_t>& counts);
  std::int64_t dead_at_end() const;
  std::int64_t revived() const;
  // The per-unit masks, for checkpoints; restore() puts them back.
  const std::vector<bool>& dead_at_end_mask() const { return dead_at_end_; }
  const std::vector<bool>& revived_mask() const { return revived_; }
  void restore(std::vector<bool> dead_at_end, std::vector<bool> revived);

 private:
  std::vector<bool> dead_at_end_;
  std::vector<bool> revived_;
};

}  // namespace vsae::metrics
