// Resident batching: Philox subsets and permutations, the resident images and classes on a
// backend, batches through gather_batch, the memory refusal, and CPU == CUDA residency.
#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <numeric>
#include <set>

#include "apps/vsae/data/dsprites.hpp"
#include "apps/vsae/data/resident.hpp"
#include "apps/vsae/data/sampling.hpp"
#include "engine/ops/gather.hpp"
#include "tests/data/data_test_util.hpp"
#include "tests/support/backends.hpp"

namespace vsae::data {
namespace {

using test::throws_error;

TEST(Sampling, SubsetsAreFixedSortedAndDistinct) {
  const std::vector<std::int64_t> a = random_subset(737280, 5000, 42);
  EXPECT_EQ(a, random_subset(737280, 5000, 42));
  EXPECT_NE(a, random_subset(737280, 5000, 43));
  EXPECT_NE(a, random_subset(737280, 5000, 42, RngStream::eval_subset));
  ASSERT_EQ(a.size(), 5000u);
  EXPECT_TRUE(std::is_sorted(a.begin(), a.end()));
  EXPECT_EQ(std::set<std::int64_t>(a.begin(), a.end()).size(), a.size());
  EXPECT_GE(a.front(), 0);
  EXPECT_LT(a.back(), 737280);
  // Spread over the whole range, not bunched at one end.
  EXPECT_LT(a.front(), 2000);
  EXPECT_GT(a.back(), 735000);
  EXPECT_EQ(random_subset(10, 99, 1).size(), 10u);
}

TEST(Sampling, EpochPermutationsArePermutationsThatChangeEachEpoch) {
  const std::vector<std::int32_t> p0 = epoch_permutation(10000, 7, 0);
  std::vector<std::int32_t> sorted = p0;
  std::sort(sorted.begin(), sorted.end());
  for (std::int32_t i = 0; i < 10000; ++i) ASSERT_EQ(sorted[static_cast<std::size_t>(i)], i);
  EXPECT_EQ(p0, epoch_permutation(10000, 7, 0));
  EXPECT_NE(p0, epoch_permutation(10000, 7, 1));
  EXPECT_NE(p0, epoch_permutation(10000, 8, 0));
}

TEST(Resident, CpuHoldsTheSubsetItsClassesAndShuffles) {
  Backend& be = test::cpu();
  auto ds = make_dsprites_generator();
  ResidentDataset r(be, *ds, {3000, 9});
  ASSERT_EQ(r.size(), 3000);
  EXPECT_EQ(r.indices(), random_subset(ds->size(), 3000, 9));
  EXPECT_EQ(r.images().shape, (Shape{3000, 1, 64, 64}));
  EXPECT_EQ(r.classes().shape, (Shape{3000, 5}));
  EXPECT_EQ(r.num_classes(), (std::vector<int>{3, 6, 40, 32, 32}));
  EXPECT_GE(r.backend_bytes(), 3000u * 4096u);
  std::vector<std::uint8_t> image(4096);
  std::int32_t classes[5];
  const auto* resident = static_cast<const std::uint8_t*>(r.images().data);
  const auto* device_classes = r.classes().ptr<std::int32_t>();
  for (std::int64_t i = 0; i < r.size(); i += 97) {
    ds->get(r.indices()[static_cast<std::size_t>(i)], image.data(), classes);
    ASSERT_TRUE(std::equal(image.begin(), image.end(), resident + i * 4096)) << i;
    for (int f = 0; f < 5; ++f) {
      ASSERT_EQ(r.host_classes()[static_cast<std::size_t>(i * 5 + f)], classes[f]);
      ASSERT_EQ(device_classes[i * 5 + f], classes[f]);
    }
  }
  const auto* order = r.order().ptr<std::int32_t>();
  for (std::int32_t i = 0; i < 3000; ++i)
    ASSERT_EQ(order[i], i) << "identity before the first shuffle";
  r.shuffle(4);
  const std::vector<std::int32_t> want = epoch_permutation(3000, 9, 4);
  EXPECT_TRUE(std::equal(want.begin(), want.end(), order));
}

TEST(Resident, BatchesGatherFromTheShuffledOrder) {
  Backend& be = test::cpu();
  auto ds = make_dsprites_generator();
  ResidentDataset r(be, *ds, {500, 1});
  r.shuffle(0);
  Storage scratch = be.allocate(64 * 4096 * sizeof(float) + Storage::kAlignment);
  const Tensor out = scratch.view(Shape{64, 1, 64, 64}, DType::f32);
  const Tensor cursor = scratch.view(Shape{1}, DType::i32, 64 * 4096 * sizeof(float));
  const std::int32_t start = 480;  // the batch wraps past the end of the order
  be.upload(cursor, &start);
  gather_batch(be, r.images(), r.order(), cursor, out, r.pixel_scale());
  const auto* got = out.ptr<float>();
  const auto* order = r.order().ptr<std::int32_t>();
  const auto* images = static_cast<const std::uint8_t*>(r.images().data);
  for (int b = 0; b < 64; ++b) {
    const std::int32_t src = order[(start + b) % 500];
    for (int p = 0; p < 4096; p += 61) ASSERT_EQ(got[b * 4096 + p], images[src * 4096 + p]) << b;
  }
}

TEST(Resident, RefusesWhatDoesNotFit) {
  Backend& be = test::cpu();
  EXPECT_TRUE(throws_error([&] { check_fits(be, std::size_t{1} << 60, "dsprites: 737280 images"); },
                           {"dsprites: 737280 images need", "host memory", "dataset.subset"}));
  EXPECT_NO_THROW(check_fits(be, std::size_t{1} << 20, "a little"));
  auto ds = make_dsprites_generator();
  EXPECT_EQ(resident_bytes(*ds, 737280),
            737280u * (4096u + 5u * 4u + 4u));  // images, classes, order
  EXPECT_TRUE(throws_error([&] { ResidentDataset r(be, *ds, {-1, 0}); }, {"subset", "-1"}));
}

// Both backends hold identical bytes: the same subset, classes and per-epoch order.
TEST(Resident, CudaMatchesCpu) {
  VSAE_REQUIRE_CUDA();
  auto ds = make_dsprites_generator();
  ResidentDataset cpu(test::cpu(), *ds, {4000, 5});
  ResidentDataset gpu(test::cuda(), *ds, {4000, 5});
  std::vector<std::uint8_t> images(cpu.images().bytes());
  test::cuda().download(images.data(), gpu.images());
  EXPECT_TRUE(std::equal(images.begin(), images.end(),
                         static_cast<const std::uint8_t*>(cpu.images().data)));
  std::vector<std::int32_t> classes(static_cast<std::size_t>(cpu.classes().numel()));
  test::cuda().download(classes.data(), gpu.classes());
  EXPECT_EQ(classes, cpu.host_classes());
  cpu.shuffle(3);
  gpu.shuffle(3);
  std::vector<std::int32_t> order(4000);
  test::cuda().download(order.data(), gpu.order());
  EXPECT_TRUE(std::equal(order.begin(), order.end(), cpu.order().ptr<std::int32_t>()));
}

}  // namespace
}  // namespace vsae::data
