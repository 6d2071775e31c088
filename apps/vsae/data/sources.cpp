// Dataset selection by name and source.
#include "apps/vsae/data/sources.hpp"

#include "apps/vsae/data/dsprites.hpp"
#include "apps/vsae/data/real_files.hpp"
#include "apps/vsae/data/shapes3d.hpp"
#include "engine/core/check.hpp"

namespace vsae::data {

namespace {
[[noreturn]] void unknown(const std::string& name) {
  throw Error("unknown dataset '" + name + "' (expected dsprites or shapes3d)");
}
}  // namespace

std::unique_ptr<Dataset> make_generator(const std::string& name) {
  if (name == "dsprites") return make_dsprites_generator();
  if (name == "shapes3d") return make_shapes3d_generator();
  unknown(name);
}

std::unique_ptr<Dataset> open_dataset(const std::string& name, const std::string& source) {
  if (name != "dsprites" && name != "shapes3d") unknown(name);
  if (source == "procedural") return make_generator(name);
  return name == "dsprites" ? load_dsprites_npz(source) : load_shapes3d_h5(source);
}

}  // namespace vsae::data
