// The .npy preamble parser on a whole standalone .npy file: magic, version, header length, the dict
// literal, and the data size its shape and dtype imply. vsae::Error is the one allowed refusal.
#include <cstring>

#include "apps/vsae/data/npy.hpp"
#include "engine/core/check.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::size_t at = 0;
  auto read = [&](void* dst, std::size_t n) {
    if (n > size - at) throw vsae::Error("read past the end");  // the parser must never ask
    std::memcpy(dst, data + at, n);
    at += n;
  };
  try {
    vsae::data::read_npy_preamble(read, size, [](const std::string& what) { throw vsae::Error(what); });
  } catch (const vsae::Error& e) {
    if (std::strcmp(e.what(), "read past the end") == 0) __builtin_trap();
  }
  return 0;
}
