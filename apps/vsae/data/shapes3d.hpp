// Procedural Shapes3D (DeepMind's 3dshapes): 480,000 RGB 64x64 images of one object in a room,
// rendered on demand by the ray-caster in shapes3d_render.hpp.
#pragma once

#include <memory>

#include "apps/vsae/data/dataset.hpp"

namespace vsae::data {

// Factors in the official order, the last varying fastest (index = official mixed radix):
//   floor_hue (10), wall_hue (10), object_hue (10), scale (8), shape (4), orientation (15).
// The factor values are the ones third-party loaders report for the real file, not the ranges of
// the dataset's README (documented choice):
//   hues        0.0, 0.1, ..., 0.9 (HSV hue at full saturation and value; 0 = red, 0.6 = blue)
//   scale       linspace(0.75, 1.25, 8)
//   shape       0 = cube, 1 = cylinder, 2 = sphere, 3 = capsule
//   orientation linspace(-30, 30, 15) degrees: the camera's azimuth around the object; at -30 the
//               room's corner shows on the right of the image, at 0 the back wall faces the camera
// Images are uint8 CHW 3x64x64 with values 0..255 (pixel_scale 1/255).
std::unique_ptr<Dataset> make_shapes3d_generator();

}  // namespace vsae::data
