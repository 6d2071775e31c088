// `vsae_gpu export-dataset`: writes a dataset (normally the procedural generator) in the official
// file format, so that other tools can use it and the real-file loaders can be tested by a round
// trip.
//
//   vsae_gpu export-dataset --name dsprites|shapes3d --out FILE
//                           [--indices i,j,... | --count N --seed S] [--compress auto|yes|no]
//
// - dsprites -> .npz as dsprites_ndarray_co1sh3sc6or40x32y32_64x64.npz: imgs (n, 64, 64) uint8 0/1,
//   latents_classes (n, 6) int64 and latents_values (n, 6) float64 over (color, shape, scale,
//   orientation, posX, posY); color is the constant class 0, value 1.0 (no pickled metadata).
// - shapes3d -> .h5 as 3dshapes.h5: images (n, 64, 64, 3) uint8 (HWC) and labels (n, 6) float64.
// - Images: all of them in the official order by default; --indices lists them (in that order);
//   --count N draws N distinct ones with --seed (Philox, the dataset_subset stream) in ascending
//   order.
// - --compress auto deflates (npz) or gzips (h5) when the images exceed 64 MiB; the full dSprites
//   set is then about 20 MiB instead of 3 GiB.
// - The file appears under its name only when complete (written as FILE.partial, then renamed).
#pragma once

#include <cstdint>
#include <iosfwd>
#include <string>
#include <vector>

#include "apps/vsae/data/dataset.hpp"

namespace CLI {
class App;
}

namespace vsae::data {

struct ExportOptions {
  std::string name;                   // dsprites | shapes3d
  std::string out;                    // .npz for dsprites, .h5 (or .hdf5) for shapes3d
  std::vector<std::int64_t> indices;  // explicit dataset indices; empty: see count
  std::int64_t count = 0;             // N random distinct indices; 0: the whole dataset
  std::uint64_t seed = 0;             // seed of the random indices
  std::string compress = "auto";      // auto | yes | no
};

struct ExportSummary {
  std::int64_t images = 0;
  std::uint64_t file_bytes = 0;
  bool compressed = false;
  double seconds = 0.0;
};

// Adds the flags above to the `export-dataset` subcommand, filling `options`.
void add_export_flags(CLI::App& command, ExportOptions& options);

// Writes `dataset` (whose name() picks the format) as options.out. Throws vsae::Error on bad
// options (unknown name, wrong extension, index out of range, --indices with --count) and on I/O
// failure, leaving no partial file behind.
ExportSummary export_dataset(const Dataset& dataset, const ExportOptions& options);

// The subcommand: builds the procedural generator named by options.name, exports it and reports
// on stderr. Returns the process exit code (0); errors are thrown as by export_dataset.
int run_export(const ExportOptions& options);

}  // namespace vsae::data
