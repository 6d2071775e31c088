// BatchTopK ops: shape checks, then the CPU twin or the CUDA kernels of kernels/batch_topk; the
// backward is the shared sparsifier backward.
#include "engine/ops/batch_topk.hpp"

#include "engine/ops/sparse_grad.hpp"
#include "kernels/batch_topk_cpu.hpp"

#if VSAE_HAVE_CUDA
#include "engine/core/cuda_context.hpp"
#include "kernels/batch_topk.cuh"
#endif

namespace vsae {

namespace {

// Checks z_pre (B, W), bias (W) and a (B, W) for `op`; returns W.
std::int64_t check_forward_shapes(const Backend& be, const char* op, const Tensor& z_pre,
                                  const Tensor& bias, const Tensor& a) {
  check_f32(be, op, "z_pre", z_pre);
  check_f32(be, op, "bias", bias);
  check_f32(be, op, "a", a);
  VSAE_CHECK(z_pre.ndim() == 2, op << ": z_pre must be (B, W), got " << z_pre.shape);
  const std::int64_t batch = z_pre.dim(0), width = z_pre.dim(1);
  VSAE_CHECK(width >= 1, op << ": z_pre " << z_pre.shape << " has no columns");
  VSAE_CHECK(batch * width <= kBatchTopkMaxEntries, op << ": z_pre " << z_pre.shape
                                                       << " holds more than "
                                                       << kBatchTopkMaxEntries << " entries");
  VSAE_CHECK(bias.shape == Shape{width},
             op << ": bias is " << bias.shape << ", expected (" << width << ")");
  VSAE_CHECK(a.shape == z_pre.shape, op << ": a is " << a.shape << ", z_pre is " << z_pre.shape);
  return width;
}

// check_on for a non-f32 argument, with the op's name in front of the message.
void check_i32(const Backend& be, const char* op, const char* what, const Tensor& t) {
  try {
    check_on(be, t, DType::i32, what);
  } catch (const Error& e) {
    throw Error(std::string(op) + ": " + e.what());
  }
}

void check_scalar(const char* op, const char* what, const Tensor& t) {
  VSAE_CHECK(t.shape == Shape{1}, op << ": " << what << " is " << t.shape << ", expected (1)");
}

std::int32_t* fire_data(const ActivityCounters& c) {
  return c.fire_count.defined() ? c.fire_count.ptr<std::int32_t>() : nullptr;
}
std::int32_t* active_data(const ActivityCounters& c) {
  return c.batch_active.defined() ? c.batch_active.ptr<std::int32_t>() : nullptr;
}

}  // namespace

void batch_topk_forward(Backend& be, const Tensor& z_pre, const Tensor& bias, const Tensor& k,
                        const Tensor& a, const Tensor& min_kept, const ActivityCounters& counters) {
  const char* op = "batch_topk_forward";
  const std::int64_t width = check_forward_shapes(be, op, z_pre, bias, a);
  const std::int64_t batch = z_pre.dim(0);
  check_i32(be, op, "k", k);
  check_scalar(op, "k", k);
  float* min_data = nullptr;
  if (min_kept.defined()) {
    check_f32(be, op, "min_kept", min_kept);
    check_scalar(op, "min_kept", min_kept);
    min_data = min_kept.ptr<float>();
  }
  check_activity_counters(be, counters, width, op);
  if (be.device() == Device::cpu) {
    cpu_kernels::batch_topk_forward(z_pre.ptr<float>(), bias.ptr<float>(), *k.ptr<std::int32_t>(),
                                    batch, width, a.ptr<float>(), min_data, fire_data(counters),
                                    active_data(counters), counters.eps);
    return;
  }
#if VSAE_HAVE_CUDA
  cuda_kernels::batch_topk_forward(z_pre.ptr<float>(), bias.ptr<float>(), k.ptr<std::int32_t>(),
                                   batch, width, a.ptr<float>(), min_data, fire_data(counters),
                                   active_data(counters), counters.eps, be.cuda().stream());
#endif
}

void batch_topk_update_threshold(Backend& be, const Tensor& min_kept, float beta,
                                 const Tensor& threshold) {
  const char* op = "batch_topk_update_threshold";
  check_f32(be, op, "min_kept", min_kept);
  check_f32(be, op, "threshold", threshold);
  check_scalar(op, "min_kept", min_kept);
  check_scalar(op, "threshold", threshold);
  VSAE_CHECK(beta >= 0.0f && beta < 1.0f, op << ": beta must be in [0, 1), got " << beta);
  if (be.device() == Device::cpu) {
    cpu_kernels::batch_topk_update_threshold(min_kept.ptr<float>(), beta, threshold.ptr<float>());
    return;
  }
#if VSAE_HAVE_CUDA
  cuda_kernels::batch_topk_update_threshold(min_kept.ptr<float>(), beta, threshold.ptr<float>(),
                                            be.cuda().stream());
#endif
}

void batch_topk_eval_forward(Backend& be, const Tensor& z_pre, const Tensor& bias,
                             const Tensor& threshold, const Tensor& a,
                             const ActivityCounters& counters) {
  const char* op = "batch_topk_eval_forward";
  const std::int64_t width = check_forward_shapes(be, op, z_pre, bias, a);
  const std::int64_t batch = z_pre.dim(0);
  check_f32(be, op, "threshold", threshold);
  check_scalar(op, "threshold", threshold);
  check_activity_counters(be, counters, width, op);
  if (be.device() == Device::cpu) {
    cpu_kernels::batch_topk_eval_forward(z_pre.ptr<float>(), bias.ptr<float>(),
                                         *threshold.ptr<float>(), batch, width, a.ptr<float>(),
                                         fire_data(counters), active_data(counters), counters.eps);
    return;
  }
#if VSAE_HAVE_CUDA
  cuda_kernels::batch_topk_eval_forward(
      z_pre.ptr<float>(), bias.ptr<float>(), threshold.ptr<float>(), batch, width, a.ptr<float>(),
      fire_data(counters), active_data(counters), counters.eps, be.cuda().stream());
#endif
}

void batch_topk_backward(Backend& be, const Tensor& a, const Tensor& da, const Tensor& dz_pre,
                         const Tensor& db) {
  sparse_backward(be, a, da, Tensor(), dz_pre, db);
}

void batch_topk_prepare(Backend& be, std::int64_t batch, std::int64_t width) {
  VSAE_CHECK(batch >= 0 && width >= 1,
             "batch_topk_prepare: bad shape (" << batch << ", " << width << ")");
  sparse_backward_prepare(be, batch, width);
}

}  // namespace vsae
