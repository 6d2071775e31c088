// File handling of the run directory.
#include "apps/vsae/run/run_directory.hpp"

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "engine/core/check.hpp"
#include "engine/io/file_lock.hpp"

namespace vsae {

namespace fs = std::filesystem;

void write_file_atomic(const std::string& path, const std::string& text) {
  const std::string tmp = path + ".tmp";
  {
    std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
    out << text;
    out.flush();
    if (!out) throw Error("cannot write " + tmp + ": " + std::strerror(errno));
  }
  if (std::rename(tmp.c_str(), path.c_str()) != 0) throw Error("cannot rename " + tmp + " to " + path + ": " + std::strerror(errno));
}

RunDirectory::RunDirectory(std::string path) : path_(std::move(path)) {
  std::error_code ec;
  fs::create_directories(path_, ec);
  if (ec || !fs::is_directory(path_)) throw Error("cannot create the run directory " + path_ + ": " + ec.message());
  lock_ = std::make_unique<FileLock>(file(".lock"), "run directory " + path_,
                                     "; wait for it to finish, or pass --out to use another directory");
}

RunDirectory::~RunDirectory() = default;

void RunDirectory::write_json(const std::string& name, const nlohmann::json& value) const {
  write_file_atomic(file(name), value.dump(2) + "\n");
}

void RunDirectory::append_metrics(const nlohmann::json& line) const {
  const std::string path = file("metrics.jsonl");
  std::FILE* f = std::fopen(path.c_str(), "a");
  if (!f) throw Error("cannot open " + path + ": " + std::strerror(errno));
  const std::string text = line.dump() + "\n";
  bool ok = std::fwrite(text.data(), 1, text.size(), f) == text.size() && std::fflush(f) == 0;
  ok = std::fclose(f) == 0 && ok;
  if (!ok) throw Error("cannot append to " + path + ": " + std::strerror(errno));
}

nlohmann::json RunDirectory::truncate_metrics(std::int64_t epochs_done) const {
  const std::string path = file("metrics.jsonl");
  nlohmann::json kept_lines = nlohmann::json::array();
  std::ifstream in(path);
  if (!in) return kept_lines;
  std::ostringstream kept;
  std::string line;
  while (std::getline(in, line)) {
    if (line.empty()) continue;
    nlohmann::json j = nlohmann::json::parse(line, nullptr, false);
    // A torn last line (killed mid-write) is not valid JSON and is dropped too.
    if (j.is_discarded() || !j.contains("epoch") || !j["epoch"].is_number_integer() ||
        j["epoch"].get<std::int64_t>() >= epochs_done)
      continue;
    kept << line << "\n";
    kept_lines.push_back(std::move(j));
  }
  write_file_atomic(path, kept.str());
  return kept_lines;
}

}  // namespace vsae
