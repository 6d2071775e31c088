// Where a run's images come from (the config's "dataset.name" and "dataset.source"): the built-in
// procedural generators, or the official files read by the real-file loaders.
#pragma once

#include <memory>
#include <string>

#include "apps/vsae/data/dataset.hpp"

namespace vsae::data {

// The procedural generator of "dsprites" or "shapes3d"; throws vsae::Error for other names.
std::unique_ptr<Dataset> make_generator(const std::string& name);

// source "procedural" gives make_generator(name); any other source is the path of the official
// file (.npz for dsprites, .h5 for shapes3d), loaded into host memory.
std::unique_ptr<Dataset> open_dataset(const std::string& name, const std::string& source);

}  // namespace vsae::data
