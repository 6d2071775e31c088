#include "engine/io/file_lock.hpp"

#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>

#include "engine/core/check.hpp"

namespace vsae {

namespace {

std::string read_holder_pid(int fd) {
  char text[32] = {};
  const ssize_t n = ::pread(fd, text, sizeof text - 1, 0);
  const std::string content(text, n > 0 ? static_cast<std::size_t>(n) : 0);
  return content.substr(0, content.find('\n'));  // the first line: see the writer below
}

}  // namespace

FileLock::FileLock(const std::string& lock_path, const std::string& what, const std::string& advice) {
  // O_CLOEXEC: child processes (a sweep's members) must not inherit, and so keep, the lock.
  fd_ = ::open(lock_path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
  if (fd_ < 0) throw Error("cannot open the lock file " + lock_path + ": " + std::strerror(errno));
  if (::flock(fd_, LOCK_EX | LOCK_NB) != 0) {
    const int err = errno;
    const std::string holder = read_holder_pid(fd_);
    ::close(fd_);
    if (err != EWOULDBLOCK) throw Error("cannot lock " + what + ": " + std::strerror(err));
    throw Error(what + " is in use by another vsae_gpu process" +
                (holder.empty() ? std::string() : " (pid " + holder + ")") + advice);
  }
  // The pid is written over the old one before the file is cut to its length, so a reader never
  // sees an empty file: its first line is the old holder's pid or ours.
  const std::string pid = std::to_string(::getpid()) + "\n";
  if (::pwrite(fd_, pid.data(), pid.size(), 0) != static_cast<ssize_t>(pid.size()) ||
      ::ftruncate(fd_, static_cast<off_t>(pid.size())) != 0)
    std::fprintf(stderr, "vsae_gpu: warning: cannot record the pid in %s: %s\n", lock_path.c_str(),
                 std::strerror(errno));
}

FileLock::~FileLock() {
  if (fd_ >= 0) ::close(fd_);  // closing the last descriptor releases the flock
}

}  // namespace vsae
