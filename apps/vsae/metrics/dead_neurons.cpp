// Dead-neuron grid and revival tracking.
#include "apps/vsae/metrics/dead_neurons.hpp"

#include <algorithm>

#include "engine/core/check.hpp"

namespace vsae::metrics {

DeadNeuronGrid dead_neuron_grid(const std::vector<std::vector<std::int64_t>>& counts, std::int64_t samples,
                                const std::vector<double>& thresholds, const std::vector<double>& activation_eps) {
  VSAE_CHECK(counts.size() == activation_eps.size(), "one count vector per activation threshold");
  VSAE_CHECK(samples > 0, "dead-neuron grid needs at least one sample");
  DeadNeuronGrid g;
  g.thresholds = thresholds;
  g.activation_eps = activation_eps;
  for (const auto& c : counts) {
    std::vector<double> frac;
    std::vector<std::int64_t> num;
    for (double t : thresholds) {
      std::int64_t dead = std::count_if(c.begin(), c.end(), [&](std::int64_t fired) {
        return static_cast<double>(fired) / static_cast<double>(samples) <= t;
      });
      num.push_back(dead);
      frac.push_back(c.empty() ? 0.0 : static_cast<double>(dead) / static_cast<double>(c.size()));
    }
    g.fraction.push_back(frac);
    g.count.push_back(num);
  }
  return g;
}

double DeadNeuronGrid::headline() const {
  for (std::size_t e = 0; e < activation_eps.size(); ++e)
    for (std::size_t t = 0; t < thresholds.size(); ++t)
      if (activation_eps[e] == 0.0 && thresholds[t] == 0.0) return fraction[e][t];
  return fraction.empty() || fraction[0].empty() ? 0.0 : fraction[0][0];
}

nlohmann::json DeadNeuronGrid::to_json() const {
  nlohmann::json cells = nlohmann::json::array();
  for (std::size_t e = 0; e < activation_eps.size(); ++e)
    for (std::size_t t = 0; t < thresholds.size(); ++t)
      cells.push_back({{"eps", activation_eps[e]}, {"t", thresholds[t]}, {"dead_fraction", fraction[e][t]},
                       {"dead_count", count[e][t]}});
  return {{"headline_dead_fraction", headline()}, {"grid", cells}};
}

std::vector<bool> never_fired(const std::vector<std::int64_t>& counts) {
  std::vector<bool> dead(counts.size());
  for (std::size_t i = 0; i < counts.size(); ++i) dead[i] = counts[i] == 0;
  return dead;
}

void RevivalTracker::mark_schedule_end(const std::vector<bool>& dead) {
  dead_at_end_ = dead;
  revived_.assign(dead.size(), false);
}

void RevivalTracker::restore(std::vector<bool> dead_at_end, std::vector<bool> revived) {
  VSAE_CHECK(dead_at_end.size() == revived.size(), "revival tracker: mask sizes differ");
  dead_at_end_ = std::move(dead_at_end);
  revived_ = std::move(revived);
}

std::int64_t RevivalTracker::update(const std::vector<std::int64_t>& counts) {
  VSAE_CHECK(counts.size() == dead_at_end_.size(), "revival tracker: width changed");
  for (std::size_t i = 0; i < counts.size(); ++i)
    if (dead_at_end_[i] && counts[i] > 0) revived_[i] = true;
  return revived();
}

std::int64_t RevivalTracker::dead_at_end() const { return std::count(dead_at_end_.begin(), dead_at_end_.end(), true); }
std::int64_t RevivalTracker::revived() const { return std::count(revived_.begin(), revived_.end(), true); }

void DeathTracker::update(std::int64_t epoch, const std::vector<std::int64_t>& counts) {
  if (last_fired_.empty()) last_fired_.assign(counts.size(), kNeverFired);
  VSAE_CHECK(counts.size() == last_fired_.size(), "death tracker: width changed");
  for (std::size_t i = 0; i < counts.size(); ++i)
    if (counts[i] > 0) last_fired_[i] = static_cast<std::int32_t>(epoch);
}

std::vector<std::int64_t> DeathTracker::death_epochs(std::int64_t epoch) const {
  std::vector<std::int64_t> death(last_fired_.size());
  for (std::size_t i = 0; i < death.size(); ++i) death[i] = last_fired_[i] == epoch ? -1 : last_fired_[i] + 1;
  return death;
}

}  // namespace vsae::metrics
