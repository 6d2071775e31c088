// Revival ops: shape checks, then the CPU twin or the CUDA kernels of kernels/revival.
#include "engine/ops/revival.hpp"

#include <unordered_set>
#include <utility>

#include "kernels/revival_cpu.hpp"

#if VSAE_HAVE_CUDA
#include "engine/core/cuda_context.hpp"
#include "kernels/revival.cuh"
#endif

namespace vsae {

namespace {

// Checks a per-unit i32 counter of width `width`.
void check_since(const Backend& be, const Tensor& since, std::int64_t width, const char* op) {
  check_on(be, since, DType::i32, op);
  VSAE_CHECK(since.shape == Shape{width},
             op << ": since is " << since.shape << ", expected (" << width << ")");
}

std::int64_t check_codes(const Backend& be, const Tensor& a, const char* op) {
  check_on(be, a, DType::f32, op);
  VSAE_CHECK(a.ndim() == 2 && a.dim(1) >= 1, op << ": expected (B, W) with W >= 1, got " << a.shape);
  return a.dim(1);
}

}  // namespace

void steps_since_fired_update(Backend& be, const Tensor& a, const Tensor& since) {
  const std::int64_t width = check_codes(be, a, "steps_since_fired_update: a");
  check_since(be, since, width, "steps_since_fired_update: since");
  if (be.device() == Device::cpu) {
    cpu_kernels::steps_since_fired_update(a.ptr<float>(), a.dim(0), width, since.ptr<std::int32_t>());
    return;
  }
#if VSAE_HAVE_CUDA
  cuda_kernels::steps_since_fired_update(a.ptr<float>(), a.dim(0), width, since.ptr<std::int32_t>(),
                                         be.cuda().stream());
#endif
}

void mask_live_units(Backend& be, const Tensor& z_pre, const Tensor& since, std::int32_t dead_steps,
                     const Tensor& z_dead) {
  const std::int64_t width = check_codes(be, z_pre, "mask_live_units: z_pre");
  check_since(be, since, width, "mask_live_units: since");
  check_on(be, z_dead, DType::f32, "mask_live_units: z_dead");
  VSAE_CHECK(z_dead.shape == z_pre.shape,
             "mask_live_units: z_dead is " << z_dead.shape << ", z_pre is " << z_pre.shape);
  if (be.device() == Device::cpu) {
    cpu_kernels::mask_live_units(z_pre.ptr<float>(), since.ptr<std::int32_t>(), dead_steps,
                                 z_pre.dim(0), width, z_dead.ptr<float>());
    return;
  }
#if VSAE_HAVE_CUDA
  cuda_kernels::mask_live_units(z_pre.ptr<float>(), since.ptr<std::int32_t>(), dead_steps,
                                z_pre.dim(0), width, z_dead.ptr<float>(), be.cuda().stream());
#endif
}

void residual_forward(Backend& be, const Tensor& target, const Tensor& approx, const Tensor& e) {
  check_on(be, target, DType::f32, "residual_forward: target");
  check_on(be, approx, DType::f32, "residual_forward: approx");
  check_on(be, e, DType::f32, "residual_forward: e");
  VSAE_CHECK(approx.shape == target.shape && e.shape == target.shape,
             "residual_forward: target " << target.shape << ", approx " << approx.shape << " and e "
                                         << e.shape << " must match");
  if (be.device() == Device::cpu) {
    cpu_kernels::residual(target.ptr<float>(), approx.ptr<float>(), target.numel(), e.ptr<float>());
    return;
  }
#if VSAE_HAVE_CUDA
  cuda_kernels::residual(target.ptr<float>(), approx.ptr<float>(), target.numel(), e.ptr<float>(),
                         be.cuda().stream());
#endif
}

void resample_units(Backend& be, const std::vector<std::int32_t>& units,
                    const std::vector<std::int32_t>& sources, const Tensor& index_scratch,
                    const Tensor& directions, float enc_norm, const SaeResampleTensors& t,
                    const Tensor& since) {
  check_on(be, directions, DType::f32, "resample_units: directions");
  VSAE_CHECK(directions.ndim() == 2 && directions.dim(0) >= 1,
             "resample_units: directions must be (R, H) with R >= 1, got " << directions.shape);
  const std::int64_t rows = directions.dim(0), hidden = directions.dim(1);
  check_on(be, t.w_enc, DType::f32, "resample_units: w_enc");
  VSAE_CHECK(t.w_enc.ndim() == 2 && t.w_enc.dim(1) == hidden,
             "resample_units: w_enc is " << t.w_enc.shape << ", expected (W, " << hidden << ")");
  const std::int64_t width = t.w_enc.dim(0);
  const std::pair<const Tensor*, Shape> shapes[] = {
      {&t.w_enc, Shape{width, hidden}}, {&t.m_w_enc, Shape{width, hidden}},
      {&t.v_w_enc, Shape{width, hidden}}, {&t.b_enc, Shape{width}},
      {&t.m_b_enc, Shape{width}},         {&t.v_b_enc, Shape{width}},
      {&t.w_dec, Shape{hidden, width}},   {&t.m_w_dec, Shape{hidden, width}},
      {&t.v_w_dec, Shape{hidden, width}}};
  for (const auto& [tensor, shape] : shapes) {
    check_on(be, *tensor, DType::f32, "resample_units: SAE tensor");
    VSAE_CHECK(tensor->shape == shape,
               "resample_units: an SAE tensor is " << tensor->shape << ", expected " << shape);
  }
  check_since(be, since, width, "resample_units: since");
  const auto count = static_cast<std::int64_t>(units.size());
  VSAE_CHECK(sources.size() == units.size(),
             "resample_units: " << units.size() << " units but " << sources.size() << " sources");
  std::unordered_set<std::int32_t> seen;
  for (std::size_t i = 0; i < units.size(); ++i) {
    VSAE_CHECK(units[i] >= 0 && units[i] < width && seen.insert(units[i]).second,
               "resample_units: unit " << units[i] << " is out of [0, " << width << ") or repeated");
    VSAE_CHECK(sources[i] >= 0 && sources[i] < rows,
               "resample_units: source row " << sources[i] << " is out of [0, " << rows << ")");
  }
  if (count == 0) return;
  check_on(be, index_scratch, DType::i32, "resample_units: index_scratch");
  VSAE_CHECK(index_scratch.numel() >= 2 * count,
             "resample_units: index_scratch holds " << index_scratch.numel() << " ints, needs "
                                                    << 2 * count);
  auto* scratch = index_scratch.ptr<std::int32_t>();
  const Tensor unit_list(scratch, Shape{count}, DType::i32, be.device());
  const Tensor source_list(scratch + count, Shape{count}, DType::i32, be.device());
  be.upload(unit_list, units.data());
  be.upload(source_list, sources.data());
  if (be.device() == Device::cpu) {
    const cpu_kernels::ResampleTargets targets{
        t.w_enc.ptr<float>(),
        t.b_enc.ptr<float>(),
        t.w_dec.ptr<float>(),
        {t.m_w_enc.ptr<float>(), t.v_w_enc.ptr<float>()},
        {t.m_b_enc.ptr<float>(), t.v_b_enc.ptr<float>()},
        {t.m_w_dec.ptr<float>(), t.v_w_dec.ptr<float>()}};
    cpu_kernels::resample_units(unit_list.ptr<std::int32_t>(), source_list.ptr<std::int32_t>(),
                                count, directions.ptr<float>(), hidden, width, enc_norm, targets,
                                since.ptr<std::int32_t>());
    return;
  }
#if VSAE_HAVE_CUDA
  const cuda_kernels::ResampleTargets targets{
      t.w_enc.ptr<float>(),
      t.b_enc.ptr<float>(),
      t.w_dec.ptr<float>(),
      {t.m_w_enc.ptr<float>(), t.v_w_enc.ptr<float>()},
      {t.m_b_enc.ptr<float>(), t.v_b_enc.ptr<float>()},
      {t.m_w_dec.ptr<float>(), t.v_w_dec.ptr<float>()}};
  cuda_kernels::resample_units(unit_list.ptr<std::int32_t>(), source_list.ptr<std::int32_t>(), count,
                               directions.ptr<float>(), hidden, width, enc_norm, targets,
                               since.ptr<std::int32_t>(), be.cuda().stream());
#endif
}

}  // namespace vsae
