// A run's output directory (DESIGN §8): config.json, metrics.jsonl (one object per epoch),
// results.json and checkpoint.safetensors. Every whole-file write is atomic (temp file + rename).
// One process at a time: the directory is locked (flock on DIR/.lock) while this object lives.
#pragma once

#include <cstdint>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>

namespace vsae {

class FileLock;

class RunDirectory {
 public:
  // Creates the directory (and parents) and takes its lock; throws naming it when either fails,
  // with the holder's pid when another process has it. The kernel drops the lock of a process
  // that dies, so a killed run never blocks the next one.
  explicit RunDirectory(std::string path);
  ~RunDirectory();
  RunDirectory(const RunDirectory&) = delete;
  RunDirectory& operator=(const RunDirectory&) = delete;

  const std::string& path() const { return path_; }
  std::string file(const std::string& name) const { return path_ + "/" + name; }
  std::string checkpoint_path() const { return file("checkpoint.safetensors"); }

  void write_json(const std::string& name, const nlohmann::json& value) const;
  // Appends one line and flushes it, so a killed run keeps every finished epoch.
  void append_metrics(const nlohmann::json& line) const;
  // For resume: keeps only the lines of epochs < `epochs_done` (a run killed after writing an
  // epoch's metrics but before its checkpoint repeats that epoch). Returns the kept lines.
  nlohmann::json truncate_metrics(std::int64_t epochs_done) const;

 private:
  std::string path_;
  std::unique_ptr<FileLock> lock_;
};

// Writes `text` to `path` through a temporary file and a rename.
void write_file_atomic(const std::string& path, const std::string& text);

}  // namespace vsae
