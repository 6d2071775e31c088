// Unit-norm decoder columns: the CPU twin against naive loops, the mathematical properties of the
// projection and the normalisation, CUDA against the CPU twin over a (D, W) table with guard
// sentinels, zero and NaN columns, determinism, and the op layer's argument errors.
#include <gtest/gtest.h>
#ifdef _OPENMP
#include <omp.h>
#endif

#include <cmath>
#include <cstdint>
#include <limits>
#include <ostream>
#include <string>
#include <vector>

#include "engine/ops/unit_norm.hpp"
#include "tests/support/backends.hpp"
#include "tests/support/compare.hpp"
#include "tests/support/twin.hpp"

namespace vsae {
namespace {

// A decoder weight (D, W): column j is unit j's direction.
struct UnitNormCase {
  std::int64_t rows, cols;

  Shape shape() const { return Shape{rows, cols}; }
  std::size_t numel() const { return static_cast<std::size_t>(rows * cols); }
  std::string name() const { return "D" + std::to_string(rows) + "_W" + std::to_string(cols); }
  std::uint64_t seed() const { return static_cast<std::uint64_t>(rows * 7919 + cols * 31 + 5); }
};

void PrintTo(const UnitNormCase& c, std::ostream* os) {
  *os << c.name();
}

// (1, 1), one row, one column, odd sizes, the model's (D, W) = (256, 500), a wide and a tall one.
std::vector<UnitNormCase> shape_table() {
  return {{1, 1}, {1, 500}, {64, 1}, {7, 13}, {64, 256}, {256, 500}, {3, 5000}, {4097, 7}};
}

std::string case_name(const ::testing::TestParamInfo<UnitNormCase>& info) {
  return info.param.name();
}

// Column norms from 1e-3 to 1e3 (column j scaled by 10^(j mod 7 − 3)), and, with three or more
// columns, an all-zero column 1.
std::vector<float> decoder_weight(const UnitNormCase& c) {
  std::vector<float> w = test::random_normal(c.numel(), 1.0f, c.seed());
  for (std::int64_t r = 0; r < c.rows; ++r)
    for (std::int64_t j = 0; j < c.cols; ++j) {
      float& v = w[static_cast<std::size_t>(r * c.cols + j)];
      v *= static_cast<float>(std::pow(10.0, static_cast<double>(j % 7) - 3.0));
      if (c.cols >= 3 && j == 1) v = 0.0f;
    }
  return w;
}

std::vector<float> decoder_grad(const UnitNormCase& c) {
  return test::random_normal(c.numel(), 1.0f, c.seed() + 1);
}

// Column j of a (rows, cols) matrix, in double.
std::vector<double> column(const std::vector<float>& m, const UnitNormCase& c, std::int64_t j) {
  std::vector<double> out(static_cast<std::size_t>(c.rows));
  for (std::int64_t r = 0; r < c.rows; ++r) out[r] = m[static_cast<std::size_t>(r * c.cols + j)];
  return out;
}

double dot(const std::vector<double>& a, const std::vector<double>& b) {
  double s = 0.0;
  for (std::size_t i = 0; i < a.size(); ++i) s += a[i] * b[i];
  return s;
}

// v minus its component along w (w ≠ 0).
std::vector<double> orthogonal_part(const std::vector<double>& v, const std::vector<double>& w) {
  const double coef = dot(v, w) / dot(w, w);
  std::vector<double> out(v.size());
  for (std::size_t i = 0; i < v.size(); ++i) out[i] = v[i] - coef * w[i];
  return out;
}

double distance(const std::vector<double>& a, const std::vector<double>& b) {
  double s = 0.0;
  for (std::size_t i = 0; i < a.size(); ++i) s += (a[i] - b[i]) * (a[i] - b[i]);
  return std::sqrt(s);
}

std::vector<float> remove_parallel_on_cpu(const UnitNormCase& c, std::vector<float> w,
                                          std::vector<float> dw) {
  decoder_grad_remove_parallel(test::cpu(), test::host_view(w, c.shape()),
                               test::host_view(dw, c.shape()));
  return dw;
}

std::vector<float> normalize_on_cpu(const UnitNormCase& c, std::vector<float> w) {
  decoder_normalize_columns(test::cpu(), test::host_view(w, c.shape()));
  return w;
}

// ---- the CPU twin against naive loops ---------------------------------------------------------

class UnitNormCpu : public ::testing::TestWithParam<UnitNormCase> {};

TEST_P(UnitNormCpu, GradRemoveParallelMatchesNaiveLoops) {
  const UnitNormCase c = GetParam();
  const std::vector<float> w = decoder_weight(c), dw = decoder_grad(c);
  const std::vector<float> got = remove_parallel_on_cpu(c, w, dw);
  std::vector<float> ref = dw;
  for (std::int64_t j = 0; j < c.cols; ++j) {
    double ww = 0.0, dww = 0.0;
    for (std::int64_t r = 0; r < c.rows; ++r) {
      const double wi = w[r * c.cols + j];
      ww += wi * wi;
      dww += wi * dw[r * c.cols + j];
    }
    if (ww == 0.0) continue;
    for (std::int64_t r = 0; r < c.rows; ++r)
      ref[r * c.cols + j] = static_cast<float>(dw[r * c.cols + j] - dww / ww * w[r * c.cols + j]);
  }
  EXPECT_TRUE(test::all_close(ref, got, {1e-6, 1e-6}));
}

TEST_P(UnitNormCpu, NormalizeColumnsMatchesNaiveLoops) {
  const UnitNormCase c = GetParam();
  const std::vector<float> w = decoder_weight(c);
  const std::vector<float> got = normalize_on_cpu(c, w);
  std::vector<float> ref = w;
  for (std::int64_t j = 0; j < c.cols; ++j) {
    double ww = 0.0;
    for (std::int64_t r = 0; r < c.rows; ++r)
      ww += static_cast<double>(w[r * c.cols + j]) * w[r * c.cols + j];
    if (ww == 0.0) continue;
    for (std::int64_t r = 0; r < c.rows; ++r)
      ref[r * c.cols + j] = static_cast<float>(w[r * c.cols + j] / std::sqrt(ww));
  }
  EXPECT_TRUE(test::all_close(ref, got, {1e-7, 1e-6}));
}

// ---- properties (CPU twin) --------------------------------------------------------------------

class UnitNormProperties : public ::testing::TestWithParam<UnitNormCase> {};

// ⟨dw_j, w_j⟩ ≈ 0 afterwards, up to the float rounding of dw (relative to ‖dw_j‖·‖w_j‖).
TEST_P(UnitNormProperties, ProjectedGradientIsOrthogonalToColumns) {
  const UnitNormCase c = GetParam();
  const std::vector<float> w = decoder_weight(c), dw = decoder_grad(c);
  const std::vector<float> got = remove_parallel_on_cpu(c, w, dw);
  for (std::int64_t j = 0; j < c.cols; ++j) {
    const std::vector<double> wj = column(w, c, j), before = column(dw, c, j),
                              after = column(got, c, j);
    const double scale = std::sqrt(dot(wj, wj) * dot(before, before));
    EXPECT_LE(std::fabs(dot(after, wj)), 1e-6 * scale) << "column " << j;
  }
}

// The part of dw_j orthogonal to w_j is what remains, unchanged.
TEST_P(UnitNormProperties, ProjectionKeepsOrthogonalComponent) {
  const UnitNormCase c = GetParam();
  const std::vector<float> w = decoder_weight(c), dw = decoder_grad(c);
  const std::vector<float> got = remove_parallel_on_cpu(c, w, dw);
  for (std::int64_t j = 0; j < c.cols; ++j) {
    const std::vector<double> wj = column(w, c, j), before = column(dw, c, j),
                              after = column(got, c, j);
    if (dot(wj, wj) == 0.0) continue;  // ZeroColumnsAreLeftAsIs
    const double tol = 1e-6 * std::sqrt(dot(before, before));
    EXPECT_LE(distance(orthogonal_part(after, wj), orthogonal_part(before, wj)), tol)
        << "column " << j;
    EXPECT_LE(distance(after, orthogonal_part(before, wj)), tol) << "column " << j;
  }
}

TEST_P(UnitNormProperties, NormalizedColumnsHaveUnitNorm) {
  const UnitNormCase c = GetParam();
  const std::vector<float> w = decoder_weight(c);
  const std::vector<float> got = normalize_on_cpu(c, w);
  for (std::int64_t j = 0; j < c.cols; ++j) {
    const std::vector<double> before = column(w, c, j), after = column(got, c, j);
    if (dot(before, before) == 0.0) continue;  // ZeroColumnsAreLeftAsIs
    EXPECT_NEAR(std::sqrt(dot(after, after)), 1.0, 1e-6) << "column " << j;
  }
}

// w_j / ‖w_j‖ in double is where each column lands: the same direction, nothing else.
TEST_P(UnitNormProperties, NormalizeKeepsDirection) {
  const UnitNormCase c = GetParam();
  const std::vector<float> w = decoder_weight(c);
  const std::vector<float> got = normalize_on_cpu(c, w);
  for (std::int64_t j = 0; j < c.cols; ++j) {
    std::vector<double> unit = column(w, c, j);
    const double norm = std::sqrt(dot(unit, unit));
    if (norm == 0.0) continue;
    for (double& v : unit) v /= norm;
    const std::vector<double> after = column(got, c, j);
    EXPECT_GT(dot(after, unit), 0.0) << "column " << j;
    EXPECT_LE(distance(after, unit), 1e-6) << "column " << j;
  }
}

TEST_P(UnitNormProperties, NormalizeTwiceEqualsOnce) {
  const UnitNormCase c = GetParam();
  const std::vector<float> once = normalize_on_cpu(c, decoder_weight(c));
  const std::vector<float> twice = normalize_on_cpu(c, once);
  EXPECT_TRUE(test::all_close(once, twice, {1e-9, 1e-6}));
}

INSTANTIATE_TEST_SUITE_P(Shapes, UnitNormCpu, ::testing::ValuesIn(shape_table()), case_name);
INSTANTIATE_TEST_SUITE_P(Shapes, UnitNormProperties, ::testing::ValuesIn(shape_table()), case_name);

// A zero column has no direction: both ops leave it (and its gradient) exactly as it was.
TEST(UnitNormProperties, ZeroColumnsAreLeftAsIs) {
  const UnitNormCase c{5, 3};
  std::vector<float> w = decoder_weight(c), dw = decoder_grad(c);
  for (std::int64_t r = 0; r < c.rows; ++r) w[r * 3 + 0] = w[r * 3 + 2] = 0.0f;
  const std::vector<float> projected = remove_parallel_on_cpu(c, w, dw);
  const std::vector<float> normalized = normalize_on_cpu(c, w);
  for (std::int64_t r = 0; r < c.rows; ++r)
    for (std::int64_t j : {0, 2}) {
      EXPECT_EQ(projected[r * 3 + j], dw[r * 3 + j]) << r << ", " << j;
      EXPECT_EQ(normalized[r * 3 + j], 0.0f) << r << ", " << j;
    }
}

// A NaN makes its own column NaN (of w after normalising; of dw after projecting, whether the NaN
// sat in w or in dw) and leaves every other column finite.
TEST(UnitNormProperties, NanStaysInItsColumn) {
  const UnitNormCase c{7, 70};
  std::vector<float> w = decoder_weight(c), dw = decoder_grad(c);
  const float nan = std::numeric_limits<float>::quiet_NaN();
  w[3 * 70 + 5] = nan;
  dw[6 * 70 + 66] = nan;
  const std::vector<float> projected = remove_parallel_on_cpu(c, w, dw);
  const std::vector<float> normalized = normalize_on_cpu(c, w);
  for (std::int64_t r = 0; r < c.rows; ++r)
    for (std::int64_t j = 0; j < c.cols; ++j) {
      const std::size_t i = static_cast<std::size_t>(r * c.cols + j);
      EXPECT_EQ(std::isnan(projected[i]), j == 5 || j == 66) << r << ", " << j;
      EXPECT_EQ(std::isnan(normalized[i]), j == 5) << r << ", " << j;
      EXPECT_TRUE(std::isnan(projected[i]) || std::isfinite(projected[i]));
      EXPECT_TRUE(std::isnan(normalized[i]) || std::isfinite(normalized[i]));
    }
}

// Each column's sums run in row order: the same bits for any number of threads.
TEST(UnitNormCpu, DoesNotDependOnThreadCount) {
#ifdef _OPENMP
  const UnitNormCase c{256, 500};  // above the threading threshold
  const std::vector<float> w = decoder_weight(c), dw = decoder_grad(c);
  const auto run = [&](int threads) {
    const int before = omp_get_max_threads();
    omp_set_num_threads(threads);
    std::vector<float> out = remove_parallel_on_cpu(c, w, dw);
    const std::vector<float> normalized = normalize_on_cpu(c, w);
    omp_set_num_threads(before);
    out.insert(out.end(), normalized.begin(), normalized.end());
    return out;
  };
  EXPECT_EQ(run(1), run(3));
#else
  GTEST_SKIP() << "built without OpenMP";
#endif
}

// ---- op-layer errors --------------------------------------------------------------------------

template <class F>
void expect_error(F call, const std::string& text) {
  try {
    call();
    ADD_FAILURE() << "expected an error containing '" << text << "'";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find(text), std::string::npos) << e.what();
  }
}

TEST(UnitNormErrors, RejectsMismatchedShapes) {
  Backend& be = test::cpu();
  std::vector<float> buf(64);
  const auto t = [&](Shape s) { return Tensor(buf.data(), s, DType::f32, Device::cpu); };
  expect_error(
      [&] {
        decoder_grad_remove_parallel(be, t({4, 3}), t({3, 4}));
      },
      "decoder_grad_remove_parallel: dw is (3, 4), w is (4, 3)");
  expect_error([&] { decoder_grad_remove_parallel(be, t({12}), t({12})); },
               "decoder_grad_remove_parallel: w must be (D, W)");
  expect_error(
      [&] {
        decoder_normalize_columns(be, t({2, 3, 4}));
      },
      "decoder_normalize_columns: w must be (D, W)");
  expect_error(
      [&] {
        decoder_grad_remove_parallel(be, t({4, 3}), Tensor{});
      },
      "decoder_grad_remove_parallel: dw is not allocated");
}

TEST(UnitNormErrors, RejectsWrongDevice) {
  Backend& be = test::cpu();
  std::vector<float> buf(64);
  const Tensor ok(buf.data(), Shape{4, 3}, DType::f32, Device::cpu);
  const Tensor gpu(buf.data(), Shape{4, 3}, DType::f32, Device::cuda);
  expect_error([&] { decoder_grad_remove_parallel(be, gpu, ok); },
               "decoder_grad_remove_parallel: w is on cuda");
  expect_error([&] { decoder_grad_remove_parallel(be, ok, gpu); },
               "decoder_grad_remove_parallel: dw is on cuda");
  expect_error([&] { decoder_normalize_columns(be, gpu); },
               "decoder_normalize_columns: w is on cuda");
}

TEST(UnitNormErrors, RejectsWrongDtype) {
  Backend& be = test::cpu();
  std::vector<float> buf(64);
  const Tensor ok(buf.data(), Shape{4, 3}, DType::f32, Device::cpu);
  const Tensor ints(buf.data(), Shape{4, 3}, DType::i32, Device::cpu);
  expect_error([&] { decoder_grad_remove_parallel(be, ints, ok); },
               "decoder_grad_remove_parallel: w has dtype i32");
  expect_error([&] { decoder_grad_remove_parallel(be, ok, ints); },
               "decoder_grad_remove_parallel: dw has dtype i32");
  expect_error([&] { decoder_normalize_columns(be, ints); },
               "decoder_normalize_columns: w has dtype i32");
}

// ---- CUDA against the CPU twin ----------------------------------------------------------------

// The backends sum each column's rows in double in different orders; both round to float once.
constexpr test::Tolerance kTwinTolerance{1e-7, 1e-6};

class UnitNormBackends : public ::testing::TestWithParam<UnitNormCase> {};

TEST_P(UnitNormBackends, GradRemoveParallelMatchesCpu) {
  VSAE_REQUIRE_CUDA();
  const UnitNormCase c = GetParam();
  test::TwinTensor w(c.shape(), decoder_weight(c)), dw(c.shape(), decoder_grad(c));
  for (Backend* be : {&test::cpu(), &test::cuda()})
    decoder_grad_remove_parallel(*be, w.on(*be), dw.on(*be));
  EXPECT_TRUE(test::twins_match(dw, kTwinTolerance)) << "dw";
  EXPECT_TRUE(test::twins_match(w, {0.0, 0.0})) << "w must not change";
}

TEST_P(UnitNormBackends, NormalizeColumnsMatchesCpu) {
  VSAE_REQUIRE_CUDA();
  const UnitNormCase c = GetParam();
  test::TwinTensor w(c.shape(), decoder_weight(c));
  for (Backend* be : {&test::cpu(), &test::cuda()}) decoder_normalize_columns(*be, w.on(*be));
  EXPECT_TRUE(test::twins_match(w, kTwinTolerance));
}

INSTANTIATE_TEST_SUITE_P(Shapes, UnitNormBackends, ::testing::ValuesIn(shape_table()), case_name);

// Zero columns stay as they are and NaN columns stay NaN, on both backends alike, and no NaN
// leaks into another column.
TEST(UnitNormBackends, ZeroAndNanColumns) {
  VSAE_REQUIRE_CUDA();
  const UnitNormCase c{256, 500};
  std::vector<float> wh = decoder_weight(c), dwh = decoder_grad(c);
  const float nan = std::numeric_limits<float>::quiet_NaN();
  for (std::int64_t r = 0; r < c.rows; ++r) wh[r * c.cols + 40] = 0.0f;  // besides column 1
  wh[100 * c.cols + 7] = nan;
  dwh[255 * c.cols + 499] = nan;
  dwh[3 * c.cols + 40] = nan;  // in a zero column: left untouched, so only this element is NaN
  test::TwinTensor w(c.shape(), wh), dw(c.shape(), dwh);
  for (Backend* be : {&test::cpu(), &test::cuda()}) {
    decoder_grad_remove_parallel(*be, w.on(*be), dw.on(*be));
    decoder_normalize_columns(*be, w.on(*be));
  }
  EXPECT_TRUE(test::twins_match(dw, kTwinTolerance, /*allow_nonfinite=*/true)) << "dw";
  EXPECT_TRUE(test::twins_match(w, kTwinTolerance, /*allow_nonfinite=*/true)) << "w";
  const std::vector<float> w_gpu = w.cuda_copy().download<float>(),
                           dw_gpu = dw.cuda_copy().download<float>();
  for (std::int64_t r = 0; r < c.rows; ++r)
    for (std::int64_t j = 0; j < c.cols; ++j) {
      const std::size_t i = static_cast<std::size_t>(r * c.cols + j);
      ASSERT_EQ(std::isnan(w_gpu[i]), j == 7) << r << ", " << j;
      ASSERT_EQ(std::isnan(dw_gpu[i]), j == 7 || j == 499 || (j == 40 && r == 3)) << r << ", " << j;
      if (j == 1 || j == 40) {
        ASSERT_EQ(w_gpu[i], 0.0f) << r << ", " << j;
        if (r != 3 || j != 40) {
          ASSERT_EQ(dw_gpu[i], dwh[i]) << r << ", " << j;
        }
      }
    }
}

TEST(UnitNormBackends, IsBitwiseReproducible) {
  VSAE_REQUIRE_CUDA();
  const UnitNormCase c{256, 500};
  std::vector<std::vector<float>> results;
  for (int run = 0; run < 2; ++run) {
    test::GuardedTensor w(test::cuda(), c.shape()), dw(test::cuda(), c.shape());
    w.upload(decoder_weight(c));
    dw.upload(decoder_grad(c));
    decoder_grad_remove_parallel(test::cuda(), w, dw);
    decoder_normalize_columns(test::cuda(), w);
    std::vector<float> out = dw.download<float>();
    const std::vector<float> w_host = w.download<float>();
    out.insert(out.end(), w_host.begin(), w_host.end());
    results.push_back(out);
    EXPECT_TRUE(w.guards_intact() && dw.guards_intact());
  }
  EXPECT_EQ(results[0], results[1]);
}

}  // namespace
}  // namespace vsae
