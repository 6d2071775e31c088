// Datasets read from the official files into host memory: the dSprites .npz and the Shapes3D .h5.
// Files with fewer images (subsets, test files) are accepted when each item has the official shape.
// Every problem (missing file, truncation, wrong container, missing entry, wrong shape or dtype,
// bad labels) is one vsae::Error line that starts with the file's path.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "apps/vsae/data/dataset.hpp"

namespace vsae::data {

// dsprites_ndarray_co1sh3sc6or40x32y32_64x64.npz: imgs (N, 64, 64) uint8 0/1, latents_classes
// (N, 6) int64 and latents_values (N, 6) float64 over (color, shape, scale, orientation, posX,
// posY). The constant color column is dropped, as in dsprites_factors(); factor values come from
// latents_values. The pickled `metadata` entry is never read.
std::unique_ptr<Dataset> load_dsprites_npz(const std::string& path);

// 3dshapes.h5: images (N, 64, 64, 3) uint8 (stored HWC, served CHW) and labels (N, 6) float64 over
// (floor_hue, wall_hue, object_hue, scale, shape, orientation). Each factor's classes are the
// distinct label values of its column, in ascending order. A file with fewer distinct values than
// the official grid (a subset) must use the values of make_shapes3d_generator()'s factors, which
// are those third-party loaders report for the real file.
std::unique_ptr<Dataset> load_shapes3d_h5(const std::string& path);

}  // namespace vsae::data
