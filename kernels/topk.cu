// CUDA fused Top-k: each CTA holds one row's order-preserving keys in shared memory, finds the k-th
// largest by an 8-bit MSD radix select, then writes a, indices and mask in one ordered pass.
// The select costs the same for every k (at most four digit passes, fewer once the k-th key's
// bucket is taken whole), so k > W/2 needs no "select the W − k smallest" variant; k = W and k = 0
// skip it altogether.
#include <algorithm>
#include <cub/block/block_reduce.cuh>
#include <cub/block/block_scan.cuh>

#include "engine/core/check.hpp"
#include "engine/core/cuda_check.hpp"
#include "kernels/launch_geometry.cuh"
#include "kernels/ordered_key.hpp"
#include "kernels/topk.cuh"

namespace vsae::cuda_kernels {

namespace {

constexpr int kMaxWidth = 16384;  // keeps both halves of the packed scan counters below 2^16
constexpr int kDigitBits = 8;
constexpr int kBins = 1 << kDigitBits;
constexpr int kItems = 4;  // consecutive elements per thread: one 16-byte shared-memory access

template <int THREADS>
struct TopkShared {
  using Scan = cub::BlockScan<unsigned, THREADS, cub::BLOCK_SCAN_WARP_SCANS>;
  using Reduce = cub::BlockReduce<int, THREADS>;
  union {
    typename Scan::TempStorage scan;
    typename Reduce::TempStorage reduce;
  } cub;
  unsigned hist[kBins];
  // The digit search's result, broadcast to the block.
  unsigned digit;
  unsigned remaining;
  bool bucket_full;
};

// Adds one to hist[bin] for every lane with bin >= 0, one shared atomic per distinct bin per warp:
// real rows put most keys in a few buckets, where per-lane atomics would serialise 32-fold.
// Every lane of the warp must call it.
__device__ __forceinline__ void warp_histogram_add(unsigned* hist, int bin) {
  const unsigned peers = __match_any_sync(0xFFFFFFFFu, bin);
  if (bin >= 0 && (threadIdx.x & 31) == static_cast<unsigned>(__ffs(peers) - 1))
    atomicAdd(&hist[bin], static_cast<unsigned>(__popc(peers)));
}

// Finds the digit d whose bucket holds the remaining-th largest candidate: with S(d) the number of
// candidates whose digit is >= d, S(d + 1) < remaining <= S(d). Publishes d, the count still
// needed from inside bucket d, and whether that takes the whole bucket.
template <int THREADS>
__device__ __forceinline__ void find_digit(TopkShared<THREADS>& sh, unsigned remaining) {
  constexpr int kPer = (kBins + THREADS - 1) / THREADS;
  unsigned count[kPer];
  unsigned suffix[kPer];
  // Thread-major order walks the bins from the top, so inclusive prefix sums are the S(d).
#pragma unroll
  for (int j = 0; j < kPer; ++j) {
    const int rank = threadIdx.x * kPer + j;
    count[j] = rank < kBins ? sh.hist[kBins - 1 - rank] : 0u;
  }
  typename TopkShared<THREADS>::Scan(sh.cub.scan).InclusiveSum(count, suffix);
#pragma unroll
  for (int j = 0; j < kPer; ++j) {
    const unsigned above = suffix[j] - count[j];
    if (count[j] > 0 && above < remaining && remaining <= suffix[j]) {
      const int rank = threadIdx.x * kPer + j;
      sh.digit = static_cast<unsigned>(kBins - 1 - rank);
      sh.remaining = remaining - above;
      sh.bucket_full = count[j] == remaining - above;
    }
  }
}

// grid: min(B, resident CTAs), rows strided over CTAs; block: THREADS. Dynamic shared memory:
// round_up(W, 4) keys, then W firing counters when fire_count is set. The counters aggregate the
// CTA's rows so each neuron costs one global atomic per CTA, not one per kept entry.
template <int THREADS>
static __global__ void __launch_bounds__(THREADS)
    topk_forward_kernel(const float* __restrict__ z_pre, const float* __restrict__ bias,
                        const std::int32_t* __restrict__ k_in, std::int64_t batch, int width,
                        int kcap, float* __restrict__ a, std::int32_t* __restrict__ indices,
                        std::uint32_t* __restrict__ mask, std::int32_t* __restrict__ fire_count,
                        std::int32_t* __restrict__ batch_active, float eps, bool vector_io) {
  __shared__ TopkShared<THREADS> sh;
  extern __shared__ uint4 dynamic_smem[];
  unsigned* keys = reinterpret_cast<unsigned*>(dynamic_smem);
  const uint4* keys4 = dynamic_smem;
  const int padded = (width + 3) & ~3;
  int* counts = reinterpret_cast<int*>(keys + padded);

  const int tid = threadIdx.x;
  const int cap = indices ? min(kcap, width) : width;
  const int k = min(max(*k_in, 0), cap);
  const int mask_words = (width + 31) / 32;
  int active = 0;

  if (fire_count)
    for (int j = tid; j < width; j += THREADS) counts[j] = 0;

  for (std::int64_t row = blockIdx.x; row < batch; row += gridDim.x) {
    // 1. Keys of z = z_pre + b. z_pre is read once (streaming); b stays cached across rows.
    const float* zr = z_pre + row * width;
    if (vector_io) {
      const float4* z4 = reinterpret_cast<const float4*>(zr);
      const float4* b4 = reinterpret_cast<const float4*>(bias);
      uint4* out4 = reinterpret_cast<uint4*>(keys);
      for (int q = tid; q < width / 4; q += THREADS) {
        const float4 z = __ldcs(z4 + q);
        const float4 b = __ldg(b4 + q);
        out4[q] = make_uint4(ordered_key(z.x + b.x), ordered_key(z.y + b.y), ordered_key(z.z + b.z),
                             ordered_key(z.w + b.w));
      }
    } else {
      for (int j = tid; j < width; j += THREADS)
        keys[j] = ordered_key(__ldcs(zr + j) + __ldg(bias + j));
    }
    __syncthreads();

    // 2. Radix select, most significant digit first. Candidates are the keys whose bits above the
    // current digit equal `prefix`; keys above the candidates are kept, so `remaining` counts how
    // many candidates still need to be kept. It stops early once the chosen bucket is kept whole.
    unsigned prefix = 0, high_mask = 0, remaining = static_cast<unsigned>(k);
    if (k > 0 && k < width) {
      for (int shift = 32 - kDigitBits; shift >= 0; shift -= kDigitBits) {
        for (int b = tid; b < kBins; b += THREADS) sh.hist[b] = 0;
        __syncthreads();
        for (int base = 0; base < width; base += kItems * THREADS) {
          const int i0 = base + kItems * tid;
          const uint4 q = i0 < width ? keys4[i0 / 4] : make_uint4(0, 0, 0, 0);
          const unsigned v[kItems] = {q.x, q.y, q.z, q.w};
#pragma unroll
          for (int e = 0; e < kItems; ++e) {
            const bool candidate = i0 + e < width && (v[e] & high_mask) == prefix;
            warp_histogram_add(sh.hist,
                               candidate ? static_cast<int>((v[e] >> shift) & (kBins - 1)) : -1);
          }
        }
        __syncthreads();
        find_digit<THREADS>(sh, remaining);
        __syncthreads();
        prefix |= sh.digit << shift;
        high_mask |= static_cast<unsigned>(kBins - 1) << shift;
        remaining = sh.remaining;
        if (sh.bucket_full) break;
      }
    }

    // 3. Keys above the prefix ("gt") are kept, and the first `remaining` keys equal to it ("eq")
    // in index order. One block scan per tile counts both (gt in the low 16 bits, eq in the high),
    // which gives each kept entry its slot in the ascending index list.
    const unsigned take_eq = remaining;
    unsigned running = 0;
    float* ar = a + row * width;
    for (int base = 0; base < width; base += kItems * THREADS) {
      const int i0 = base + kItems * tid;
      const uint4 q = i0 < width ? keys4[i0 / 4] : make_uint4(0, 0, 0, 0);
      const unsigned v[kItems] = {q.x, q.y, q.z, q.w};
      unsigned flags[kItems], before[kItems], tile_total;
#pragma unroll
      for (int e = 0; e < kItems; ++e) {
        const bool valid = i0 + e < width;
        const unsigned masked = v[e] & high_mask;
        flags[e] = static_cast<unsigned>(valid && masked > prefix) |
                   (static_cast<unsigned>(valid && masked == prefix) << 16);
      }
      typename TopkShared<THREADS>::Scan(sh.cub.scan).ExclusiveSum(flags, before, tile_total);
      float out[kItems];
      unsigned kept_bits = 0;
#pragma unroll
      for (int e = 0; e < kItems; ++e) {
        const unsigned prior = running + before[e];
        const unsigned gt_before = prior & 0xFFFFu, eq_before = prior >> 16;
        const bool kept = (flags[e] & 1u) || ((flags[e] >> 16) && eq_before < take_eq);
        // This is z + b itself: keys decode exactly, but for −0 (as +0, which max(z, 0) makes 0
        // anyway) and NaN (as 0x7FFFFFFF, the one NaN a GPU's single-precision add returns).
        const float z = ordered_key_value(v[e]);
        out[e] = kept && !(z <= 0.0f) ? z : 0.0f;
        if (kept) {
          kept_bits |= 1u << e;
          if (indices) indices[row * kcap + gt_before + min(eq_before, take_eq)] = i0 + e;
          if (out[e] > eps) {
            ++active;
            if (fire_count) atomicAdd(&counts[i0 + e], 1);
          }
        }
      }
      if (vector_io) {
        if (i0 < width)
          reinterpret_cast<float4*>(ar)[i0 / 4] = make_float4(out[0], out[1], out[2], out[3]);
      } else {
#pragma unroll
        for (int e = 0; e < kItems; ++e)
          if (i0 + e < width) ar[i0 + e] = out[e];
      }
      if (mask) {
        // The 8 consecutive threads from a multiple of 8 hold the 32 bits of one mask word.
        unsigned word = kept_bits << (kItems * (tid & 7));
        word |= __shfl_xor_sync(0xFFFFFFFFu, word, 1);
        word |= __shfl_xor_sync(0xFFFFFFFFu, word, 2);
        word |= __shfl_xor_sync(0xFFFFFFFFu, word, 4);
        if ((tid & 7) == 0 && i0 < width) mask[row * mask_words + i0 / 32] = word;
      }
      running += tile_total;
      __syncthreads();  // the next tile reuses the scan storage; the next row rewrites the keys
    }
    if (indices)
      for (int p = k + tid; p < kcap; p += THREADS) indices[row * kcap + p] = -1;
  }

  if (fire_count) {
    __syncthreads();
    for (int j = tid; j < width; j += THREADS)
      if (counts[j] != 0) atomicAdd(&fire_count[j], counts[j]);
  }
  if (batch_active) {
    const int total = typename TopkShared<THREADS>::Reduce(sh.cub.reduce).Sum(active);
    if (tid == 0 && total != 0) atomicAdd(batch_active, total);
  }
}

bool aligned16(const void* p) {
  return reinterpret_cast<std::uintptr_t>(p) % 16 == 0;
}

template <int THREADS>
void launch_topk(const float* z_pre, const float* bias, const std::int32_t* k, std::int64_t batch,
                 int width, float* a, std::int32_t* indices, int kcap, std::int32_t* mask,
                 std::int32_t* fire_count, std::int32_t* batch_active, float eps,
                 cudaStream_t stream) {
  auto kernel = topk_forward_kernel<THREADS>;
  const std::size_t padded = (static_cast<std::size_t>(width) + 3) / 4 * 4;
  const std::size_t smem =
      (padded + (fire_count ? static_cast<std::size_t>(width) : 0)) * sizeof(unsigned);
  allow_dynamic_smem(kernel, smem, "topk_forward");
  int per_sm = 0;
  CUDA_CHECK(cudaOccupancyMaxActiveBlocksPerMultiprocessor(&per_sm, kernel, THREADS, smem));
  VSAE_CHECK(per_sm > 0, "topk_forward: no CTA of " << THREADS << " threads and " << smem
                                                    << " bytes fits an SM");
  const std::int64_t resident = static_cast<std::int64_t>(per_sm) * current_sm_count();
  const auto grid = static_cast<unsigned>(std::min(batch, resident));
  const bool vector_io = width % 4 == 0 && aligned16(z_pre) && aligned16(bias) && aligned16(a);
  kernel<<<grid, THREADS, smem, stream>>>(z_pre, bias, k, batch, width, kcap, a, indices,
                                          reinterpret_cast<std::uint32_t*>(mask), fire_count,
                                          batch_active, eps, vector_io);
  CUDA_CHECK_LAUNCH();
}

}  // namespace

void topk_forward(const float* z_pre, const float* bias, const std::int32_t* k, std::int64_t batch,
                  std::int64_t width, float* a, std::int32_t* indices, std::int64_t kcap,
                  std::int32_t* mask, std::int32_t* fire_count, std::int32_t* batch_active,
                  float eps, cudaStream_t stream) {
  VSAE_CHECK(z_pre && bias && k && a, "topk_forward: null tensor");
  VSAE_CHECK(batch >= 0, "topk_forward: negative batch " << batch);
  VSAE_CHECK(width >= 1 && width <= kMaxWidth,
             "topk_forward: width " << width << " outside [1, " << kMaxWidth << "]");
  VSAE_CHECK(!indices || (kcap >= 1 && kcap <= (std::int64_t{1} << 30)),
             "topk_forward: index capacity " << kcap << " out of range");
  VSAE_CHECK(eps >= 0.0f, "topk_forward: eps must be >= 0, got " << eps);
  if (batch_active) CUDA_CHECK(cudaMemsetAsync(batch_active, 0, sizeof(std::int32_t), stream));
  if (batch == 0) return;
  const int w = static_cast<int>(width);
  const int cap = indices ? static_cast<int>(kcap) : w;
  // About 4 to 8 elements per thread: enough work per barrier without idling threads on short rows.
  if (w <= 1024)
    launch_topk<128>(z_pre, bias, k, batch, w, a, indices, cap, mask, fire_count, batch_active, eps,
                     stream);
  else if (w <= 4096)
    launch_topk<256>(z_pre, bias, k, batch, w, a, indices, cap, mask, fire_count, batch_active, eps,
                     stream);
  else
    launch_topk<512>(z_pre, bias, k, batch, w, a, indices, cap, mask, fire_count, batch_active, eps,
                     stream);
}

}  // namespace vsae::cuda_kernels
