// A small RAII layer over the HDF5 C API, enough for 3dshapes.h5: open or create a file, inspect
// an array's element type and shape, and read or write blocks of rows. HDF5's automatic printing
// of its error stack is switched off; every failure is one vsae::Error that starts with "<path>: ".
#pragma once

#include <signal.h>

#include <cstdint>
#include <string>
#include <vector>

namespace vsae::data {

enum class H5Type { u8, f64 };

struct H5ArrayInfo {
  std::string type;  // "uint8", "int16", "float64", "float32", "string", ...
  std::vector<std::int64_t> shape;
  std::string shape_str() const;  // "(480000, 64, 64, 3)"
};

// While it lives, a crash (SIGSEGV, SIGBUS) ends the process with one error line naming `path`
// and exit status 1, instead of a bare segfault: HDF5 1.10.8 crashes on some malformed files
// (found by tests/fuzz/fuzz_h5; reproducers in tests/fuzz/library-crashes/h5, checked by
// e2e.hdf5_crash). H5File holds one around each of its HDF5 calls on a file it reads, and nothing
// else, so that a crash in our own code is never blamed on the file. The process cannot go on
// after such a crash, so it stops at once.
class H5CrashGuard {
 public:
  explicit H5CrashGuard(const std::string& path);
  ~H5CrashGuard();
  // For tests/fuzz/fuzz_h5: abort() after the line instead of _exit(1), so that libFuzzer sees a
  // deadly signal and saves the input.
  static void abort_on_crash(bool on);
  H5CrashGuard(const H5CrashGuard&) = delete;
  H5CrashGuard& operator=(const H5CrashGuard&) = delete;

 private:
  struct sigaction previous_segv_{}, previous_bus_{};
};

class H5File {
 public:
  static H5File open(const std::string& path);    // read-only
  static H5File create(const std::string& path);  // replaces an existing file
  ~H5File();
  H5File(H5File&& other) noexcept;
  H5File& operator=(H5File&&) = delete;
  H5File(const H5File&) = delete;
  H5File& operator=(const H5File&) = delete;

  const std::string& path() const { return path_; }
  bool contains(const std::string& name) const;
  H5ArrayInfo info(const std::string& name) const;  // throws when `name` is missing

  // Rows [first, first + count) along the first dimension, converted to `type`, C order.
  void read_rows(const std::string& name, std::int64_t first, std::int64_t count, H5Type type,
                 void* dst) const;

  // A new array; `compress` stores it in gzip-compressed chunks (as h5py's compression="gzip").
  void create_array(const std::string& name, H5Type type, const std::vector<std::int64_t>& shape,
                    bool compress);
  void write_rows(const std::string& name, std::int64_t first, std::int64_t count, H5Type type,
                  const void* src);

  // Flushes and closes; errors surface here rather than in the destructor.
  void close();

 private:
  H5File(std::string path, std::int64_t id) : path_(std::move(path)), id_(id) {}
  std::string path_;
  std::int64_t id_ = -1;  // the hid_t of the open file
};

}  // namespace vsae::data
