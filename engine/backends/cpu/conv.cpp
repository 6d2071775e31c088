// CPU convolutions through oneDNN (the library PyTorch uses for its CPU convolutions): each shape
// gets its forward, backward-data and backward-weights primitives once, with the layouts oneDNN
// prefers (blocked, for its AVX-512 JIT kernels) and the reorders between those and our plain
// NCHW / OIHW tensors. oneDNN's backward passes overwrite their outputs; ours accumulate, so a
// gradient is added to ours in the reorder out of oneDNN's layout (a sum post-op), or, where the
// layouts agree, through a scratch buffer.
#include <oneapi/dnnl/dnnl.hpp>

#include <array>
#include <map>
#include <memory>
#include <mutex>
#include <vector>

#include "engine/backends/cpu/conv.hpp"
#include "kernels/cpu_parallel.hpp"

namespace vsae::cpu {

namespace {

using dnnl::memory;
using Tag = memory::format_tag;

dnnl::engine& cpu_engine() {
  static dnnl::engine engine(dnnl::engine::kind::cpu, 0);
  return engine;
}

memory::dims dims_of(const Shape& s) {
  return {s[0], s[1], s[2], s[3]};
}

memory::desc plain(const Shape& s, Tag tag) {
  return memory::desc(dims_of(s), memory::data_type::f32, tag);
}

memory::desc any(const Shape& s) {
  return memory::desc(dims_of(s), memory::data_type::f32, Tag::any);
}

// dst += src over n floats.
void add_into(float* dst, const float* src, std::int64_t n) {
#pragma omp parallel for simd schedule(static) if (cpu_kernels::worth_threads(n))
  for (std::int64_t i = 0; i < n; ++i) dst[i] += src[i];
}

// Grow-only scratch for the gradients that are added rather than written.
float* scratch(std::int64_t count) {
  thread_local std::vector<float> buffer;
  if (static_cast<std::int64_t>(buffer.size()) < count) buffer.resize(static_cast<std::size_t>(count));
  return buffer.data();
}

// One tensor argument of a primitive: our plain buffer, and where the primitive wants another
// layout, its own buffer and the reorder between the two.
class Arg {
 public:
  Arg() = default;
  Arg(const memory::desc& user, const memory::desc& wanted)
      : user_(user, cpu_engine(), DNNL_MEMORY_NONE), converted_(user != wanted) {
    if (!converted_) return;
    inner_ = memory(wanted, cpu_engine());
    to_inner_ = dnnl::reorder(user_, inner_);
    to_user_ = dnnl::reorder(inner_, user_);
    dnnl::post_ops sum;
    sum.append_sum(1.0f);
    dnnl::primitive_attr adding;
    adding.set_post_ops(sum);
    add_to_user_ = dnnl::reorder(inner_, user_, adding);
  }
  // The memory the primitive reads, after reordering `data` into it when needed.
  memory in(dnnl::stream& s, const float* data) {
    user_.set_data_handle(const_cast<float*>(data));
    if (!converted_) return user_;
    to_inner_.execute(s, user_, inner_);
    return inner_;
  }
  // The memory the primitive writes; finish() moves it into `data`.
  memory out(float* data) {
    user_.set_data_handle(data);
    return converted_ ? inner_ : user_;
  }
  void finish(dnnl::stream& s) {
    if (converted_) to_user_.execute(s, inner_, user_);
  }
  // Adds the primitive's output to `data` (our gradients accumulate), in the reorder when there
  // is one, else through a scratch buffer.
  memory out_adding(float* data, std::int64_t count) {
    if (converted_) return out(data);
    adding_to_ = data;
    adding_count_ = count;
    return out(scratch(count));
  }
  void finish_adding(dnnl::stream& s) {
    if (converted_) {
      add_to_user_.execute(s, inner_, user_);
      return;
    }
    s.wait();
    add_into(adding_to_, static_cast<const float*>(user_.get_data_handle()), adding_count_);
  }

 private:
  memory user_, inner_;
  dnnl::reorder to_inner_, to_user_, add_to_user_;
  bool converted_ = false;
  float* adding_to_ = nullptr;
  std::int64_t adding_count_ = 0;
};

// oneDNN's logical weight dims are (out, in, KH, KW) for both kinds; our transposed-conv weight is
// stored (in, out, KH, KW), PyTorch's layout, which oneDNN calls iohw.
memory::dims weight_dims(const Shape& w, bool transposed) {
  return transposed ? memory::dims{w[1], w[0], w[2], w[3]} : dims_of(w);
}

// The three passes of one convolution (or transposed convolution) shape.
struct Plan {
  dnnl::primitive forward, backward_data, backward_weights;
  Arg fwd_src, fwd_weights, fwd_dst;
  Arg bd_diff_dst, bd_weights, bd_diff_src;
  Arg bw_src, bw_diff_dst, bw_diff_weights;
  bool shared_diff_dst = false;  // both backward passes want dy in the same layout: reorder it once

  Plan(const Shape& x, const Shape& w, const Shape& y, ConvParams p, bool transposed) {
    const memory::dims strides{p.stride, p.stride}, pads{p.pad, p.pad};
    const memory::desc ux = plain(x, Tag::nchw), uy = plain(y, Tag::nchw);
    const memory::desc uw(weight_dims(w, transposed), memory::data_type::f32,
                          transposed ? Tag::iohw : Tag::oihw);
    const memory::desc ax = any(x), ay = any(y);
    const memory::desc aw(weight_dims(w, transposed), memory::data_type::f32, Tag::any);
    if (!transposed)
      make<dnnl::convolution_forward, dnnl::convolution_backward_data, dnnl::convolution_backward_weights>(
          dnnl::algorithm::convolution_direct, ax, aw, ay, strides, pads, ux, uw, uy);
    else
      make<dnnl::deconvolution_forward, dnnl::deconvolution_backward_data,
           dnnl::deconvolution_backward_weights>(dnnl::algorithm::deconvolution_direct, ax, aw, ay, strides,
                                                 pads, ux, uw, uy);
  }

  // The three primitive descriptors in the API of oneDNN 2 (Debian bookworm) or 3 (newer
  // distributions), then the primitives and their arguments.
  template <class Fwd, class BwdData, class BwdWeights>
  void make(dnnl::algorithm alg, const memory::desc& x, const memory::desc& w, const memory::desc& y,
            const memory::dims& strides, const memory::dims& pads, const memory::desc& ux,
            const memory::desc& uw, const memory::desc& uy) {
    dnnl::engine& e = cpu_engine();
    const auto prop = dnnl::prop_kind::forward_training;
#if DNNL_VERSION_MAJOR >= 3
    const typename Fwd::primitive_desc f(e, prop, alg, x, w, y, strides, pads, pads);
    const typename BwdData::primitive_desc bd(e, alg, x, w, y, strides, pads, pads, f);
    const typename BwdWeights::primitive_desc bw(e, alg, x, w, y, strides, pads, pads, f);
#else
    const typename Fwd::primitive_desc f(typename Fwd::desc(prop, alg, x, w, y, strides, pads, pads), e);
    const typename BwdData::primitive_desc bd(typename BwdData::desc(alg, x, w, y, strides, pads, pads), e, f);
    const typename BwdWeights::primitive_desc bw(typename BwdWeights::desc(alg, x, w, y, strides, pads, pads),
                                                 e, f);
#endif
    forward = Fwd(f);
    backward_data = BwdData(bd);
    backward_weights = BwdWeights(bw);
    bind(f, bd, bw, ux, uw, uy);
  }

  template <class Fwd, class BwdData, class BwdWeights>
  void bind(const Fwd& f, const BwdData& bd, const BwdWeights& bw, const memory::desc& x,
            const memory::desc& w, const memory::desc& y) {
    fwd_src = Arg(x, f.src_desc());
    fwd_weights = Arg(w, f.weights_desc());
    fwd_dst = Arg(y, f.dst_desc());
    bd_diff_dst = Arg(y, bd.diff_dst_desc());
    bd_weights = Arg(w, bd.weights_desc());
    bd_diff_src = Arg(x, bd.diff_src_desc());
    bw_src = Arg(x, bw.src_desc());
    bw_diff_dst = Arg(y, bw.diff_dst_desc());
    bw_diff_weights = Arg(w, bw.diff_weights_desc());
    shared_diff_dst = bd.diff_dst_desc() == bw.diff_dst_desc();
  }
};

// Plans by shape; a training step reuses the same few shapes, so each is built once.
Plan& plan_for(const Shape& x, const Shape& w, const Shape& y, ConvParams p, bool transposed) {
  using Key = std::array<std::int64_t, 15>;
  static std::map<Key, std::unique_ptr<Plan>> plans;
  static std::mutex mutex;
  const Key key{x[0], x[1], x[2], x[3], w[0], w[1], w[2], w[3], y[1], y[2], y[3],
                p.stride, p.pad, transposed ? 1 : 0, y[0]};
  std::lock_guard<std::mutex> lock(mutex);
  std::unique_ptr<Plan>& plan = plans[key];
  if (!plan) plan = std::make_unique<Plan>(x, w, y, p, transposed);
  return *plan;
}

void run_forward(Plan& plan, const Tensor& x, const Tensor& w, const Tensor& y) {
  dnnl::stream s(cpu_engine());
  const memory src = plan.fwd_src.in(s, x.ptr<float>());
  const memory weights = plan.fwd_weights.in(s, w.ptr<float>());
  const memory dst = plan.fwd_dst.out(y.ptr<float>());
  plan.forward.execute(s, {{DNNL_ARG_SRC, src}, {DNNL_ARG_WEIGHTS, weights}, {DNNL_ARG_DST, dst}});
  plan.fwd_dst.finish(s);
  s.wait();
}

// dx += d(x), dw += d(w) given dy; dx may be undefined (an input that needs no gradient).
void run_backward(Plan& plan, const Tensor& x, const Tensor& w, const Tensor& dy, const Tensor& dx,
                  const Tensor& dw) {
  dnnl::stream s(cpu_engine());
  memory diff_dst;
  if (dx.defined()) {
    diff_dst = plan.bd_diff_dst.in(s, dy.ptr<float>());
    const memory weights = plan.bd_weights.in(s, w.ptr<float>());
    const memory diff_src = plan.bd_diff_src.out_adding(dx.ptr<float>(), dx.numel());
    plan.backward_data.execute(
        s, {{DNNL_ARG_DIFF_DST, diff_dst}, {DNNL_ARG_WEIGHTS, weights}, {DNNL_ARG_DIFF_SRC, diff_src}});
    plan.bd_diff_src.finish_adding(s);
  }
  if (!dx.defined() || !plan.shared_diff_dst) diff_dst = plan.bw_diff_dst.in(s, dy.ptr<float>());
  const memory src = plan.bw_src.in(s, x.ptr<float>());
  const memory diff_weights = plan.bw_diff_weights.out_adding(dw.ptr<float>(), dw.numel());
  plan.backward_weights.execute(
      s, {{DNNL_ARG_SRC, src}, {DNNL_ARG_DIFF_DST, diff_dst}, {DNNL_ARG_DIFF_WEIGHTS, diff_weights}});
  plan.bw_diff_weights.finish_adding(s);
  s.wait();
}

}  // namespace

void conv2d_forward(const Tensor& x, const Tensor& w, const Tensor& y, ConvParams p) {
  run_forward(plan_for(x.shape, w.shape, y.shape, p, false), x, w, y);
}

void conv2d_backward(const Tensor& x, const Tensor& w, const Tensor& dy, const Tensor& dx,
                     const Tensor& dw, ConvParams p) {
  run_backward(plan_for(x.shape, w.shape, dy.shape, p, false), x, w, dy, dx, dw);
}

void conv_transpose2d_forward(const Tensor& x, const Tensor& w, const Tensor& y, ConvParams p) {
  run_forward(plan_for(x.shape, w.shape, y.shape, p, true), x, w, y);
}

void conv_transpose2d_backward(const Tensor& x, const Tensor& w, const Tensor& dy, const Tensor& dx,
                               const Tensor& dw, ConvParams p) {
  run_backward(plan_for(x.shape, w.shape, dy.shape, p, true), x, w, dy, dx, dw);
}

}  // namespace vsae::cpu
