// Core types: shapes, storage views, arena planning, Philox known answers, device selection.
#include <gtest/gtest.h>

#include "engine/core/backend.hpp"
#include "engine/core/philox.hpp"
#include "engine/core/storage.hpp"
#include "tests/support/backends.hpp"
#include "tests/support/compare.hpp"

namespace vsae {
namespace {

TEST(Core, ShapeArithmetic) {
  Shape s{64, 3, 64, 64};
  EXPECT_EQ(s.ndim(), 4);
  EXPECT_EQ(s.numel(), 64 * 3 * 64 * 64);
  EXPECT_EQ(s.str(), "(64, 3, 64, 64)");
  EXPECT_EQ(s, (Shape{64, 3, 64, 64}));
  EXPECT_NE(s, (Shape{64, 3, 64}));
  EXPECT_THROW((Shape{1, 2, 3, 4, 5, 6, 7}), Error);
}

TEST(Core, StorageViewsAreBoundsChecked) {
  Storage st = Storage::allocate(Device::cpu, 1024);
  Tensor t = st.view(Shape{16, 16}, DType::f32);
  EXPECT_EQ(t.bytes(), 1024u);
  EXPECT_THROW(st.view(Shape{16, 17}, DType::f32), Error);
  EXPECT_THROW(t.ptr<std::int32_t>(), Error);
  EXPECT_THROW(t.reshaped(Shape{3, 3}), Error);
  EXPECT_EQ(t.reshaped(Shape{256}).numel(), 256);
}

TEST(Core, ArenaPlanAligns) {
  ArenaPlan plan;
  EXPECT_EQ(plan.reserve(Shape{3}, DType::f32), 0u);
  EXPECT_EQ(plan.reserve(Shape{1}, DType::u8), Storage::kAlignment);
  EXPECT_EQ(plan.total_bytes(), 2 * Storage::kAlignment);
}

// Known-answer vectors from the Random123 distribution (kat_vectors, philox4x32 10 rounds).
TEST(Core, PhiloxKnownAnswers) {
  PhiloxBlock zero = philox4x32_10(PhiloxBlock{{0, 0, 0, 0}}, 0, 0);
  EXPECT_EQ(zero.v[0], 0x6627e8d5u);
  EXPECT_EQ(zero.v[1], 0xe169c58du);
  EXPECT_EQ(zero.v[2], 0xbc57ac4cu);
  EXPECT_EQ(zero.v[3], 0x9b00dbd8u);
  PhiloxBlock ones = philox4x32_10(PhiloxBlock{{~0u, ~0u, ~0u, ~0u}}, ~0u, ~0u);
  EXPECT_EQ(ones.v[0], 0x408f276du);
  EXPECT_EQ(ones.v[1], 0x41c83b0eu);
  EXPECT_EQ(ones.v[2], 0xa20bc7c6u);
  EXPECT_EQ(ones.v[3], 0x6d5451fdu);
}

TEST(Core, PhiloxNormalMoments) {
  std::vector<float> x = test::random_normal(200000, 1.0f, 7);
  double mean = 0, var = 0;
  for (float v : x) mean += v;
  mean /= static_cast<double>(x.size());
  for (float v : x) var += (v - mean) * (v - mean);
  var /= static_cast<double>(x.size());
  EXPECT_NEAR(mean, 0.0, 0.01);
  EXPECT_NEAR(var, 1.0, 0.01);
}

TEST(Core, DeviceChoiceParsing) {
  EXPECT_EQ(parse_device_choice("auto"), DeviceChoice::automatic);
  EXPECT_EQ(parse_device_choice("cpu"), DeviceChoice::cpu);
  EXPECT_EQ(parse_device_choice("cuda"), DeviceChoice::cuda);
  EXPECT_THROW(parse_device_choice("gpu"), Error);
}

TEST(Core, CudaRequestFailsClearlyWithoutGpu) {
  if (test::cuda_unavailable_reason().empty()) GTEST_SKIP() << "a GPU is present";
  try {
    Backend::create(DeviceChoice::cuda);
    FAIL() << "expected an error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("device \"cuda\" was requested but"), std::string::npos) << e.what();
  }
  EXPECT_EQ(Backend::create(DeviceChoice::automatic)->device(), Device::cpu);
}

TEST(Core, GuardedTensorDetectsOverrun) {
  test::GuardedTensor g(test::cpu(), Shape{5});
  EXPECT_TRUE(g.guards_intact());
  static_cast<float*>(g.tensor().data)[5] = 1.0f;  // one past the end
  EXPECT_FALSE(g.guards_intact());
}

TEST(Core, CudaUploadDownloadRoundTrip) {
  VSAE_REQUIRE_CUDA();
  test::GuardedTensor g(test::cuda(), Shape{3, 7});
  std::vector<float> host = test::random_uniform(21, -1, 1, 3);
  g.upload(host);
  EXPECT_EQ(g.download<float>(), host);
  EXPECT_TRUE(g.guards_intact());
}

}  // namespace
}  // namespace vsae
