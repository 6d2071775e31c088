// Core types: shapes, storage views, arena planning, Philox known answers, device selection.
#include <gtest/gtest.h>

#include <sstream>
#include <string>
#include <utility>

#include "engine/core/backend.hpp"
#include "engine/core/cuda_probe.hpp"
#include "engine/core/philox.hpp"
#include "engine/core/storage.hpp"
#include "tests/support/backends.hpp"
#include "tests/support/compare.hpp"

#if VSAE_HAVE_CUDA
#include "engine/core/cuda_check.hpp"
#include "engine/core/cuda_context.hpp"
#endif

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
  if (test::cuda_libraries_unavailable_reason().empty()) GTEST_SKIP() << "a GPU is present";
  try {
    Backend::create(DeviceChoice::cuda);
    FAIL() << "expected an error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("device \"cuda\" was requested but"), std::string::npos) << e.what();
  }
  EXPECT_EQ(Backend::create(DeviceChoice::automatic)->device(), Device::cpu);
}

TEST(Core, DeviceAutoSaysWhyItUsesTheCpu) {
  if (test::cuda_libraries_unavailable_reason().empty()) GTEST_SKIP() << "a GPU is present";
  std::ostringstream log;
  EXPECT_EQ(Backend::create(DeviceChoice::automatic, &log)->device(), Device::cpu);
  EXPECT_NE(
      log.str().find("device auto: " + test::cuda_libraries_unavailable_reason() + "; using the CPU backend"),
      std::string::npos)
      << log.str();
}

constexpr int kCuda13 = 13000;

// What cuda_usable() would have seen up to opening device 0; library and name fields stay empty.
CudaProbe probe_of(int driver, int runtime, std::string count_error, int count, std::string open_error) {
  CudaProbe probe;
  probe.driver_version = driver;
  probe.runtime_version = runtime;
  probe.count_error = std::move(count_error);
  probe.device_count = count;
  probe.open_error = std::move(open_error);
  return probe;
}

TEST(CudaProbe, NoDriverSaysSoPlainly) {
  // What a machine without the NVIDIA driver reports: driver version 0 and a misleading error.
  for (const char* error : {"CUDA driver version is insufficient for CUDA runtime version",
                            "no CUDA-capable device is detected"}) {
    const CudaVerdict v = judge_cuda_probe(probe_of(0, kCuda13, error, 0, ""));
    EXPECT_FALSE(v.usable);
    EXPECT_EQ(v.reason, "no NVIDIA driver or GPU was found");
  }
}

TEST(CudaProbe, DriverTooOldForTheRuntimeNamesBothVersions) {
  const CudaVerdict v = judge_cuda_probe(probe_of(
      12040, kCuda13, "CUDA driver version is insufficient for CUDA runtime version", 0, ""));
  EXPECT_FALSE(v.usable);
  EXPECT_NE(v.reason.find("supports CUDA 12.4"), std::string::npos) << v.reason;
  EXPECT_NE(v.reason.find("CUDA 13.0 runtime"), std::string::npos) << v.reason;
  EXPECT_NE(v.reason.find("update the driver"), std::string::npos) << v.reason;
}

TEST(CudaProbe, OlderDriverThatOpensTheDeviceOnlyWarns) {
  // CUDA minor-version compatibility: a 13.0 driver runs a 13.1 runtime.
  const CudaVerdict v = judge_cuda_probe(probe_of(13000, 13010, "", 1, ""));
  EXPECT_TRUE(v.usable);
  EXPECT_TRUE(v.reason.empty());
  EXPECT_NE(v.warning.find("supports CUDA 13.0"), std::string::npos) << v.warning;
  EXPECT_NE(v.warning.find("minor-version compatibility"), std::string::npos) << v.warning;
}

TEST(CudaProbe, MatchingDriverIsUsableWithoutWarning) {
  const CudaVerdict v = judge_cuda_probe(probe_of(13020, kCuda13, "", 2, ""));
  EXPECT_TRUE(v.usable);
  EXPECT_TRUE(v.warning.empty()) << v.warning;
}

TEST(CudaProbe, DeviceThatCannotBeOpenedIsNotUsable) {
  // An exclusive-process GPU held by another process fails when the context is created.
  const CudaVerdict busy = judge_cuda_probe(
      probe_of(13020, kCuda13, "", 1,
                "creating a context: CUDA-capable device(s) is/are busy or unavailable"));
  EXPECT_FALSE(busy.usable);
  EXPECT_EQ(busy.reason,
            "CUDA device 0 cannot be used: creating a context: CUDA-capable device(s) is/are busy "
            "or unavailable");
  EXPECT_FALSE(busy.kernels_usable);
}

TEST(CudaProbe, DeviceWithoutCudnnRunsOnlyKernels) {
  CudaProbe probe = probe_of(13020, kCuda13, "", 1, "");
  probe.library_error = "cudnnCnnVersionCheck: CUDNN_STATUS_SUBLIBRARY_LOADING_FAILED";
  probe.device_name = "NVIDIA H200";
  const CudaVerdict v = judge_cuda_probe(probe);
  EXPECT_FALSE(v.usable);
  EXPECT_TRUE(v.kernels_usable);
  EXPECT_FALSE(v.simulated);
  EXPECT_EQ(v.reason, "CUDA device 0 cannot run cuDNN: cudnnCnnVersionCheck: CUDNN_STATUS_SUBLIBRARY_LOADING_FAILED");
}

TEST(CudaProbe, SimulatorRunsOnlyKernelsAndSaysSo) {
  CudaProbe probe = probe_of(13020, kCuda13, "", 1, "");
  probe.device_name = "GPGPU-Sim_v4.2.0";
  const CudaVerdict v = judge_cuda_probe(probe);
  EXPECT_FALSE(v.usable);
  EXPECT_TRUE(v.kernels_usable);
  EXPECT_TRUE(v.simulated);
  EXPECT_NE(v.reason.find("GPGPU-Sim simulator (GPGPU-Sim_v4.2.0)"), std::string::npos) << v.reason;
  EXPECT_NE(v.reason.find("no cuBLAS, cuDNN or graph capture"), std::string::npos) << v.reason;
  EXPECT_FALSE(is_simulated_device("NVIDIA GeForce RTX 3070"));
}

TEST(CudaProbe, OtherFailuresKeepTheRuntimeMessage) {
  const CudaVerdict none = judge_cuda_probe(probe_of(13020, kCuda13, "", 0, ""));
  EXPECT_FALSE(none.usable);
  EXPECT_EQ(none.reason, "no CUDA device found");
  const CudaVerdict hidden =
      judge_cuda_probe(probe_of(13020, kCuda13, "no CUDA-capable device is detected", 0, ""));
  EXPECT_FALSE(hidden.usable);
  EXPECT_EQ(hidden.reason, "no usable CUDA device: no CUDA-capable device is detected");
}

TEST(CudaProbe, VersionStrings) {
  EXPECT_EQ(cuda_version_string(12040), "12.4");
  EXPECT_EQ(cuda_version_string(13000), "13.0");
  EXPECT_EQ(cuda_version_string(12090), "12.9");
}

#if VSAE_HAVE_CUDA
// Needs cuDNN's library but no GPU: descriptors live on the host.
TEST(CudaCheck, CudnnErrorsCarryCudnnsOwnMessage) {
  cudnnTensorDescriptor_t desc = nullptr;
  CUDNN_CHECK(cudnnCreateTensorDescriptor(&desc));
  try {
    CUDNN_CHECK(cudnnSetTensor4dDescriptor(desc, CUDNN_TENSOR_NCHW, CUDNN_DATA_FLOAT, -1, 2, 3, 4));
    ADD_FAILURE() << "expected an error";
  } catch (const Error& e) {
    const std::string what = e.what();
    // The status name, then cuDNN's account of the failed check in parentheses.
    EXPECT_NE(what.find("CUDNN_STATUS_BAD_PARAM ("), std::string::npos) << what;
    EXPECT_EQ(what.find('\n'), std::string::npos) << what;
  }
  CUDNN_CHECK(cudnnDestroyTensorDescriptor(desc));
}

TEST(CudaCheck, CaughtCudaErrorIsNotReportedAgain) {
  VSAE_REQUIRE_CUDA();
  test::cuda();
  void* p = nullptr;
  EXPECT_THROW(CUDA_CHECK(cudaMalloc(&p, std::size_t{1} << 62)), Error);
  // The next launch check belongs to unrelated work: it must not see the failed allocation.
  EXPECT_NO_THROW(CUDA_CHECK_LAUNCH());
}

TEST(CudaCheck, ContextsReleaseTheirMemory) {
  VSAE_REQUIRE_CUDA();
  const auto free_bytes = [] {
    std::size_t free = 0, total = 0;
    CUDA_CHECK(cudaMemGetInfo(&free, &total));
    return free;
  };
  { CudaContext warm_up(0); }
  const std::size_t before = free_bytes();
  for (int i = 0; i < 3; ++i) {
    CudaContext ctx(0);
    ctx.reserve_scratch(std::size_t{16} << 20);
    CUDA_CHECK(cudaMemsetAsync(ctx.scratch(std::size_t{16} << 20), 0, std::size_t{16} << 20,
                               ctx.stream()));
  }
  // Each context holds 16 MiB of scratch (no cuBLAS workspace: nothing asked for the handle);
  // allow for the driver's allocation granularity only.
  EXPECT_LE(before, free_bytes() + (std::size_t{8} << 20));
}
#endif

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
