// summary.json of a sweep directory: mean ± std (and n) across seeds of the member-level figures
// of the members' results.json, grouped by the non-seed axes, plus the paper-shaped dead-neuron
// table. Per-unit data (death_epoch, final_fire_frequency, live_unit_interpretability) is never
// averaged by unit index (unit i of one seed is not unit i of another): it stays in each member's
// results.json, and the summary holds member-level reductions of it (unit_reductions) instead.
// Shared by the in-process runner and `vsae_gpu sweep-summary DIR` (Slurm's aggregation job).
#pragma once

#include <nlohmann/json.hpp>
#include <string>
#include <vector>

namespace vsae::sweep {

struct Stat {
  double mean = 0, std = 0;  // std: sample standard deviation (n − 1); 0 when n = 1
  int n = 0;
};
Stat mean_std(const std::vector<double>& xs);

// Every numeric leaf of `results` as {"a.b.0.c": value}; per-unit lists and identifiers (seed,
// mig.best_latent: unit indices) are left out at any depth, since a mean over them means nothing.
// Lists indexed by something shared across members (the threshold grid, MIG's factors) are kept.
void flatten_numbers(const nlohmann::json& results, const std::string& prefix, nlohmann::json& out);

// Member-level reductions of one member's per-unit lists, each under the list's own name, e.g.
// {"death_epoch": {"units": 500, "died": 120, "died_fraction": 0.24, ...}, ...}; see summary.cpp
// for the reductions and the fire-frequency bins. Lists the member lacks are left out.
nlohmann::json unit_reductions(const nlohmann::json& results);

// Aggregates `members` (the manifest's list: {name, values}) given each member's results.json
// content (null when the member has not finished).
nlohmann::json summarize(const nlohmann::json& manifest, const std::vector<nlohmann::json>& results);

// Reads DIR/sweep.json and DIR/<member>/results.json, writes DIR/summary.json and returns it.
nlohmann::json write_summary(const std::string& dir);

}  // namespace vsae::sweep
