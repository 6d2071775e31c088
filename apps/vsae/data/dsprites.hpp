// The procedural dSprites generator: a rasteriser that reproduces the official 64x64 frames
// (shape outlines, sizes, positions, rotation and pixel rule fitted to the reference frames).
#pragma once

#include <memory>
#include <vector>

#include "apps/vsae/data/dataset.hpp"

namespace vsae::data {

// The official factor grids without the constant `color` factor, in index order (posY fastest):
// shape 3 (values 1, 2, 3 = square, ellipse, heart), scale 6 (0.5 .. 1.0),
// orientation 40 (linspace(0, 2π, 40), both ends included), posX 32 and posY 32 (linspace(0, 1,
// 32)).
std::vector<Factor> dsprites_factors();

// 737,280 images of 1x64x64 with pixels 0/1, in the official index order.
std::unique_ptr<Dataset> make_dsprites_generator();

}  // namespace vsae::data
