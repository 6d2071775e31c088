// The training images resident on the backend as uint8 (DESIGN §7): the whole dataset or a fixed
// random subset, rendered (in parallel) or copied once, with its factor classes on the host and the
// device, and each epoch's Philox permutation uploaded as the i32 order that gather_batch reads.
// The same code runs on the CPU and the CUDA backend.
#pragma once

#include <cstdint>
#include <iosfwd>
#include <string>
#include <vector>

#include "apps/vsae/data/dataset.hpp"
#include "engine/core/backend.hpp"
#include "engine/core/philox.hpp"

namespace vsae::data {

struct ResidentOptions {
  std::int64_t subset = 0;  // 0: the whole dataset; N: a fixed random subset of N images
  std::uint64_t seed = 0;  // the run seed: picks the subset and shuffles (RngStream::shuffle)
  RngStream subset_stream = RngStream::dataset_subset;  // eval_subset for the evaluation set
};

class ResidentDataset {
 public:
  // Checks that the images fit (see check_fits), then fills them block by block. `log` (if given)
  // gets one line with the image count, the memory used and the time taken. `backend` must
  // outlive this object; `dataset` is only read during construction.
  ResidentDataset(Backend& backend, const Dataset& dataset, const ResidentOptions& options,
                  std::ostream* log = nullptr);

  std::int64_t size() const { return static_cast<std::int64_t>(indices_.size()); }  // M
  int channels() const { return channels_; }
  float pixel_scale() const { return pixel_scale_; }
  const std::vector<int>& num_classes() const { return num_classes_; }  // (F)

  const Tensor& images() const { return images_; }    // u8 (M, C, 64, 64) on the backend
  const Tensor& classes() const { return classes_; }  // i32 (M, F) on the backend
  const std::vector<std::int32_t>& host_classes() const { return host_classes_; }  // (M, F)
  // The dataset index of each resident image, ascending.
  const std::vector<std::int64_t>& indices() const { return indices_; }

  // Uploads the permutation of [0, M) for `epoch` (epoch_permutation with the run seed) into
  // order() and returns it: i32 (M), for gather_batch.
  const Tensor& shuffle(std::uint32_t epoch);
  const Tensor& order() const { return order_; }

  std::size_t backend_bytes() const { return storage_.bytes(); }  // images, classes and order

 private:
  void fill(const Backend& backend, const Dataset& dataset);

  Backend* backend_;
  std::uint64_t seed_;
  int channels_;
  float pixel_scale_;
  std::vector<int> num_classes_;
  std::vector<std::int64_t> indices_;
  std::vector<std::int32_t> host_classes_;
  Storage storage_;
  Tensor images_, classes_, order_;
  double fill_seconds_ = 0.0;
};

// Bytes that ResidentDataset needs on the backend for `count` images of `dataset`.
std::size_t resident_bytes(const Dataset& dataset, std::int64_t count);

// Throws a vsae::Error naming `what` when `bytes` will not fit on the backend: on CUDA the free
// device memory (cudaMemGetInfo) less a reserve for the model and its workspaces; on the CPU the
// available RAM (MemAvailable) less a reserve for the rest of the process.
void check_fits(const Backend& backend, std::size_t bytes, const std::string& what);

}  // namespace vsae::data
