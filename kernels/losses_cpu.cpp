// CPU twin of the loss kernels. Sums run in double over fixed stripes, so the result is the same
// for any OpenMP thread count (resumed CPU runs must match uninterrupted ones exactly).
#include "kernels/losses_cpu.hpp"

#include <algorithm>
#include <array>
#include <cmath>

#include "kernels/vector_math_cpu.hpp"

namespace vsae::cpu_kernels {

namespace {

constexpr std::int64_t kStripes = 64;

// Σ_i term(i) for i in [0, count): stripe sums in parallel, then added in stripe order. Within a
// stripe, element i goes to lane i % kLanes (kLanes independent sums), whole blocks first, then
// the tail; the lanes are added in lane order. The terms are computed a block at a time into a
// buffer first, a loop of its own, so that it vectorises.
template <class Term>
double striped_sum(std::int64_t count, Term term) {
  constexpr std::int64_t kLanes = 8, kBlock = 256;  // kBlock: a multiple of kLanes
  std::array<double, kStripes> stripe_sums{};
#pragma omp parallel for schedule(static)
  for (std::int64_t k = 0; k < kStripes; ++k) {
    const std::int64_t begin = count * k / kStripes, end = count * (k + 1) / kStripes;
    double lane[kLanes] = {};
    float terms[kBlock];
    for (std::int64_t start = begin; start < end; start += kBlock) {
      const std::int64_t n = std::min(kBlock, end - start), whole = n / kLanes * kLanes;
      for (std::int64_t j = 0; j < n; ++j) terms[j] = term(start + j);
      for (std::int64_t j = 0; j < whole; j += kLanes)
        for (std::int64_t l = 0; l < kLanes; ++l) lane[l] += static_cast<double>(terms[j + l]);
      for (std::int64_t j = whole; j < n; ++j) lane[j - whole] += static_cast<double>(terms[j]);
    }
    double sum = 0.0;
    for (double part : lane) sum += part;
    stripe_sums[static_cast<std::size_t>(k)] = sum;
  }
  double total = 0.0;
  for (double s : stripe_sums) total += s;
  return total;
}

// σ(l) from e^-|l|, which never overflows.
float stable_sigmoid(float l) {
  const float e = exp_nonpositive(-std::fabs(l));
  return l >= 0.0f ? 1.0f / (1.0f + e) : e / (1.0f + e);
}

}  // namespace

void bce_logits_forward(const float* logits, const float* target, float* loss, std::int64_t count,
                        std::int64_t batch) {
  const double sum = striped_sum(count, [&](std::int64_t i) {
    const float l = logits[i];
    return (l > 0.0f ? l : 0.0f) - l * target[i] + log1p_unit(exp_nonpositive(-std::fabs(l)));
  });
  *loss = static_cast<float>(sum / static_cast<double>(batch));
}

void bce_logits_backward(const float* logits, const float* target, const float* weight,
                         float* dlogits, std::int64_t count, std::int64_t batch) {
  const float scale = *weight / static_cast<float>(batch);
#pragma omp parallel for schedule(static)
  for (std::int64_t i = 0; i < count; ++i)
    dlogits[i] += scale * (stable_sigmoid(logits[i]) - target[i]);
}

void kl_forward(const float* mu, const float* logvar, float* loss, std::int64_t count,
                std::int64_t batch) {
  const double sum = striped_sum(count, [&](std::int64_t i) {
    const float m = mu[i], lv = logvar[i];
    return 0.5f * (m * m + std::exp(lv) - lv - 1.0f);
  });
  *loss = static_cast<float>(sum / static_cast<double>(batch));
}

void kl_backward(const float* mu, const float* logvar, const float* weight, float* dmu,
                 float* dlogvar, std::int64_t count, std::int64_t batch) {
  const float scale = *weight / static_cast<float>(batch);
#pragma omp parallel for schedule(static)
  for (std::int64_t i = 0; i < count; ++i) {
    if (dmu != nullptr) dmu[i] += scale * mu[i];
    if (dlogvar != nullptr) dlogvar[i] += scale * 0.5f * (std::exp(logvar[i]) - 1.0f);
  }
}

void mse_forward(const float* a, const float* b, float* loss, std::int64_t count,
                 std::int64_t batch) {
  const double sum = striped_sum(count, [&](std::int64_t i) {
    const float d = a[i] - b[i];
    return d * d;
  });
  *loss = static_cast<float>(sum / static_cast<double>(batch));
}

void mse_backward(const float* a, const float* b, const float* weight, float* da, float* db,
                  std::int64_t count, std::int64_t batch) {
  const float scale = *weight / static_cast<float>(batch);
#pragma omp parallel for schedule(static)
  for (std::int64_t i = 0; i < count; ++i) {
    const float g = scale * 2.0f * (a[i] - b[i]);
    if (da != nullptr) da[i] += g;
    if (db != nullptr) db[i] -= g;
  }
}

}  // namespace vsae::cpu_kernels
