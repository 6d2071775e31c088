// CUDA kernels for y = act(x + b[c]) and its backward pass, with a deterministic bias reduction.
#include <algorithm>
#include <cub/block/block_reduce.cuh>

#include "engine/core/cuda_check.hpp"
#include "kernels/bias_act.cuh"
#include "kernels/launch_geometry.cuh"

namespace vsae::cuda_kernels {

namespace {

constexpr int kThreads = kElementwiseThreads;
// Grid-stride loops cover any size; this cap only bounds the launch.
// Each reduction block sums about this many elements of one channel; large channels are split
// into at most kMaxSplits partial sums so small-C convolutions still fill the GPU.
constexpr std::int64_t kElemsPerSplit = 4096;
constexpr std::int64_t kMaxSplits = 64;


std::int64_t reduction_splits(std::int64_t per_channel) {
  return std::clamp<std::int64_t>((per_channel + kElemsPerSplit - 1) / kElemsPerSplit, 1,
                                  kMaxSplits);
}

// The gradient that reaches x + b: ReLU passes it only where the output was positive.
__device__ __forceinline__ float masked_grad(float y, float dy, bool relu) {
  return relu && !(y > 0.0f) ? 0.0f : dy;
}

}  // namespace

static __global__ void bias_act_forward_kernel(const float* x, const float* b, float* y,
                                               std::int64_t total, std::int64_t c, std::int64_t s,
                                               bool relu) {
  for (std::int64_t i = blockIdx.x * static_cast<std::int64_t>(blockDim.x) + threadIdx.x; i < total;
       i += static_cast<std::int64_t>(gridDim.x) * blockDim.x) {
    float v = x[i] + b[(i / s) % c];
    y[i] = relu ? fmaxf(v, 0.0f) : v;
  }
}

// Linear layers (S = 1): one thread per channel walks down the batch, so loads are coalesced
// across channels and each channel's sum has a fixed order.
static __global__ void bias_act_backward_rows_kernel(const float* y, const float* dy, float* dx,
                                                     float* db, std::int64_t n, std::int64_t c,
                                                     bool relu) {
  for (std::int64_t ch = blockIdx.x * static_cast<std::int64_t>(blockDim.x) + threadIdx.x; ch < c;
       ch += static_cast<std::int64_t>(gridDim.x) * blockDim.x) {
    float sum = 0.0f;
    for (std::int64_t row = 0; row < n; ++row) {
      std::int64_t i = row * c + ch;
      float g = masked_grad(y[i], dy[i], relu);
      if (dx != nullptr) dx[i] = g;
      sum += g;
    }
    db[ch] += sum;
  }
}

// Convolutions (S > 1): block (ch, k) reduces the k-th contiguous chunk of channel ch's N·S
// elements. With one split it adds straight into db; otherwise it leaves a partial sum.
static __global__ void bias_act_backward_planes_kernel(const float* y, const float* dy, float* dx,
                                                       float* out, std::int64_t n, std::int64_t c,
                                                       std::int64_t s, std::int64_t splits,
                                                       bool relu) {
  const std::int64_t ch = blockIdx.x / splits;
  const std::int64_t k = blockIdx.x % splits;
  const std::int64_t per_channel = n * s;
  const std::int64_t chunk = (per_channel + splits - 1) / splits;
  const std::int64_t begin = k * chunk;
  const std::int64_t end = std::min(per_channel, begin + chunk);

  float sum = 0.0f;
  for (std::int64_t j = begin + threadIdx.x; j < end; j += blockDim.x) {
    std::int64_t row = j / s;
    std::int64_t i = (row * c + ch) * s + (j - row * s);
    float g = masked_grad(y[i], dy[i], relu);
    if (dx != nullptr) dx[i] = g;
    sum += g;
  }
  using BlockReduce = cub::BlockReduce<float, kThreads>;
  __shared__ typename BlockReduce::TempStorage temp;
  float block_sum = BlockReduce(temp).Sum(sum);
  if (threadIdx.x == 0) {
    if (splits == 1)
      out[ch] += block_sum;
    else
      out[blockIdx.x] = block_sum;
  }
}

// Adds each channel's partial sums to db in split order.
static __global__ void bias_act_finish_db_kernel(const float* partial, float* db, std::int64_t c,
                                                 std::int64_t splits) {
  for (std::int64_t ch = blockIdx.x * static_cast<std::int64_t>(blockDim.x) + threadIdx.x; ch < c;
       ch += static_cast<std::int64_t>(gridDim.x) * blockDim.x) {
    float sum = 0.0f;
    for (std::int64_t k = 0; k < splits; ++k) sum += partial[ch * splits + k];
    db[ch] += sum;
  }
}

void bias_act_forward(const float* x, const float* b, float* y, std::int64_t n, std::int64_t c,
                      std::int64_t s, Activation act, cudaStream_t stream) {
  VSAE_CHECK(n >= 0 && c >= 0 && s >= 0,
             "bias_act_forward: bad sizes N=" << n << " C=" << c << " S=" << s);
  VSAE_CHECK(x && b && y, "bias_act_forward: null pointer");
  const std::int64_t total = n * c * s;
  if (total == 0) return;
  bias_act_forward_kernel<<<elementwise_blocks(total), kThreads, 0, stream>>>(
      x, b, y, total, c, s, act == Activation::relu);
  CUDA_CHECK_LAUNCH();
}

std::size_t bias_act_backward_scratch_floats(std::int64_t n, std::int64_t c, std::int64_t s) {
  if (s <= 1) return 0;
  std::int64_t splits = reduction_splits(n * s);
  return splits == 1 ? 0 : static_cast<std::size_t>(c * splits);
}

void bias_act_backward(const float* y, const float* dy, float* dx, float* db, float* scratch,
                       std::int64_t n, std::int64_t c, std::int64_t s, Activation act,
                       cudaStream_t stream) {
  VSAE_CHECK(n >= 0 && c >= 0 && s >= 0,
             "bias_act_backward: bad sizes N=" << n << " C=" << c << " S=" << s);
  VSAE_CHECK(y && dy && db, "bias_act_backward: null pointer");
  const bool relu = act == Activation::relu;
  if (n * c * s == 0) return;
  if (s == 1) {
    bias_act_backward_rows_kernel<<<elementwise_blocks(c), kThreads, 0, stream>>>(y, dy, dx, db, n,
                                                                                  c, relu);
    CUDA_CHECK_LAUNCH();
    return;
  }
  const std::int64_t splits = reduction_splits(n * s);
  VSAE_CHECK(splits == 1 || scratch != nullptr,
             "bias_act_backward: scratch required for N=" << n << " S=" << s);
  const std::int64_t blocks = c * splits;
  VSAE_CHECK(blocks <= 0x7fffffff, "bias_act_backward: too many channels (" << c << ")");
  float* out = splits == 1 ? db : scratch;
  bias_act_backward_planes_kernel<<<static_cast<unsigned int>(blocks), kThreads, 0, stream>>>(
      y, dy, dx, out, n, c, s, splits, relu);
  CUDA_CHECK_LAUNCH();
  if (splits == 1) return;
  bias_act_finish_db_kernel<<<elementwise_blocks(c), kThreads, 0, stream>>>(scratch, db, c, splits);
  CUDA_CHECK_LAUNCH();
}

}  // namespace vsae::cuda_kernels
