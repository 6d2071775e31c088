// The dSprites .npz loader (libzip's container, our checks around it, the .npy headers inside and
// the label checks), as `dataset.source` reaches it. vsae::Error is the one allowed refusal.
#include "apps/vsae/data/real_files.hpp"
#include "engine/core/check.hpp"
#include "tests/fuzz/fuzz_input.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  try {
    vsae::data::load_dsprites_npz(vsae::fuzz::as_file(data, size));
  } catch (const vsae::Error& e) {
    vsae::fuzz::refused(e);
  }
  return 0;
}
