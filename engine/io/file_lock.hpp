// An exclusive advisory lock (flock) on a lock file, held for the object's life, with the holder's
// pid written into the file. The kernel drops the lock of a process that dies, so a killed holder
// never blocks the next one.
#pragma once

#include <string>

namespace vsae {

class FileLock {
 public:
  // Takes the lock on `lock_path` (created when missing), or throws: "<what> is in use by another
  // vsae_gpu process (pid N)<advice>" when another process holds it.
  FileLock(const std::string& lock_path, const std::string& what, const std::string& advice);
  ~FileLock();
  FileLock(const FileLock&) = delete;
  FileLock& operator=(const FileLock&) = delete;

 private:
  int fd_ = -1;
};

}  // namespace vsae
