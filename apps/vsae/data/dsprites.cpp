// dSprites rasteriser. The geometry was fitted to the 320 real frames of
// shared/reference/dsprites_frames.gif (tests/data/test_dsprites.cpp measures the match):
// - a pixel is on when its centre lies inside the shape. Supersampled coverage ≥ 0.5 matches the
//   rotated frames worse (IoU 0.95 vs 0.9997 for squares): the real rotated squares lose area
//   (368 px instead of 400), which only a side of 19.2 px sampled at pixel centres explains;
// - shapes are centred at pixel (15.5 + 32·posX, 15.5 + 32·posY) and turned counter-clockwise on
//   screen by `orientation` about that centre;
// - square: side 19.2·scale; ellipse: semi-axes 12.75·scale (x) and 7.225·scale (y);
//   heart: the classic curve (16 sin³t, 13 cos t − 5 cos 2t − 2 cos 3t − cos 4t), 19.2·scale wide.
#include "apps/vsae/data/dsprites.hpp"

#include <algorithm>
#include <cmath>
#include <cstring>

namespace vsae::data {

namespace {

constexpr double kPi = 3.14159265358979323846;
constexpr int kSide = 64;
constexpr int kNumPositions = 32;
constexpr int kNumOrientations = 40;

enum Shape { kSquare = 0, kEllipse = 1, kHeart = 2 };

// Shape sizes at scale 1, in pixels, in shape coordinates (u to the right, v up).
constexpr double kSquareHalfSide = 9.6;
constexpr double kEllipseSemiU = 12.75;
constexpr double kEllipseSemiV = 7.225;
// The heart curve spans 32 units across; 0.6 px per unit makes it as wide as the square. Its
// height scale and the offset of its rotation centre were fitted (IoU over all heart frames).
constexpr double kHeartScaleU = 0.6;
constexpr double kHeartScaleV = 0.662;
constexpr double kHeartShiftV = 1.435;
// No point of any shape lies farther than this from its centre (the square's corner, 13.58).
constexpr double kReach = 13.6;

// The heart as a table over its height: each row holds the band inner <= |u| <= outer of the
// right half (the curve is symmetric). Below the notch the band reaches the axis (inner = 0).
class HeartProfile {
 public:
  HeartProfile() {
    constexpr int kSegments = 8192;
    std::vector<double> cu(kSegments + 1), cv(kSegments + 1);
    for (int k = 0; k <= kSegments; ++k) {
      double t = kPi * k / kSegments;
      cu[k] = 16 * std::pow(std::sin(t), 3);
      cv[k] = 13 * std::cos(t) - 5 * std::cos(2 * t) - 2 * std::cos(3 * t) - std::cos(4 * t);
    }
    v_min_ = *std::min_element(cv.begin(), cv.end());
    v_max_ = *std::max_element(cv.begin(), cv.end());
    row_height_ = (v_max_ - v_min_) / kRows;
    std::vector<int> crossings(kRows, 0);
    inner_.assign(kRows, 0.0);
    outer_.assign(kRows, -1.0);
    for (int k = 0; k < kSegments; ++k) add_segment(cu[k], cv[k], cu[k + 1], cv[k + 1], crossings);
    for (int r = 0; r < kRows; ++r)
      if (crossings[r] == 1) inner_[r] = 0.0;
  }

  // (u, v) in curve units.
  bool contains(double u, double v) const {
    double row = std::floor((v - v_min_) / row_height_);
    if (row < 0 || row >= kRows) return false;
    int r = static_cast<int>(row);
    double a = std::abs(u);
    return a >= inner_[r] && a <= outer_[r];
  }

 private:
  static constexpr int kRows = 8192;

  // Records where the segment crosses the centre line of each row it spans.
  void add_segment(double u0, double v0, double u1, double v1, std::vector<int>& crossings) {
    double lo = std::min(v0, v1), hi = std::max(v0, v1);
    int first = std::max(0, static_cast<int>(std::ceil((lo - v_min_) / row_height_ - 0.5)));
    int last = std::min(kRows - 1, static_cast<int>(std::floor((hi - v_min_) / row_height_ - 0.5)));
    for (int r = first; r <= last; ++r) {
      double v = v_min_ + (r + 0.5) * row_height_;
      if (v < lo || v >= hi) continue;
      double u = u0 + (u1 - u0) * (v - v0) / (v1 - v0);
      inner_[r] = crossings[r] == 0 ? u : std::min(inner_[r], u);
      outer_[r] = std::max(outer_[r], u);
      ++crossings[r];
    }
  }

  double v_min_ = 0, v_max_ = 0, row_height_ = 1;
  std::vector<double> inner_, outer_;
};

std::vector<double> linspace(double lo, double hi, int n) {
  std::vector<double> v(static_cast<std::size_t>(n));
  for (int i = 0; i < n; ++i) v[static_cast<std::size_t>(i)] = lo + (hi - lo) * i / (n - 1);
  return v;
}

class DspritesGenerator final : public Dataset {
 public:
  DspritesGenerator() : factors_(dsprites_factors()) {}

  std::string name() const override { return "dsprites"; }
  std::int64_t size() const override { return 737280; }
  int channels() const override { return 1; }
  float pixel_scale() const override { return 1.0f; }
  const std::vector<Factor>& factors() const override { return factors_; }

  void get(std::int64_t index, std::uint8_t* image, std::int32_t* classes) const override {
    classes_of(factors_, index, classes);
    auto value = [&](int f) { return factors_[f].values[static_cast<std::size_t>(classes[f])]; };
    render(static_cast<Shape>(classes[0]), value(1), value(2), 15.5 + 32.0 * value(3),
           15.5 + 32.0 * value(4), image);
  }

 private:
  bool inside(Shape shape, double u, double v) const {
    switch (shape) {
      case kSquare:
        return std::abs(u) < kSquareHalfSide && std::abs(v) < kSquareHalfSide;
      case kEllipse: {
        double a = u / kEllipseSemiU, b = v / kEllipseSemiV;
        return a * a + b * b < 1.0;
      }
      case kHeart:
        return heart_.contains(u / kHeartScaleU, (v - kHeartShiftV) / kHeartScaleV);
    }
    return false;
  }

  // Samples pixel centres (x = column, y = row) in the shape's bounding box only.
  void render(Shape shape, double scale, double angle, double cx, double cy,
              std::uint8_t* image) const {
    std::memset(image, 0, kSide * kSide);
    const double c = std::cos(angle), s = std::sin(angle), reach = kReach * scale;
    const int x0 = std::max(0, static_cast<int>(std::floor(cx - reach)));
    const int x1 = std::min(kSide - 1, static_cast<int>(std::ceil(cx + reach)));
    const int y0 = std::max(0, static_cast<int>(std::floor(cy - reach)));
    const int y1 = std::min(kSide - 1, static_cast<int>(std::ceil(cy + reach)));
    for (int y = y0; y <= y1; ++y) {
      const double up = cy - y;  // screen rows grow downwards; shape v grows upwards
      for (int x = x0; x <= x1; ++x) {
        const double dx = x - cx;
        const double u = (c * dx + s * up) / scale, v = (c * up - s * dx) / scale;
        image[y * kSide + x] = inside(shape, u, v) ? 1 : 0;
      }
    }
  }

  std::vector<Factor> factors_;
  HeartProfile heart_;
};

}  // namespace

std::vector<Factor> dsprites_factors() {
  return {
      {"shape", {1.0, 2.0, 3.0}},
      {"scale", linspace(0.5, 1.0, 6)},
      {"orientation", linspace(0.0, 2 * kPi, kNumOrientations)},
      {"posX", linspace(0.0, 1.0, kNumPositions)},
      {"posY", linspace(0.0, 1.0, kNumPositions)},
  };
}

std::unique_ptr<Dataset> make_dsprites_generator() {
  return std::make_unique<DspritesGenerator>();
}

}  // namespace vsae::data
