// Typed, range-checked config lookups with key-path error messages.
#include "apps/vsae/config/json_reader.hpp"

#include <sstream>

#include "engine/core/check.hpp"

namespace vsae::config {

using nlohmann::json;

namespace {
std::string describe(const json& v) {
  std::string s = v.dump();
  return s.size() > 40 ? s.substr(0, 37) + "..." : s;
}
}  // namespace

JsonReader::JsonReader(const json* node, std::string path) : node_(node), path_(std::move(path)) {
  if (node_ && !node_->is_object())
    throw Error((path_.empty() ? std::string("the config") : path_) + " must be a JSON object, got " + describe(*node_));
}

const json* JsonReader::find(const std::string& key) {
  known_.insert(key);
  if (!node_) return nullptr;
  auto it = node_->find(key);
  return it == node_->end() ? nullptr : &*it;
}

JsonReader JsonReader::section(const std::string& key) { return JsonReader(find(key), key_path(key)); }

const json* JsonReader::raw(const std::string& key) { return find(key); }

std::string JsonReader::string(const std::string& key, const std::string& fallback,
                               const std::vector<std::string>& allowed) {
  const json* v = find(key);
  if (!v) return fallback;
  if (!v->is_string()) throw Error(key_path(key) + " must be a string, got " + describe(*v));
  std::string s = v->get<std::string>();
  if (allowed.empty()) return s;
  for (const std::string& a : allowed)
    if (a == s) return s;
  std::ostringstream os;
  os << key_path(key) << " must be one of";
  for (std::size_t i = 0; i < allowed.size(); ++i) os << (i ? ", " : " ") << allowed[i];
  os << "; got \"" << s << "\"";
  throw Error(os.str());
}

std::int64_t JsonReader::integer(const std::string& key, std::int64_t fallback, std::int64_t lo, std::int64_t hi) {
  const json* v = find(key);
  if (!v) return fallback;
  if (!v->is_number_integer()) throw Error(key_path(key) + " must be an integer, got " + describe(*v));
  std::int64_t x = v->get<std::int64_t>();
  if (x < lo || x > hi)
    throw Error(key_path(key) + " must be between " + std::to_string(lo) + " and " + std::to_string(hi) + ", got " +
                std::to_string(x));
  return x;
}

double JsonReader::number(const std::string& key, double fallback, double lo, double hi) {
  const json* v = find(key);
  if (!v) return fallback;
  if (!v->is_number()) throw Error(key_path(key) + " must be a number, got " + describe(*v));
  double x = v->get<double>();
  if (!(x >= lo && x <= hi)) {
    std::ostringstream os;
    os << key_path(key) << " must be between " << lo << " and " << hi << ", got " << x;
    throw Error(os.str());
  }
  return x;
}

bool JsonReader::boolean(const std::string& key, bool fallback) {
  const json* v = find(key);
  if (!v) return fallback;
  if (!v->is_boolean()) throw Error(key_path(key) + " must be true or false, got " + describe(*v));
  return v->get<bool>();
}

std::vector<double> JsonReader::numbers(const std::string& key, const std::vector<double>& fallback, double lo,
                                        double hi) {
  const json* v = find(key);
  if (!v) return fallback;
  if (!v->is_array() || v->empty()) throw Error(key_path(key) + " must be a non-empty array of numbers");
  std::vector<double> out;
  for (std::size_t i = 0; i < v->size(); ++i) {
    const json& e = (*v)[i];
    std::string where = key_path(key) + "[" + std::to_string(i) + "]";
    if (!e.is_number()) throw Error(where + " must be a number, got " + describe(e));
    double x = e.get<double>();
    if (!(x >= lo && x <= hi)) {
      std::ostringstream os;
      os << where << " must be between " << lo << " and " << hi << ", got " << x;
      throw Error(os.str());
    }
    out.push_back(x);
  }
  return out;
}

std::vector<std::int64_t> JsonReader::integers(const std::string& key, const std::vector<std::int64_t>& fallback,
                                               std::int64_t lo, std::int64_t hi) {
  const json* v = find(key);
  if (!v) return fallback;
  if (!v->is_array() || v->empty()) throw Error(key_path(key) + " must be a non-empty array of integers");
  std::vector<std::int64_t> out;
  for (std::size_t i = 0; i < v->size(); ++i) {
    const json& e = (*v)[i];
    std::string where = key_path(key) + "[" + std::to_string(i) + "]";
    if (!e.is_number_integer()) throw Error(where + " must be an integer, got " + describe(e));
    std::int64_t x = e.get<std::int64_t>();
    if (x < lo || x > hi)
      throw Error(where + " must be between " + std::to_string(lo) + " and " + std::to_string(hi) + ", got " +
                  std::to_string(x));
    out.push_back(x);
  }
  return out;
}

void JsonReader::reject_unknown_keys() const {
  if (!node_) return;
  for (const auto& [key, value] : node_->items())
    if (!known_.count(key)) throw Error("unknown config key " + key_path(key));
}

}  // namespace vsae::config
