// CUDA L1 / L1-prox forward: column-tiled, so the bias is loaded once per thread and the firing
// counts leave each CTA once per column; the penalty is reduced in a fixed order in two passes.
// Also the relative L1-prox threshold's scale (the RMS of z, reduced the same way), the per-unit
// threshold (each column's mean and standard deviation, one CTA per 32 columns), the one-thread
// controller that moves λ or τ on the device, and the one-CTA reduction that gives the tracking
// controller its floor.
#include <cub/block/block_reduce.cuh>

#include "engine/core/check.hpp"
#include "kernels/l1.cuh"
#include "kernels/launch_geometry.cuh"

namespace vsae::cuda_kernels {

namespace {
constexpr int kFinishThreads = 256;
using TileSum = cub::BlockReduce<float, kTileCols, cub::BLOCK_REDUCE_WARP_REDUCTIONS, kTileRows>;
using TileCount = cub::BlockReduce<int, kTileCols, cub::BLOCK_REDUCE_WARP_REDUCTIONS, kTileRows>;
}  // namespace

// grid (col_blocks, splits), block (32, 8). partial: one float per CTA (Σa over its tile), or
// null when no penalty is wanted.
template <bool PROX>
static __global__ void __launch_bounds__(kTileCols* kTileRows)
    l1_forward_kernel(const float* __restrict__ z_pre, const float* __restrict__ bias,
                      const float* __restrict__ tau, const float* __restrict__ tau_scale,
                      const float* __restrict__ thresholds, std::int64_t batch, std::int64_t width,
                      std::int64_t rows_per_split, float* __restrict__ a,
                      std::int32_t* __restrict__ fire_count,
                      std::int32_t* __restrict__ batch_active, float eps,
                      float* __restrict__ partial) {
  __shared__ union {
    TileSum::TempStorage sum;
    TileCount::TempStorage count;
  } reduce;
  __shared__ int col_count[kTileRows][kTileCols + 1];
  const std::int64_t col = static_cast<std::int64_t>(blockIdx.x) * kTileCols + threadIdx.x;
  const std::int64_t row_begin = static_cast<std::int64_t>(blockIdx.y) * rows_per_split;
  const std::int64_t row_end = min(batch, row_begin + rows_per_split);

  float sum = 0.0f;
  int fired = 0;
  if (col < width) {
    const float b = bias[col];
    const float shift =
        !PROX ? 0.0f : thresholds ? thresholds[col] : (tau_scale ? *tau * *tau_scale : *tau);
#pragma unroll 4
    for (std::int64_t row = row_begin + threadIdx.y; row < row_end; row += kTileRows) {
      const std::int64_t i = row * width + col;
      float z = z_pre[i] + b;
      if (PROX) z = z - shift;
      // NaN passes through, as in Top-k, so a diverged encoder is not hidden.
      const float v = z <= 0.0f ? 0.0f : z;
      a[i] = v;
      sum += v;
      fired += v > eps;
    }
  }
  col_count[threadIdx.y][threadIdx.x] = fired;
  if (partial) {
    const float tile_sum = TileSum(reduce.sum).Sum(sum);
    if (threadIdx.x == 0 && threadIdx.y == 0)
      partial[blockIdx.y * gridDim.x + blockIdx.x] = tile_sum;
    __syncthreads();  // reduce storage is reused below
  }
  if (batch_active) {
    const int tile_fired = TileCount(reduce.count).Sum(fired);
    if (threadIdx.x == 0 && threadIdx.y == 0 && tile_fired != 0)
      atomicAdd(batch_active, tile_fired);
  }
  if (fire_count) {
    __syncthreads();
    if (threadIdx.y == 0 && col < width) {
      int total = 0;
#pragma unroll
      for (int r = 0; r < kTileRows; ++r) total += col_count[r][threadIdx.x];
      if (total != 0) atomicAdd(&fire_count[col], total);
    }
  }
}

// penalty = λ·Σ partial / B, the partials summed in a fixed order.
static __global__ void __launch_bounds__(kFinishThreads)
    l1_penalty_finish_kernel(const float* __restrict__ partial, int count,
                             const float* __restrict__ lambda, std::int64_t batch,
                             float* __restrict__ penalty) {
  using Reduce = cub::BlockReduce<double, kFinishThreads>;
  __shared__ Reduce::TempStorage storage;
  double sum = 0.0;
  for (int i = threadIdx.x; i < count; i += kFinishThreads) sum += partial[i];
  const double total = Reduce(storage).Sum(sum);
  if (threadIdx.x == 0)
    *penalty =
        static_cast<float>(static_cast<double>(*lambda) * total / static_cast<double>(batch));
}

// grid (col_blocks, splits), block (32, 8): partial[cta] = Σ (z_pre + b)² over the CTA's tile, in
// double (a float square overflows from |z| ≈ 1.8e19).
static __global__ void __launch_bounds__(kTileCols* kTileRows)
    l1_prox_sumsq_kernel(const float* __restrict__ z_pre, const float* __restrict__ bias,
                         std::int64_t batch, std::int64_t width, std::int64_t rows_per_split,
                         double* __restrict__ partial) {
  using TileSumDouble =
      cub::BlockReduce<double, kTileCols, cub::BLOCK_REDUCE_WARP_REDUCTIONS, kTileRows>;
  __shared__ TileSumDouble::TempStorage reduce;
  const std::int64_t col = static_cast<std::int64_t>(blockIdx.x) * kTileCols + threadIdx.x;
  const std::int64_t row_begin = static_cast<std::int64_t>(blockIdx.y) * rows_per_split;
  const std::int64_t row_end = min(batch, row_begin + rows_per_split);
  double sum = 0.0;
  if (col < width) {
    const float b = bias[col];
    for (std::int64_t row = row_begin + threadIdx.y; row < row_end; row += kTileRows) {
      const double z = static_cast<double>(z_pre[row * width + col] + b);
      sum += z * z;
    }
  }
  const double tile_sum = TileSumDouble(reduce).Sum(sum);
  if (threadIdx.x == 0 && threadIdx.y == 0) partial[blockIdx.y * gridDim.x + blockIdx.x] = tile_sum;
}

// s_b = sqrt(Σ partial / count), the partials summed in a fixed order; then the running scale
// and the scale this pass uses (kernels/l1.cuh).
static __global__ void __launch_bounds__(kFinishThreads)
    l1_prox_scale_finish_kernel(const double* __restrict__ partial, int parts,
                                std::int64_t count, float* __restrict__ running, float beta,
                                bool update, float* __restrict__ scale) {
  using Reduce = cub::BlockReduce<double, kFinishThreads>;
  __shared__ Reduce::TempStorage storage;
  double sum = 0.0;
  for (int i = threadIdx.x; i < parts; i += kFinishThreads) sum += partial[i];
  const double total = Reduce(storage).Sum(sum);
  if (threadIdx.x != 0) return;
  const float batch_scale =
      count == 0 ? NAN : static_cast<float>(sqrt(total / static_cast<double>(count)));
  const float r = *running;
  const bool unset = !(r >= 0.0f) || isinf(r);
  if (!update) {
    *scale = unset ? batch_scale : r;
    return;
  }
  *scale = batch_scale;
  if (isfinite(batch_scale))
    *running = unset ? batch_scale : beta * r + (1.0f - beta) * batch_scale;
}

// grid (col_blocks), block (32, 8): the CTA owns 32 whole columns. Thread row y sums the rows
// ≡ y mod 8 in order, and row 0 joins the 8 stripes in order, for the mean and then the centred
// squares (explicit fma): the CPU twin's order, so the same bits where arithmetic rounds as IEEE
// 754 says.
static __global__ void __launch_bounds__(kTileCols* kTileRows)
    l1_prox_unit_threshold_kernel(const float* __restrict__ z_pre, const float* __restrict__ bias,
                                  std::int64_t batch, std::int64_t width,
                                  const float* __restrict__ tau, float* __restrict__ running_mean,
                                  float* __restrict__ running_std, float beta, bool update,
                                  float* __restrict__ threshold, float* __restrict__ used_mean,
                                  float* __restrict__ used_std, const float* __restrict__ eval_tau,
                                  std::int32_t* __restrict__ eval_active) {
  __shared__ double stripe[kTileRows][kTileCols + 1];
  __shared__ double column_mean[kTileCols];
  __shared__ TileCount::TempStorage count_storage;
  const std::int64_t col = static_cast<std::int64_t>(blockIdx.x) * kTileCols + threadIdx.x;
  const bool live = col < width;
  const float b = live ? bias[col] : 0.0f;
  const auto z = [&](std::int64_t row) { return static_cast<double>(z_pre[row * width + col] + b); };
  const double rows = static_cast<double>(batch);

  double part = 0.0;
  if (live)
    for (std::int64_t row = threadIdx.y; row < batch; row += kTileRows) part += z(row);
  stripe[threadIdx.y][threadIdx.x] = part;
  __syncthreads();
  if (threadIdx.y == 0) {
    double sum = 0.0;
    for (int r = 0; r < kTileRows; ++r) sum += stripe[r][threadIdx.x];
    column_mean[threadIdx.x] = sum / rows;
  }
  __syncthreads();
  const double mean = column_mean[threadIdx.x];
  part = 0.0;
  if (live)
    for (std::int64_t row = threadIdx.y; row < batch; row += kTileRows) {
      const double d = z(row) - mean;
      part = fma(d, d, part);
    }
  stripe[threadIdx.y][threadIdx.x] = part;
  __syncthreads();
  __shared__ float column_eval_threshold[kTileCols];
  if (threadIdx.y == 0 && live) {
    double sq = 0.0;
    for (int r = 0; r < kTileRows; ++r) sq += stripe[r][threadIdx.x];
    const float m = batch == 0 ? NAN : static_cast<float>(mean);
    const float sd = batch == 0 ? NAN : static_cast<float>(sqrt(sq / rows));
    float rm = running_mean[col], rs = running_std[col];
    bool unset = !(rs >= 0.0f) || isinf(rs) || !isfinite(rm);
    if (update && isfinite(m) && isfinite(sd)) {
      rm = unset ? m : fmaf(beta, rm, (1.0f - beta) * m);
      rs = unset ? sd : fmaf(beta, rs, (1.0f - beta) * sd);
      running_mean[col] = rm;
      running_std[col] = rs;
      unset = false;
    }
    const float use_m = update || unset ? m : rm, use_s = update || unset ? sd : rs;
    threshold[col] = fmaf(*tau, use_s, use_m);
    used_mean[col] = use_m;
    used_std[col] = use_s;
    const float te = eval_tau ? *eval_tau : 0.0f;
    column_eval_threshold[threadIdx.x] = unset ? fmaf(te, sd, m) : fmaf(te, rs, rm);
  }
  // Every thread reaches this barrier from the one place, with no exit on the way (a simulator
  // that reconverges divergent lanes only at the exit would otherwise let the other warps read
  // before row 0 has written).
  __syncthreads();
  if (!eval_active) return;  // uniform across the CTA
  int above = 0;
  if (live) {
    const float t = column_eval_threshold[threadIdx.x];
    for (std::int64_t row = threadIdx.y; row < batch; row += kTileRows)
      above += (z_pre[row * width + col] + b) - t > 0.0f;
  }
  const int tile_above = TileCount(count_storage).Sum(above);
  if (threadIdx.x == 0 && threadIdx.y == 0 && tile_above != 0) atomicAdd(eval_active, tile_above);
}

// grid (col_blocks), block (32, 8): the CTA owns 32 whole columns. G_j = Σ_rows [a > 0]·da in
// double over the stripes in order, then each entry's gradient and db's column sum the same way.
static __global__ void __launch_bounds__(kTileCols* kTileRows)
    l1_prox_per_unit_backward_kernel(const float* __restrict__ z_pre, const float* __restrict__ bias,
                                     const float* __restrict__ a, const float* __restrict__ da,
                                     const float* __restrict__ tau, const float* __restrict__ mean,
                                     const float* __restrict__ std_dev, std::int64_t batch,
                                     std::int64_t width, float* __restrict__ dz_pre,
                                     float* __restrict__ db) {
  __shared__ double stripe[kTileRows][kTileCols + 1];
  __shared__ float column_coef[kTileCols];
  const std::int64_t col = static_cast<std::int64_t>(blockIdx.x) * kTileCols + threadIdx.x;
  const bool live = col < width;
  double part = 0.0;
  if (live)
    for (std::int64_t row = threadIdx.y; row < batch; row += kTileRows) {
      const std::int64_t i = row * width + col;
      part += a[i] > 0.0f ? da[i] : 0.0f;
    }
  stripe[threadIdx.y][threadIdx.x] = part;
  __syncthreads();
  if (threadIdx.y == 0) {
    double sum = 0.0;
    for (int r = 0; r < kTileRows; ++r) sum += stripe[r][threadIdx.x];
    column_coef[threadIdx.x] = static_cast<float>(sum / static_cast<double>(batch));
  }
  __syncthreads();
  part = 0.0;
  if (live) {
    const float coef = column_coef[threadIdx.x], t = *tau, b = bias[col], m = mean[col], s = std_dev[col];
    for (std::int64_t row = threadIdx.y; row < batch; row += kTileRows) {
      const std::int64_t i = row * width + col;
      const float g = a[i] > 0.0f ? da[i] : 0.0f;
      const float z_hat = s > 0.0f ? ((z_pre[i] + b) - m) / s : 0.0f;
      const float d = fmaf(-coef, fmaf(t, z_hat, 1.0f), g);
      dz_pre[i] += d;
      part += d;
    }
  }
  stripe[threadIdx.y][threadIdx.x] = part;
  __syncthreads();
  if (threadIdx.y != 0 || !live) return;
  double sum = 0.0;
  for (int r = 0; r < kTileRows; ++r) sum += stripe[r][threadIdx.x];
  db[col] += static_cast<float>(sum);
}

static __global__ void sparsity_controller_kernel(float* coef, const std::int32_t* batch_active,
                                                  const std::int32_t* k_target,
                                                  std::int64_t batch_rows, float eta, float lo,
                                                  float hi, const float* floor, bool additive) {
  const std::int32_t target = *k_target;
  if (target <= 0) return;
  const float k = static_cast<float>(target);
  const float l0 = static_cast<float>(*batch_active) / static_cast<float>(batch_rows);
  const float step = eta * (l0 - k) / k;
  const float next = additive ? *coef + step : *coef * expf(step);
  const float f = floor && !additive ? *floor : lo;
  const float low = f > lo ? fminf(f, hi) : lo;
  // std::clamp's comparisons, as in the CPU twin: a NaN coefficient stays NaN and shows the
  // divergence, where fmaxf would quietly reset it to lo.
  *coef = next < low ? low : (hi < next ? hi : next);
}

// One CTA strides over the entries; each thread's partial sums go through a fixed tree, so the
// floor is the same on every run.
static __global__ void __launch_bounds__(kFinishThreads)
    controller_floor_kernel(const float* __restrict__ a, const float* __restrict__ signal,
                            std::int64_t count, float factor, float rho,
                            const float* __restrict__ divisor, float* __restrict__ floor) {
  using SumReduce = cub::BlockReduce<double, kFinishThreads>;
  using CountReduce = cub::BlockReduce<long long, kFinishThreads>;
  __shared__ union {
    SumReduce::TempStorage sum;
    CountReduce::TempStorage count;
  } storage;
  double sum = 0.0;
  long long active = 0;
  for (std::int64_t i = threadIdx.x; i < count; i += kFinishThreads) {
    if (a[i] > 0.0f) {
      sum += fabs(static_cast<double>(signal[i]));
      ++active;
    }
  }
  const double total = SumReduce(storage.sum).Sum(sum);
  __syncthreads();  // the storage is reused
  const long long total_active = CountReduce(storage.count).Sum(active);
  if (threadIdx.x != 0) return;
  const float d = divisor ? *divisor : 1.0f;
  *floor = total_active == 0 || !(d > 0.0f)
               ? 0.0f
               : static_cast<float>(static_cast<double>(rho) * factor * total /
                                    static_cast<double>(total_active) / static_cast<double>(d));
}

std::size_t l1_forward_scratch_floats(std::int64_t batch, std::int64_t width) {
  const ColumnTiling t = column_tiling(batch, width);
  return static_cast<std::size_t>(t.col_blocks) * static_cast<std::size_t>(t.splits);
}

void l1_forward(const float* z_pre, const float* bias, const float* tau, const float* tau_scale,
                const float* thresholds, std::int64_t batch, std::int64_t width, float* a,
                std::int32_t* fire_count, std::int32_t* batch_active, float eps,
                const float* lambda, float* penalty, float* scratch, cudaStream_t stream) {
  VSAE_CHECK(z_pre && bias && a, "l1_forward: null tensor");
  VSAE_CHECK(batch >= 0 && width >= 1, "l1_forward: bad size (" << batch << ", " << width << ")");
  VSAE_CHECK(!penalty || (lambda && scratch), "l1_forward: the penalty needs lambda and scratch");
  VSAE_CHECK(!penalty || batch >= 1, "l1_forward: the penalty λ·Σa/B needs B >= 1");
  VSAE_CHECK(eps >= 0.0f, "l1_forward: eps must be >= 0, got " << eps);
  VSAE_CHECK(!tau_scale || tau, "l1_forward: tau_scale needs tau");
  if (batch_active) CUDA_CHECK(cudaMemsetAsync(batch_active, 0, sizeof(std::int32_t), stream));
  if (batch == 0) return;
  const ColumnTiling t = column_tiling(batch, width);
  float* partial = penalty ? scratch : nullptr;
  if (tau || thresholds)
    l1_forward_kernel<true><<<t.grid(), t.block(), 0, stream>>>(
        z_pre, bias, tau, tau_scale, thresholds, batch, width, t.rows_per_split, a, fire_count,
        batch_active, eps, partial);
  else
    l1_forward_kernel<false><<<t.grid(), t.block(), 0, stream>>>(
        z_pre, bias, nullptr, nullptr, nullptr, batch, width, t.rows_per_split, a, fire_count,
        batch_active, eps, partial);
  CUDA_CHECK_LAUNCH();
  if (penalty) {
    l1_penalty_finish_kernel<<<1, kFinishThreads, 0, stream>>>(partial, t.col_blocks * t.splits,
                                                               lambda, batch, penalty);
    CUDA_CHECK_LAUNCH();
  }
}

std::size_t l1_prox_scale_scratch_floats(std::int64_t batch, std::int64_t width) {
  return 2 * l1_forward_scratch_floats(batch, width);
}

void l1_prox_scale(const float* z_pre, const float* bias, std::int64_t batch, std::int64_t width,
                   float* running, float beta, bool update, float* scale, float* scratch,
                   cudaStream_t stream) {
  VSAE_CHECK(z_pre && bias && running && scale && scratch, "l1_prox_scale: null tensor");
  VSAE_CHECK(batch >= 0 && width >= 1,
             "l1_prox_scale: bad size (" << batch << ", " << width << ")");
  VSAE_CHECK(beta >= 0.0f && beta < 1.0f, "l1_prox_scale: beta must be in [0, 1), got " << beta);
  double* partial = reinterpret_cast<double*>(scratch);
  int parts = 0;
  if (batch > 0) {
    const ColumnTiling t = column_tiling(batch, width);
    l1_prox_sumsq_kernel<<<t.grid(), t.block(), 0, stream>>>(z_pre, bias, batch, width,
                                                             t.rows_per_split, partial);
    CUDA_CHECK_LAUNCH();
    parts = t.col_blocks * t.splits;
  }
  l1_prox_scale_finish_kernel<<<1, kFinishThreads, 0, stream>>>(partial, parts, batch * width,
                                                                running, beta, update, scale);
  CUDA_CHECK_LAUNCH();
}

void l1_prox_unit_threshold(const float* z_pre, const float* bias, std::int64_t batch,
                            std::int64_t width, const float* tau, float* running_mean,
                            float* running_std, float beta, bool update, float* threshold,
                            float* used_mean, float* used_std, const float* eval_tau,
                            std::int32_t* eval_active, cudaStream_t stream) {
  VSAE_CHECK(z_pre && bias && tau && running_mean && running_std && threshold && used_mean && used_std,
             "l1_prox_unit_threshold: null tensor");
  VSAE_CHECK(!eval_active || eval_tau, "l1_prox_unit_threshold: eval_active needs eval_tau");
  VSAE_CHECK(batch >= 0 && width >= 1,
             "l1_prox_unit_threshold: bad size (" << batch << ", " << width << ")");
  VSAE_CHECK(beta >= 0.0f && beta < 1.0f,
             "l1_prox_unit_threshold: beta must be in [0, 1), got " << beta);
  if (eval_active) CUDA_CHECK(cudaMemsetAsync(eval_active, 0, sizeof(std::int32_t), stream));
  const unsigned col_blocks = static_cast<unsigned>((width + kTileCols - 1) / kTileCols);
  l1_prox_unit_threshold_kernel<<<col_blocks, dim3(kTileCols, kTileRows), 0, stream>>>(
      z_pre, bias, batch, width, tau, running_mean, running_std, beta, update, threshold, used_mean,
      used_std, eval_tau, eval_active);
  CUDA_CHECK_LAUNCH();
}

void l1_prox_per_unit_backward(const float* z_pre, const float* bias, const float* a,
                               const float* da, const float* tau, const float* mean,
                               const float* std_dev, std::int64_t batch, std::int64_t width,
                               float* dz_pre, float* db, cudaStream_t stream) {
  VSAE_CHECK(z_pre && bias && a && da && tau && mean && std_dev && dz_pre && db,
             "l1_prox_per_unit_backward: null tensor");
  VSAE_CHECK(batch >= 1 && width >= 1,
             "l1_prox_per_unit_backward: bad size (" << batch << ", " << width << ")");
  const unsigned col_blocks = static_cast<unsigned>((width + kTileCols - 1) / kTileCols);
  l1_prox_per_unit_backward_kernel<<<col_blocks, dim3(kTileCols, kTileRows), 0, stream>>>(
      z_pre, bias, a, da, tau, mean, std_dev, batch, width, dz_pre, db);
  CUDA_CHECK_LAUNCH();
}

void sparsity_controller_update(float* coef, const std::int32_t* batch_active,
                                const std::int32_t* k_target, std::int64_t batch_rows, float eta,
                                float lo, float hi, const float* floor, bool additive,
                                cudaStream_t stream) {
  VSAE_CHECK(coef && batch_active && k_target, "sparsity_controller_update: null tensor");
  VSAE_CHECK(batch_rows >= 1,
             "sparsity_controller_update: batch_rows must be >= 1, got " << batch_rows);
  VSAE_CHECK((additive || lo > 0.0f) && lo <= hi,
             "sparsity_controller_update: need " << (additive ? "" : "0 < ") << "lo <= hi, got ["
                                                 << lo << ", " << hi << "]");
  sparsity_controller_kernel<<<1, 1, 0, stream>>>(coef, batch_active, k_target, batch_rows, eta, lo,
                                                  hi, floor, additive);
  CUDA_CHECK_LAUNCH();
}

void controller_floor(const float* a, const float* signal, std::int64_t count, float factor,
                      float rho, const float* divisor, float* floor, cudaStream_t stream) {
  VSAE_CHECK(a && signal && floor, "controller_floor: null tensor");
  VSAE_CHECK(count >= 0, "controller_floor: bad count " << count);
  controller_floor_kernel<<<1, kFinishThreads, 0, stream>>>(a, signal, count, factor, rho, divisor,
                                                            floor);
  CUDA_CHECK_LAUNCH();
}

}  // namespace vsae::cuda_kernels
