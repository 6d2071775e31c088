// Grid expansion, member naming and whole-grid validation of a sweep config.
#include "apps/vsae/sweep/grid.hpp"

#include <algorithm>
#include <fstream>
#include <map>

#include "apps/vsae/config/overrides.hpp"
#include "engine/core/check.hpp"

namespace vsae::sweep {

using nlohmann::json;

namespace {

// A swept key path, checked as --set checks its keys; errors name the sweep key.
config::Override sweep_override(const std::string& key, const json& value) {
  const std::string source = "sweep key \"" + key + "\"";
  return config::Override{source, key, config::split_key_path(key, source), value};
}

// The sweep owns where members run and what they are called.
void reject_reserved(const std::string& key) {
  if (key == "name" || key == "sweep" || key == "output" || key == "output.dir")
    throw Error("sweep key \"" + key + "\" cannot be swept: the sweep sets each member's name and output.dir");
}

std::vector<Axis> read_axes(const json& sweep) {
  if (!sweep.is_object() || sweep.empty())
    throw Error("sweep must be a non-empty object mapping key paths to lists of values, e.g. {\"seed\": [0, 1, 2]}");
  std::vector<Axis> axes;
  for (const auto& [key, values] : sweep.items()) {
    sweep_override(key, json());  // throws for a malformed key path
    reject_reserved(key);
    if (!values.is_array() || values.empty())
      throw Error("sweep." + key + " must be a non-empty list of values");
    axes.push_back(Axis{key, std::vector<json>(values.begin(), values.end())});
  }
  // nlohmann::json keeps keys sorted, so the order is the sorted one; seeds go last so that the
  // names of one cell's seeds share a prefix (dsprites-topk-seed0, dsprites-topk-seed1).
  std::stable_partition(axes.begin(), axes.end(), [](const Axis& a) { return a.key != "seed"; });
  return axes;
}

}  // namespace

bool is_sweep(const json& root) { return root.is_object() && root.contains("sweep"); }

std::string name_fragment(const std::string& key, const json& value) {
  std::string raw = value.is_string() ? value.get<std::string>() : key.substr(key.rfind('.') + 1) + value.dump();
  for (char& c : raw) {
    const bool safe = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' ||
                      c == '_' || c == '+';
    if (!safe) c = '_';
  }
  // "-" separates the fragments of a name; "." or ".." alone would not be a directory of its own.
  if (raw.empty() || raw == "." || raw == "..") raw = "_" + raw;
  return raw;
}

Grid expand(const json& root) {
  if (!root.is_object()) throw Error("the config must be a JSON object");
  if (!is_sweep(root)) throw Error("the config has no sweep section");
  Grid grid;
  grid.axes = read_axes(root["sweep"]);

  json base = root;
  base.erase("sweep");
  // The base's name and output.dir are checked (and defaulted) by the run-config parser itself.
  const config::RunConfig base_config = config::parse_run_config(base);
  grid.dir = base_config.output.dir;

  std::size_t total = 1;
  for (const Axis& a : grid.axes) {
    total *= a.values.size();
    if (total > kMaxMembers)
      throw Error("sweep expands to more than " + std::to_string(kMaxMembers) + " members");
  }

  std::map<std::string, json> seen;  // member name -> values, to report colliding names
  std::vector<std::size_t> index(grid.axes.size(), 0);
  for (std::size_t m = 0; m < total; ++m) {
    json member = base;
    json values = json::object();
    std::string name;
    for (std::size_t a = 0; a < grid.axes.size(); ++a) {
      const Axis& axis = grid.axes[a];
      const json& v = axis.values[index[a]];
      config::apply_override(member, sweep_override(axis.key, v));
      values[axis.key] = v;
      name += (a ? "-" : "") + name_fragment(axis.key, v);
    }
    if (auto it = seen.find(name); it != seen.end())
      throw Error("sweep members " + it->second.dump() + " and " + values.dump() + " would share the directory name \"" +
                  name + "\"");
    seen.emplace(name, values);
    member["name"] = name;
    member["output"]["dir"] = grid.dir + "/" + name;
    try {
      grid.members.push_back(Member{name, values, config::parse_run_config(member)});
    } catch (const Error& e) {
      throw Error("sweep member " + name + ": " + e.what());
    }
    // Odometer order: the last axis (the seed) varies fastest.
    for (std::size_t a = grid.axes.size(); a-- > 0;) {
      if (++index[a] < grid.axes[a].values.size()) break;
      index[a] = 0;
    }
  }
  return grid;
}

json Grid::manifest() const {
  json axes_json = json::array();
  for (const Axis& a : axes) axes_json.push_back({{"key", a.key}, {"values", a.values}});
  json members_json = json::array();
  for (const Member& m : members) members_json.push_back({{"name", m.name}, {"values", m.values}});
  return {{"dir", dir}, {"axes", axes_json}, {"members", members_json}};
}

json read_json_file(const std::string& path) {
  std::ifstream in(path);
  if (!in) throw Error(path + ": cannot open (missing or unreadable)");
  try {
    return json::parse(in);
  } catch (const json::exception& e) {  // parse_error, and out_of_range for a number too large
    throw Error(path + ": not valid JSON (" + std::string(e.what()) + ")");
  }
}

}  // namespace vsae::sweep
