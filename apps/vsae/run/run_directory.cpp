// File handling of the run directory.
#include "apps/vsae/run/run_directory.hpp"

#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "engine/core/check.hpp"

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

namespace {

std::string read_holder_pid(int fd) {
  char text[32] = {};
  const ssize_t n = ::pread(fd, text, sizeof text - 1, 0);
  std::string pid(text, n > 0 ? static_cast<std::size_t>(n) : 0);
  while (!pid.empty() && (pid.back() == '\n' || pid.back() == ' ')) pid.pop_back();
  return pid;
}

}  // namespace

RunDirectory::RunDirectory(std::string path) : path_(std::move(path)) {
  std::error_code ec;
  fs::create_directories(path_, ec);
  if (ec || !fs::is_directory(path_)) throw Error("cannot create the run directory " + path_ + ": " + ec.message());
  const std::string lock = file(".lock");
  // O_CLOEXEC: member processes of a sweep must not inherit (and so keep) the sweep's lock.
  lock_fd_ = ::open(lock.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
  if (lock_fd_ < 0) throw Error("cannot open the lock file " + lock + ": " + std::strerror(errno));
  if (::flock(lock_fd_, LOCK_EX | LOCK_NB) != 0) {
    const int err = errno;
    const std::string holder = read_holder_pid(lock_fd_);
    ::close(lock_fd_);
    if (err != EWOULDBLOCK) throw Error("cannot lock the run directory " + path_ + ": " + std::strerror(err));
    throw Error("run directory " + path_ + " is in use by another vsae_gpu process" +
                (holder.empty() ? std::string() : " (pid " + holder + ")") +
                "; wait for it to finish, or pass --out to use another directory");
  }
  const std::string pid = std::to_string(::getpid()) + "\n";
  if (::ftruncate(lock_fd_, 0) != 0 || ::pwrite(lock_fd_, pid.data(), pid.size(), 0) != static_cast<ssize_t>(pid.size()))
    std::fprintf(stderr, "vsae_gpu: warning: cannot record the pid in %s: %s\n", lock.c_str(), std::strerror(errno));
}

RunDirectory::~RunDirectory() {
  if (lock_fd_ >= 0) ::close(lock_fd_);  // closing the last descriptor releases the flock
}

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
