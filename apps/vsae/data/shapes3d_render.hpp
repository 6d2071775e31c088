// The Shapes3D ray-caster: renders one 64x64 RGB scene (room, sky band, one object) from
// continuous scene values. shapes3d.cpp maps the dataset's factor classes onto it.
#pragma once

#include <cstdint>

namespace vsae::data {

enum class Shapes3DShape : int { cube = 0, cylinder = 1, sphere = 2, capsule = 3 };

struct Shapes3DScene {
  double floor_hue = 0.0;  // HSV hue in [0, 1) at full saturation and value; 0 = red
  double wall_hue = 0.0;
  double object_hue = 0.0;
  double scale = 1.0;  // object size: the cube's side; the other shapes grow in proportion
  Shapes3DShape shape = Shapes3DShape::cube;
  double orientation_deg = 0.0;  // camera azimuth around the object; 0 faces the back wall
};

// Writes 3*64*64 bytes, CHW, values 0..255. Pure function of `scene`: deterministic and safe to
// call from many threads at once.
void render_shapes3d(const Shapes3DScene& scene, std::uint8_t* chw);

}  // namespace vsae::data
