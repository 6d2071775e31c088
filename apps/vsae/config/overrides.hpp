// Command-line overrides of the run config: `--set KEY=VALUE` (repeatable) and the older flags
// (--device, --out, --seed) become edits of the config JSON at a dotted key path, applied after the
// file is read and before validation, so they are checked exactly like the file and end up in the
// resolved config.json.
#pragma once

#include <nlohmann/json.hpp>
#include <string>
#include <vector>

namespace vsae::config {

struct Override {
  std::string source;              // as the user wrote it, for errors: "--set seed=3", "--out DIR"
  std::string key;                 // the dotted key path, e.g. "training.lr"
  std::vector<std::string> parts;  // its components: {"training", "lr"}
  nlohmann::json value;
};

// The components of a dotted key path; an empty component (".a", "a..b", "a.", "") is an error
// naming `source`. Sweeps read their keys with it too.
std::vector<std::string> split_key_path(const std::string& key, const std::string& source);

// Parses the argument of one `--set`: KEY=VALUE, split at the first '='. VALUE is parsed as JSON;
// a VALUE that is not valid JSON is taken as a JSON string (`method=l1` sets "l1"; `name=123` sets
// the number 123, so a string that reads as JSON needs JSON quotes: name='"123"'). Throws
// vsae::Error naming the argument for a missing '=', an empty key or key component, a key under
// `sweep` (a sweep's grid is not set from the command line) and a number JSON cannot hold.
Override parse_set(const std::string& arg);
std::vector<Override> parse_sets(const std::vector<std::string>& args);

// An override from one of the older flags (`flag` is how it is written, e.g. "--out").
Override flag_override(const std::string& flag, const std::string& key, nlohmann::json value);

// Sets the override's value at its key path in `root` (a JSON object), creating missing (or null)
// intermediate objects; throws naming the override when an intermediate value is not an object.
void apply_override(nlohmann::json& root, const Override& o);
// Applies in order: a later override of the same key wins.
void apply_all(nlohmann::json& root, const std::vector<Override>& overrides);

// Whether one key path is the other or lies inside it ("output" and "output.dir" overlap).
bool overlaps(const std::vector<std::string>& a, const std::vector<std::string>& b);

// A flag and a --set of the same key (or of keys inside one another) is an error naming both.
void reject_flag_conflicts(const std::vector<Override>& sets, const std::vector<Override>& flags);

// For a sweep config: a --set of a key the sweep also sets is an error naming it.
void reject_swept_keys(const nlohmann::json& root, const std::vector<Override>& sets);

// The --help text of --set.
extern const char* const kSetHelp;

}  // namespace vsae::config
