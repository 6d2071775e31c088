// Batch gather and device counters: CUDA against the CPU twin (16-byte and scalar paths, with the
// wrap of the order list), and the CPU twin against direct indexing.
#include <gtest/gtest.h>

#include <cmath>
#include <ostream>
#include <string>
#include <vector>

#include "engine/ops/gather.hpp"
#include "tests/support/backends.hpp"
#include "tests/support/compare.hpp"
#include "tests/support/twin.hpp"

namespace vsae {
namespace {

constexpr std::int64_t kImages = 101;  // prime, so i·37 + 11 mod 101 is a permutation
constexpr float kScale = 1.0f / 255.0f;

std::vector<std::uint8_t> random_bytes(std::size_t count, std::uint64_t seed) {
  std::vector<float> u = test::random_uniform(count, 0.0f, 256.0f, seed);
  std::vector<std::uint8_t> bytes(count);
  for (std::size_t i = 0; i < count; ++i)
    bytes[i] = static_cast<std::uint8_t>(std::min(u[i], 255.0f));
  return bytes;
}

std::vector<std::int32_t> permutation(std::int64_t p) {
  std::vector<std::int32_t> order(static_cast<std::size_t>(p));
  for (std::int64_t i = 0; i < p; ++i)
    order[i] = static_cast<std::int32_t>((i * 37 + 11) % kImages);
  return order;
}

struct GatherCase {
  std::int64_t c, h, w, batch;
  bool misaligned;  // images start one byte past an aligned address: forces the scalar path
  std::string name() const {
    return "B" + std::to_string(batch) + "_" + std::to_string(c) + "x" + std::to_string(h) + "x" +
           std::to_string(w) + (misaligned ? "_offset1B" : "");
  }
};

// gtest prints parameters with this (the ctest names stay readable).
void PrintTo(const GatherCase& c, std::ostream* os) {
  *os << c.name();
}

std::vector<GatherCase> backend_cases() {
  std::vector<GatherCase> cases;
  const std::int64_t images[][3] = {{1, 64, 64}, {3, 64, 64}, {1, 5, 7}, {3, 4, 4}};
  for (const auto& chw : images)
    for (std::int64_t b : {1, 3, 64}) cases.push_back({chw[0], chw[1], chw[2], b, false});
  cases.push_back({1, 64, 64, 64, true});
  cases.push_back({3, 4, 4, 3, true});
  return cases;
}

class GatherBackends : public ::testing::TestWithParam<GatherCase> {};

TEST_P(GatherBackends, BatchMatchesCpu) {
  VSAE_REQUIRE_CUDA();
  const GatherCase tc = GetParam();
  SCOPED_TRACE(tc.name());
  const std::int64_t d = tc.c * tc.h * tc.w, offset = tc.misaligned ? 1 : 0;
  test::TwinTensor bytes(Shape{kImages * d + offset},
                         random_bytes(static_cast<std::size_t>(kImages * d + offset), 1));
  const std::int64_t p = 97;  // a list shorter than the dataset
  test::TwinTensor order(Shape{p}, permutation(p));
  // Starts near the end of `order`, so larger batches wrap around to its beginning.
  test::TwinTensor cursor(Shape{1}, std::vector<std::int32_t>{static_cast<std::int32_t>(p - 2)});
  const Shape out_shape{tc.batch, tc.c, tc.h, tc.w};
  test::TwinTensor out(out_shape,
                       std::vector<float>(static_cast<std::size_t>(out_shape.numel()), -1.0f));
  for (Backend* be : {&test::cpu(), &test::cuda()}) {
    const Tensor& all = bytes.on(*be);
    Tensor images(static_cast<std::uint8_t*>(all.data) + offset, Shape{kImages, tc.c, tc.h, tc.w},
                  DType::u8, all.device);
    gather_batch(*be, images, order.on(*be), cursor.on(*be), out.on(*be), kScale);
  }
  EXPECT_TRUE(test::twins_match(out, {0.0, 0.0}));
}

INSTANTIATE_TEST_SUITE_P(Shapes, GatherBackends, ::testing::ValuesIn(backend_cases()),
                         [](const ::testing::TestParamInfo<GatherCase>& tp) {
                           return tp.param.name();
                         });

TEST(GatherBackends, OutOfRangeIndicesGiveNanImages) {
  VSAE_REQUIRE_CUDA();
  const std::int64_t d = 16;
  test::TwinTensor images(Shape{4, d}, random_bytes(4 * d, 2));
  test::TwinTensor order(Shape{4}, std::vector<std::int32_t>{2, 4, -1, 0});
  test::TwinTensor cursor(Shape{1}, std::vector<std::int32_t>{0});
  test::TwinTensor out(Shape{4, d}, std::vector<float>(4 * d, 0.0f));
  for (Backend* be : {&test::cpu(), &test::cuda()})
    gather_batch(*be, images.on(*be), order.on(*be), cursor.on(*be), out.on(*be), 1.0f);
  EXPECT_TRUE(test::twins_match(out, {0.0, 0.0}, /*allow_nonfinite=*/true));
  std::vector<float> host = out.cuda_copy().download<float>();
  EXPECT_TRUE(std::isnan(host[d]) && std::isnan(host[2 * d + d - 1]));
  EXPECT_FALSE(std::isnan(host[0]) || std::isnan(host[3 * d]));
}

TEST(GatherBackends, CounterAdvancesOnDevice) {
  VSAE_REQUIRE_CUDA();
  test::GuardedTensor counter(test::cuda(), Shape{1}, DType::i32);
  counter.upload(std::vector<std::int32_t>{10});
  advance_counter(test::cuda(), counter, 64);
  advance_counter(test::cuda(), counter, -3);
  EXPECT_EQ(counter.download<std::int32_t>()[0], 71);
  EXPECT_TRUE(counter.guards_intact());
}

// ---- CPU twin against direct indexing ---------------------------------------------------------

TEST(GatherCpu, MatchesDirectIndexingWithWrap) {
  const std::int64_t d = 3 * 5 * 7, p = 50, batch = 8;
  std::vector<std::uint8_t> images = random_bytes(static_cast<std::size_t>(kImages * d), 3);
  std::vector<std::int32_t> order = permutation(p);
  for (std::int32_t start : {0, 45, 3 * 50 + 47}) {  // no wrap, wrap, a cursor past the list's end
    std::vector<std::int32_t> cursor{start};
    std::vector<float> out(static_cast<std::size_t>(batch * d), -1.0f);
    gather_batch(test::cpu(), test::host_view(images, {kImages, 3, 5, 7}),
                 test::host_view(order, {p}), test::host_view(cursor, {1}),
                 test::host_view(out, {batch, 3, 5, 7}), kScale);
    for (std::int64_t b = 0; b < batch; ++b) {
      const std::int64_t image = order[static_cast<std::size_t>((start + b) % p)];
      for (std::int64_t k = 0; k < d; ++k)
        ASSERT_EQ(out[b * d + k], kScale * static_cast<float>(images[image * d + k]))
            << "cursor " << start << " row " << b << " pixel " << k;
    }
  }
}

TEST(GatherCpu, CounterAdvances) {
  std::vector<std::int32_t> counter{5};
  advance_counter(test::cpu(), test::host_view(counter, {1}), 64);
  EXPECT_EQ(counter[0], 69);
}

TEST(GatherCpu, RejectsBadShapes) {
  std::vector<std::uint8_t> images(2 * 16);
  std::vector<std::int32_t> order{0, 1}, cursor{0};
  std::vector<float> out(2 * 15);
  EXPECT_THROW(
      gather_batch(test::cpu(), test::host_view(images, {2, 16}), test::host_view(order, {2}),
                   test::host_view(cursor, {1}), test::host_view(out, {2, 15}), 1.0f),
      Error);
  std::vector<float> as_float(2 * 16);
  EXPECT_THROW(
      gather_batch(test::cpu(), test::host_view(as_float, {2, 16}), test::host_view(order, {2}),
                   test::host_view(cursor, {1}), test::host_view(as_float, {2, 16}), 1.0f),
      Error);
}

}  // namespace
}  // namespace vsae
