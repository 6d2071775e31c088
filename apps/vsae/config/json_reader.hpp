// Strict reading of a JSON config: every value is looked up by key path, type- and range-checked,
// defaulted when absent, and any key nobody asked for is an error. Messages name the key path.
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <set>
#include <string>
#include <vector>

namespace vsae::config {

class JsonReader {
 public:
  // `node` may be null (the section is absent: every key takes its default).
  JsonReader(const nlohmann::json* node, std::string path);

  JsonReader section(const std::string& key);

  std::string string(const std::string& key, const std::string& fallback, const std::vector<std::string>& allowed = {});
  std::int64_t integer(const std::string& key, std::int64_t fallback, std::int64_t lo, std::int64_t hi);
  double number(const std::string& key, double fallback, double lo, double hi);
  bool boolean(const std::string& key, bool fallback);
  std::vector<double> numbers(const std::string& key, const std::vector<double>& fallback, double lo, double hi);
  std::vector<std::int64_t> integers(const std::string& key, const std::vector<std::int64_t>& fallback,
                                     std::int64_t lo, std::int64_t hi);
  // The raw value (for sections read elsewhere, such as `sweep`); marks the key as known.
  const nlohmann::json* raw(const std::string& key);

  // Throws for any key of this object that was never read.
  void reject_unknown_keys() const;
  std::string key_path(const std::string& key) const { return path_.empty() ? key : path_ + "." + key; }

 private:
  const nlohmann::json* find(const std::string& key);
  const nlohmann::json* node_;
  std::string path_;
  std::set<std::string> known_;
};

}  // namespace vsae::config
