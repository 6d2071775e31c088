// firing ops: shape checks, then the CPU twin or the CUDA kernel of kernels/firing.
#include "engine/ops/firing.hpp"

#include "kernels/firing_cpu.hpp"

#if VSAE_HAVE_CUDA
#include "engine/core/cuda_context.hpp"
#include "kernels/firing.cuh"
#endif

namespace vsae {

void check_activity_counters(const Backend& be, const ActivityCounters& counters,
                             std::int64_t width, const char* op) {
  if (counters.fire_count.defined()) {
    check_on(be, counters.fire_count, DType::i32, op);
    VSAE_CHECK(counters.fire_count.shape == Shape{width}, op << ": fire_count is "
                                                             << counters.fire_count.shape
                                                             << ", expected (" << width << ")");
  }
  if (counters.batch_active.defined()) {
    check_on(be, counters.batch_active, DType::i32, op);
    VSAE_CHECK(counters.batch_active.shape == Shape{1},
               op << ": batch_active is " << counters.batch_active.shape << ", expected (1)");
  }
  VSAE_CHECK(counters.eps >= 0.0f,
             op << ": counting threshold eps must be >= 0, got " << counters.eps);
}

void firing_stats(Backend& be, const Tensor& a, const std::vector<float>& eps, const Tensor& counts,
                  const Tensor& max_act) {
  check_on(be, a, DType::f32, "firing_stats: a");
  check_on(be, counts, DType::i32, "firing_stats: counts");
  VSAE_CHECK(a.ndim() == 2, "firing_stats: a must be (N, W), got " << a.shape);
  const std::int64_t rows = a.dim(0), width = a.dim(1);
  const auto num_eps = static_cast<std::int64_t>(eps.size());
  VSAE_CHECK(num_eps >= 1 && num_eps <= kMaxFiringThresholds,
             "firing_stats: " << num_eps << " thresholds, expected 1.." << kMaxFiringThresholds);
  VSAE_CHECK(counts.shape == (Shape{num_eps, width}), "firing_stats: counts is "
                                                          << counts.shape << ", expected ("
                                                          << num_eps << ", " << width << ")");
  float* max_data = nullptr;
  if (max_act.defined()) {
    check_on(be, max_act, DType::f32, "firing_stats: max_act");
    VSAE_CHECK(max_act.shape == Shape{width},
               "firing_stats: max_act is " << max_act.shape << ", expected (" << width << ")");
    max_data = max_act.ptr<float>();
  }
  if (width == 0) return;
  if (be.device() == Device::cpu) {
    cpu_kernels::firing_stats(a.ptr<float>(), rows, width, eps.data(), static_cast<int>(num_eps),
                              counts.ptr<std::int32_t>(), max_data);
    return;
  }
#if VSAE_HAVE_CUDA
  cuda_kernels::firing_stats(a.ptr<float>(), rows, width, eps.data(), static_cast<int>(num_eps),
                             counts.ptr<std::int32_t>(), max_data, be.cuda().stream());
#endif
}

}  // namespace vsae
