// Dead-neuron accounting from per-unit firing counts (DESIGN §6): the (t, ε) grid, revival
// tracking for the extra epochs (a unit dead when the schedule ended that fires again later), and
// when each unit died.
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

// When units die: the last evaluated epoch in which each unit fired. A unit's death epoch is the
// first epoch from which it never fired again, so it can be read against the k schedule.
class DeathTracker {
 public:
  static constexpr std::int32_t kNeverFired = -1;

  // Records one epoch's evaluation counts (epochs in increasing order).
  void update(std::int64_t epoch, const std::vector<std::int64_t>& counts);
  // Per unit, after the latest update at `epoch`: its death epoch (0 for a unit that never fired),
  // or -1 for a unit that fired in that epoch's evaluation (alive).
  std::vector<std::int64_t> death_epochs(std::int64_t epoch) const;
  // For checkpoints; restore() puts it back.
  const std::vector<std::int32_t>& last_fired() const { return last_fired_; }
  void restore(std::vector<std::int32_t> last_fired) { last_fired_ = std::move(last_fired); }

 private:
  std::vector<std::int32_t> last_fired_;  // per unit; kNeverFired before its first firing
};

}  // namespace vsae::metrics
