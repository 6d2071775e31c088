// CUDA kernels for the loss terms: deterministic two-pass reductions and elementwise gradients.
#include <algorithm>
#include <cub/block/block_reduce.cuh>

#include "engine/core/cuda_check.hpp"
#include "kernels/losses.cuh"
#include "kernels/launch_geometry.cuh"

namespace vsae::cuda_kernels {

namespace {

constexpr int kThreads = kElementwiseThreads;
// Partial sums per forward loss. The count depends only on the element count, never on the device,
// so the summation order (and the result) is the same on every GPU.
constexpr std::int64_t kMaxPartials = 1024;

std::int64_t partial_count(std::int64_t count) {
  return std::clamp<std::int64_t>((count + kThreads - 1) / kThreads, 1, kMaxPartials);
}


struct BceTerm {
  const float* logits;
  const float* target;
  __device__ float operator()(std::int64_t i) const {
    const float l = logits[i];
    return fmaxf(l, 0.0f) - l * target[i] + log1pf(expf(-fabsf(l)));
  }
};

struct KlTerm {
  const float* mu;
  const float* logvar;
  __device__ float operator()(std::int64_t i) const {
    const float m = mu[i], lv = logvar[i];
    return 0.5f * (m * m + expf(lv) - lv - 1.0f);
  }
};

struct MseTerm {
  const float* a;
  const float* b;
  __device__ float operator()(std::int64_t i) const {
    const float d = a[i] - b[i];
    return d * d;
  }
};

// σ(l) without overflow: e^{−|l|} never exceeds 1.
__device__ __forceinline__ float stable_sigmoid(float l) {
  const float e = expf(-fabsf(l));
  return l >= 0.0f ? 1.0f / (1.0f + e) : e / (1.0f + e);
}

}  // namespace

// Pass 1: block k sums its grid-stride share of the terms, in double, into partials[k].
template <class Term>
static __global__ void loss_partials_kernel(Term term, std::int64_t count, double* partials) {
  double sum = 0.0;
  for (std::int64_t i = blockIdx.x * static_cast<std::int64_t>(blockDim.x) + threadIdx.x; i < count;
       i += static_cast<std::int64_t>(gridDim.x) * blockDim.x)
    sum += static_cast<double>(term(i));
  using BlockReduce = cub::BlockReduce<double, kThreads>;
  __shared__ typename BlockReduce::TempStorage temp;
  const double block_sum = BlockReduce(temp).Sum(sum);
  if (threadIdx.x == 0) partials[blockIdx.x] = block_sum;
}

// Pass 2: one block adds the partials in a fixed order and averages over the batch.
static __global__ void loss_finish_kernel(const double* partials, std::int64_t partial_count,
                                          std::int64_t batch, float* loss) {
  double sum = 0.0;
  for (std::int64_t i = threadIdx.x; i < partial_count; i += blockDim.x) sum += partials[i];
  using BlockReduce = cub::BlockReduce<double, kThreads>;
  __shared__ typename BlockReduce::TempStorage temp;
  const double total = BlockReduce(temp).Sum(sum);
  if (threadIdx.x == 0) *loss = static_cast<float>(total / static_cast<double>(batch));
}

static __global__ void bce_backward_kernel(const float* logits, const float* target,
                                           const float* weight, float* dlogits, std::int64_t count,
                                           std::int64_t batch) {
  const float scale = *weight / static_cast<float>(batch);
  for (std::int64_t i = blockIdx.x * static_cast<std::int64_t>(blockDim.x) + threadIdx.x; i < count;
       i += static_cast<std::int64_t>(gridDim.x) * blockDim.x)
    dlogits[i] += scale * (stable_sigmoid(logits[i]) - target[i]);
}

static __global__ void kl_backward_kernel(const float* mu, const float* logvar, const float* weight,
                                          float* dmu, float* dlogvar, std::int64_t count,
                                          std::int64_t batch) {
  const float scale = *weight / static_cast<float>(batch);
  for (std::int64_t i = blockIdx.x * static_cast<std::int64_t>(blockDim.x) + threadIdx.x; i < count;
       i += static_cast<std::int64_t>(gridDim.x) * blockDim.x) {
    if (dmu != nullptr) dmu[i] += scale * mu[i];
    if (dlogvar != nullptr) dlogvar[i] += scale * 0.5f * (expf(logvar[i]) - 1.0f);
  }
}

static __global__ void mse_backward_kernel(const float* a, const float* b, const float* weight,
                                           float* da, float* db, std::int64_t count,
                                           std::int64_t batch) {
  const float scale = *weight / static_cast<float>(batch);
  for (std::int64_t i = blockIdx.x * static_cast<std::int64_t>(blockDim.x) + threadIdx.x; i < count;
       i += static_cast<std::int64_t>(gridDim.x) * blockDim.x) {
    const float g = scale * 2.0f * (a[i] - b[i]);
    if (da != nullptr) da[i] += g;
    if (db != nullptr) db[i] -= g;
  }
}

namespace {

template <class Term>
void reduce_loss(Term term, float* loss, std::int64_t count, std::int64_t batch, void* scratch,
                 cudaStream_t stream, const char* op) {
  VSAE_CHECK(loss && scratch, op << ": null pointer");
  VSAE_CHECK(count >= 0 && batch > 0, op << ": bad sizes count=" << count << " batch=" << batch);
  const std::int64_t partials = partial_count(count);
  auto* partial_sums = static_cast<double*>(scratch);
  loss_partials_kernel<<<static_cast<unsigned int>(partials), kThreads, 0, stream>>>(term, count,
                                                                                     partial_sums);
  CUDA_CHECK_LAUNCH();
  loss_finish_kernel<<<1, kThreads, 0, stream>>>(partial_sums, partials, batch, loss);
  CUDA_CHECK_LAUNCH();
}

void check_backward(const void* weight, std::int64_t count, std::int64_t batch, const char* op) {
  VSAE_CHECK(weight != nullptr, op << ": null weight");
  VSAE_CHECK(count >= 0 && batch > 0, op << ": bad sizes count=" << count << " batch=" << batch);
}

}  // namespace

std::size_t loss_scratch_bytes(std::int64_t count) {
  return static_cast<std::size_t>(partial_count(count)) * sizeof(double);
}

void bce_logits_forward(const float* logits, const float* target, float* loss, std::int64_t count,
                        std::int64_t batch, void* scratch, cudaStream_t stream) {
  VSAE_CHECK(logits && target, "bce_logits_forward: null pointer");
  reduce_loss(BceTerm{logits, target}, loss, count, batch, scratch, stream, "bce_logits_forward");
}

void bce_logits_backward(const float* logits, const float* target, const float* weight,
                         float* dlogits, std::int64_t count, std::int64_t batch,
                         cudaStream_t stream) {
  VSAE_CHECK(logits && target && dlogits, "bce_logits_backward: null pointer");
  check_backward(weight, count, batch, "bce_logits_backward");
  if (count == 0) return;
  bce_backward_kernel<<<elementwise_blocks(count), kThreads, 0, stream>>>(logits, target, weight,
                                                                          dlogits, count, batch);
  CUDA_CHECK_LAUNCH();
}

void kl_forward(const float* mu, const float* logvar, float* loss, std::int64_t count,
                std::int64_t batch, void* scratch, cudaStream_t stream) {
  VSAE_CHECK(mu && logvar, "kl_forward: null pointer");
  reduce_loss(KlTerm{mu, logvar}, loss, count, batch, scratch, stream, "kl_forward");
}

void kl_backward(const float* mu, const float* logvar, const float* weight, float* dmu,
                 float* dlogvar, std::int64_t count, std::int64_t batch, cudaStream_t stream) {
  VSAE_CHECK(mu && logvar, "kl_backward: null pointer");
  check_backward(weight, count, batch, "kl_backward");
  if (count == 0 || (dmu == nullptr && dlogvar == nullptr)) return;
  kl_backward_kernel<<<elementwise_blocks(count), kThreads, 0, stream>>>(mu, logvar, weight, dmu,
                                                                         dlogvar, count, batch);
  CUDA_CHECK_LAUNCH();
}

void mse_forward(const float* a, const float* b, float* loss, std::int64_t count,
                 std::int64_t batch, void* scratch, cudaStream_t stream) {
  VSAE_CHECK(a && b, "mse_forward: null pointer");
  reduce_loss(MseTerm{a, b}, loss, count, batch, scratch, stream, "mse_forward");
}

void mse_backward(const float* a, const float* b, const float* weight, float* da, float* db,
                  std::int64_t count, std::int64_t batch, cudaStream_t stream) {
  VSAE_CHECK(a && b, "mse_backward: null pointer");
  check_backward(weight, count, batch, "mse_backward");
  if (count == 0 || (da == nullptr && db == nullptr)) return;
  mse_backward_kernel<<<elementwise_blocks(count), kThreads, 0, stream>>>(a, b, weight, da, db,
                                                                          count, batch);
  CUDA_CHECK_LAUNCH();
}

}  // namespace vsae::cuda_kernels
