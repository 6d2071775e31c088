// Parsing and applying command-line overrides of the run config.
#include "apps/vsae/config/overrides.hpp"

#include <algorithm>
#include <utility>

#include "engine/core/check.hpp"

namespace vsae::config {

using nlohmann::json;

const char* const kSetHelp =
    "set a config value at a dotted key path (as in the config reference and in sweeps), e.g. "
    "--set training.lr=3e-4 --set model.conv_channels=[16,16,32,32]; repeatable, applied in order (a later --set "
    "of a key wins) after the file is read and validated like it. VALUE is JSON; a VALUE that is not valid JSON "
    "is taken as a string (sparsity.method=l1 is \"l1\"), so a string that reads as JSON needs JSON quotes: "
    "name='\"123\"'. --set device, output.dir or seed beside --device, --out or --seed is refused; so is, for a sweep "
    "(where --set edits the base config), a key the sweep sweeps or one under `sweep`";

std::vector<std::string> split_key_path(const std::string& key, const std::string& source) {
  std::vector<std::string> parts;
  std::size_t begin = 0;
  while (true) {
    const std::size_t dot = key.find('.', begin);
    parts.push_back(key.substr(begin, dot == std::string::npos ? std::string::npos : dot - begin));
    if (parts.back().empty())
      throw Error(source + ": \"" + key + "\" is not a key path (empty component)");
    if (dot == std::string::npos) break;
    begin = dot + 1;
  }
  return parts;
}

namespace {

std::string join(const std::vector<std::string>& parts, std::size_t count) {
  std::string s;
  for (std::size_t i = 0; i < count; ++i) s += (i ? "." : "") + parts[i];
  return s;
}

// Sweep keys may be malformed (expand() reports those); here they are only compared.
std::vector<std::string> split_lenient(const std::string& key) {
  std::vector<std::string> parts;
  std::size_t begin = 0;
  while (true) {
    const std::size_t dot = key.find('.', begin);
    parts.push_back(key.substr(begin, dot == std::string::npos ? std::string::npos : dot - begin));
    if (dot == std::string::npos) return parts;
    begin = dot + 1;
  }
}

}  // namespace

Override parse_set(const std::string& arg) {
  const std::string source = "--set " + arg;
  const std::size_t eq = arg.find('=');
  if (eq == std::string::npos) throw Error(source + ": expected KEY=VALUE (no '=')");
  Override o;
  o.source = source;
  o.key = arg.substr(0, eq);
  if (o.key.empty()) throw Error(source + ": the key is empty (expected --set KEY=VALUE)");
  o.parts = split_key_path(o.key, source);
  if (o.parts.front() == "sweep")
    throw Error(source + ": keys under sweep cannot be set from the command line (edit the config's sweep section)");
  const std::string text = arg.substr(eq + 1);
  try {
    o.value = json::parse(text);
  } catch (const json::parse_error&) {
    o.value = text;  // not JSON: the text itself, as a string
  } catch (const json::exception& e) {  // out_of_range: valid JSON, but a number too large for a double
    throw Error(source + ": the value is not a usable JSON value (" + std::string(e.what()) + ")");
  }
  return o;
}

std::vector<Override> parse_sets(const std::vector<std::string>& args) {
  std::vector<Override> sets;
  sets.reserve(args.size());
  for (const std::string& a : args) sets.push_back(parse_set(a));
  return sets;
}

Override flag_override(const std::string& flag, const std::string& key, json value) {
  Override o;
  o.source = flag;
  o.key = key;
  o.parts = split_key_path(key, flag);
  o.value = std::move(value);
  return o;
}

void apply_override(json& root, const Override& o) {
  if (!root.is_object()) throw Error(o.source + ": the config is not a JSON object");
  json* node = &root;
  for (std::size_t i = 0; i + 1 < o.parts.size(); ++i) {
    json& next = (*node)[o.parts[i]];
    if (next.is_null()) next = json::object();
    if (!next.is_object())
      throw Error(o.source + ": " + join(o.parts, i + 1) + " is not an object in the config (it is " +
                  next.type_name() + ")");
    node = &next;
  }
  (*node)[o.parts.back()] = o.value;
}

void apply_all(json& root, const std::vector<Override>& overrides) {
  for (const Override& o : overrides) apply_override(root, o);
}

bool overlaps(const std::vector<std::string>& a, const std::vector<std::string>& b) {
  const std::size_t n = std::min(a.size(), b.size());
  for (std::size_t i = 0; i < n; ++i)
    if (a[i] != b[i]) return false;
  return true;
}

void reject_flag_conflicts(const std::vector<Override>& sets, const std::vector<Override>& flags) {
  for (const Override& f : flags)
    for (const Override& s : sets)
      if (overlaps(f.parts, s.parts))
        throw Error(f.source + " and " + s.source + " both set " + (f.parts.size() >= s.parts.size() ? f.key : s.key) +
                    "; give one of them");
}

void reject_swept_keys(const json& root, const std::vector<Override>& sets) {
  if (!root.is_object() || !root.contains("sweep") || !root["sweep"].is_object()) return;
  for (const Override& s : sets)
    for (const auto& item : root["sweep"].items()) {
      const std::string& swept = item.key();
      const std::vector<std::string> parts = split_lenient(swept);
      if (!overlaps(s.parts, parts)) continue;
      if (swept == s.key) throw Error(s.source + ": the sweep sets this key");
      throw Error(s.source + ": the sweep sets " + swept + (parts.size() > s.parts.size() ? ", inside this key" : ", which holds this key"));
    }
}

}  // namespace vsae::config
