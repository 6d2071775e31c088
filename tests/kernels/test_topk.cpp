// Fused Top-k: the CPU twin against a std::stable_sort oracle, CUDA against the CPU twin over the
// (B, W, k) table, clamping, NaN policy, counter semantics, and a finite-difference backward check.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>
#include <numeric>

#include "engine/graph/step_graph.hpp"
#include "engine/ops/topk.hpp"
#include "tests/kernels/sparsify_cases.hpp"
#include "tests/support/backends.hpp"
#include "tests/support/compare.hpp"

namespace vsae {
namespace {

using TopkCase = test::KCase;

std::vector<TopkCase> topk_table(std::int64_t max_batch) {
  std::vector<TopkCase> cases;
  for (std::int64_t b : test::table_batches())
    for (std::int64_t w : test::table_widths())
      for (std::int64_t k : test::table_ks(w))
        if (b <= max_batch) cases.push_back({b, w, k});
  return cases;
}

struct TopkOutputs {
  std::vector<float> a;
  std::vector<std::int32_t> indices, mask, fire;
  std::int32_t active = 0;
  bool guards = true;
};

// Runs topk_forward with every output enabled. fire starts at j % 5 (accumulation is checked) and
// batch_active at garbage (overwriting is checked).
TopkOutputs run_topk(Backend& be, std::int64_t batch, std::int64_t width, std::int32_t k,
                     std::int64_t kcap, const std::vector<float>& z_pre,
                     const std::vector<float>& bias, float eps) {
  test::GuardedTensor z(be, Shape{batch, width}), b(be, Shape{width}), kt(be, Shape{1}, DType::i32);
  test::GuardedTensor a(be, Shape{batch, width}), idx(be, Shape{batch, kcap}, DType::i32);
  test::GuardedTensor mask(be, Shape{batch, (width + 31) / 32}, DType::i32);
  test::GuardedTensor fire(be, Shape{width}, DType::i32), active(be, Shape{1}, DType::i32);
  z.upload(z_pre);
  b.upload(bias);
  kt.upload(std::vector<std::int32_t>{k});
  std::vector<std::int32_t> fire0(static_cast<std::size_t>(width));
  for (std::size_t j = 0; j < fire0.size(); ++j) fire0[j] = static_cast<std::int32_t>(j % 5);
  fire.upload(fire0);
  active.upload(std::vector<std::int32_t>{-777});
  // Stale values everywhere the op must write.
  a.upload(std::vector<float>(static_cast<std::size_t>(batch * width), 9.0f));
  idx.upload(std::vector<std::int32_t>(static_cast<std::size_t>(batch * kcap), 12345));
  mask.upload(
      std::vector<std::int32_t>(static_cast<std::size_t>(mask.tensor().numel()), 0x5A5A5A5A));

  topk_forward(be, z, b, kt, a, idx, mask, ActivityCounters{fire.tensor(), active.tensor(), eps});

  TopkOutputs out;
  out.a = a.download<float>();
  out.indices = idx.download<std::int32_t>();
  out.mask = mask.download<std::int32_t>();
  out.fire = fire.download<std::int32_t>();
  out.active = active.download<std::int32_t>()[0];
  for (const test::GuardedTensor* g : {&z, &b, &kt, &a, &idx, &mask, &fire, &active})
    out.guards &= g->guards_intact();
  return out;
}

// The definition: sort each row by z descending with std::stable_sort (ties keep the lower index
// first, −0 == +0) and cut at k.
TopkOutputs oracle_topk(std::int64_t batch, std::int64_t width, std::int64_t k, std::int64_t kcap,
                        const std::vector<float>& z_pre, const std::vector<float>& bias,
                        float eps) {
  TopkOutputs out;
  out.a.assign(static_cast<std::size_t>(batch * width), 0.0f);
  out.indices.assign(static_cast<std::size_t>(batch * kcap), -1);
  const std::int64_t words = (width + 31) / 32;
  out.mask.assign(static_cast<std::size_t>(batch * words), 0);
  out.fire.resize(static_cast<std::size_t>(width));
  for (std::size_t j = 0; j < out.fire.size(); ++j) out.fire[j] = static_cast<std::int32_t>(j % 5);
  std::vector<float> z(static_cast<std::size_t>(width));
  std::vector<std::int32_t> order(static_cast<std::size_t>(width));
  for (std::int64_t n = 0; n < batch; ++n) {
    for (std::int64_t j = 0; j < width; ++j)
      z[static_cast<std::size_t>(j)] =
          z_pre[static_cast<std::size_t>(n * width + j)] + bias[static_cast<std::size_t>(j)];
    std::iota(order.begin(), order.end(), 0);
    std::stable_sort(order.begin(), order.end(), [&](std::int32_t x, std::int32_t y) {
      return z[static_cast<std::size_t>(x)] > z[static_cast<std::size_t>(y)];
    });
    std::vector<std::int32_t> kept(order.begin(), order.begin() + k);
    std::sort(kept.begin(), kept.end());
    for (std::size_t p = 0; p < kept.size(); ++p) {
      const std::int32_t j = kept[p];
      const float v = std::max(z[static_cast<std::size_t>(j)], 0.0f);
      out.a[static_cast<std::size_t>(n * width + j)] = v;
      out.indices[static_cast<std::size_t>(n * kcap) + p] = j;
      out.mask[static_cast<std::size_t>(n * words + j / 32)] |=
          static_cast<std::int32_t>(1u << (j % 32));
      if (v > eps) {
        ++out.fire[static_cast<std::size_t>(j)];
        ++out.active;
      }
    }
  }
  return out;
}

void expect_same(const TopkOutputs& ref, const TopkOutputs& got) {
  EXPECT_TRUE(got.guards) << "an output or input guard was overwritten";
  EXPECT_TRUE(test::all_close(ref.a, got.a, test::Tolerance{0.0, 0.0}, /*allow_nonfinite=*/true));
  EXPECT_EQ(ref.indices, got.indices);
  EXPECT_EQ(ref.mask, got.mask);
  EXPECT_EQ(ref.fire, got.fire);
  EXPECT_EQ(ref.active, got.active);
}

class TopkOracle : public ::testing::TestWithParam<TopkCase> {};

TEST_P(TopkOracle, CpuTwinMatchesStableSort) {
  const TopkCase c = GetParam();
  const std::vector<float> bias = test::case_bias(c.width, seed_of(c));
  const std::vector<float> z_pre = test::case_z_pre(c.batch, c.width, bias, seed_of(c) + 1);
  const std::int64_t kcap = c.k + 3;
  const float eps = 0.25f;
  expect_same(oracle_topk(c.batch, c.width, c.k, kcap, z_pre, bias, eps),
              run_topk(test::cpu(), c.batch, c.width, static_cast<std::int32_t>(c.k), kcap, z_pre,
                       bias, eps));
}

// B = 4096 adds nothing the oracle would not see at 257 rows but minutes of sorting.
INSTANTIATE_TEST_SUITE_P(Table, TopkOracle, ::testing::ValuesIn(topk_table(257)),
                         test::k_case_name);

class TopkBackends : public ::testing::TestWithParam<TopkCase> {};

TEST_P(TopkBackends, CudaMatchesCpu) {
  VSAE_REQUIRE_CUDA();
  const TopkCase c = GetParam();
  const std::vector<float> bias = test::case_bias(c.width, seed_of(c));
  const std::vector<float> z_pre = test::case_z_pre(c.batch, c.width, bias, seed_of(c) + 1);
  const std::int64_t kcap = c.k + 3;
  for (float eps : {0.0f, 0.25f}) {
    SCOPED_TRACE(eps);
    const auto k = static_cast<std::int32_t>(c.k);
    expect_same(run_topk(test::cpu(), c.batch, c.width, k, kcap, z_pre, bias, eps),
                run_topk(test::cuda(), c.batch, c.width, k, kcap, z_pre, bias, eps));
  }
}

INSTANTIATE_TEST_SUITE_P(Table, TopkBackends, ::testing::ValuesIn(topk_table(4096)),
                         test::k_case_name);

// k outside [0, min(W, K)] is clamped on the device: no host check can see a device scalar.
void check_clamping(Backend& be) {
  const std::int64_t batch = 9, width = 40;
  const std::vector<float> bias = test::case_bias(width, 5);
  const std::vector<float> z_pre = test::case_z_pre(batch, width, bias, 6);
  const TopkOutputs all = oracle_topk(batch, width, width, width + 2, z_pre, bias, 0.0f);
  expect_same(all, run_topk(be, batch, width, 1000, width + 2, z_pre, bias, 0.0f));
  const TopkOutputs none = oracle_topk(batch, width, 0, 4, z_pre, bias, 0.0f);
  expect_same(none, run_topk(be, batch, width, -3, 4, z_pre, bias, 0.0f));
  const TopkOutputs capped = oracle_topk(batch, width, 6, 6, z_pre, bias, 0.0f);
  expect_same(capped, run_topk(be, batch, width, 20, 6, z_pre, bias, 0.0f));
}

TEST(Topk, CpuClampsK) {
  check_clamping(test::cpu());
}
TEST(Topk, CudaClampsK) {
  VSAE_REQUIRE_CUDA();
  check_clamping(test::cuda());
}

// NaN ranks above +Inf and reaches a unchanged (it does not count as firing).
void check_nan_policy(Backend& be) {
  const float nan = std::numeric_limits<float>::quiet_NaN(),
              inf = std::numeric_limits<float>::infinity();
  const std::vector<float> z_pre{1.0f, nan, inf, 3.0f, -nan, 2.0f};
  const std::vector<float> bias(6, 0.0f);
  const TopkOutputs out = run_topk(be, 1, 6, 3, 3, z_pre, bias, 0.0f);
  EXPECT_EQ(out.indices, (std::vector<std::int32_t>{1, 2, 4}));
  EXPECT_TRUE(std::isnan(out.a[1]) && std::isnan(out.a[4]));
  EXPECT_EQ(out.a[2], inf);
  EXPECT_EQ(out.a[0], 0.0f);
  EXPECT_EQ(out.active, 1);
  EXPECT_TRUE(out.guards);
}

TEST(Topk, CpuNanRanksAboveInfinity) {
  check_nan_policy(test::cpu());
}
TEST(Topk, CudaNanRanksAboveInfinity) {
  VSAE_REQUIRE_CUDA();
  check_nan_policy(test::cuda());
}

float float_from_bits(std::uint32_t bits) {
  float f;
  std::memcpy(&f, &bits, sizeof f);
  return f;
}

std::uint32_t bits_of(float f) {
  std::uint32_t u;
  std::memcpy(&u, &f, sizeof u);
  return u;
}

// Rows mixing NaNs of either sign and several payloads (quiet and signalling) with finite values,
// ±Inf and ties, in the widths of both load paths (W % 4 == 0 is vectorised).
TEST(Topk, CudaMatchesCpuOnNan) {
  VSAE_REQUIRE_CUDA();
  const float nans[] = {float_from_bits(0x7FC00000u), float_from_bits(0xFFC00000u),
                        float_from_bits(0x7FC12345u), float_from_bits(0x7F800001u)};
  for (std::int64_t width : {40, 37, 600}) {
    const std::int64_t batch = 9;
    const std::vector<float> bias = test::case_bias(width, 21);
    std::vector<float> z_pre = test::case_z_pre(batch, width, bias, 22);
    for (std::size_t i = 0; i < z_pre.size(); ++i)
      if (i % 7 == 3) z_pre[i] = nans[i % 4];
    for (std::int64_t k : {std::int64_t{1}, std::int64_t{5}, width / 2, width}) {
      SCOPED_TRACE(testing::Message() << "W " << width << " k " << k);
      const auto kk = static_cast<std::int32_t>(k);
      const TopkOutputs ref = run_topk(test::cpu(), batch, width, kk, k, z_pre, bias, 0.0f);
      const TopkOutputs got = run_topk(test::cuda(), batch, width, kk, k, z_pre, bias, 0.0f);
      expect_same(ref, got);
      // A kept NaN is z + b as the GPU computes it: every single-precision operation on a NaN
      // returns 0x7FFFFFFF there (the CPU keeps the input's sign and payload).
      for (float v : got.a)
        if (std::isnan(v)) {
          EXPECT_EQ(bits_of(v), 0x7FFFFFFFu);
        }
    }
  }
}

// allow_dynamic_smem only raises a kernel's limit: a captured Top-k over a wide row (64 KiB of
// keys) still replays after an eager one over a narrower row (52 KiB) of the same kernel.
TEST(Topk, CudaGraphSurvivesASmallerLaunchOfTheSameKernel) {
  VSAE_REQUIRE_CUDA_LIBRARIES("graph capture");
  Backend& be = test::cuda();
  const std::int64_t batch = 3, wide = 16384, narrow = 13000;
  const std::vector<float> wide_bias = test::case_bias(wide, 31);
  const std::vector<float> wide_z = test::case_z_pre(batch, wide, wide_bias, 32);
  const std::vector<float> narrow_bias = test::case_bias(narrow, 33);
  const std::vector<float> narrow_z = test::case_z_pre(batch, narrow, narrow_bias, 34);
  test::GuardedTensor zw(be, Shape{batch, wide}), bw(be, Shape{wide}), aw(be, Shape{batch, wide});
  test::GuardedTensor zn(be, Shape{batch, narrow}), bn(be, Shape{narrow}),
      an(be, Shape{batch, narrow}), k(be, Shape{1}, DType::i32);
  zw.upload(wide_z);
  bw.upload(wide_bias);
  zn.upload(narrow_z);
  bn.upload(narrow_bias);
  k.upload(std::vector<std::int32_t>{100});
  const auto wide_step = [&] {
    topk_forward(be, zw, bw, k, aw, Tensor(), Tensor(), ActivityCounters{});
  };
  StepGraph graph(be, true);
  graph.run(wide_step);  // warm-up, eager
  graph.run(wide_step);  // captured, then launched
  be.zero(aw);
  topk_forward(be, zn, bn, k, an, Tensor(), Tensor(), ActivityCounters{});
  graph.run(wide_step);  // replayed
  be.synchronize();
  EXPECT_EQ(graph.captures(), 1);
  EXPECT_EQ(aw.download<float>(), oracle_topk(batch, wide, 100, 100, wide_z, wide_bias, 0.0f).a);
  EXPECT_EQ(an.download<float>(),
            oracle_topk(batch, narrow, 100, 100, narrow_z, narrow_bias, 0.0f).a);
}

TEST(Topk, OptionalOutputsMayBeOmitted) {
  Backend& be = test::cpu();
  const std::vector<float> bias = test::case_bias(10, 1);
  const std::vector<float> z_pre = test::case_z_pre(4, 10, bias, 2);
  test::GuardedTensor z(be, Shape{4, 10}), b(be, Shape{10}), k(be, Shape{1}, DType::i32),
      a(be, Shape{4, 10});
  z.upload(z_pre);
  b.upload(bias);
  k.upload(std::vector<std::int32_t>{3});
  topk_forward(be, z, b, k, a, Tensor(), Tensor(), ActivityCounters{});
  EXPECT_EQ(a.download<float>(), oracle_topk(4, 10, 3, 3, z_pre, bias, 0.0f).a);
}

TEST(Topk, RejectsBadShapes) {
  Backend& be = test::cpu();
  test::GuardedTensor z(be, Shape{4, 10}), b(be, Shape{9}), k(be, Shape{1}, DType::i32),
      a(be, Shape{4, 10});
  EXPECT_THROW(topk_forward(be, z, b, k, a, Tensor(), Tensor(), ActivityCounters{}), Error);
  test::GuardedTensor b10(be, Shape{10});
  test::GuardedTensor bad_mask(be, Shape{4, 2}, DType::i32);
  EXPECT_THROW(topk_forward(be, z, b10, k, a, Tensor(), bad_mask, ActivityCounters{}), Error);
  test::GuardedTensor fire(be, Shape{10}, DType::i32);
  EXPECT_THROW(topk_forward(be, z, b10, k, a, Tensor(), Tensor(),
                            ActivityCounters{fire.tensor(), Tensor(), -1.0f}),
               Error);
}

// Gradients of L = Σ w·a through Top-k: each row's z are distinct values 0.01·m − 0.125 plus a
// bias below 0.003, so entries are at least 0.008 apart and 0.003 from 0, and a ±1e-3 probe never
// changes the kept set or a sign.
TEST(Topk, BackwardMatchesFiniteDifferences) {
  const std::int64_t batch = 5, width = 24;
  const std::int32_t k = 7;
  std::vector<float> z_pre(static_cast<std::size_t>(batch * width));
  std::vector<float> bias(static_cast<std::size_t>(width));
  for (std::int64_t n = 0; n < batch; ++n)
    for (std::int64_t j = 0; j < width; ++j)
      z_pre[static_cast<std::size_t>(n * width + j)] =
          0.01f * static_cast<float>((j * 7 + n * 5) % width) - 0.125f;
  for (std::int64_t j = 0; j < width; ++j)
    bias[static_cast<std::size_t>(j)] = 0.001f * static_cast<float>(j % 3);
  test::check_k_sparsifier_gradient(
      z_pre, bias, k,
      [](Backend& be, const Tensor& z, const Tensor& b, const Tensor& kt, const Tensor& a) {
        topk_forward(be, z, b, kt, a, Tensor(), Tensor(), ActivityCounters{});
      },
      [](Backend& be, const Tensor& a, const Tensor& da, const Tensor& dz, const Tensor& db) {
        topk_backward(be, a, da, dz, db);
      });
}

}  // namespace
}  // namespace vsae
