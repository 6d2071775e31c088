// export-dataset: index selection, option errors, the CLI flags, and files that numpy and h5py
// read as a user would (the official layouts, dtypes and label values).
#include <gtest/gtest.h>

#include <CLI/CLI.hpp>
#include <cstdlib>
#include <fstream>

#include "apps/vsae/data/dsprites.hpp"
#include "apps/vsae/data/export.hpp"
#include "apps/vsae/data/real_files.hpp"
#include "apps/vsae/data/sampling.hpp"
#include "apps/vsae/data/shapes3d.hpp"
#include "tests/data/data_test_util.hpp"

namespace vsae::data {
namespace {

using test::ScratchDir;
using test::throws_error;

ExportOptions options(const std::string& name, const std::string& out) {
  ExportOptions o;
  o.name = name;
  o.out = out;
  return o;
}

TEST(Export, IndicesKeepTheirOrder) {
  ScratchDir dir;
  auto gen = make_dsprites_generator();
  ExportOptions o = options("dsprites", dir.file("d.npz"));
  o.indices = {700000, 5, 3, 5};
  const ExportSummary s = export_dataset(*gen, o);
  EXPECT_EQ(s.images, 4);
  EXPECT_FALSE(s.compressed);
  auto loaded = load_dsprites_npz(o.out);
  std::vector<std::uint8_t> a(4096), b(4096);
  std::int32_t ca[5], cb[5];
  for (std::size_t i = 0; i < o.indices.size(); ++i) {
    gen->get(o.indices[i], a.data(), ca);
    loaded->get(static_cast<std::int64_t>(i), b.data(), cb);
    EXPECT_EQ(a, b);
    EXPECT_EQ(flat_index(gen->factors(), cb), o.indices[i]);
  }
}

TEST(Export, BadOptionsAreErrorsAndLeaveNoFile) {
  ScratchDir dir;
  auto gen = make_dsprites_generator();
  auto run = [&](ExportOptions o) { return [&gen, o] { export_dataset(*gen, o); }; };
  ExportOptions o = options("dsprites", dir.file("d.h5"));
  EXPECT_TRUE(throws_error(run(o), {"--out must end in .npz for dsprites"}));
  o.out = dir.file("d.npz");
  o.indices = {1, 737280};
  EXPECT_TRUE(throws_error(run(o), {"index 737280 is outside dsprites (0..737279)"}));
  o.count = 3;
  EXPECT_TRUE(throws_error(run(o), {"either --indices or --count"}));
  o.indices.clear();
  o.count = 737281;
  EXPECT_TRUE(throws_error(run(o), {"--count 737281 exceeds the 737280 images"}));
  o.count = 3;
  o.compress = "maybe";
  EXPECT_TRUE(throws_error(run(o), {"--compress must be auto, yes or no"}));
  o.compress = "auto";
  o.name = "shapes3d";
  EXPECT_TRUE(throws_error(run(o), {"the dataset is dsprites, not shapes3d"}));
  o.name = "dsprites";
  o.out = dir.file("no/such/dir/d.npz");
  EXPECT_TRUE(throws_error(run(o), {o.out + ".partial", "cannot create"}));
  EXPECT_FALSE(std::filesystem::exists(dir.file("d.npz")));
  EXPECT_FALSE(std::filesystem::exists(dir.file("d.npz.partial")));
}

TEST(Export, CommandLineFlags) {
  ExportOptions o;
  CLI::App app;
  CLI::App* cmd = app.add_subcommand("export-dataset");
  add_export_flags(*cmd, o);
  app.parse("export-dataset --name dsprites --out x.npz --indices 4,8,15 --compress yes", false);
  EXPECT_EQ(o.name, "dsprites");
  EXPECT_EQ(o.out, "x.npz");
  EXPECT_EQ(o.indices, (std::vector<std::int64_t>{4, 8, 15}));
  EXPECT_EQ(o.compress, "yes");

  ExportOptions both;
  CLI::App app2;
  add_export_flags(*app2.add_subcommand("export-dataset"), both);
  EXPECT_THROW(
      app2.parse("export-dataset --name dsprites --out x.npz --indices 1,2 --count 3", false),
      CLI::ParseError);
}

// Runs `script` with the test Python; true when it ran, false (after GTEST_SKIP) without
// numpy/h5py.
bool run_python(const ScratchDir& dir, const std::string& script, const std::string& args) {
  test::write_bytes(dir.file("check.py"), std::vector<char>(script.begin(), script.end()));
  const std::string cmd = std::string(VSAE_TEST_PYTHON) + " " + dir.file("check.py") + " " + args;
  const int rc = std::system(cmd.c_str());
  if (WIFEXITED(rc) && WEXITSTATUS(rc) == 77) return false;
  EXPECT_EQ(rc, 0) << cmd;
  return true;
}

// Our images (as numpy will lay them out) and indices, for the script to compare with.
void write_expected(const Dataset& ds, const std::vector<std::int64_t>& indices,
                    const ScratchDir& dir) {
  std::ofstream raw(dir.file("expected.bin"), std::ios::binary), idx(dir.file("indices.txt"));
  const std::int64_t plane = 64 * 64, c = ds.channels();
  std::vector<std::uint8_t> chw(static_cast<std::size_t>(ds.image_bytes())), hwc(chw.size());
  std::vector<std::int32_t> classes(ds.factors().size());
  for (std::int64_t i : indices) {
    ds.get(i, chw.data(), classes.data());
    for (std::int64_t p = 0; p < plane; ++p)
      for (std::int64_t k = 0; k < c; ++k)
        hwc[static_cast<std::size_t>(p * c + k)] = chw[static_cast<std::size_t>(k * plane + p)];
    raw.write(reinterpret_cast<const char*>(hwc.data()), static_cast<std::streamsize>(hwc.size()));
    idx << i << "\n";
  }
}

TEST(Export, NumpyReadsTheDspritesFile) {
  ScratchDir dir;
  auto gen = make_dsprites_generator();
  ExportOptions o = options("dsprites", dir.file("dsprites.npz"));
  o.count = 300;
  o.seed = 3;
  o.compress = "yes";
  export_dataset(*gen, o);
  write_expected(*gen, random_subset(gen->size(), 300, 3), dir);
  const std::string script = R"(
import sys
try:
    import numpy as np
except ImportError:
    sys.exit(77)
npz, expected, indices = sys.argv[1:]
d = np.load(npz)  # allow_pickle=False: nothing in the file needs pickle
assert sorted(d.files) == ['imgs', 'latents_classes', 'latents_values'], d.files
imgs, c, v = d['imgs'], d['latents_classes'], d['latents_values']
n = len(np.loadtxt(indices, dtype=np.int64, ndmin=1))
assert imgs.shape == (n, 64, 64) and imgs.dtype == np.uint8, (imgs.shape, imgs.dtype)
assert c.shape == (n, 6) and c.dtype == np.int64, (c.shape, c.dtype)
assert v.shape == (n, 6) and v.dtype == np.float64, (v.shape, v.dtype)
assert (imgs == np.fromfile(expected, np.uint8).reshape(n, 64, 64)).all()
idx = np.loadtxt(indices, dtype=np.int64, ndmin=1)
assert (c @ np.array([737280, 245760, 40960, 1024, 32, 1]) == idx).all(), 'official index order'
assert (c[:, 0] == 0).all() and (v[:, 0] == 1).all()
assert (v[:, 1] == c[:, 1] + 1).all()
assert np.allclose(v[:, 2], np.linspace(0.5, 1, 6)[c[:, 2]])
assert np.allclose(v[:, 3], np.linspace(0, 2 * np.pi, 40)[c[:, 3]])
assert np.allclose(v[:, 4:], np.linspace(0, 1, 32)[c[:, 4:]])
)";
  if (!run_python(dir, script,
                  o.out + " " + dir.file("expected.bin") + " " + dir.file("indices.txt")))
    GTEST_SKIP() << "numpy is not installed for " << VSAE_TEST_PYTHON;
}

TEST(Export, H5pyReadsTheShapes3dFile) {
  ScratchDir dir;
  auto gen = make_shapes3d_generator();
  ExportOptions o = options("shapes3d", dir.file("3dshapes.h5"));
  o.count = 20;
  o.seed = 4;
  o.compress = "yes";
  export_dataset(*gen, o);
  write_expected(*gen, random_subset(gen->size(), 20, 4), dir);
  const std::string script = R"(
import sys
try:
    import numpy as np
    import h5py
except ImportError:
    sys.exit(77)
h5, expected, indices = sys.argv[1:]
idx = np.loadtxt(indices, dtype=np.int64, ndmin=1)
n = len(idx)
with h5py.File(h5, 'r') as f:
    assert sorted(f.keys()) == ['images', 'labels'], list(f.keys())
    images, labels = f['images'][()], f['labels'][()]
assert images.shape == (n, 64, 64, 3) and images.dtype == np.uint8, (images.shape, images.dtype)
assert labels.shape == (n, 6) and labels.dtype == np.float64, (labels.shape, labels.dtype)
assert (images == np.fromfile(expected, np.uint8).reshape(n, 64, 64, 3)).all()
grids = [np.arange(10) / 10] * 3 + [np.linspace(0.75, 1.25, 8), np.arange(4.0), np.linspace(-30, 30, 15)]
classes = np.stack([np.abs(labels[:, k, None] - g[None]).argmin(1) for k, g in enumerate(grids)], 1)
assert all(np.allclose(labels[:, k], g[classes[:, k]]) for k, g in enumerate(grids))
assert (classes @ np.array([48000, 4800, 480, 60, 15, 1]) == idx).all(), 'official index order'
)";
  if (!run_python(dir, script,
                  o.out + " " + dir.file("expected.bin") + " " + dir.file("indices.txt")))
    GTEST_SKIP() << "numpy or h5py is not installed for " << VSAE_TEST_PYTHON;
}

TEST(Export, RunExportWritesTheNamedGenerator) {
  ScratchDir dir;
  ExportOptions o = options("dsprites", dir.file("d.npz"));
  o.count = 10;
  EXPECT_EQ(run_export(o), 0);
  EXPECT_EQ(load_dsprites_npz(o.out)->size(), 10);
  o.name = "mnist";
  EXPECT_TRUE(throws_error([&] { run_export(o); }, {"unknown dataset 'mnist'"}));
}

}  // namespace
}  // namespace vsae::data
