// The sparsifier backward shared by Top-k, L1 and L1-prox: CUDA against the CPU twin over the
// (B, W) table, with and without the penalty slope, accumulating into non-zero gradients.
#include <gtest/gtest.h>

#include <cmath>

#include "engine/ops/sparse_grad.hpp"
#include "tests/kernels/sparsify_cases.hpp"
#include "tests/support/backends.hpp"
#include "tests/support/compare.hpp"

namespace vsae {
namespace {

struct GradOutputs {
  std::vector<float> dz, db;
  bool guards = true;
};

GradOutputs run_backward(Backend& be, const test::ShapeCase& c, bool penalty) {
  const auto n = static_cast<std::size_t>(c.batch * c.width);
  // a: half the entries exactly 0 (not kept / not positive), the rest positive.
  std::vector<float> a = test::random_uniform(n, -1.0f, 1.0f, test::seed_of(c));
  for (float& x : a) x = x < 0.0f ? 0.0f : x;
  test::GuardedTensor at(be, Shape{c.batch, c.width}), da(be, Shape{c.batch, c.width});
  test::GuardedTensor dz(be, Shape{c.batch, c.width}), db(be, Shape{c.width}), lambda(be, Shape{1});
  at.upload(a);
  da.upload(test::random_uniform(n, -1.0f, 1.0f, test::seed_of(c) + 1));
  dz.upload(test::random_uniform(n, -1.0f, 1.0f, test::seed_of(c) + 2));
  db.upload(
      test::random_uniform(static_cast<std::size_t>(c.width), -1.0f, 1.0f, test::seed_of(c) + 3));
  lambda.upload(std::vector<float>{0.37f});
  sparse_backward(be, at, da, penalty ? lambda.tensor() : Tensor(), dz, db);
  GradOutputs out{dz.download<float>(), db.download<float>(), true};
  for (const test::GuardedTensor* g : {&at, &da, &dz, &db, &lambda})
    out.guards &= g->guards_intact();
  return out;
}

TEST(SparseBackward, CpuByHand) {
  Backend& be = test::cpu();
  test::GuardedTensor a(be, Shape{2, 2}), da(be, Shape{2, 2}), dz(be, Shape{2, 2}),
      db(be, Shape{2}), lambda(be, Shape{1});
  a.upload(std::vector<float>{1.0f, 0.0f, 2.0f, 3.0f});
  da.upload(std::vector<float>{0.5f, 0.25f, -1.0f, 2.0f});
  dz.upload(std::vector<float>{1.0f, 1.0f, 1.0f, 1.0f});
  lambda.upload(std::vector<float>{0.5f});
  sparse_backward(be, a, da, lambda, dz, db);  // slope λ/B = 0.25 where a > 0
  EXPECT_EQ(dz.download<float>(), (std::vector<float>{1.75f, 1.0f, 0.25f, 3.25f}));
  EXPECT_EQ(db.download<float>(), (std::vector<float>{0.75f - 0.75f, 2.25f}));
}

class SparseBackwardBackends : public ::testing::TestWithParam<test::ShapeCase> {};

TEST_P(SparseBackwardBackends, CudaMatchesCpu) {
  VSAE_REQUIRE_CUDA();
  const test::ShapeCase c = GetParam();
  for (bool penalty : {false, true}) {
    SCOPED_TRACE(penalty ? "with penalty" : "no penalty");
    const GradOutputs ref = run_backward(test::cpu(), c, penalty);
    const GradOutputs got = run_backward(test::cuda(), c, penalty);
    EXPECT_TRUE(got.guards);
    // dz is one add per element on both sides; db sums B rows in different orders, whose rounding
    // differences grow like sqrt(B).
    EXPECT_TRUE(test::all_close(ref.dz, got.dz, test::Tolerance{0.0, 0.0}));
    const double db_abs = 3e-5 * std::sqrt(static_cast<double>(c.batch));
    EXPECT_TRUE(test::all_close(ref.db, got.db, test::Tolerance{db_abs, 1e-5}));
  }
}

INSTANTIATE_TEST_SUITE_P(Table, SparseBackwardBackends, ::testing::ValuesIn(test::shape_table()),
                         test::shape_case_name);

}  // namespace
}  // namespace vsae
