// Loaders of the official dataset files: shape and dtype checks, label validation, and the copy
// into host memory (CHW images and int32 factor classes).
#include "apps/vsae/data/real_files.hpp"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <new>
#include <set>
#include <sstream>

#include "apps/vsae/data/dsprites.hpp"
#include "apps/vsae/data/hdf5_file.hpp"
#include "apps/vsae/data/npz.hpp"
#include "apps/vsae/data/shapes3d.hpp"
#include "engine/core/check.hpp"

namespace vsae::data {

namespace {

constexpr std::int64_t kSide = 64;
constexpr std::size_t kPieceBytes = std::size_t{64} << 20;  // streaming granularity
constexpr std::int64_t kDspritesFileColumns = 6;            // color + our 5 factors
constexpr std::int64_t kShapes3dChannels = 3;

[[noreturn]] void fail(const std::string& path, const std::string& what) {
  throw Error(path + ": " + what);
}

std::string str(double v) {
  std::ostringstream os;
  os << v;
  return os.str();
}

bool close_to(double a, double b) {
  return std::abs(a - b) <= 1e-6 * std::max(1.0, std::abs(b));
}

std::string shape_str(const std::vector<std::int64_t>& shape) {
  std::string s = "(";
  for (std::size_t i = 0; i < shape.size(); ++i) s += (i ? ", " : "") + std::to_string(shape[i]);
  return s + (shape.size() == 1 ? ",)" : ")");
}

// Checks an array's shape against (N, item...), N >= 1, and against the N of earlier arrays.
void check_shape(const std::string& path, const std::string& array,
                 const std::vector<std::int64_t>& shape, const std::vector<std::int64_t>& item,
                 std::int64_t* rows) {
  std::vector<std::int64_t> want = {*rows > 0 ? *rows : -1};
  want.insert(want.end(), item.begin(), item.end());
  bool ok = shape.size() == want.size() && shape[0] >= 1 &&
            std::equal(item.begin(), item.end(), shape.begin() + 1);
  if (ok && *rows > 0 && shape[0] != *rows)
    fail(path, "'" + array + "' has " + std::to_string(shape[0]) + " rows but the images have " +
                   std::to_string(*rows));
  if (!ok) {
    std::string expected = shape_str(want);
    if (want[0] < 0) expected.replace(1, 2, "N");
    fail(path, "'" + array + "' has shape " + shape_str(shape) + ", expected " + expected);
  }
  *rows = shape[0];
}

// A dataset held in host memory; item i is row i of the file it was read from.
class HostDataset final : public Dataset {
 public:
  HostDataset(std::string name, int channels, float pixel_scale, std::vector<Factor> factors,
              std::int64_t rows, const std::string& path)
      : name_(std::move(name)),
        channels_(channels),
        pixel_scale_(pixel_scale),
        factors_(std::move(factors)),
        rows_(rows),
        classes_(static_cast<std::size_t>(rows) * factors_.size()) {
    const std::size_t bytes =
        static_cast<std::size_t>(rows) * static_cast<std::size_t>(image_bytes());
    try {
      images_.reset(new std::uint8_t[bytes]);  // uninitialised: the loader fills every byte
    } catch (const std::bad_alloc&) {
      fail(path, "not enough host memory to load " + std::to_string(rows) + " images (" +
                     std::to_string(bytes >> 20) + " MiB)");
    }
  }

  std::string name() const override { return name_; }
  std::int64_t size() const override { return rows_; }
  int channels() const override { return channels_; }
  float pixel_scale() const override { return pixel_scale_; }
  const std::vector<Factor>& factors() const override { return factors_; }

  void get(std::int64_t index, std::uint8_t* image, std::int32_t* classes) const override {
    VSAE_CHECK(index >= 0 && index < rows_,
               "index " << index << " outside " << name_ << " file of " << rows_);
    const std::size_t bytes = static_cast<std::size_t>(image_bytes());
    std::memcpy(image, images_.get() + static_cast<std::size_t>(index) * bytes, bytes);
    const std::size_t nf = factors_.size();
    std::copy_n(
        classes_.begin() + static_cast<std::ptrdiff_t>(static_cast<std::size_t>(index) * nf), nf,
        classes);
  }

  std::uint8_t* images() { return images_.get(); }
  std::vector<std::int32_t>& classes() { return classes_; }
  std::vector<Factor>& mutable_factors() { return factors_; }

 private:
  std::string name_;
  int channels_;
  float pixel_scale_;
  std::vector<Factor> factors_;
  std::int64_t rows_;
  std::unique_ptr<std::uint8_t[]> images_;
  std::vector<std::int32_t> classes_;
};

// ---- dSprites .npz -------------------------------------------------------------------------

void check_dtype(const std::string& path, const std::string& array, const NpyHeader& h,
                 const std::vector<std::string>& accepted, const std::string& wanted) {
  if (std::find(accepted.begin(), accepted.end(), h.descr) == accepted.end())
    fail(path, "'" + array + "' has dtype '" + h.descr + "', expected " + wanted + " ('" +
                   accepted[0] + "')");
}

template <class T>
std::vector<T> read_all(NpzReader::Array& a) {
  std::vector<T> v(static_cast<std::size_t>(a.header().count()));
  a.read(v.data(), v.size() * sizeof(T));
  a.finish();
  return v;
}

void read_dsprites_images(NpzReader& npz, HostDataset& ds) {
  NpzReader::Array a = npz.open("imgs");
  const std::size_t total = static_cast<std::size_t>(ds.size() * ds.image_bytes());
  for (std::size_t done = 0; done < total;) {
    const std::size_t n = std::min(kPieceBytes, total - done);
    std::uint8_t* piece = ds.images() + done;
    a.read(piece, n);
    const std::uint8_t* bad = std::find_if(piece, piece + n, [](std::uint8_t p) { return p > 1; });
    if (bad != piece + n)
      fail(npz.path(), "'imgs' holds pixel value " + std::to_string(*bad) + " in image " +
                           std::to_string((done + static_cast<std::size_t>(bad - piece)) / 4096) +
                           "; dSprites pixels are 0 or 1");
    done += n;
  }
  a.finish();
}

// Takes each factor's class from latents_classes and its value from latents_values; a class must
// always come with the same value.
void read_dsprites_labels(NpzReader& npz, HostDataset& ds) {
  NpzReader::Array class_array = npz.open("latents_classes");
  const std::vector<std::int64_t> classes = read_all<std::int64_t>(class_array);
  NpzReader::Array value_array = npz.open("latents_values");
  const std::vector<double> values = read_all<double>(value_array);
  std::vector<Factor>& factors = ds.mutable_factors();
  std::vector<std::vector<bool>> seen(factors.size());
  for (std::size_t f = 0; f < factors.size(); ++f) seen[f].assign(factors[f].values.size(), false);
  const auto rows = static_cast<std::size_t>(ds.size());
  for (std::size_t r = 0; r < rows; ++r) {
    if (classes[r * kDspritesFileColumns] != 0)
      fail(npz.path(), "bad labels: latents_classes row " + std::to_string(r) +
                           " has color class " + std::to_string(classes[r * kDspritesFileColumns]) +
                           " (dSprites has one color, class 0)");
    for (std::size_t f = 0; f < factors.size(); ++f) {
      const std::int64_t c = classes[r * kDspritesFileColumns + f + 1];
      const double v = values[r * kDspritesFileColumns + f + 1];
      if (c < 0 || c >= factors[f].num_classes())
        fail(npz.path(), "bad labels: latents_classes row " + std::to_string(r) + " has " +
                             factors[f].name + " class " + std::to_string(c) + " (expected 0.." +
                             std::to_string(factors[f].num_classes() - 1) + ")");
      double& known = factors[f].values[static_cast<std::size_t>(c)];
      const bool first = !seen[f][static_cast<std::size_t>(c)];
      if (!std::isfinite(v) || (!first && !close_to(v, known)))
        fail(npz.path(), "bad labels: latents_values row " + std::to_string(r) + " gives " +
                             factors[f].name + " class " + std::to_string(c) + " the value " +
                             str(v) + (first ? "" : ", other rows give " + str(known)));
      known = v;
      seen[f][static_cast<std::size_t>(c)] = true;
      ds.classes()[r * factors.size() + f] = static_cast<std::int32_t>(c);
    }
  }
}

// ---- Shapes3D .h5 --------------------------------------------------------------------------

// The classes of one label column: its distinct values, or the generator's grid for a subset.
std::vector<double> column_classes(const std::string& path, const std::vector<double>& labels,
                                   std::size_t column, const Factor& grid) {
  std::set<double> distinct;
  for (std::size_t i = column; i < labels.size(); i += 6) {
    if (!std::isfinite(labels[i]))
      fail(path, "bad labels: a " + grid.name + " label is not finite");
    distinct.insert(labels[i]);
  }
  const std::size_t want = grid.values.size();
  if (distinct.size() > want)
    fail(path, "bad labels: column " + std::to_string(column) + " (" + grid.name + ") has " +
                   std::to_string(distinct.size()) + " distinct values; Shapes3D has " +
                   std::to_string(want));
  if (distinct.size() == want) return {distinct.begin(), distinct.end()};
  for (double v : distinct)
    if (std::none_of(grid.values.begin(), grid.values.end(),
                     [&](double g) { return close_to(v, g); }))
      fail(path, "bad labels: " + grid.name + " value " + str(v) +
                     " is not on the Shapes3D grid (a file with " +
                     "fewer distinct values than the official " + std::to_string(want) +
                     " must use the grid values)");
  return grid.values;
}

void read_shapes3d_labels(const H5File& h5, HostDataset& ds) {
  const auto rows = static_cast<std::size_t>(ds.size());
  std::vector<double> labels(rows * 6);
  h5.read_rows("labels", 0, ds.size(), H5Type::f64, labels.data());
  std::vector<Factor>& factors = ds.mutable_factors();
  for (std::size_t f = 0; f < factors.size(); ++f) {
    factors[f].values = column_classes(h5.path(), labels, f, factors[f]);
    const std::vector<double>& v = factors[f].values;
    for (std::size_t r = 0; r < rows; ++r) {
      const double x = labels[r * 6 + f];
      auto at = std::min_element(v.begin(), v.end(), [&](double a, double b) {
        return std::abs(a - x) < std::abs(b - x);
      });
      ds.classes()[r * factors.size() + f] = static_cast<std::int32_t>(at - v.begin());
    }
  }
}

// Reads the HWC images in blocks and stores them CHW.
void read_shapes3d_images(const H5File& h5, HostDataset& ds) {
  constexpr std::int64_t kBlock = 1024;
  constexpr std::int64_t kPlane = kSide * kSide;
  std::vector<std::uint8_t> hwc(static_cast<std::size_t>(kBlock * kPlane * kShapes3dChannels));
  for (std::int64_t first = 0; first < ds.size(); first += kBlock) {
    const std::int64_t count = std::min(kBlock, ds.size() - first);
    h5.read_rows("images", first, count, H5Type::u8, hwc.data());
#pragma omp parallel for schedule(static)
    for (std::int64_t i = 0; i < count; ++i) {
      const std::uint8_t* src = hwc.data() + i * kPlane * kShapes3dChannels;
      std::uint8_t* dst = ds.images() + (first + i) * kPlane * kShapes3dChannels;
      for (std::int64_t p = 0; p < kPlane; ++p)
        for (int c = 0; c < kShapes3dChannels; ++c)
          dst[c * kPlane + p] = src[p * kShapes3dChannels + c];
    }
  }
}

}  // namespace

std::unique_ptr<Dataset> load_dsprites_npz(const std::string& path) {
  NpzReader npz(path);
  std::int64_t rows = 0;
  {
    NpzReader::Array imgs = npz.open("imgs");
    check_dtype(path, "imgs", imgs.header(), {"|u1", "<u1", "u1"}, "uint8");
    check_shape(path, "imgs", imgs.header().shape, {kSide, kSide}, &rows);
  }
  {
    NpzReader::Array classes = npz.open("latents_classes");
    check_dtype(path, "latents_classes", classes.header(), {"<i8"}, "int64");
    check_shape(path, "latents_classes", classes.header().shape, {kDspritesFileColumns}, &rows);
  }
  {
    NpzReader::Array values = npz.open("latents_values");
    check_dtype(path, "latents_values", values.header(), {"<f8"}, "float64");
    check_shape(path, "latents_values", values.header().shape, {kDspritesFileColumns}, &rows);
  }
  auto ds = std::make_unique<HostDataset>("dsprites", 1, 1.0f, dsprites_factors(), rows, path);
  read_dsprites_images(npz, *ds);
  read_dsprites_labels(npz, *ds);
  return ds;
}

std::unique_ptr<Dataset> load_shapes3d_h5(const std::string& path) {
  H5File h5 = H5File::open(path);
  std::int64_t rows = 0;
  const H5ArrayInfo images = h5.info("images");
  const H5ArrayInfo labels = h5.info("labels");
  if (images.type != "uint8") fail(path, "'images' has type " + images.type + ", expected uint8");
  check_shape(path, "images", images.shape, {kSide, kSide, kShapes3dChannels}, &rows);
  if (labels.type != "float64")
    fail(path, "'labels' has type " + labels.type + ", expected float64");
  check_shape(path, "labels", labels.shape, {6}, &rows);
  auto ds = std::make_unique<HostDataset>("shapes3d", kShapes3dChannels, 1.0f / 255.0f,
                                          make_shapes3d_generator()->factors(), rows, path);
  read_shapes3d_labels(h5, *ds);
  read_shapes3d_images(h5, *ds);
  return ds;
}

}  // namespace vsae::data
