// Resident dataset: memory check, one arena for images, classes and order, block-wise filling
// through a small host staging buffer, and per-epoch permutation uploads.
#include "apps/vsae/data/resident.hpp"

#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <fstream>
#include <limits>
#include <ostream>

#include "apps/vsae/data/sampling.hpp"
#include "engine/core/check.hpp"

#if VSAE_HAVE_CUDA
#include <cuda_runtime.h>

#include "engine/core/cuda_check.hpp"
#endif

namespace vsae::data {

namespace {

constexpr std::int64_t kBlockImages = 8192;
// Kept free for the model, activations, cuDNN/cuBLAS workspaces (device) or the rest of the
// process (host).
constexpr std::size_t kReserveBytes = std::size_t{1} << 30;

std::string gib(std::size_t bytes) {
  char text[32];
  std::snprintf(text, sizeof text, "%.2f GiB", static_cast<double>(bytes) / (1 << 30));
  return text;
}

// MemAvailable counts reclaimable page cache too, unlike the free pages of sysconf.
std::size_t host_available_bytes() {
  std::ifstream meminfo("/proc/meminfo");
  std::string key;
  std::size_t kib = 0;
  std::string unit;
  while (meminfo >> key >> kib >> unit)
    if (key == "MemAvailable:") return kib << 10;
  return static_cast<std::size_t>(sysconf(_SC_AVPHYS_PAGES)) *
         static_cast<std::size_t>(sysconf(_SC_PAGESIZE));
}

struct Layout {
  std::size_t images = 0, classes = 0, order = 0, total = 0;
};

Layout plan_layout(const Dataset& ds, std::int64_t count) {
  ArenaPlan plan;
  Layout l;
  l.images = plan.reserve(Shape{count, ds.channels(), ds.height(), ds.width()}, DType::u8);
  l.classes =
      plan.reserve(Shape{count, static_cast<std::int64_t>(ds.factors().size())}, DType::i32);
  l.order = plan.reserve(Shape{count}, DType::i32);
  l.total = plan.total_bytes();
  return l;
}

std::vector<std::int64_t> choose_indices(const Dataset& ds, const ResidentOptions& o) {
  if (o.subset < 0)
    throw Error("dataset subset must be 0 (all images) or positive, got " +
                std::to_string(o.subset));
  if (o.subset > 0 && o.subset < ds.size()) return random_subset(ds.size(), o.subset, o.seed, o.subset_stream);
  std::vector<std::int64_t> all(static_cast<std::size_t>(ds.size()));
  for (std::size_t i = 0; i < all.size(); ++i) all[i] = static_cast<std::int64_t>(i);
  return all;
}

}  // namespace

std::size_t resident_bytes(const Dataset& dataset, std::int64_t count) {
  return plan_layout(dataset, count).total;
}

void check_fits(const Backend& backend, std::size_t bytes, const std::string& what) {
  if (backend.is_cuda()) {
#if VSAE_HAVE_CUDA
    std::size_t free = 0, total = 0;
    CUDA_CHECK(cudaMemGetInfo(&free, &total));
    if (bytes + kReserveBytes > free)
      throw Error(what + " need " + gib(bytes) + " on " + backend.name() + " but only " +
                  gib(free) + " of " + gib(total) + " is free (keeping " + gib(kReserveBytes) +
                  " for the model); set dataset.subset to use fewer images");
#endif
    return;
  }
  const std::size_t available = host_available_bytes();
  if (bytes + kReserveBytes > available)
    throw Error(what + " need " + gib(bytes) + " of host memory but only " + gib(available) +
                " is available (keeping " + gib(kReserveBytes) +
                " for the rest of the run); set dataset.subset to use fewer images");
}

ResidentDataset::ResidentDataset(Backend& backend, const Dataset& dataset,
                                 const ResidentOptions& options, std::ostream* log)
    : backend_(&backend),
      seed_(options.seed),
      channels_(dataset.channels()),
      pixel_scale_(dataset.pixel_scale()),
      indices_(choose_indices(dataset, options)) {
  for (const Factor& f : dataset.factors()) num_classes_.push_back(f.num_classes());
  const std::int64_t m = size();
  const std::string what = dataset.name() + ": " + std::to_string(m) + " images";
  if (m == 0) throw Error(what + ": the dataset is empty");
  // order() holds i32 positions.
  if (m > std::numeric_limits<std::int32_t>::max())
    throw Error(what + " exceed the 2^31 images a batch order can index");
  const Layout layout = plan_layout(dataset, m);
  check_fits(backend, layout.total, what);

  storage_ = backend.allocate(layout.total);
  const auto nf = static_cast<std::int64_t>(num_classes_.size());
  images_ = storage_.view(Shape{m, channels_, dataset.height(), dataset.width()}, DType::u8,
                          layout.images);
  classes_ = storage_.view(Shape{m, nf}, DType::i32, layout.classes);
  order_ = storage_.view(Shape{m}, DType::i32, layout.order);

  const auto start = std::chrono::steady_clock::now();
  fill(backend, dataset);
  fill_seconds_ = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  backend.upload(classes_, host_classes_.data());
  // Until the first shuffle the order is the identity, e.g. for a pass in resident order.
  std::vector<std::int32_t> identity(static_cast<std::size_t>(m));
  for (std::size_t i = 0; i < identity.size(); ++i) identity[i] = static_cast<std::int32_t>(i);
  backend.upload(order_, identity.data());

  if (log) {
    char seconds[32];
    std::snprintf(seconds, sizeof seconds, "%.1f s", fill_seconds_);
    *log << "vsae_gpu: " << what << " resident on " << backend.name() << ": "
         << gib(backend_bytes()) << " (filled in " << seconds << ")\n";
  }
}

// Renders (or copies) blocks of images in parallel into a host staging buffer and uploads each.
void ResidentDataset::fill(const Backend& backend, const Dataset& dataset) {
  const std::int64_t bytes = dataset.image_bytes();
  const std::size_t nf = num_classes_.size();
  host_classes_.assign(indices_.size() * nf, 0);
  std::vector<std::uint8_t> staging(
      static_cast<std::size_t>(std::min(kBlockImages, size()) * bytes));
  auto* base = static_cast<std::uint8_t*>(images_.data);
  for (std::int64_t first = 0; first < size(); first += kBlockImages) {
    const std::int64_t count = std::min(kBlockImages, size() - first);
    const std::vector<std::int64_t> block(indices_.begin() + first,
                                          indices_.begin() + first + count);
    dataset.get_many(block, staging.data(),
                     host_classes_.data() + static_cast<std::size_t>(first) * nf);
    const Tensor rows(base + first * bytes,
                      Shape{count, images_.dim(1), images_.dim(2), images_.dim(3)}, DType::u8,
                      images_.device);
    backend.upload(rows, staging.data());
  }
}

const Tensor& ResidentDataset::shuffle(std::uint32_t epoch) {
  const std::vector<std::int32_t> order = epoch_permutation(size(), seed_, epoch);
  backend_->upload(order_, order.data());
  return order_;
}

}  // namespace vsae::data
