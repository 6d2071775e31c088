// Aggregation of a sweep's results across seeds.
#include "apps/vsae/sweep/summary.hpp"

#include <cmath>
#include <filesystem>
#include <map>
#include <set>

#include "apps/vsae/run/run_directory.hpp"
#include "apps/vsae/sweep/grid.hpp"
#include "engine/core/check.hpp"

namespace vsae::sweep {

using nlohmann::json;

namespace {

// Per-unit lists vary in length and meaning between members; the seed is an identifier.
const std::set<std::string> kSkippedKeys{"live_unit_interpretability", "final_fire_frequency", "seed"};

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
