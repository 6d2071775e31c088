// JumpReLU ops: shape checks, then the CPU twin or the CUDA kernels of kernels/jumprelu.
#include "engine/ops/jumprelu.hpp"

#include <cmath>
#include <string>

#include "kernels/jumprelu_cpu.hpp"

#if VSAE_HAVE_CUDA
#include "engine/core/cuda_context.hpp"
#include "kernels/jumprelu.cuh"
#endif

namespace vsae {

namespace {

void check_scalar(const Backend& be, const char* op, const char* what, const Tensor& t,
                  DType dtype) {
  try {
    check_on(be, t, dtype, what);
  } catch (const Error& e) {
    throw Error(std::string(op) + ": " + e.what());
  }
  VSAE_CHECK(t.shape == Shape{1}, op << ": " << what << " is " << t.shape << ", expected (1)");
}

// A per-unit vector of z_pre's (B, W) must be (W).
void check_columns(const char* op, const Tensor& z_pre, const char* what, const Tensor& vector) {
  const std::int64_t width = z_pre.dim(1);
  VSAE_CHECK(vector.shape == Shape{width}, op << ": " << what << " is " << vector.shape
                                              << ", expected (" << width << ") for z_pre "
                                              << z_pre.shape);
}

}  // namespace

void jumprelu_forward(Backend& be, const Tensor& z_pre, const Tensor& b_enc,
                      const Tensor& log_threshold, const Tensor& a,
                      const ActivityCounters& counters) {
  const char* op = "jumprelu_forward";
  check_f32(be, op, "z_pre", z_pre);
  check_f32(be, op, "b_enc", b_enc);
  check_f32(be, op, "log_threshold", log_threshold);
  check_f32(be, op, "a", a);
  VSAE_CHECK(z_pre.ndim() == 2, op << ": z_pre must be (B, W), got " << z_pre.shape);
  const std::int64_t batch = z_pre.dim(0), width = z_pre.dim(1);
  VSAE_CHECK(width >= 1, op << ": width must be >= 1");
  check_columns(op, z_pre, "b_enc", b_enc);
  check_columns(op, z_pre, "log_threshold", log_threshold);
  VSAE_CHECK(a.shape == z_pre.shape, op << ": a is " << a.shape << ", z_pre is " << z_pre.shape);
  check_activity_counters(be, counters, width, op);
  std::int32_t* fire =
      counters.fire_count.defined() ? counters.fire_count.ptr<std::int32_t>() : nullptr;
  std::int32_t* active =
      counters.batch_active.defined() ? counters.batch_active.ptr<std::int32_t>() : nullptr;
  if (be.device() == Device::cpu) {
    cpu_kernels::jumprelu_forward(z_pre.ptr<float>(), b_enc.ptr<float>(),
                                  log_threshold.ptr<float>(), batch, width, a.ptr<float>(), fire,
                                  active, counters.eps);
    return;
  }
#if VSAE_HAVE_CUDA
  cuda_kernels::jumprelu_forward(z_pre.ptr<float>(), b_enc.ptr<float>(), log_threshold.ptr<float>(),
                                 batch, width, a.ptr<float>(), fire, active, counters.eps,
                                 be.cuda().stream());
#endif
}

void jumprelu_sparsity_loss(Backend& be, const Tensor& batch_active, std::int64_t batch_rows,
                            const Tensor& k_target, const Tensor& lambda, const Tensor& loss) {
  const char* op = "jumprelu_sparsity_loss";
  check_scalar(be, op, "batch_active", batch_active, DType::i32);
  check_scalar(be, op, "k_target", k_target, DType::i32);
  check_scalar(be, op, "lambda", lambda, DType::f32);
  check_scalar(be, op, "loss", loss, DType::f32);
  VSAE_CHECK(batch_rows >= 1, op << ": batch_rows must be >= 1, got " << batch_rows);
  if (be.device() == Device::cpu) {
    *loss.ptr<float>() =
        cpu_kernels::jumprelu_sparsity_loss(*batch_active.ptr<std::int32_t>(), batch_rows,
                                            *k_target.ptr<std::int32_t>(), *lambda.ptr<float>());
    return;
  }
#if VSAE_HAVE_CUDA
  cuda_kernels::jumprelu_sparsity_loss(batch_active.ptr<std::int32_t>(), batch_rows,
                                       k_target.ptr<std::int32_t>(), lambda.ptr<float>(),
                                       loss.ptr<float>(), be.cuda().stream());
#endif
}

void jumprelu_backward(Backend& be, const Tensor& z_pre, const Tensor& b_enc,
                       const Tensor& log_threshold, const Tensor& da, float bandwidth,
                       const JumpReluSparsity& sparsity, const Tensor& dz_pre, const Tensor& db_enc,
                       const Tensor& dlog_threshold) {
  const char* op = "jumprelu_backward";
  check_f32(be, op, "z_pre", z_pre);
  check_f32(be, op, "b_enc", b_enc);
  check_f32(be, op, "log_threshold", log_threshold);
  check_f32(be, op, "da", da);
  check_f32(be, op, "dz_pre", dz_pre);
  check_f32(be, op, "db_enc", db_enc);
  check_f32(be, op, "dlog_threshold", dlog_threshold);
  VSAE_CHECK(z_pre.ndim() == 2, op << ": z_pre must be (B, W), got " << z_pre.shape);
  const std::int64_t batch = z_pre.dim(0), width = z_pre.dim(1);
  check_columns(op, z_pre, "b_enc", b_enc);
  check_columns(op, z_pre, "log_threshold", log_threshold);
  check_columns(op, z_pre, "db_enc", db_enc);
  check_columns(op, z_pre, "dlog_threshold", dlog_threshold);
  VSAE_CHECK(da.shape == z_pre.shape, op << ": da is " << da.shape << ", z_pre is " << z_pre.shape);
  VSAE_CHECK(dz_pre.shape == z_pre.shape,
             op << ": dz_pre is " << dz_pre.shape << ", z_pre is " << z_pre.shape);
  VSAE_CHECK(bandwidth > 0.0f && std::isfinite(bandwidth),
             op << ": bandwidth must be finite and > 0, got " << bandwidth);
  const bool with_sparsity =
      sparsity.batch_active.defined() || sparsity.k_target.defined() || sparsity.lambda.defined();
  if (with_sparsity) {
    check_scalar(be, op, "batch_active", sparsity.batch_active, DType::i32);
    check_scalar(be, op, "k_target", sparsity.k_target, DType::i32);
    check_scalar(be, op, "lambda", sparsity.lambda, DType::f32);
  }
  if (batch == 0 || width == 0) return;
  if (be.device() == Device::cpu) {
    const double slope = with_sparsity
                             ? jumprelu_loss_slope(*sparsity.batch_active.ptr<std::int32_t>(),
                                                   batch, *sparsity.k_target.ptr<std::int32_t>(),
                                                   *sparsity.lambda.ptr<float>())
                             : 0.0;
    cpu_kernels::jumprelu_backward(z_pre.ptr<float>(), b_enc.ptr<float>(),
                                   log_threshold.ptr<float>(), da.ptr<float>(), batch, width,
                                   bandwidth, slope, dz_pre.ptr<float>(), db_enc.ptr<float>(),
                                   dlog_threshold.ptr<float>());
    return;
  }
#if VSAE_HAVE_CUDA
  CudaContext& ctx = be.cuda();
  const std::size_t floats = cuda_kernels::jumprelu_backward_scratch_floats(batch, width);
  float* scratch = floats == 0 ? nullptr : static_cast<float*>(ctx.scratch(floats * sizeof(float)));
  cuda_kernels::jumprelu_backward(
      z_pre.ptr<float>(), b_enc.ptr<float>(), log_threshold.ptr<float>(), da.ptr<float>(), batch,
      width, bandwidth, with_sparsity ? sparsity.batch_active.ptr<std::int32_t>() : nullptr,
      with_sparsity ? sparsity.k_target.ptr<std::int32_t>() : nullptr,
      with_sparsity ? sparsity.lambda.ptr<float>() : nullptr, dz_pre.ptr<float>(),
      db_enc.ptr<float>(), dlog_threshold.ptr<float>(), scratch, ctx.stream());
#endif
}

void jumprelu_prepare(Backend& be, std::int64_t batch, std::int64_t width) {
  VSAE_CHECK(batch >= 0 && width >= 0,
             "jumprelu_prepare: bad size (" << batch << ", " << width << ")");
#if VSAE_HAVE_CUDA
  if (be.is_cuda())
    be.cuda().reserve_scratch(cuda_kernels::jumprelu_backward_scratch_floats(batch, width) *
                              sizeof(float));
#else
  (void)be;
#endif
}

}  // namespace vsae
