// Renders Shapes3D scenes for tools/shapes3d_compare.py, which compiles this file together with
// apps/vsae/data/shapes3d_render.cpp. stdin: one scene per line, "floor_hue wall_hue object_hue
// scale shape orientation_deg"; stdout: the images, 3x64x64 uint8 CHW each, in input order.
#include <cstdint>
#include <cstdio>
#include <iostream>
#include <vector>

#include "apps/vsae/data/shapes3d_render.hpp"

int main() {
  using vsae::data::Shapes3DScene;
  std::vector<Shapes3DScene> scenes;
  Shapes3DScene s;
  int shape = 0;
  while (std::cin >> s.floor_hue >> s.wall_hue >> s.object_hue >> s.scale >> shape >>
         s.orientation_deg) {
    s.shape = static_cast<vsae::data::Shapes3DShape>(shape);
    scenes.push_back(s);
  }
  constexpr std::size_t kBytes = 3 * 64 * 64;
  std::vector<std::uint8_t> images(scenes.size() * kBytes);
  const auto n = static_cast<std::int64_t>(scenes.size());
#pragma omp parallel for schedule(dynamic, 16)
  for (std::int64_t i = 0; i < n; ++i)
    vsae::data::render_shapes3d(scenes[static_cast<std::size_t>(i)],
                                images.data() + static_cast<std::size_t>(i) * kBytes);
  std::fwrite(images.data(), 1, images.size(), stdout);
  return 0;
}
