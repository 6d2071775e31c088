// centering (the SAE's pre-encoder bias, y = x − b): the CPU twin against naive loops, CUDA against
// the CPU twin over a (B, D) table with guard sentinels, finite-difference checks of dx and db,
// determinism, and the op layer's argument errors.
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

#include "engine/ops/centering.hpp"
#include "tests/support/backends.hpp"
#include "tests/support/compare.hpp"
#include "tests/support/gradcheck.hpp"
#include "tests/support/twin.hpp"

namespace vsae {
namespace {

struct CenteringCase {
  std::int64_t batch, dim;

  Shape shape() const { return Shape{batch, dim}; }
  std::size_t numel() const { return static_cast<std::size_t>(batch * dim); }
  std::string name() const { return "B" + std::to_string(batch) + "_D" + std::to_string(dim); }
  std::uint64_t seed() const { return static_cast<std::uint64_t>(batch * 7919 + dim * 31); }
};

void PrintTo(const CenteringCase& c, std::ostream* os) {
  *os << c.name();
}

// (1, 1), one row, one column, odd sizes, the model's (B, D) and a wider D, a wide row, and a tall
// batch that the CUDA backward splits into 65 row ranges.
std::vector<CenteringCase> shape_table() {
  return {{1, 1}, {1, 500}, {64, 1}, {7, 13}, {64, 256}, {256, 500}, {3, 5000}, {4097, 7}};
}

std::string case_name(const ::testing::TestParamInfo<CenteringCase>& info) {
  return info.param.name();
}

// Sums grow like √B; the backends add them in different orders (and the CPU in double).
test::Tolerance db_tolerance(std::int64_t batch) {
  return {1e-6 * std::sqrt(static_cast<double>(batch)) + 1e-6, 1e-5};
}

// ---- the CPU twin against naive loops ---------------------------------------------------------

class CenteringCpu : public ::testing::TestWithParam<CenteringCase> {};

TEST_P(CenteringCpu, ForwardMatchesNaiveLoops) {
  const CenteringCase c = GetParam();
  std::vector<float> x = test::random_normal(c.numel(), 1.0f, c.seed());
  std::vector<float> b = test::random_normal(static_cast<std::size_t>(c.dim), 0.5f, c.seed() + 1);
  std::vector<float> y(c.numel(), -7.0f);
  centering_forward(test::cpu(), test::host_view(x, c.shape()), test::host_view(b, {c.dim}),
                    test::host_view(y, c.shape()));
  std::vector<float> ref(c.numel());
  for (std::int64_t n = 0; n < c.batch; ++n)
    for (std::int64_t d = 0; d < c.dim; ++d) ref[n * c.dim + d] = x[n * c.dim + d] - b[d];
  EXPECT_EQ(y, ref);
}

// Nonzero starting gradients: dx and db are both accumulated into.
TEST_P(CenteringCpu, BackwardMatchesNaiveLoops) {
  const CenteringCase c = GetParam();
  const std::vector<float> dy = test::random_normal(c.numel(), 1.0f, c.seed() + 2);
  const std::vector<float> dx0 = test::random_normal(c.numel(), 1.0f, c.seed() + 3);
  const std::vector<float> db0 =
      test::random_normal(static_cast<std::size_t>(c.dim), 1.0f, c.seed() + 4);
  std::vector<float> dyv = dy, dx = dx0, db = db0;
  centering_backward(test::cpu(), test::host_view(dyv, c.shape()), test::host_view(dx, c.shape()),
                     test::host_view(db, {c.dim}));
  std::vector<float> dx_ref(c.numel()), db_ref(db0.size());
  for (std::int64_t d = 0; d < c.dim; ++d) {
    double sum = 0.0;
    for (std::int64_t n = 0; n < c.batch; ++n) {
      const std::int64_t i = n * c.dim + d;
      dx_ref[i] = dx0[i] + dy[i];
      sum += dy[i];
    }
    db_ref[d] = static_cast<float>(db0[d] - sum);
  }
  EXPECT_EQ(dx, dx_ref);
  EXPECT_TRUE(test::all_close(db_ref, db, db_tolerance(c.batch)));
  EXPECT_EQ(dyv, dy) << "dy must not change";
}

INSTANTIATE_TEST_SUITE_P(Shapes, CenteringCpu, ::testing::ValuesIn(shape_table()), case_name);

TEST(CenteringCpu, BackwardByHand) {
  std::vector<float> dy = {1.0f, 2.0f, 10.0f, 20.0f, 100.0f, 200.0f};  // (3, 2)
  std::vector<float> dx = {0.5f, 0.5f, 0.5f, 0.5f, 0.5f, 0.5f}, db = {1000.0f, 2000.0f};
  centering_backward(test::cpu(), test::host_view(dy, {3, 2}), test::host_view(dx, {3, 2}),
                     test::host_view(db, {2}));
  EXPECT_EQ(dx, (std::vector<float>{1.5f, 2.5f, 10.5f, 20.5f, 100.5f, 200.5f}));
  EXPECT_EQ(db, (std::vector<float>{1000.0f - 111.0f, 2000.0f - 222.0f}));
}

TEST(CenteringCpu, UndefinedDxUpdatesOnlyDb) {
  std::vector<float> dy = {1.0f, 2.0f, 10.0f, 20.0f}, db = {0.5f, 0.25f};
  centering_backward(test::cpu(), test::host_view(dy, {2, 2}), Tensor{}, test::host_view(db, {2}));
  EXPECT_EQ(db, (std::vector<float>{0.5f - 11.0f, 0.25f - 22.0f}));
}

TEST(CenteringCpu, ForwardInPlace) {
  std::vector<float> x = {1.0f, 2.0f, 3.0f, 4.0f, 5.0f, 6.0f}, b = {0.5f, 1.0f, 1.5f};
  centering_forward(test::cpu(), test::host_view(x, {2, 3}), test::host_view(b, {3}),
                    test::host_view(x, {2, 3}));
  EXPECT_EQ(x, (std::vector<float>{0.5f, 1.0f, 1.5f, 3.5f, 4.0f, 4.5f}));
}

// No rows: nothing to subtract, and db keeps its value.
TEST(CenteringCpu, EmptyBatchLeavesDbUnchanged) {
  std::vector<float> buf(1), db = {0.5f, -0.25f};
  const Tensor empty(buf.data(), Shape{0, 2}, DType::f32, Device::cpu);
  centering_backward(test::cpu(), empty, empty, test::host_view(db, {2}));
  EXPECT_EQ(db, (std::vector<float>{0.5f, -0.25f}));
}

// A NaN reaches its own element of y and dx, and its own column of db, nothing else.
TEST(CenteringCpu, NanStaysInItsColumn) {
  const std::int64_t batch = 5, dim = 70;
  const auto numel = static_cast<std::size_t>(batch * dim);
  std::vector<float> x = test::random_normal(numel, 1.0f, 50),
                     b = test::random_normal(70, 1.0f, 51);
  std::vector<float> y(numel), dy = test::random_normal(numel, 1.0f, 52), dx(numel, 0.0f),
                               db(70, 0.0f);
  const float nan = std::numeric_limits<float>::quiet_NaN();
  x[2 * dim + 3] = nan;
  b[65] = nan;
  dy[4 * dim + 66] = nan;
  centering_forward(test::cpu(), test::host_view(x, {batch, dim}), test::host_view(b, {dim}),
                    test::host_view(y, {batch, dim}));
  centering_backward(test::cpu(), test::host_view(dy, {batch, dim}),
                     test::host_view(dx, {batch, dim}), test::host_view(db, {dim}));
  for (std::int64_t n = 0; n < batch; ++n)
    for (std::int64_t d = 0; d < dim; ++d) {
      const std::int64_t i = n * dim + d;
      EXPECT_EQ(std::isnan(y[i]), i == 2 * dim + 3 || d == 65) << n << ", " << d;
      EXPECT_EQ(std::isnan(dx[i]), i == 4 * dim + 66) << n << ", " << d;
    }
  for (std::int64_t d = 0; d < dim; ++d) EXPECT_EQ(std::isnan(db[d]), d == 66) << d;
}

// Each column's sum has a fixed order: the same bits for any number of threads.
TEST(CenteringCpu, BackwardDoesNotDependOnThreadCount) {
#ifdef _OPENMP
  const std::int64_t batch = 256, dim = 500;  // above the threading threshold
  std::vector<float> dy = test::random_normal(static_cast<std::size_t>(batch * dim), 1.0f, 53);
  const auto run = [&](int threads, bool with_dx) {
    std::vector<float> dx(dy.size(), 0.5f), db(static_cast<std::size_t>(dim), 0.25f);
    const int before = omp_get_max_threads();
    omp_set_num_threads(threads);
    centering_backward(test::cpu(), test::host_view(dy, {batch, dim}),
                       with_dx ? test::host_view(dx, {batch, dim}) : Tensor{},
                       test::host_view(db, {dim}));
    omp_set_num_threads(before);
    dx.insert(dx.end(), db.begin(), db.end());
    return dx;
  };
  EXPECT_EQ(run(1, true), run(3, true));
  EXPECT_EQ(run(1, false), run(3, false));
#else
  GTEST_SKIP() << "built without OpenMP";
#endif
}

// ---- finite differences -----------------------------------------------------------------------

// L = Σ w·y with y = x − b; dx and db start at zero so they hold exactly this loss's gradients.
void check_centering_gradients(std::int64_t batch, std::int64_t dim) {
  const Shape shape{batch, dim};
  const auto numel = static_cast<std::size_t>(batch * dim);
  std::vector<float> x = test::random_normal(numel, 1.0f, 60);
  std::vector<float> b = test::random_normal(static_cast<std::size_t>(dim), 0.5f, 61);
  const std::vector<float> w = test::random_normal(numel, 1.0f, 62);
  std::vector<float> y(numel);
  const auto loss = [&] {
    centering_forward(test::cpu(), test::host_view(x, shape), test::host_view(b, {dim}),
                      test::host_view(y, shape));
    return test::weighted_sum(y, w);
  };
  loss();
  std::vector<float> dy = w, dx(numel, 0.0f), db(static_cast<std::size_t>(dim), 0.0f);
  centering_backward(test::cpu(), test::host_view(dy, shape), test::host_view(dx, shape),
                     test::host_view(db, {dim}));
  EXPECT_TRUE(test::check_gradient(loss, x, dx, "dx"));
  EXPECT_TRUE(test::check_gradient(loss, b, db, "db"));
}

TEST(CenteringGradCheck, SmallShape) {
  check_centering_gradients(5, 7);
}
// D = 70 spans two of the CPU twin's column blocks.
TEST(CenteringGradCheck, AcrossColumnBlocks) {
  check_centering_gradients(3, 70);
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

TEST(CenteringErrors, RejectsMismatchedShapes) {
  Backend& be = test::cpu();
  std::vector<float> buf(64);
  const auto t = [&](Shape s) { return Tensor(buf.data(), s, DType::f32, Device::cpu); };
  expect_error(
      [&] {
        centering_forward(be, t({2, 4}), t({5}), t({2, 4}));
      },
      "centering_forward: b is (5), expected (4)");
  expect_error(
      [&] {
        centering_forward(be, t({2, 4}), t({4}), t({4, 2}));
      },
      "centering_forward: y is (4, 2)");
  expect_error(
      [&] {
        centering_forward(be, t({2, 4, 1}), t({4}), t({2, 4, 1}));
      },
      "centering_forward: x must be (B, D)");
  expect_error(
      [&] {
        centering_backward(be, t({2, 4}), t({2, 4}), t({3}));
      },
      "centering_backward: db is (3), expected (4)");
  expect_error(
      [&] {
        centering_backward(be, t({2, 4}), t({2, 5}), t({4}));
      },
      "centering_backward: dx is (2, 5)");
  expect_error([&] { centering_backward(be, t({8}), t({8}), t({8})); },
               "centering_backward: dy must be (B, D)");
  expect_error(
      [&] {
        centering_backward(be, t({2, 4}), t({2, 4}), Tensor{});
      },
      "centering_backward: db is not allocated");
  expect_error([&] { centering_prepare(be, Shape{8}); }, "centering_prepare: x must be (B, D)");
}

TEST(CenteringErrors, RejectsWrongDevice) {
  Backend& be = test::cpu();
  std::vector<float> buf(64);
  const Tensor ok(buf.data(), Shape{2, 4}, DType::f32, Device::cpu);
  const Tensor bias(buf.data(), Shape{4}, DType::f32, Device::cpu);
  const Tensor gpu(buf.data(), Shape{2, 4}, DType::f32, Device::cuda);
  const Tensor gpu_bias(buf.data(), Shape{4}, DType::f32, Device::cuda);
  expect_error([&] { centering_forward(be, gpu, bias, ok); }, "centering_forward: x is on cuda");
  expect_error([&] { centering_forward(be, ok, gpu_bias, ok); }, "centering_forward: b is on cuda");
  expect_error([&] { centering_forward(be, ok, bias, gpu); }, "centering_forward: y is on cuda");
  expect_error([&] { centering_backward(be, gpu, ok, bias); }, "centering_backward: dy is on cuda");
  expect_error([&] { centering_backward(be, ok, gpu, bias); }, "centering_backward: dx is on cuda");
  expect_error([&] { centering_backward(be, ok, ok, gpu_bias); },
               "centering_backward: db is on cuda");
}

TEST(CenteringErrors, RejectsWrongDtype) {
  Backend& be = test::cpu();
  std::vector<float> buf(64);
  const Tensor ok(buf.data(), Shape{2, 4}, DType::f32, Device::cpu);
  const Tensor bias(buf.data(), Shape{4}, DType::f32, Device::cpu);
  const Tensor ints(buf.data(), Shape{2, 4}, DType::i32, Device::cpu);
  const Tensor int_bias(buf.data(), Shape{4}, DType::i32, Device::cpu);
  expect_error([&] { centering_forward(be, ints, bias, ok); },
               "centering_forward: x has dtype i32");
  expect_error([&] { centering_forward(be, ok, int_bias, ok); },
               "centering_forward: b has dtype i32");
  expect_error([&] { centering_backward(be, ok, ints, bias); },
               "centering_backward: dx has dtype i32");
  expect_error([&] { centering_backward(be, ok, ok, int_bias); },
               "centering_backward: db has dtype i32");
}

// ---- CUDA against the CPU twin ----------------------------------------------------------------

class CenteringBackends : public ::testing::TestWithParam<CenteringCase> {};

TEST_P(CenteringBackends, ForwardAndBackwardMatchCpu) {
  VSAE_REQUIRE_CUDA();
  const CenteringCase c = GetParam();
  const auto dim = static_cast<std::size_t>(c.dim);
  test::TwinTensor x(c.shape(), test::random_normal(c.numel(), 1.0f, c.seed()));
  test::TwinTensor b(Shape{c.dim}, test::random_normal(dim, 0.5f, c.seed() + 1));
  test::TwinTensor y(c.shape(), std::vector<float>(c.numel(), -7.0f));
  test::TwinTensor dy(c.shape(), test::random_normal(c.numel(), 1.0f, c.seed() + 2));
  // Nonzero starting gradients: the backward pass adds to dx and subtracts from db.
  test::TwinTensor dx(c.shape(), test::random_normal(c.numel(), 1.0f, c.seed() + 3));
  test::TwinTensor db(Shape{c.dim}, test::random_normal(dim, 1.0f, c.seed() + 4));
  for (Backend* be : {&test::cpu(), &test::cuda()}) {
    centering_prepare(*be, c.shape());
    centering_forward(*be, x.on(*be), b.on(*be), y.on(*be));
    centering_backward(*be, dy.on(*be), dx.on(*be), db.on(*be));
  }
  EXPECT_TRUE(test::twins_match(y, {0.0, 0.0})) << "y";
  EXPECT_TRUE(test::twins_match(dx, {0.0, 0.0})) << "dx";
  EXPECT_TRUE(test::twins_match(db, db_tolerance(c.batch))) << "db";
  EXPECT_TRUE(test::twins_match(dy, {0.0, 0.0})) << "dy must not change";
}

TEST_P(CenteringBackends, UndefinedDxUpdatesOnlyDb) {
  VSAE_REQUIRE_CUDA();
  const CenteringCase c = GetParam();
  test::TwinTensor dy(c.shape(), test::random_normal(c.numel(), 1.0f, c.seed() + 5));
  test::TwinTensor db(Shape{c.dim},
                      test::random_normal(static_cast<std::size_t>(c.dim), 1.0f, c.seed() + 6));
  for (Backend* be : {&test::cpu(), &test::cuda()})
    centering_backward(*be, dy.on(*be), Tensor{}, db.on(*be));
  EXPECT_TRUE(test::twins_match(db, db_tolerance(c.batch)));
}

INSTANTIATE_TEST_SUITE_P(Shapes, CenteringBackends, ::testing::ValuesIn(shape_table()), case_name);

TEST(CenteringBackends, ForwardInPlace) {
  VSAE_REQUIRE_CUDA();
  const Shape shape{64, 256};
  test::TwinTensor x(shape, test::random_normal(64 * 256, 1.0f, 70));
  test::TwinTensor b(Shape{256}, test::random_normal(256, 1.0f, 71));
  for (Backend* be : {&test::cpu(), &test::cuda()})
    centering_forward(*be, x.on(*be), b.on(*be), x.on(*be));
  EXPECT_TRUE(test::twins_match(x, {0.0, 0.0}));
}

// NaN in x, b and dy, in a tall batch (row splits on CUDA): both backends agree and the NaN stays
// in its own element of y and dx and its own column of db.
TEST(CenteringBackends, NanStaysInItsColumn) {
  VSAE_REQUIRE_CUDA();
  const std::int64_t batch = 300, dim = 37;
  const auto numel = static_cast<std::size_t>(batch * dim);
  const float nan = std::numeric_limits<float>::quiet_NaN();
  std::vector<float> xh = test::random_normal(numel, 1.0f, 72),
                     bh = test::random_normal(37, 1.0f, 73),
                     dyh = test::random_normal(numel, 1.0f, 74);
  xh[5 * dim + 3] = nan;
  bh[20] = nan;
  dyh[250 * dim + 36] = nan;
  test::TwinTensor x({batch, dim}, xh), b({dim}, bh), y({batch, dim}, std::vector<float>(numel));
  test::TwinTensor dy({batch, dim}, dyh), dx({batch, dim}, std::vector<float>(numel, 0.5f)),
      db({dim}, std::vector<float>(37, 0.25f));
  for (Backend* be : {&test::cpu(), &test::cuda()}) {
    centering_prepare(*be, Shape{batch, dim});
    centering_forward(*be, x.on(*be), b.on(*be), y.on(*be));
    centering_backward(*be, dy.on(*be), dx.on(*be), db.on(*be));
  }
  EXPECT_TRUE(test::twins_match(y, {0.0, 0.0}, /*allow_nonfinite=*/true)) << "y";
  EXPECT_TRUE(test::twins_match(dx, {0.0, 0.0}, /*allow_nonfinite=*/true)) << "dx";
  EXPECT_TRUE(test::twins_match(db, db_tolerance(batch), /*allow_nonfinite=*/true)) << "db";
  const std::vector<float> y_gpu = y.cuda_copy().download<float>(),
                           dx_gpu = dx.cuda_copy().download<float>(),
                           db_gpu = db.cuda_copy().download<float>();
  for (std::int64_t n = 0; n < batch; ++n)
    for (std::int64_t d = 0; d < dim; ++d) {
      const std::int64_t i = n * dim + d;
      ASSERT_EQ(std::isnan(y_gpu[i]), i == 5 * dim + 3 || d == 20) << n << ", " << d;
      ASSERT_EQ(std::isnan(dx_gpu[i]), i == 250 * dim + 36) << n << ", " << d;
    }
  for (std::int64_t d = 0; d < dim; ++d) EXPECT_EQ(std::isnan(db_gpu[d]), d == 36) << d;
}

// The tall case splits the rows over many CTAs; the order in which their sums meet is fixed.
TEST(CenteringBackends, BackwardIsBitwiseReproducible) {
  VSAE_REQUIRE_CUDA();
  for (const Shape shape : {Shape{64, 256}, Shape{4097, 256}}) {
    const auto numel = static_cast<std::size_t>(shape.numel());
    test::GuardedTensor dy(test::cuda(), shape);
    dy.upload(test::random_normal(numel, 1.0f, 75));
    centering_prepare(test::cuda(), shape);
    std::vector<std::vector<float>> results;
    for (int run = 0; run < 2; ++run) {
      test::GuardedTensor dx(test::cuda(), shape), db(test::cuda(), Shape{shape[1]});
      dx.upload(std::vector<float>(numel, 0.5f));
      db.upload(std::vector<float>(static_cast<std::size_t>(shape[1]), 0.25f));
      centering_backward(test::cuda(), dy, dx, db);
      std::vector<float> out = dx.download<float>();
      const std::vector<float> db_host = db.download<float>();
      out.insert(out.end(), db_host.begin(), db_host.end());
      results.push_back(out);
      EXPECT_TRUE(dx.guards_intact() && db.guards_intact());
    }
    EXPECT_EQ(results[0], results[1]) << shape;
  }
}

}  // namespace
}  // namespace vsae
