// CUDA BatchTopK. The training forward is one CTA of 1024 threads that streams the flattened batch
// (B·W order-preserving keys, recomputed from z_pre + b on each pass rather than stored): an 8-bit
// MSD radix select finds the (k·B)-th largest key in at most four histogram passes, and a final
// ordered pass keeps every key above it plus the first keys equal to it in flattened index order
// (a block scan carried across tiles), so the result is deterministic. One CTA needs no scratch and
// no grid-wide synchronisation; at the model's 32K–128K entries the passes stay in L2.
#include <algorithm>
#include <cub/block/block_reduce.cuh>
#include <cub/block/block_scan.cuh>

#include "engine/core/check.hpp"
#include "engine/core/cuda_check.hpp"
#include "kernels/batch_topk.cuh"
#include "kernels/launch_geometry.cuh"
#include "kernels/ordered_key.hpp"

namespace vsae::cuda_kernels {

namespace {

constexpr int kThreads = 1024;
constexpr int kDigitBits = 8;
constexpr int kBins = 1 << kDigitBits;
constexpr int kItems = 4;  // consecutive entries per thread per tile
constexpr int kTile = kThreads * kItems;
constexpr std::int64_t kMaxEntries = std::int64_t{1} << 30;

struct MinKey {
  __device__ __forceinline__ unsigned operator()(unsigned x, unsigned y) const {
    return x < y ? x : y;
  }
};

struct SelectShared {
  using Scan = cub::BlockScan<unsigned, kThreads, cub::BLOCK_SCAN_WARP_SCANS>;
  using Count = cub::BlockReduce<int, kThreads>;
  using Min = cub::BlockReduce<unsigned, kThreads>;
  union {
    Scan::TempStorage scan;
    Count::TempStorage count;
    Min::TempStorage min;
  } cub;
  unsigned hist[kBins];
  // The digit search's result, broadcast to the block.
  unsigned digit;
  unsigned remaining;
  bool bucket_full;
};

// Keys of the flattened entries i0 .. i0 + kItems − 1 (i0 a multiple of kItems); entries at or past
// `total` get key 0 and must be masked by the caller. vector_io: W % 4 == 0 and 16-byte aligned
// pointers, so a quad lies in one row and loads as one float4 of z_pre and one of the bias.
__device__ __forceinline__ void load_keys(const float* __restrict__ z_pre,
                                          const float* __restrict__ bias, int total, int width,
                                          int i0, bool vector_io, unsigned (&key)[kItems]) {
  if (i0 >= total) {
#pragma unroll
    for (int e = 0; e < kItems; ++e) key[e] = 0;
    return;
  }
  int j = i0 % width;
  if (vector_io) {
    const float4 z = __ldg(reinterpret_cast<const float4*>(z_pre + i0));
    const float4 b = __ldg(reinterpret_cast<const float4*>(bias + j));
    key[0] = ordered_key(z.x + b.x);
    key[1] = ordered_key(z.y + b.y);
    key[2] = ordered_key(z.z + b.z);
    key[3] = ordered_key(z.w + b.w);
    return;
  }
#pragma unroll
  for (int e = 0; e < kItems; ++e) {
    key[e] = i0 + e < total ? ordered_key(__ldg(z_pre + i0 + e) + __ldg(bias + j)) : 0u;
    if (++j == width) j = 0;
  }
}

// Adds one to hist[bin] for every lane with bin >= 0, one shared atomic per distinct bin per warp:
// real batches put most keys in a few buckets, where per-lane atomics would serialise 32-fold.
// After the first digit few keys are still candidates, so a warp without one skips the match.
// Every lane of the warp must call it.
__device__ __forceinline__ void warp_histogram_add(unsigned* hist, int bin) {
  if (!__any_sync(0xFFFFFFFFu, bin >= 0)) return;
  const unsigned peers = __match_any_sync(0xFFFFFFFFu, bin);
  if (bin >= 0 && (threadIdx.x & 31) == static_cast<unsigned>(__ffs(peers) - 1))
    atomicAdd(&hist[bin], static_cast<unsigned>(__popc(peers)));
}

// Finds the digit d whose bucket holds the remaining-th largest candidate: with S(d) the number of
// candidates whose digit is >= d, S(d + 1) < remaining <= S(d). Publishes d, the count still
// needed from inside bucket d, and whether that takes the whole bucket. 1024 threads cover the 256
// bins once, walking them from the top so that inclusive prefix sums are the S(d).
__device__ __forceinline__ void find_digit(SelectShared& sh, unsigned remaining) {
  static_assert(kBins <= kThreads, "one bin per thread");
  const int rank = static_cast<int>(threadIdx.x);
  const unsigned count = rank < kBins ? sh.hist[kBins - 1 - rank] : 0u;
  unsigned suffix;
  SelectShared::Scan(sh.cub.scan).InclusiveSum(count, suffix);
  const unsigned above = suffix - count;
  if (count > 0 && above < remaining && remaining <= suffix) {
    sh.digit = static_cast<unsigned>(kBins - 1 - rank);
    sh.remaining = remaining - above;
    sh.bucket_full = count == remaining - above;
  }
}

// grid: 1; block: kThreads. Always launched, so a, min_kept and batch_active are written even for
// an empty batch.
static __global__ void __launch_bounds__(kThreads)
    batch_topk_forward_kernel(const float* __restrict__ z_pre, const float* __restrict__ bias,
                              const std::int32_t* __restrict__ k_in, int batch, int width,
                              float* __restrict__ a, float* __restrict__ min_kept,
                              std::int32_t* __restrict__ fire_count,
                              std::int32_t* __restrict__ batch_active, float eps, bool vector_io) {
  __shared__ SelectShared sh;
  const int tid = static_cast<int>(threadIdx.x);
  const int total = batch * width;
  const long long wanted = static_cast<long long>(*k_in) * batch;
  const int keep = static_cast<int>(min(max(wanted, 0LL), static_cast<long long>(total)));

  // 1. Radix select, most significant digit first. Candidates are the keys whose bits above the
  // current digit equal `prefix`; keys above the candidates are kept, so `remaining` counts how
  // many candidates still need to be kept. It stops early once the chosen bucket is kept whole.
  // keep = 0 and keep = total need no select: every key is then a candidate, and the first
  // `remaining` (none or all) of them in index order are kept.
  unsigned prefix = 0, high_mask = 0, remaining = static_cast<unsigned>(keep);
  if (keep > 0 && keep < total) {
    for (int shift = 32 - kDigitBits; shift >= 0; shift -= kDigitBits) {
      for (int b = tid; b < kBins; b += kThreads) sh.hist[b] = 0;
      __syncthreads();
      for (int base = 0; base < total; base += kTile) {
        const int i0 = base + kItems * tid;
        unsigned key[kItems];
        load_keys(z_pre, bias, total, width, i0, vector_io, key);
#pragma unroll
        for (int e = 0; e < kItems; ++e) {
          const bool candidate = i0 + e < total && (key[e] & high_mask) == prefix;
          warp_histogram_add(sh.hist,
                             candidate ? static_cast<int>((key[e] >> shift) & (kBins - 1)) : -1);
        }
      }
      __syncthreads();
      find_digit(sh, remaining);
      __syncthreads();
      prefix |= sh.digit << shift;
      high_mask |= static_cast<unsigned>(kBins - 1) << shift;
      remaining = sh.remaining;
      if (sh.bucket_full) break;
    }
  }

  // 2. Keys above the prefix are kept, and the first `remaining` keys equal to it in flattened
  // index order: a block scan per tile, carried across tiles by `eq_before_tile`.
  unsigned eq_before_tile = 0;
  int active = 0;
  unsigned smallest = 0xFFFFFFFFu;  // key of the smallest a > 0; the NaN key (none) until found
  for (int base = 0; base < total; base += kTile) {
    const int i0 = base + kItems * tid;
    unsigned key[kItems], eq[kItems], eq_before[kItems], tile_eq;
    load_keys(z_pre, bias, total, width, i0, vector_io, key);
#pragma unroll
    for (int e = 0; e < kItems; ++e)
      eq[e] = static_cast<unsigned>(i0 + e < total && (key[e] & high_mask) == prefix);
    SelectShared::Scan(sh.cub.scan).ExclusiveSum(eq, eq_before, tile_eq);
    float out[kItems];
    int j = i0 < total ? i0 % width : 0;
#pragma unroll
    for (int e = 0; e < kItems; ++e) {
      const bool valid = i0 + e < total;
      const bool kept = valid && ((key[e] & high_mask) > prefix ||
                                  (eq[e] && eq_before_tile + eq_before[e] < remaining));
      // This is z + b itself: keys decode exactly, but for −0 (as +0, which max(z, 0) makes 0
      // anyway) and NaN (as 0x7FFFFFFF, the one NaN a GPU's single-precision add returns).
      const float z = ordered_key_value(key[e]);
      out[e] = kept && !(z <= 0.0f) ? z : 0.0f;
      if (out[e] > 0.0f) smallest = min(smallest, key[e]);
      if (out[e] > eps) {
        ++active;
        if (fire_count) atomicAdd(&fire_count[j], 1);
      }
      if (++j == width) j = 0;
    }
    if (vector_io) {
      if (i0 < total)
        reinterpret_cast<float4*>(a)[i0 / 4] = make_float4(out[0], out[1], out[2], out[3]);
    } else {
#pragma unroll
      for (int e = 0; e < kItems; ++e)
        if (i0 + e < total) a[i0 + e] = out[e];
    }
    eq_before_tile += tile_eq;
    __syncthreads();  // the next tile reuses the scan storage
  }

  const int total_active = SelectShared::Count(sh.cub.count).Sum(active);
  __syncthreads();  // the min reduction reuses the storage
  const unsigned min_key = SelectShared::Min(sh.cub.min).Reduce(smallest, MinKey());
  if (tid == 0) {
    if (batch_active) *batch_active = total_active;
    if (min_kept) *min_kept = ordered_key_value(min_key);  // the NaN key decodes to NaN
  }
}

// One thread: the running threshold of dictionary_learning's BatchTopK trainer. __fmul_rn and
// __fadd_rn keep the two roundings of the CPU twin (no FMA contraction).
static __global__ void batch_topk_threshold_kernel(const float* __restrict__ min_kept, float beta,
                                                   float* __restrict__ threshold) {
  const float m = *min_kept;
  if (m != m) return;  // no positive activation in the batch
  const float theta = *threshold;
  *threshold = theta < 0.0f ? m : __fadd_rn(__fmul_rn(beta, theta), __fmul_rn(1.0f - beta, m));
}

// Grid-stride over the flattened batch; the per-CTA count leaves the CTA as one atomic.
static __global__ void __launch_bounds__(kElementwiseThreads)
    batch_topk_eval_kernel(const float* __restrict__ z_pre, const float* __restrict__ bias,
                           const float* __restrict__ threshold, int total, int width,
                           float* __restrict__ a, std::int32_t* __restrict__ fire_count,
                           std::int32_t* __restrict__ batch_active, float eps) {
  using Count = cub::BlockReduce<int, kElementwiseThreads>;
  __shared__ Count::TempStorage count;
  const float theta = *threshold;
  const float t = theta >= 0.0f ? theta : 0.0f;  // unset (< 0 or NaN): plain ReLU
  int active = 0;
  for (int i = static_cast<int>(blockIdx.x * blockDim.x + threadIdx.x); i < total;
       i += static_cast<int>(gridDim.x * blockDim.x)) {
    const int j = i % width;
    const float z = z_pre[i] + __ldg(bias + j);
    const float v = z <= t ? 0.0f : z;  // NaN passes through, as in Top-k
    a[i] = v;
    if (v > eps) {
      ++active;
      if (fire_count) atomicAdd(&fire_count[j], 1);
    }
  }
  if (batch_active) {
    const int block_active = Count(count).Sum(active);
    if (threadIdx.x == 0 && block_active != 0) atomicAdd(batch_active, block_active);
  }
}

bool aligned16(const void* p) {
  return reinterpret_cast<std::uintptr_t>(p) % 16 == 0;
}

void check_sizes(std::int64_t batch, std::int64_t width, float eps, const char* op) {
  VSAE_CHECK(batch >= 0 && width >= 1, op << ": bad shape (" << batch << ", " << width << ")");
  VSAE_CHECK(batch * width < kMaxEntries,
             op << ": " << batch << "·" << width << " entries, at most " << kMaxEntries - 1);
  VSAE_CHECK(eps >= 0.0f, op << ": eps must be >= 0, got " << eps);
}

}  // namespace

void batch_topk_forward(const float* z_pre, const float* bias, const std::int32_t* k,
                        std::int64_t batch, std::int64_t width, float* a, float* min_kept,
                        std::int32_t* fire_count, std::int32_t* batch_active, float eps,
                        cudaStream_t stream) {
  VSAE_CHECK(z_pre && bias && k && a, "batch_topk_forward: null tensor");
  check_sizes(batch, width, eps, "batch_topk_forward");
  const bool vector_io = width % 4 == 0 && aligned16(z_pre) && aligned16(bias) && aligned16(a);
  batch_topk_forward_kernel<<<1, kThreads, 0, stream>>>(z_pre, bias, k, static_cast<int>(batch),
                                                        static_cast<int>(width), a, min_kept,
                                                        fire_count, batch_active, eps, vector_io);
  CUDA_CHECK_LAUNCH();
}

void batch_topk_update_threshold(const float* min_kept, float beta, float* threshold,
                                 cudaStream_t stream) {
  VSAE_CHECK(min_kept && threshold, "batch_topk_update_threshold: null tensor");
  VSAE_CHECK(beta >= 0.0f && beta < 1.0f,
             "batch_topk_update_threshold: beta must be in [0, 1), got " << beta);
  batch_topk_threshold_kernel<<<1, 1, 0, stream>>>(min_kept, beta, threshold);
  CUDA_CHECK_LAUNCH();
}

void batch_topk_eval_forward(const float* z_pre, const float* bias, const float* threshold,
                             std::int64_t batch, std::int64_t width, float* a,
                             std::int32_t* fire_count, std::int32_t* batch_active, float eps,
                             cudaStream_t stream) {
  VSAE_CHECK(z_pre && bias && threshold && a, "batch_topk_eval_forward: null tensor");
  check_sizes(batch, width, eps, "batch_topk_eval_forward");
  if (batch_active) CUDA_CHECK(cudaMemsetAsync(batch_active, 0, sizeof(std::int32_t), stream));
  const std::int64_t total = batch * width;
  if (total == 0) return;
  batch_topk_eval_kernel<<<elementwise_blocks(total), kElementwiseThreads, 0, stream>>>(
      z_pre, bias, threshold, static_cast<int>(total), static_cast<int>(width), a, fire_count,
      batch_active, eps);
  CUDA_CHECK_LAUNCH();
}

}  // namespace vsae::cuda_kernels
