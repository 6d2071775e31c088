// Aggregation of a sweep's results across seeds: member-level figures only (see summary.hpp).
#include "apps/vsae/sweep/summary.hpp"

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <iterator>
#include <map>
#include <set>

#include "apps/vsae/run/run_directory.hpp"
#include "apps/vsae/sweep/grid.hpp"
#include "engine/core/check.hpp"

namespace vsae::sweep {

using nlohmann::json;

namespace {

// Per-unit lists: unit i of one member is not unit i of another, so they are never averaged by
// index; unit_reductions() summarises each within its member instead. Identifiers are skipped too:
// the seed, and MIG's best_latent (per factor, the index of a latent unit).
const std::set<std::string> kSkippedKeys{"death_epoch", "final_fire_frequency", "live_unit_interpretability",
                                         "seed", "best_latent"};

// Bins of final_fire_frequency (a unit's firing frequency on the evaluation set, in [0, 1]):
// {0} (never fired), then upper-inclusive decades (0, 1e-4], (1e-4, 1e-3], (1e-3, 1e-2],
// (1e-2, 1e-1], (1e-1, 1]. Each member reports the fraction of its units in each bin as
// final_fire_frequency.fraction.<label>; the labels avoid "." so figure names stay unambiguous.
struct Bin {
  const char* label;
  double upper;  // inclusive
};
constexpr Bin kFrequencyBins[] = {{"eq0", 0.0},          {"0_1e-4", 1e-4},   {"1e-4_1e-3", 1e-3},
                                  {"1e-3_1e-2", 1e-2},   {"1e-2_1e-1", 1e-1}, {"1e-1_1", 1.0}};

double mean_of(const std::vector<double>& xs) {
  double sum = 0;
  for (double x : xs) sum += x;
  return sum / static_cast<double>(xs.size());
}

// The middle value, or the mean of the two middle ones; xs must not be empty.
double median_of(std::vector<double> xs) {
  std::sort(xs.begin(), xs.end());
  const std::size_t n = xs.size();
  return n % 2 ? xs[n / 2] : 0.5 * (xs[n / 2 - 1] + xs[n / 2]);
}

// What summary.json says about the reductions, so a reader need not open this file.
json per_unit_note() {
  json bins = json::array();
  double lower = 0;
  for (const Bin& b : kFrequencyBins) {
    bins.push_back({{"label", b.label}, {"range", b.upper == 0 ? "[0]" : "(" + json(lower).dump() + ", " + json(b.upper).dump() + "]"}});
    lower = b.upper;
  }
  return {{"note", "per-unit lists are not averaged by unit index; each member's are reduced first, then mean +- std "
                   "across seeds. The per-unit data is in each member's results.json."},
          {"death_epoch", "units; died (units with a death epoch, i.e. not firing at the end); died_fraction; "
                          "mean_over_died and median_over_died (epochs from 0, only when some died)"},
          {"final_fire_frequency", "units; mean; median; fraction.<label>: the fraction of units in each bin"},
          {"final_fire_frequency_bins", bins},
          {"live_unit_interpretability", "live (units that fired); best_nmi_mean and best_nmi_median over them "
                                         "(only when some fired)"}};
}

// The paper's headline: the dead fraction at the end of the schedule (k reaches its end value).
constexpr const char* kHeadline = "at_schedule_end.dead.headline_dead_fraction";

json stat_json(const Stat& s) { return {{"mean", s.mean}, {"std", s.std}, {"n", s.n}}; }

}  // namespace

Stat mean_std(const std::vector<double>& xs) {
  Stat s;
  s.n = static_cast<int>(xs.size());
  if (xs.empty()) return s;
  for (double x : xs) s.mean += x;
  s.mean /= static_cast<double>(xs.size());
  if (xs.size() > 1) {
    double ss = 0;
    for (double x : xs) ss += (x - s.mean) * (x - s.mean);
    s.std = std::sqrt(ss / static_cast<double>(xs.size() - 1));
  }
  return s;
}

void flatten_numbers(const json& results, const std::string& prefix, json& out) {
  if (results.is_number() && !results.is_number_float()) {
    out[prefix] = results.get<double>();
  } else if (results.is_number_float()) {
    if (std::isfinite(results.get<double>())) out[prefix] = results.get<double>();
  } else if (results.is_object()) {
    for (const auto& [key, value] : results.items())
      if (!kSkippedKeys.count(key)) flatten_numbers(value, prefix.empty() ? key : prefix + "." + key, out);
  } else if (results.is_array()) {
    for (std::size_t i = 0; i < results.size(); ++i)
      flatten_numbers(results[i], prefix + "." + std::to_string(i), out);
  }
}

json unit_reductions(const json& results) {
  json out = json::object();
  if (!results.is_object()) return out;
  if (auto it = results.find("death_epoch"); it != results.end() && it->is_array()) {
    std::vector<double> died;
    for (const json& e : *it)
      if (e.is_number()) died.push_back(e.get<double>());
    const double units = static_cast<double>(it->size());
    json r{{"units", units}, {"died", static_cast<double>(died.size())}};
    if (units > 0) r["died_fraction"] = static_cast<double>(died.size()) / units;
    if (!died.empty()) {
      r["mean_over_died"] = mean_of(died);
      r["median_over_died"] = median_of(died);
    }
    out["death_epoch"] = r;
  }
  if (auto it = results.find("final_fire_frequency"); it != results.end() && it->is_array()) {
    std::vector<double> f;
    for (const json& x : *it)
      if (x.is_number()) f.push_back(x.get<double>());
    json r{{"units", static_cast<double>(f.size())}};
    if (!f.empty()) {
      r["mean"] = mean_of(f);
      r["median"] = median_of(f);
      constexpr std::size_t kBins = std::size(kFrequencyBins);
      std::size_t count[kBins] = {};
      for (double x : f) {
        // The first bin whose upper edge holds x; anything above 1 (none expected) joins the last.
        std::size_t b = 0;
        while (b + 1 < kBins && x > kFrequencyBins[b].upper) ++b;
        ++count[b];
      }
      json fraction = json::object();
      for (std::size_t b = 0; b < kBins; ++b)
        fraction[kFrequencyBins[b].label] = static_cast<double>(count[b]) / static_cast<double>(f.size());
      r["fraction"] = fraction;
    }
    out["final_fire_frequency"] = r;
  }
  if (auto it = results.find("live_unit_interpretability"); it != results.end() && it->is_array()) {
    std::vector<double> nmi;
    for (const json& u : *it)
      if (u.is_object() && u.contains("best_nmi") && u["best_nmi"].is_number()) nmi.push_back(u["best_nmi"].get<double>());
    json r{{"live", static_cast<double>(it->size())}};
    if (!nmi.empty()) {
      r["best_nmi_mean"] = mean_of(nmi);
      r["best_nmi_median"] = median_of(nmi);
    }
    out["live_unit_interpretability"] = r;
  }
  return out;
}

json summarize(const json& manifest, const std::vector<json>& results) {
  const json& members = manifest.at("members");
  VSAE_CHECK(members.size() == results.size(), "sweep summary: " << members.size() << " members but "
                                                                  << results.size() << " results");
  std::vector<std::string> group_by;
  for (const json& axis : manifest.at("axes"))
    if (axis.at("key") != "seed") group_by.push_back(axis.at("key"));

  // Groups in the order of their first member, so the table follows the sweep's own order.
  std::vector<json> group_values;
  std::map<std::string, std::size_t> group_of;  // dumped values -> index
  std::vector<std::vector<std::size_t>> group_members;
  json missing = json::array();
  for (std::size_t m = 0; m < members.size(); ++m) {
    json key = json::object();
    for (const std::string& k : group_by) key[k] = members[m].at("values").at(k);
    auto [it, added] = group_of.emplace(key.dump(), group_values.size());
    if (added) {
      group_values.push_back(key);
      group_members.emplace_back();
    }
    if (results[m].is_null())
      missing.push_back(members[m].at("name"));
    else
      group_members[it->second].push_back(m);
  }

  json groups = json::array();
  json table = json::array();
  for (std::size_t g = 0; g < group_values.size(); ++g) {
    std::map<std::string, std::vector<double>> samples;  // sorted figure names
    json names = json::array();
    for (std::size_t m : group_members[g]) {
      names.push_back(members[m].at("name"));
      json flat = json::object();
      flatten_numbers(results[m], "", flat);
      // flatten_numbers skips the per-unit keys, so their reductions are flattened under them here.
      const json reductions = unit_reductions(results[m]);
      for (const auto& [key, reduced] : reductions.items()) flatten_numbers(reduced, key, flat);
      for (const auto& [figure, value] : flat.items()) samples[figure].push_back(value.get<double>());
    }
    json figures = json::object();
    for (const auto& [figure, xs] : samples) figures[figure] = stat_json(mean_std(xs));
    groups.push_back({{"values", group_values[g]}, {"members", names}, {"n", names.size()}, {"figures", figures}});

    // One row per (dataset, other non-seed values): the paper's table in percent.
    json row_values = group_values[g];
    row_values.erase("dataset.name");
    std::string dataset = group_values[g].value("dataset.name", std::string());
    if (dataset.empty() && !group_members[g].empty()) dataset = results[group_members[g].front()].value("dataset", "");
    Stat dead;
    if (auto it = samples.find(kHeadline); it != samples.end()) {
      std::vector<double> percent;
      for (double x : it->second) percent.push_back(100.0 * x);
      dead = mean_std(percent);
    }
    table.push_back({{"dataset", dataset}, {"row", row_values}, {"dead_percent", stat_json(dead)}});
  }

  return {{"dir", manifest.at("dir")},
          {"axes", manifest.at("axes")},
          {"group_by", group_by},
          {"members", members.size()},
          {"finished", members.size() - missing.size()},
          {"missing", missing},
          {"std", "sample standard deviation across seeds (n - 1); 0 when n = 1"},
          {"per_unit", per_unit_note()},
          {"table", {{"figure", std::string(kHeadline) + " in percent"}, {"cells", table}}},
          {"groups", groups}};
}

json write_summary(const std::string& dir) {
  namespace fs = std::filesystem;
  const std::string manifest_path = dir + "/sweep.json";
  if (!fs::exists(manifest_path)) throw Error(dir + " is not a sweep directory (no sweep.json)");
  const json manifest = read_json_file(manifest_path);
  if (!manifest.contains("members") || !manifest.contains("axes"))
    throw Error(manifest_path + ": not a sweep manifest (needs \"axes\" and \"members\")");
  std::vector<json> results;
  for (const json& m : manifest.at("members")) {
    const std::string path = dir + "/" + m.at("name").get<std::string>() + "/results.json";
    results.push_back(fs::exists(path) ? read_json_file(path) : json(nullptr));
  }
  json summary = summarize(manifest, results);
  write_file_atomic(dir + "/summary.json", summary.dump(2) + "\n");
  return summary;
}

}  // namespace vsae::sweep
