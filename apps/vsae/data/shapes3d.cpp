// The procedural Shapes3D dataset: decodes an index into factor classes and renders that scene.
#include "apps/vsae/data/shapes3d.hpp"

#include "apps/vsae/data/shapes3d_render.hpp"
#include "engine/core/check.hpp"

namespace vsae::data {
namespace {

std::vector<double> linspace(double first, double last, int n) {
  std::vector<double> values(static_cast<std::size_t>(n));
  for (int i = 0; i < n; ++i)
    values[static_cast<std::size_t>(i)] = first + (last - first) * i / (n - 1);
  return values;
}

std::vector<double> hues() {
  std::vector<double> values;
  for (int i = 0; i < 10; ++i) values.push_back(i / 10.0);
  return values;
}

// The official factor order with the documented values (see shapes3d.hpp).
std::vector<Factor> factor_grids() {
  std::vector<Factor> factors;
  factors.push_back({"floor_hue", hues()});
  factors.push_back({"wall_hue", hues()});
  factors.push_back({"object_hue", hues()});
  factors.push_back({"scale", linspace(0.75, 1.25, 8)});
  factors.push_back({"shape", {0.0, 1.0, 2.0, 3.0}});
  factors.push_back({"orientation", linspace(-30.0, 30.0, 15)});
  return factors;
}

class Shapes3DGenerator : public Dataset {
 public:
  Shapes3DGenerator() : factors_(factor_grids()) {}

  std::string name() const override { return "shapes3d"; }
  std::int64_t size() const override { return 480000; }
  int channels() const override { return 3; }
  float pixel_scale() const override { return 1.0f / 255.0f; }
  const std::vector<Factor>& factors() const override { return factors_; }

  void get(std::int64_t index, std::uint8_t* image, std::int32_t* classes) const override {
    VSAE_CHECK(index >= 0 && index < size(),
               "shapes3d index " << index << " out of range [0, " << size() << ")");
    classes_of(factors_, index, classes);
    Shapes3DScene scene;
    scene.floor_hue = value(0, classes);
    scene.wall_hue = value(1, classes);
    scene.object_hue = value(2, classes);
    scene.scale = value(3, classes);
    scene.shape = static_cast<Shapes3DShape>(classes[4]);
    scene.orientation_deg = value(5, classes);
    render_shapes3d(scene, image);
  }

 private:
  double value(int factor, const std::int32_t* classes) const {
    return factors_[static_cast<std::size_t>(factor)]
        .values[static_cast<std::size_t>(classes[factor])];
  }

  std::vector<Factor> factors_;
};

}  // namespace

std::unique_ptr<Dataset> make_shapes3d_generator() {
  return std::make_unique<Shapes3DGenerator>();
}

}  // namespace vsae::data
