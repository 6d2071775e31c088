// Dataset export in the official formats: index selection, block-wise rendering (in parallel)
// streamed into the .npz or .h5 writer, and the atomic rename of the finished file.
#include "apps/vsae/data/export.hpp"

#include <CLI/CLI.hpp>
#include <chrono>
#include <cstdio>
#include <filesystem>

#include "apps/vsae/data/hdf5_file.hpp"
#include "apps/vsae/data/npz.hpp"
#include "apps/vsae/data/sampling.hpp"
#include "apps/vsae/data/sources.hpp"
#include "engine/core/check.hpp"
#include "engine/io/file_lock.hpp"

namespace vsae::data {

namespace {

constexpr std::int64_t kBlockImages = 4096;
constexpr std::int64_t kAutoCompressBytes = std::int64_t{64} << 20;

bool ends_with(const std::string& s, const std::string& tail) {
  return s.size() >= tail.size() && s.compare(s.size() - tail.size(), tail.size(), tail) == 0;
}

std::vector<std::int64_t> resolve_indices(const Dataset& ds, const ExportOptions& o) {
  if (!o.indices.empty() && o.count > 0)
    throw Error("export-dataset: give either --indices or --count, not both");
  if (o.count < 0) throw Error("export-dataset: --count must be positive");
  for (std::int64_t i : o.indices)
    if (i < 0 || i >= ds.size())
      throw Error("export-dataset: index " + std::to_string(i) + " is outside " + ds.name() +
                  " (0.." + std::to_string(ds.size() - 1) + ")");
  if (!o.indices.empty()) return o.indices;
  if (o.count > ds.size())
    throw Error("export-dataset: --count " + std::to_string(o.count) + " exceeds the " +
                std::to_string(ds.size()) + " images of " + ds.name());
  if (o.count > 0) return random_subset(ds.size(), o.count, o.seed, RngStream::dataset_subset);
  std::vector<std::int64_t> all(static_cast<std::size_t>(ds.size()));
  for (std::size_t i = 0; i < all.size(); ++i) all[i] = static_cast<std::int64_t>(i);
  return all;
}

bool want_compression(const ExportOptions& o, std::int64_t image_bytes_total) {
  if (o.compress == "yes") return true;
  if (o.compress == "no") return false;
  if (o.compress == "auto") return image_bytes_total > kAutoCompressBytes;
  throw Error("export-dataset: --compress must be auto, yes or no; got '" + o.compress + "'");
}

// Calls `sink(first, count, images, classes)` for consecutive blocks of `indices`, rendered in
// parallel: images (count, C, H, W), classes (count, F).
template <class Sink>
void for_each_block(const Dataset& ds, const std::vector<std::int64_t>& indices, Sink sink) {
  const std::size_t nf = ds.factors().size();
  std::vector<std::uint8_t> images(static_cast<std::size_t>(kBlockImages * ds.image_bytes()));
  std::vector<std::int32_t> classes(static_cast<std::size_t>(kBlockImages) * nf);
  for (std::size_t first = 0; first < indices.size(); first += kBlockImages) {
    const std::size_t count = std::min<std::size_t>(kBlockImages, indices.size() - first);
    std::vector<std::int64_t> block(indices.begin() + static_cast<std::ptrdiff_t>(first),
                                    indices.begin() + static_cast<std::ptrdiff_t>(first + count));
    ds.get_many(block, images.data(), classes.data());
    sink(static_cast<std::int64_t>(first), static_cast<std::int64_t>(count), images.data(),
         classes.data());
  }
}

// dSprites .npz: images as they are (1 channel), labels with the official leading color column.
void write_dsprites_npz(const Dataset& ds, const std::vector<std::int64_t>& indices,
                        const std::string& path, bool compress) {
  VSAE_CHECK(ds.channels() == 1, "the dSprites .npz format holds 1-channel images");
  const auto n = static_cast<std::int64_t>(indices.size());
  const std::size_t nf = ds.factors().size(), cols = nf + 1;
  std::vector<std::int64_t> classes(static_cast<std::size_t>(n) * cols, 0);
  std::vector<double> values(static_cast<std::size_t>(n) * cols, 1.0);
  NpzWriter npz(path, compress);
  npz.begin("imgs", {"|u1", {n, ds.height(), ds.width()}});
  for_each_block(ds, indices,
                 [&](std::int64_t first, std::int64_t count, const std::uint8_t* images,
                     const std::int32_t* block_classes) {
                   npz.write(images, static_cast<std::size_t>(count * ds.image_bytes()));
                   for (std::int64_t i = 0; i < count; ++i)
                     for (std::size_t f = 0; f < nf; ++f) {
                       const std::int32_t c = block_classes[static_cast<std::size_t>(i) * nf + f];
                       const std::size_t at = static_cast<std::size_t>(first + i) * cols + f + 1;
                       classes[at] = c;
                       values[at] = ds.factors()[f].values[static_cast<std::size_t>(c)];
                     }
                 });
  npz.end();
  const auto n_cols = static_cast<std::int64_t>(cols);
  npz.begin("latents_classes", {"<i8", {n, n_cols}});
  npz.write(classes.data(), classes.size() * sizeof(std::int64_t));
  npz.end();
  npz.begin("latents_values", {"<f8", {n, n_cols}});
  npz.write(values.data(), values.size() * sizeof(double));
  npz.end();
  npz.close();
}

// Shapes3D .h5: images turned from CHW to HWC, labels are the factor values.
void write_shapes3d_h5(const Dataset& ds, const std::vector<std::int64_t>& indices,
                       const std::string& path, bool compress) {
  const auto n = static_cast<std::int64_t>(indices.size());
  const std::int64_t channels = ds.channels(), plane = std::int64_t{ds.height()} * ds.width();
  const std::size_t nf = ds.factors().size();
  H5File h5 = H5File::create(path);
  h5.create_array("images", H5Type::u8, {n, ds.height(), ds.width(), channels}, compress);
  h5.create_array("labels", H5Type::f64, {n, static_cast<std::int64_t>(nf)}, compress);
  std::vector<std::uint8_t> hwc(static_cast<std::size_t>(kBlockImages * ds.image_bytes()));
  std::vector<double> labels(static_cast<std::size_t>(kBlockImages) * nf);
  for_each_block(ds, indices,
                 [&](std::int64_t first, std::int64_t count, const std::uint8_t* chw,
                     const std::int32_t* classes) {
#pragma omp parallel for schedule(static)
                   for (std::int64_t i = 0; i < count; ++i)
                     for (std::int64_t p = 0; p < plane; ++p)
                       for (std::int64_t c = 0; c < channels; ++c)
                         hwc[static_cast<std::size_t>((i * plane + p) * channels + c)] =
                             chw[static_cast<std::size_t>((i * channels + c) * plane + p)];
                   for (std::size_t k = 0; k < static_cast<std::size_t>(count) * nf; ++k)
                     labels[k] = ds.factors()[k % nf].values[static_cast<std::size_t>(classes[k])];
                   h5.write_rows("images", first, count, H5Type::u8, hwc.data());
                   h5.write_rows("labels", first, count, H5Type::f64, labels.data());
                 });
  h5.close();
}

}  // namespace

void add_export_flags(CLI::App& command, ExportOptions& options) {
  command.add_option("--name", options.name, "dataset to export")
      ->required()
      ->check(CLI::IsMember({"dsprites", "shapes3d"}));
  command.add_option("--out", options.out, "output file: .npz for dsprites, .h5 for shapes3d")
      ->required();
  auto* indices =
      command.add_option("--indices", options.indices, "comma-separated image indices to export")
          ->delimiter(',');
  auto* count =
      command.add_option("--count", options.count, "export N random distinct images (see --seed)")
          ->check(CLI::PositiveNumber);
  indices->excludes(count);
  command.add_option("--seed", options.seed, "seed of the --count draw (default 0)");
  command
      .add_option("--compress", options.compress,
                  "deflate/gzip the file: auto (when over 64 MiB), yes, no")
      ->check(CLI::IsMember({"auto", "yes", "no"}));
}

ExportSummary export_dataset(const Dataset& ds, const ExportOptions& options) {
  const bool npz = ds.name() == "dsprites";
  if (ds.name() != options.name)
    throw Error("export-dataset: the dataset is " + ds.name() + ", not " + options.name);
  if (npz ? !ends_with(options.out, ".npz")
          : !(ends_with(options.out, ".h5") || ends_with(options.out, ".hdf5")))
    throw Error("export-dataset: --out must end in " + std::string(npz ? ".npz" : ".h5") + " for " +
                ds.name() + " (its official format); got '" + options.out + "'");
  const auto start = std::chrono::steady_clock::now();
  const std::vector<std::int64_t> indices = resolve_indices(ds, options);
  ExportSummary summary;
  summary.images = static_cast<std::int64_t>(indices.size());
  summary.compressed = want_compression(options, summary.images * ds.image_bytes());

  const std::string partial = options.out + ".partial";
  try {
    if (npz)
      write_dsprites_npz(ds, indices, partial, summary.compressed);
    else
      write_shapes3d_h5(ds, indices, partial, summary.compressed);
    std::filesystem::rename(partial, options.out);
  } catch (const std::filesystem::filesystem_error& e) {
    std::filesystem::remove(partial);
    throw Error(options.out + ": cannot write the file: " + e.code().message());
  } catch (...) {
    std::error_code ec;
    std::filesystem::remove(partial, ec);
    throw;
  }
  summary.file_bytes = std::filesystem::file_size(options.out);
  summary.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  return summary;
}

int run_export(const ExportOptions& options) {
  // One writer per output file: a second export to the same path is refused, not interleaved.
  const FileLock lock(options.out + ".lock", "output file " + options.out,
                      "; wait for it to finish, or choose another --out");
  std::unique_ptr<Dataset> ds = make_generator(options.name);
  const ExportSummary s = export_dataset(*ds, options);
  std::fprintf(stderr, "vsae_gpu: wrote %lld %s images to %s (%.1f MiB%s) in %.1f s\n",
               static_cast<long long>(s.images), ds->name().c_str(), options.out.c_str(),
               static_cast<double>(s.file_bytes) / (1 << 20), s.compressed ? ", compressed" : "",
               s.seconds);
  return 0;
}

}  // namespace vsae::data
