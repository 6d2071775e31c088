// The Shapes3D .h5 loader: our checks around the HDF5 library (types, shapes, labels), as
// `dataset.source` reaches it. vsae::Error is the one allowed refusal, and after every input no
// HDF5 object (file, dataset, dataspace, datatype) may be left open: our handles are all RAII.
//
// run.sh runs this target without LeakSanitizer: HDF5 1.10.8 (Debian bookworm) itself leaks an
// object header when H5Fopen fails inside H5G_mkroot on a malformed file (it returns an error and
// no id, so there is nothing to close), and after that, later valid loads leak inside H5Dopen2
// too. Reproducer: corpus/h5/hdf5-leak-on-failed-open. The open-object count checks our side.
// It also runs with allocator_may_return_null: a malformed object header makes HDF5 ask malloc
// for about 2^62 bytes, and it fails cleanly on the NULL that malloc then returns, as it does
// outside ASan (reproducer: corpus/h5/hdf5-huge-allocation). Some malformed files make HDF5
// segfault (library-crashes/h5): H5CrashGuard turns that into its error line and, here, an abort
// that libFuzzer records; run.sh fuzzes this target in fork mode and sorts those crashes out.
#include <hdf5.h>

#include "apps/vsae/data/hdf5_file.hpp"
#include "apps/vsae/data/real_files.hpp"
#include "engine/core/check.hpp"
#include "tests/fuzz/fuzz_input.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  static const bool aborting = (vsae::data::H5CrashGuard::abort_on_crash(true), true);
  (void)aborting;
  try {
    vsae::data::load_shapes3d_h5(vsae::fuzz::as_file(data, size));
  } catch (const vsae::Error& e) {
    vsae::fuzz::refused(e);
  }
  if (H5Fget_obj_count(H5F_OBJ_ALL, H5F_OBJ_ALL) != 0) __builtin_trap();
  return 0;
}
