// The dataset interface: index -> (image, factor classes, factor values) in the official ordering
// and factor grids. Procedural generators and real-file loaders both implement it.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

namespace vsae::data {

struct Factor {
  std::string name;            // "shape", "scale", "orientation", "posX", ...
  std::vector<double> values;  // value of each class, in class order
  int num_classes() const { return static_cast<int>(values.size()); }
};

// Images are uint8, CHW, 64x64. dSprites pixels are 0/1 (as in the official file); Shapes3D
// pixels are 0..255. pixel_scale() maps them to [0, 1] floats.
class Dataset {
 public:
  virtual ~Dataset() = default;

  virtual std::string name() const = 0;  // "dsprites" | "shapes3d"
  virtual std::int64_t size() const = 0;
  virtual int channels() const = 0;
  int height() const { return 64; }
  int width() const { return 64; }
  std::int64_t image_bytes() const { return std::int64_t{channels()} * height() * width(); }
  virtual float pixel_scale() const = 0;
  virtual const std::vector<Factor>& factors() const = 0;

  // Writes image_bytes() bytes (CHW) and one class index per factor for `index`.
  virtual void get(std::int64_t index, std::uint8_t* image, std::int32_t* classes) const = 0;

  // Many indices at once, in parallel on the CPU: images (n, C, H, W), classes (n, F).
  void get_many(const std::vector<std::int64_t>& indices, std::uint8_t* images,
                std::int32_t* classes) const;
};

// Official flat index of a factor-class tuple: the last factor varies fastest.
std::int64_t flat_index(const std::vector<Factor>& factors, const std::int32_t* classes);
void classes_of(const std::vector<Factor>& factors, std::int64_t index, std::int32_t* classes);

}  // namespace vsae::data
