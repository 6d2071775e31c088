// Shared inputs for the sparsifier and statistics suites: the (B, W, k) table and rows built to
// hit the hard cases (ties, all-zero rows, negative rows, ±Inf, −0, wide exponent ranges).
#pragma once

#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <functional>
#include <limits>
#include <ostream>
#include <sstream>
#include <string>
#include <vector>

#include "engine/core/backend.hpp"
#include "tests/support/backends.hpp"
#include "tests/support/compare.hpp"
#include "tests/support/gradcheck.hpp"

namespace vsae::test {

inline const std::vector<std::int64_t>& table_batches() {
  static const std::vector<std::int64_t> b{1, 3, 64, 257, 4096};
  return b;
}
inline const std::vector<std::int64_t>& table_widths() {
  static const std::vector<std::int64_t> w{1, 7, 500, 512, 4096};
  return w;
}
// k ∈ {1, 2, 50, W/2, W−1, W}, restricted to [1, W], without repeats.
inline std::vector<std::int64_t> table_ks(std::int64_t width) {
  std::vector<std::int64_t> ks;
  for (std::int64_t k :
       {std::int64_t{1}, std::int64_t{2}, std::int64_t{50}, width / 2, width - 1, width}) {
    bool seen = false;
    for (std::int64_t s : ks) seen |= s == k;
    if (k >= 1 && k <= width && !seen) ks.push_back(k);
  }
  return ks;
}

// A (B, W) case of the backend-comparison table, named "B64_W500" in test names and ctest.
struct ShapeCase {
  std::int64_t batch, width;
};
inline void PrintTo(const ShapeCase& c, std::ostream* os) {
  *os << "B" << c.batch << "_W" << c.width;
}
inline std::string shape_case_name(const ::testing::TestParamInfo<ShapeCase>& info) {
  std::ostringstream os;
  PrintTo(info.param, &os);
  return os.str();
}
inline std::vector<ShapeCase> shape_table() {
  std::vector<ShapeCase> cases;
  for (std::int64_t b : table_batches())
    for (std::int64_t w : table_widths()) cases.push_back({b, w});
  return cases;
}
inline std::uint64_t seed_of(const ShapeCase& c) {
  return static_cast<std::uint64_t>(c.batch * 7919 + c.width * 31);
}

// A (B, W, k) case of a k-sparsifier's table (Top-k, BatchTopK), named "B64_W500_k50".
struct KCase {
  std::int64_t batch, width, k;
};
inline void PrintTo(const KCase& c, std::ostream* os) {
  *os << "B" << c.batch << "_W" << c.width << "_k" << c.k;
}
inline std::string k_case_name(const ::testing::TestParamInfo<KCase>& info) {
  std::ostringstream os;
  PrintTo(info.param, &os);
  return os.str();
}
inline std::uint64_t seed_of(const KCase& c) {
  return static_cast<std::uint64_t>(c.batch * 7919 + c.width * 31 + c.k);
}

// A k-sparsifier's forward (z_pre, bias, k) -> a and its backward (a, da) -> dz_pre, db.
using KForward = std::function<void(Backend&, const Tensor& z_pre, const Tensor& bias,
                                    const Tensor& k, const Tensor& a)>;
using KBackward = std::function<void(Backend&, const Tensor& a, const Tensor& da,
                                     const Tensor& dz_pre, const Tensor& db)>;

// The backward of a k-sparsifier on the CPU backend against central differences of L = Σ w·a
// (w random) over z_pre (B, W) and bias (W). The inputs must keep the kept set and every sign
// unchanged under a ±1e-3 probe.
inline void check_k_sparsifier_gradient(std::vector<float> z_pre, std::vector<float> bias,
                                        std::int32_t k, const KForward& forward,
                                        const KBackward& backward) {
  Backend& be = cpu();
  const std::int64_t width = static_cast<std::int64_t>(bias.size());
  const std::int64_t batch = static_cast<std::int64_t>(z_pre.size()) / width;
  const std::vector<float> w = random_uniform(z_pre.size(), -1.0f, 1.0f, 11);
  GuardedTensor zt(be, Shape{batch, width}), bt(be, Shape{width}), kt(be, Shape{1}, DType::i32);
  GuardedTensor at(be, Shape{batch, width}), da(be, Shape{batch, width}),
      dz(be, Shape{batch, width}), db(be, Shape{width});
  kt.upload(std::vector<std::int32_t>{k});
  const auto loss = [&] {
    zt.upload(z_pre);
    bt.upload(bias);
    forward(be, zt, bt, kt, at);
    return weighted_sum(at.download<float>(), w);
  };
  loss();
  da.upload(w);
  backward(be, at, da, dz, db);
  EXPECT_TRUE(check_gradient(loss, z_pre, dz.download<float>(), "dz_pre",
                             GradCheckOptions{1e-3, 1e-3, 1e-3, 120}));
  EXPECT_TRUE(check_gradient(loss, bias, db.download<float>(), "db",
                             GradCheckOptions{1e-3, 1e-3, 1e-3, 24}));
}

// Bias on a coarse grid (ties between columns) with a few −0 entries.
inline std::vector<float> case_bias(std::int64_t width, std::uint64_t seed) {
  std::vector<float> u = random_uniform(static_cast<std::size_t>(width), -1.0f, 1.0f, seed);
  std::vector<float> b(u.size());
  for (std::size_t j = 0; j < b.size(); ++j)
    b[j] = j % 17 == 3 ? -0.0f : std::round(u[j] * 2.0f) / 2.0f;
  return b;
}

enum class RowKind { random, ties, zero_z, negative, infinities, constant_pre, wide_range, count };

inline const char* row_kind_name(RowKind kind) {
  switch (kind) {
    case RowKind::random:
      return "random";
    case RowKind::ties:
      return "ties";
    case RowKind::zero_z:
      return "zero_z";
    case RowKind::negative:
      return "negative";
    case RowKind::infinities:
      return "infinities";
    case RowKind::constant_pre:
      return "constant_pre";
    case RowKind::wide_range:
      return "wide_range";
    case RowKind::count:
      break;
  }
  return "?";
}

// z_pre (B, W) whose row n is of kind n % RowKind::count, so every batch of 7 or more rows holds
// each kind; with bias from case_bias. NaN never appears.
inline std::vector<float> case_z_pre(std::int64_t batch, std::int64_t width,
                                     const std::vector<float>& bias, std::uint64_t seed) {
  const auto n = static_cast<std::size_t>(batch * width);
  std::vector<float> u = random_uniform(n, -1.0f, 1.0f, seed);
  std::vector<float> z(n);
  const float inf = std::numeric_limits<float>::infinity();
  for (std::int64_t r = 0; r < batch; ++r) {
    const auto kind = static_cast<RowKind>(r % static_cast<std::int64_t>(RowKind::count));
    for (std::int64_t j = 0; j < width; ++j) {
      const std::size_t i = static_cast<std::size_t>(r * width + j);
      const float x = u[i];
      switch (kind) {
        case RowKind::random:
          z[i] = 2.0f * x;
          break;
        // A few levels only, including −0 where the bias is −0 too (z = −0 must tie with +0).
        case RowKind::ties:
          z[i] = bias[static_cast<std::size_t>(j)] == 0.0f && j % 2 ? -0.0f
                                                                    : std::round(x * 3.0f) / 2.0f;
          break;
        case RowKind::zero_z:
          z[i] = -bias[static_cast<std::size_t>(j)];
          break;
        case RowKind::negative:
          z[i] = -3.0f - 2.0f * std::fabs(x);
          break;
        case RowKind::infinities:
          z[i] = j % 13 == 5 ? inf : j % 11 == 2 ? -inf : 2.0f * x;
          break;
        case RowKind::constant_pre:
          z[i] = 0.0f;
          break;
        case RowKind::wide_range:
          z[i] = std::ldexp(x, static_cast<int>(j * 7919 % 61) - 30);
          break;
        case RowKind::count:
          break;
      }
    }
  }
  return z;
}

}  // namespace vsae::test
