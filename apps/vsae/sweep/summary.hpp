// summary.json of a sweep directory: mean ± std (and n) across seeds of every numeric figure of
// the members' results.json, grouped by the non-seed axes, plus the paper-shaped dead-neuron table.
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

// Every numeric leaf of `results` as {"a.b.0.c": value}; per-unit lists and identifiers (seed)
// are left out, since a mean over them means nothing.
void flatten_numbers(const nlohmann::json& results, const std::string& prefix, nlohmann::json& out);

// Aggregates `members` (the manifest's list: {name, values}) given each member's results.json
// content (null when the member has not finished).
nlohmann::json summarize(const nlohmann::json& manifest, const std::vector<nlohmann::json>& results);

// Reads DIR/sweep.json and DIR/<member>/results.json, writes DIR/summary.json and returns it.
nlohmann::json write_summary(const std::string& dir);

}  // namespace vsae::sweep
