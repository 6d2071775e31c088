// Revival kernels: the CPU twins against hand-computed oracles, CUDA against the CPU twin over a
// shape table (skipped without a GPU), and a finite-difference check of the AuxK codes' backward.
#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <numeric>

#include "engine/ops/revival.hpp"
#include "engine/ops/topk.hpp"
#include "tests/kernels/sparsify_cases.hpp"
#include "tests/support/backends.hpp"
#include "tests/support/compare.hpp"
#include "tests/support/gradcheck.hpp"
#include "tests/support/twin.hpp"

namespace vsae {
namespace {

using test::host_view;

// A (B, W) case, named "B64_W500" in test names and ctest labels (sparsify_cases.hpp).
using Case = test::ShapeCase;

const std::vector<Case>& shapes() {
  static const std::vector<Case> table{{1, 1}, {3, 33}, {64, 500}, {7, 1000}, {130, 257}};
  return table;
}

// Codes where unit j fires in row n only for some (n, j), leaving a few columns silent.
std::vector<float> sparse_codes(std::int64_t batch, std::int64_t width, std::uint64_t seed) {
  std::vector<float> a = test::random_uniform(static_cast<std::size_t>(batch * width), -1.0f, 1.0f, seed);
  for (std::int64_t n = 0; n < batch; ++n)
    for (std::int64_t j = 0; j < width; ++j) {
      float& v = a[n * width + j];
      v = (j % 3 == 0 || v < 0.6f) ? 0.0f : v;  // every third column never fires
    }
  return a;
}

std::vector<std::int32_t> counters(std::int64_t width) {
  std::vector<std::int32_t> since(static_cast<std::size_t>(width));
  for (std::int64_t j = 0; j < width; ++j) since[j] = static_cast<std::int32_t>(j % 7);
  if (width > 2) since[2] = std::numeric_limits<std::int32_t>::max();  // saturates, never wraps
  return since;
}

TEST(Revival, StepsSinceFiredByHand) {
  std::vector<float> a{0.0f, 0.5f, 0.0f, 0.0f,   //
                       0.0f, 0.0f, -1.0f, 0.0f,  //
                       0.0f, 0.0f, 0.0f, 2.0f};
  std::vector<std::int32_t> since{4, 9, 0, std::numeric_limits<std::int32_t>::max()};
  steps_since_fired_update(test::cpu(), host_view(a, Shape{3, 4}), host_view(since, Shape{4}));
  EXPECT_EQ(since, (std::vector<std::int32_t>{5, 0, 1, 0}));
  std::vector<std::int32_t> saturated{std::numeric_limits<std::int32_t>::max()};
  std::vector<float> silent{0.0f};
  steps_since_fired_update(test::cpu(), host_view(silent, Shape{1, 1}), host_view(saturated, Shape{1}));
  EXPECT_EQ(saturated[0], std::numeric_limits<std::int32_t>::max());
}

TEST(Revival, MaskLiveUnitsByHand) {
  std::vector<float> z{1.0f, -2.0f, 3.0f, 4.0f, 5.0f, -6.0f};
  std::vector<std::int32_t> since{3, 2, 10};
  std::vector<float> out(6, 7.0f);
  mask_live_units(test::cpu(), host_view(z, Shape{2, 3}), host_view(since, Shape{3}), 3, host_view(out, Shape{2, 3}));
  const float inf = std::numeric_limits<float>::infinity();
  EXPECT_EQ(out, (std::vector<float>{1.0f, -inf, 3.0f, 4.0f, -inf, -6.0f}));
}

TEST(Revival, ResidualByHand) {
  std::vector<float> h{1.0f, 2.0f, 3.0f}, h_hat{0.5f, 2.0f, 4.0f}, e(3);
  residual_forward(test::cpu(), host_view(h, Shape{1, 3}), host_view(h_hat, Shape{1, 3}), host_view(e, Shape{1, 3}));
  EXPECT_EQ(e, (std::vector<float>{0.5f, 0.0f, -1.0f}));
}

// Host copies of the nine SAE tensors of a (W, H) SAE, filled with distinct values.
struct SaeHost {
  std::int64_t width, hidden;
  std::vector<std::vector<float>> t;  // w_enc, b_enc, w_dec, m/v of each
  SaeHost(std::int64_t w, std::int64_t h) : width(w), hidden(h) {
    const std::int64_t sizes[] = {w * h, w, h * w};
    for (int i = 0; i < 9; ++i)
      t.push_back(test::random_uniform(static_cast<std::size_t>(sizes[i % 3]), -1.0f, 1.0f, 100 + i));
  }
  Shape shape(int i) const { return i % 3 == 0 ? Shape{width, hidden} : i % 3 == 1 ? Shape{width} : Shape{hidden, width}; }
};

SaeResampleTensors views(const std::vector<Tensor>& v) {
  return SaeResampleTensors{v[0], v[1], v[2], v[3], v[6], v[4], v[7], v[5], v[8]};
}

TEST(Revival, ResampleUnitsByHand) {
  const std::int64_t width = 5, hidden = 3;
  SaeHost sae(width, hidden);
  const SaeHost before = sae;
  std::vector<Tensor> tensors;
  for (int i = 0; i < 9; ++i) tensors.push_back(host_view(sae.t[i], sae.shape(i)));
  std::vector<float> dirs{3.0f, 0.0f, 4.0f,   // norm 5
                          0.0f, 0.0f, 0.0f};  // zero: the basis-vector fallback
  std::vector<std::int32_t> since{9, 9, 0, 9, 1}, scratch(2 * width);
  resample_units(test::cpu(), {3, 1}, {0, 1}, host_view(scratch, Shape{2 * width}), host_view(dirs, Shape{2, hidden}),
                 2.0f, views(tensors), host_view(since, Shape{width}));
  const std::vector<float> d3{0.6f, 0.0f, 0.8f}, d1{0.0f, 1.0f, 0.0f};  // unit 1: e_(1 mod 3)
  for (std::int64_t c = 0; c < hidden; ++c) {
    EXPECT_FLOAT_EQ(sae.t[2][c * width + 3], d3[c]);
    EXPECT_FLOAT_EQ(sae.t[0][3 * hidden + c], 2.0f * d3[c]);
    EXPECT_FLOAT_EQ(sae.t[2][c * width + 1], d1[c]);
    EXPECT_FLOAT_EQ(sae.t[0][1 * hidden + c], 2.0f * d1[c]);
  }
  EXPECT_EQ(since, (std::vector<std::int32_t>{9, 0, 0, 0, 1}));
  // Exactly the resampled units' entries changed; their moments are zero.
  for (int i = 0; i < 9; ++i)
    for (std::size_t x = 0; x < sae.t[i].size(); ++x) {
      const std::int64_t unit = i % 3 == 0 ? static_cast<std::int64_t>(x) / hidden
                                : i % 3 == 1 ? static_cast<std::int64_t>(x)
                                             : static_cast<std::int64_t>(x) % width;
      const bool touched = unit == 1 || unit == 3;
      if (!touched) {
        EXPECT_EQ(sae.t[i][x], before.t[i][x]) << "tensor " << i << " element " << x;
      } else if (i % 3 == 1 || i >= 3) {
        EXPECT_EQ(sae.t[i][x], 0.0f) << "tensor " << i << " element " << x;
      }
    }
}

TEST(Revival, ResampleRejectsRepeatedUnits) {
  SaeHost sae(4, 2);
  std::vector<Tensor> tensors;
  for (int i = 0; i < 9; ++i) tensors.push_back(host_view(sae.t[i], sae.shape(i)));
  std::vector<float> dirs{1.0f, 1.0f};
  std::vector<std::int32_t> since(4, 0), scratch(8);
  EXPECT_THROW(resample_units(test::cpu(), {1, 1}, {0, 0}, host_view(scratch, Shape{8}), host_view(dirs, Shape{1, 2}),
                              1.0f, views(tensors), host_view(since, Shape{4})),
               Error);
}

// The AuxK codes' backward (Top-k backward over the dead-masked pre-activations) against central
// differences of L = Σ w·a_aux: gradient only on the kept dead units, zero on live ones.
TEST(Revival, AuxkCodesBackwardMatchesFiniteDifferences) {
  const std::int64_t batch = 3, width = 24;
  const std::int32_t dead_steps = 4, k_aux = 5;
  // Well-separated values so a ±1e-3 probe never reorders the selection.
  std::vector<float> z(static_cast<std::size_t>(batch * width));
  for (std::size_t i = 0; i < z.size(); ++i) z[i] = 0.05f * static_cast<float>((i * 37) % z.size()) - 1.2f;
  std::vector<float> bias = test::random_uniform(static_cast<std::size_t>(width), -0.01f, 0.01f, 5);
  std::vector<std::int32_t> since(static_cast<std::size_t>(width)), k{k_aux};
  for (std::int64_t j = 0; j < width; ++j) since[j] = j % 2 ? dead_steps : dead_steps - 1;
  const std::vector<float> w = test::random_uniform(z.size(), -1.0f, 1.0f, 6);
  std::vector<float> masked(z.size()), a(z.size());
  Backend& be = test::cpu();
  auto forward = [&] {
    mask_live_units(be, host_view(z, Shape{batch, width}), host_view(since, Shape{width}), dead_steps,
                    host_view(masked, Shape{batch, width}));
    topk_forward(be, host_view(masked, Shape{batch, width}), host_view(bias, Shape{width}), host_view(k, Shape{1}),
                 host_view(a, Shape{batch, width}), Tensor(), Tensor(), ActivityCounters{});
    return test::weighted_sum(a, w);
  };
  forward();
  std::vector<float> da = w, dz(z.size(), 0.0f), db(static_cast<std::size_t>(width), 0.0f);
  topk_backward(be, host_view(a, Shape{batch, width}), host_view(da, Shape{batch, width}),
                host_view(dz, Shape{batch, width}), host_view(db, Shape{width}));
  for (std::int64_t n = 0; n < batch; ++n)
    for (std::int64_t j = 0; j < width; j += 2) EXPECT_EQ(dz[n * width + j], 0.0f) << "live unit " << j;
  EXPECT_GT(std::count_if(dz.begin(), dz.end(), [](float g) { return g != 0.0f; }), 0);
  test::GradCheckOptions options;
  options.max_probes = z.size();
  EXPECT_TRUE(test::check_gradient(forward, z, dz, "z_pre", options));
}

// ---- CUDA against the CPU twin ---------------------------------------------------------------

class RevivalBackends : public ::testing::TestWithParam<Case> {};

TEST_P(RevivalBackends, StepsSinceFiredMatchesCpu) {
  VSAE_REQUIRE_CUDA();
  const auto [batch, width] = GetParam();
  test::TwinTensor a(Shape{batch, width}, sparse_codes(batch, width, 11));
  test::TwinTensor since(Shape{width}, counters(width));
  steps_since_fired_update(test::cpu(), a.on(test::cpu()), since.on(test::cpu()));
  steps_since_fired_update(test::cuda(), a.on(test::cuda()), since.on(test::cuda()));
  ASSERT_TRUE(since.cpu_copy().guards_intact() && since.cuda_copy().guards_intact());
  EXPECT_EQ(since.cpu_copy().download<std::int32_t>(), since.cuda_copy().download<std::int32_t>());
}

TEST_P(RevivalBackends, MaskAndResidualMatchCpu) {
  VSAE_REQUIRE_CUDA();
  const auto [batch, width] = GetParam();
  const auto n = static_cast<std::size_t>(batch * width);
  test::TwinTensor z(Shape{batch, width}, test::random_normal(n, 1.0f, 12));
  test::TwinTensor since(Shape{width}, counters(width));
  test::TwinTensor masked(Shape{batch, width}, std::vector<float>(n, 0.0f));
  test::TwinTensor approx(Shape{batch, width}, test::random_normal(n, 1.0f, 13));
  test::TwinTensor e(Shape{batch, width}, std::vector<float>(n, 0.0f));
  for (Backend* be : {&test::cpu(), &test::cuda()}) {
    mask_live_units(*be, z.on(*be), since.on(*be), 3, masked.on(*be));
    residual_forward(*be, z.on(*be), approx.on(*be), e.on(*be));
  }
  EXPECT_TRUE(test::twins_match(masked, test::Tolerance{0.0, 0.0}, /*allow_nonfinite=*/true));
  EXPECT_TRUE(test::twins_match(e, test::Tolerance{0.0, 0.0}));
}

TEST_P(RevivalBackends, ResampleMatchesCpu) {
  VSAE_REQUIRE_CUDA();
  const auto [rows, width] = GetParam();
  const std::int64_t hidden = 1 + (width * 7) % 300;  // odd sizes, and more than one CTA's worth
  SaeHost sae(width, hidden);
  std::vector<std::unique_ptr<test::TwinTensor>> twins;
  for (int i = 0; i < 9; ++i) twins.push_back(std::make_unique<test::TwinTensor>(sae.shape(i), sae.t[i]));
  std::vector<float> dirs = test::random_normal(static_cast<std::size_t>(rows * hidden), 1.0f, 14);
  for (std::int64_t c = 0; c < hidden; ++c) dirs[c] = 0.0f;  // row 0 takes the basis-vector fallback
  test::TwinTensor directions(Shape{rows, hidden}, dirs);
  test::TwinTensor since(Shape{width}, counters(width));
  test::TwinTensor scratch(Shape{2 * width}, std::vector<std::int32_t>(static_cast<std::size_t>(2 * width), 0));
  std::vector<std::int32_t> units, sources;
  for (std::int64_t j = width - 1; j >= 0; j -= 3) {
    units.push_back(static_cast<std::int32_t>(j));
    sources.push_back(static_cast<std::int32_t>(units.size() % rows));
  }
  for (Backend* be : {&test::cpu(), &test::cuda()}) {
    std::vector<Tensor> tensors;
    for (auto& t : twins) tensors.push_back(t->on(*be));
    resample_units(*be, units, sources, scratch.on(*be), directions.on(*be), 0.7f, views(tensors), since.on(*be));
  }
  for (int i = 0; i < 9; ++i) EXPECT_TRUE(test::twins_match(*twins[i], test::Tolerance{1e-6, 1e-5})) << "tensor " << i;
  EXPECT_EQ(since.cpu_copy().download<std::int32_t>(), since.cuda_copy().download<std::int32_t>());
}

INSTANTIATE_TEST_SUITE_P(Table, RevivalBackends, ::testing::ValuesIn(shapes()),
                         test::shape_case_name);

}  // namespace
}  // namespace vsae
