// Real-file loaders: export -> load round trips in both official formats (stored and compressed),
// labels read from the file, and clear one-line errors for every kind of bad file.
#include <gtest/gtest.h>

#include "apps/vsae/data/dsprites.hpp"
#include "apps/vsae/data/export.hpp"
#include "apps/vsae/data/hdf5_file.hpp"
#include "apps/vsae/data/npz.hpp"
#include "apps/vsae/data/real_files.hpp"
#include "apps/vsae/data/sampling.hpp"
#include "apps/vsae/data/shapes3d.hpp"
#include "tests/data/data_test_util.hpp"

namespace vsae::data {
namespace {

using test::ScratchDir;
using test::throws_error;

void export_to(const Dataset& ds, const std::string& path, std::int64_t count,
               const std::string& compress) {
  ExportOptions o;
  o.name = ds.name();
  o.out = path;
  o.count = count;
  o.seed = 11;
  o.compress = compress;
  export_dataset(ds, o);
}

// The loaded file must serve exactly the source's images and classes at the exported indices.
void expect_same_items(const Dataset& source, const std::vector<std::int64_t>& indices,
                       const Dataset& loaded) {
  ASSERT_EQ(loaded.size(), static_cast<std::int64_t>(indices.size()));
  ASSERT_EQ(loaded.channels(), source.channels());
  ASSERT_EQ(loaded.factors().size(), source.factors().size());
  EXPECT_FLOAT_EQ(loaded.pixel_scale(), source.pixel_scale());
  const std::size_t nf = source.factors().size(),
                    bytes = static_cast<std::size_t>(source.image_bytes());
  std::vector<std::uint8_t> a(bytes), b(bytes);
  std::vector<std::int32_t> ca(nf), cb(nf);
  for (std::size_t i = 0; i < indices.size(); ++i) {
    source.get(indices[i], a.data(), ca.data());
    loaded.get(static_cast<std::int64_t>(i), b.data(), cb.data());
    ASSERT_EQ(a, b) << "image " << i;
    ASSERT_EQ(ca, cb) << "classes " << i;
    for (std::size_t f = 0; f < nf; ++f)
      ASSERT_DOUBLE_EQ(loaded.factors()[f].values[static_cast<std::size_t>(cb[f])],
                       source.factors()[f].values[static_cast<std::size_t>(ca[f])]);
  }
}

TEST(RealFiles, DspritesNpzRoundTripStoredAndCompressed) {
  ScratchDir dir;
  auto gen = make_dsprites_generator();
  const std::vector<std::int64_t> indices = random_subset(gen->size(), 500, 11);
  for (const char* compress : {"no", "yes"}) {
    const std::string path = dir.file(std::string("d_") + compress + ".npz");
    export_to(*gen, path, 500, compress);
    auto loaded = load_dsprites_npz(path);
    EXPECT_EQ(loaded->name(), "dsprites");
    for (std::size_t f = 0; f < 5; ++f)
      EXPECT_EQ(loaded->factors()[f].name, gen->factors()[f].name);
    expect_same_items(*gen, indices, *loaded);
  }
}

TEST(RealFiles, Shapes3dH5RoundTripStoredAndCompressed) {
  ScratchDir dir;
  auto gen = make_shapes3d_generator();
  const std::vector<std::int64_t> indices = random_subset(gen->size(), 40, 11);
  for (const char* compress : {"no", "yes"}) {
    const std::string path = dir.file(std::string("s_") + compress + ".h5");
    export_to(*gen, path, 40, compress);
    auto loaded = load_shapes3d_h5(path);
    EXPECT_EQ(loaded->name(), "shapes3d");
    expect_same_items(*gen, indices, *loaded);
  }
}

// When every class occurs, the class values are the file's own distinct labels, whatever they are.
TEST(RealFiles, Shapes3dClassesComeFromTheDistinctLabelValues) {
  ScratchDir dir;
  std::vector<Factor> factors;
  const char* names[] = {"floor_hue", "wall_hue", "object_hue", "scale", "shape", "orientation"};
  const int counts[] = {10, 10, 10, 8, 4, 15};
  for (int f = 0; f < 6; ++f) {
    Factor factor{names[f], {}};
    for (int c = 0; c < counts[f]; ++c) factor.values.push_back(100.0 * f + 0.37 * c * c - 5);
    factors.push_back(factor);
  }
  test::TinyDataset tiny("shapes3d", 3, factors, 255);
  // Row i holds class i % n of every factor with n classes, so each class occurs.
  std::vector<std::int64_t> rows;
  for (std::int32_t i = 0; i < 30; ++i) {
    std::int32_t classes[6];
    for (int f = 0; f < 6; ++f) classes[f] = i % counts[f];
    rows.push_back(flat_index(factors, classes));
  }
  ExportOptions o;
  o.name = "shapes3d";
  o.out = dir.file("t.h5");
  o.indices = rows;
  export_dataset(tiny, o);
  auto loaded = load_shapes3d_h5(o.out);
  for (int f = 0; f < 6; ++f) EXPECT_EQ(loaded->factors()[f].values, factors[f].values) << names[f];
  expect_same_items(tiny, rows, *loaded);
}

// ---- bad dSprites files --------------------------------------------------------------------

struct NpzParts {
  std::string imgs_descr = "|u1";
  std::vector<std::int64_t> imgs_shape = {4, 64, 64};
  std::uint8_t pixel = 1;
  std::vector<std::int64_t> classes_shape = {4, 6};
  std::int64_t scale_class = 2;
  std::int64_t color_class = 0;
  bool values = true;
};

// A small hand-made dSprites file, varied by the corruption tests.
void write_npz(const std::string& path, const NpzParts& p) {
  NpzWriter w(path, false);
  NpyHeader imgs{p.imgs_descr, p.imgs_shape};
  std::vector<char> data(static_cast<std::size_t>(imgs.count()) * (p.imgs_descr == "|u1" ? 1 : 8),
                         0);
  data[100] = static_cast<char>(p.pixel);
  w.begin("imgs", imgs);
  w.write(data.data(), data.size());
  w.end();
  NpyHeader classes{"<i8", p.classes_shape};
  std::vector<std::int64_t> c(static_cast<std::size_t>(classes.count()), 0);
  c[2] = p.scale_class;
  c[6] = p.color_class;
  w.begin("latents_classes", classes);
  w.write(c.data(), c.size() * 8);
  w.end();
  if (p.values) {
    std::vector<double> v(24, 0.5);
    w.begin("latents_values", {"<f8", {4, 6}});
    w.write(v.data(), v.size() * 8);
    w.end();
  }
  w.close();
}

TEST(RealFiles, BadDspritesFilesGiveOneClearLine) {
  ScratchDir dir;
  const std::string path = dir.file("bad.npz");
  auto load = [&] { load_dsprites_npz(path); };
  auto with = [&](auto change) {
    NpzParts p;
    change(p);
    write_npz(path, p);
  };

  EXPECT_TRUE(throws_error(load, {path, "file not found"}));
  with([](NpzParts&) {});
  EXPECT_NO_THROW(load_dsprites_npz(path));

  with([](NpzParts& p) { p.imgs_descr = "<i8"; });
  EXPECT_TRUE(throws_error(load, {path, "'imgs' has dtype '<i8', expected uint8"}));
  with([](NpzParts& p) { p.imgs_shape = {4, 32, 32}; });
  EXPECT_TRUE(throws_error(load, {path, "'imgs' has shape (4, 32, 32), expected (N, 64, 64)"}));
  with([](NpzParts& p) { p.classes_shape = {4, 5}; });
  EXPECT_TRUE(throws_error(load, {path, "'latents_classes' has shape (4, 5), expected (4, 6)"}));
  with([](NpzParts& p) { p.classes_shape = {5, 6}; });
  EXPECT_TRUE(throws_error(load, {path, "'latents_classes' has 5 rows but the images have 4"}));
  with([](NpzParts& p) { p.values = false; });
  EXPECT_TRUE(throws_error(load, {path, "missing array 'latents_values'"}));
  with([](NpzParts& p) { p.pixel = 255; });
  EXPECT_TRUE(throws_error(load, {path, "pixel value 255", "0 or 1"}));
  with([](NpzParts& p) { p.scale_class = 6; });
  EXPECT_TRUE(throws_error(load, {path, "bad labels", "scale class 6 (expected 0..5)"}));
  with([](NpzParts& p) { p.color_class = 1; });
  EXPECT_TRUE(throws_error(load, {path, "bad labels", "color class 1"}));

  // Not a zip at all, and an HDF5 file under an .npz name.
  test::write_bytes(path, std::vector<char>(5000, '\x17'));
  EXPECT_TRUE(throws_error(load, {path, "not an .npz file"}));
  test::TinyDataset tiny("shapes3d", 3, {{"a", {0, 1}}}, 255);
  ExportOptions o{"shapes3d", dir.file("t.h5"), {}, 0, 0, "no"};
  export_dataset(tiny, o);
  std::filesystem::copy_file(o.out, path, std::filesystem::copy_options::overwrite_existing);
  EXPECT_TRUE(throws_error(load, {path, "not an .npz file"}));
}

TEST(RealFiles, TruncatedOrGarbledDspritesFilesAreDetected) {
  ScratchDir dir;
  auto gen = make_dsprites_generator();
  const std::string path = dir.file("d.npz");
  for (const char* compress : {"no", "yes"}) {
    export_to(*gen, path, 300, compress);
    const std::vector<char> good = test::read_bytes(path);
    test::write_bytes(path, std::vector<char>(good.begin(), good.end() - 2000));
    EXPECT_TRUE(throws_error([&] { load_dsprites_npz(path); }, {path, "truncated"})) << compress;
    std::vector<char> garbled = good;
    for (std::size_t i = 0; i < 64; ++i) garbled[good.size() / 3 + i] = static_cast<char>(0xA5 ^ i);
    test::write_bytes(path, garbled);
    // The pixel check or the CRC-32 catches it, whichever comes first.
    EXPECT_TRUE(throws_error([&] { load_dsprites_npz(path); }, {path, "'imgs"})) << compress;
  }
}

// ---- bad Shapes3D files --------------------------------------------------------------------

struct H5Parts {
  H5Type images_type = H5Type::u8;
  std::vector<std::int64_t> images_shape = {3, 64, 64, 3};
  H5Type labels_type = H5Type::f64;
  bool labels = true;
  std::vector<double> hues = {0.0, 0.1, 0.2};  // floor_hue labels of the 3 rows
};

void write_h5(const std::string& path, const H5Parts& p) {
  H5File h5 = H5File::create(path);
  h5.create_array("images", p.images_type, p.images_shape, false);
  std::int64_t cells = 1;
  for (std::int64_t d : p.images_shape) cells *= d;
  std::vector<double> pixels(static_cast<std::size_t>(cells), 7.0);
  std::vector<std::uint8_t> bytes(static_cast<std::size_t>(cells), 7);
  h5.write_rows(
      "images", 0, p.images_shape[0], p.images_type,
      p.images_type == H5Type::u8 ? static_cast<const void*>(bytes.data()) : pixels.data());
  if (p.labels) {
    const auto rows = static_cast<std::int64_t>(p.hues.size());
    h5.create_array("labels", p.labels_type, {rows, 6}, false);
    std::vector<double> labels(static_cast<std::size_t>(rows * 6), 0.0);
    for (std::size_t r = 0; r < p.hues.size(); ++r) {
      labels[r * 6] = p.hues[r];
      labels[r * 6 + 3] = 0.75;
    }
    std::vector<std::uint8_t> small(labels.begin(), labels.end());
    h5.write_rows(
        "labels", 0, rows, p.labels_type,
        p.labels_type == H5Type::f64 ? static_cast<const void*>(labels.data()) : small.data());
  }
  h5.close();
}

TEST(RealFiles, BadShapes3dFilesGiveOneClearLine) {
  ScratchDir dir;
  const std::string path = dir.file("bad.h5");
  auto load = [&] { load_shapes3d_h5(path); };
  auto with = [&](auto change) {
    H5Parts p;
    change(p);
    write_h5(path, p);
  };

  EXPECT_TRUE(throws_error(load, {path, "file not found"}));
  with([](H5Parts&) {});
  EXPECT_NO_THROW(load_shapes3d_h5(path));

  with([](H5Parts& p) { p.images_type = H5Type::f64; });
  EXPECT_TRUE(throws_error(load, {path, "'images' has type float64, expected uint8"}));
  with([](H5Parts& p) { p.labels_type = H5Type::u8; });
  EXPECT_TRUE(throws_error(load, {path, "'labels' has type uint8, expected float64"}));
  with([](H5Parts& p) { p.images_shape = {3, 64, 64, 1}; });
  EXPECT_TRUE(
      throws_error(load, {path, "'images' has shape (3, 64, 64, 1), expected (N, 64, 64, 3)"}));
  with([](H5Parts& p) { p.hues = {0.0, 0.1, 0.2, 0.3}; });
  EXPECT_TRUE(throws_error(load, {path, "'labels' has 4 rows but the images have 3"}));
  with([](H5Parts& p) { p.labels = false; });
  EXPECT_TRUE(throws_error(load, {path, "missing dataset 'labels'"}));
  with([](H5Parts& p) { p.hues = {0.0, 0.15, 0.2}; });
  EXPECT_TRUE(throws_error(load, {path, "bad labels", "floor_hue value 0.15"}));
  with([](H5Parts& p) { p.hues = {0.0, std::nan(""), 0.2}; });
  EXPECT_TRUE(throws_error(load, {path, "bad labels", "not finite"}));
  with([](H5Parts& p) {
    p.hues.clear();
    p.images_shape[0] = 11;
    for (int i = 0; i < 11; ++i) p.hues.push_back(i / 11.0);
  });
  EXPECT_TRUE(throws_error(load, {path, "bad labels", "11 distinct values; Shapes3D has 10"}));

  test::write_bytes(path, std::vector<char>(5000, 'x'));
  EXPECT_TRUE(throws_error(load, {path, "not an HDF5 file"}));
}

TEST(RealFiles, TruncatedOrGarbledShapes3dFilesAreDetected) {
  ScratchDir dir;
  auto gen = make_shapes3d_generator();
  const std::string path = dir.file("s.h5");
  for (const char* compress : {"no", "yes"}) {
    export_to(*gen, path, 30, compress);
    const std::vector<char> good = test::read_bytes(path);
    test::write_bytes(
        path, std::vector<char>(good.begin(), good.begin() + static_cast<long>(good.size() / 2)));
    EXPECT_TRUE(throws_error([&] { load_shapes3d_h5(path); }, {path, "truncated"})) << compress;
  }
  // Garbled metadata or gzip chunks: HDF5 fails to open or to decompress.
  const std::vector<char> good = test::read_bytes(path);
  std::vector<char> garbled = good;
  for (std::size_t i = good.size() / 2; i < good.size() / 2 + 4096; ++i)
    garbled[i] = static_cast<char>(i * 131);
  test::write_bytes(path, garbled);
  EXPECT_TRUE(throws_error([&] { load_shapes3d_h5(path); }, {path, "corrupt"}));
}

}  // namespace
}  // namespace vsae::data
