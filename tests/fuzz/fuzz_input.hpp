// What the fuzz targets share. libFuzzer hands each input over as bytes, but the readers under
// test take a path, as the user's files do: each input is written to a file in
// $VSAE_FUZZ_INPUT_DIR (run.sh makes and removes one in /dev/shm; default /dev/shm). libFuzzer
// ends with _Exit, so the process cannot remove the last one itself. (A memfd's /proc/self/fd
// path does not do: HDF5 refuses to open it.)
#pragma once

#include <unistd.h>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>

#include "engine/core/check.hpp"

namespace vsae::fuzz {

// Each input gets a new file (the previous one is removed): HDF5 recognises a file it holds open by
// its inode, and after its leak on a malformed file (lsan-hdf5.supp) it would hand that stale state
// to the next input at the same inode.
inline const std::string& as_file(const std::uint8_t* data, std::size_t size) {
  static const std::string stem = [] {
    const char* dir = std::getenv("VSAE_FUZZ_INPUT_DIR");
    return std::string(dir ? dir : "/dev/shm") + "/vsae_fuzz_input_" + std::to_string(getpid());
  }();
  static std::string path;
  static std::uint64_t count = 0;
  if (!path.empty()) unlink(path.c_str());
  path = stem + "_" + std::to_string(count++);
  std::FILE* f = std::fopen(path.c_str(), "wb");
  if (!f || (size > 0 && std::fwrite(data, 1, size, f) != size) || std::fclose(f) != 0) std::abort();
  return path;
}

// A clean refusal (the reader's one-line error): silent while fuzzing, printed with
// VSAE_FUZZ_VERBOSE=1 to see why a seed or corpus input is refused.
inline void refused(const vsae::Error& e) {
  static const bool verbose = std::getenv("VSAE_FUZZ_VERBOSE") != nullptr;
  if (verbose) std::fprintf(stderr, "refused: %s\n", e.what());
}

}  // namespace vsae::fuzz
