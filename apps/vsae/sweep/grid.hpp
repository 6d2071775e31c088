// A sweep: a run config whose top-level `sweep` object maps key paths to lists of values expands
// into the grid of member run configs, each validated whole and given its own subdirectory.
#pragma once

#include <cstddef>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "apps/vsae/config/run_config.hpp"

namespace vsae::sweep {

struct Axis {
  std::string key;  // a key path into the run config, e.g. "dataset.name"
  std::vector<nlohmann::json> values;
};

struct Member {
  std::string name;      // directory name built from the values, e.g. "dsprites-topk-seed0"
  nlohmann::json values;  // {key path: value} of this member
  config::RunConfig config;
};

struct Grid {
  std::string dir;         // the sweep directory (the base config's output.dir)
  std::vector<Axis> axes;  // key paths in sorted order, "seed" last
  std::vector<Member> members;

  // DIR/sweep.json: the axes and the members with their values, which sweep-summary reads.
  nlohmann::json manifest() const;
};

// The most members one sweep may expand to (a typo in a grid should not queue a million runs).
constexpr std::size_t kMaxMembers = 10000;

bool is_sweep(const nlohmann::json& root);

// Expands and validates every member before anything runs; throws vsae::Error naming the key (and
// the member) on bad input.
Grid expand(const nlohmann::json& root);

// The directory-name fragment of one value: strings as they are ("topk"), anything else after the
// key's last component ("seed0", "sae_width1000"); characters unsafe in a file name become '_'.
std::string name_fragment(const std::string& key, const nlohmann::json& value);

// Reads a JSON file; errors name the file.
nlohmann::json read_json_file(const std::string& path);

}  // namespace vsae::sweep
