// CPU convolutions through oneDNN (the library PyTorch uses for its CPU convolutions): each shape
// gets its forward (a convolution's one per output pass, with the bias and ReLU fused in),
// backward-data and backward-weights primitives once, with the layouts oneDNN prefers (blocked,
// for its AVX-512 JIT kernels) and the reorders between those and our plain NCHW / OIHW tensors.
// oneDNN's backward passes overwrite their outputs; ours accumulate, so a gradient is added to
// ours in the reorder out of oneDNN's layout (a sum post-op), or, where the layouts agree, through
// a scratch buffer.
#include <oneapi/dnnl/dnnl.hpp>

#include <array>
#include <map>
#include <memory>
#include <mutex>
#include <unordered_map>
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
// layout, its own buffer (made on first use: a graph node brings its own copy of x, ConvNodeState)
// and the reorders between the two.
class Arg {
 public:
  Arg() = default;
  Arg(const memory::desc& user, const memory::desc& wanted)
      : user_(user, cpu_engine(), DNNL_MEMORY_NONE), wanted_(wanted), converted_(user != wanted) {
    if (!converted_) return;
    dnnl::engine& e = cpu_engine();
    to_inner_ = dnnl::reorder(dnnl::reorder::primitive_desc(e, user, e, wanted));
    to_user_ = dnnl::reorder(dnnl::reorder::primitive_desc(e, wanted, e, user));
    dnnl::post_ops sum;
    sum.append_sum(1.0f);
    dnnl::primitive_attr adding;
    adding.set_post_ops(sum);
    add_to_user_ = dnnl::reorder(dnnl::reorder::primitive_desc(e, wanted, e, user, adding));
  }
  // The memory the primitive reads, after reordering `data` into it when needed.
  memory in(dnnl::stream& s, const float* data) {
    user_.set_data_handle(const_cast<float*>(data));
    if (!converted_) return user_;
    to_inner_.execute(s, user_, inner());
    return inner_;
  }
  // Reorders `data` into `target`, a memory of the primitive's layout other than our inner one.
  void in_to(dnnl::stream& s, const float* data, memory target) {
    user_.set_data_handle(const_cast<float*>(data));
    to_inner_.execute(s, user_, target);
  }
  // The memory the primitive writes; finish() moves it into `data`.
  memory out(float* data) {
    user_.set_data_handle(data);
    return converted_ ? inner() : user_;
  }
  void finish(dnnl::stream& s) {
    if (converted_) to_user_.execute(s, inner_, user_);
  }
  // finish() from `source`, a memory of the primitive's layout other than our inner one.
  void finish_from(dnnl::stream& s, memory source, float* data) {
    user_.set_data_handle(data);
    to_user_.execute(s, source, user_);
  }
  bool converted() const { return converted_; }
  // The primitive's layout (ours where they agree).
  const memory::desc& wanted() const { return wanted_; }
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
  memory& inner() {
    if (!inner_) inner_ = memory(wanted_, cpu_engine());
    return inner_;
  }

  memory user_, inner_;
  memory::desc wanted_;
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

// The memory descriptors of one convolution (or transposed convolution) shape: ours (plain NCHW /
// OIHW or IOHW, a 1-D bias) and the "any" ones that let oneDNN pick its layouts.
struct Descs {
  memory::desc x, w, y, bias;   // ours
  memory::desc ax, aw, ay;      // oneDNN's choice
  memory::dims strides, pads;
  dnnl::algorithm alg;

  Descs(const Shape& xs, const Shape& ws, const Shape& ys, ConvParams p, bool transposed)
      : x(plain(xs, Tag::nchw)),
        w(weight_dims(ws, transposed), memory::data_type::f32, transposed ? Tag::iohw : Tag::oihw),
        y(plain(ys, Tag::nchw)),
        bias({ys[1]}, memory::data_type::f32, Tag::x),
        ax(any(xs)),
        aw(weight_dims(ws, transposed), memory::data_type::f32, Tag::any),
        ay(any(ys)),
        strides{p.stride, p.stride},
        pads{p.pad, p.pad},
        alg(transposed ? dnnl::algorithm::deconvolution_direct : dnnl::algorithm::convolution_direct) {}
};

// The forward primitive descriptor, with or without a bias and a ReLU post-op, in the API of
// oneDNN 2 (Debian bookworm) or 3 (newer distributions).
template <class Fwd>
typename Fwd::primitive_desc forward_desc(const Descs& d, bool with_bias, Activation act) {
  const auto prop = dnnl::prop_kind::forward_training;
  dnnl::primitive_attr attr;
  if (act == Activation::relu) {
    dnnl::post_ops relu;
#if DNNL_VERSION_MAJOR >= 3
    relu.append_eltwise(dnnl::algorithm::eltwise_relu, 0.0f, 0.0f);
#else
    relu.append_eltwise(1.0f, dnnl::algorithm::eltwise_relu, 0.0f, 0.0f);
#endif
    attr.set_post_ops(relu);
  }
  dnnl::engine& e = cpu_engine();
#if DNNL_VERSION_MAJOR >= 3
  if (with_bias)
    return typename Fwd::primitive_desc(e, prop, d.alg, d.ax, d.aw, d.bias, d.ay, d.strides, d.pads, d.pads, attr);
  return typename Fwd::primitive_desc(e, prop, d.alg, d.ax, d.aw, d.ay, d.strides, d.pads, d.pads, attr);
#else
  if (with_bias)
    return typename Fwd::primitive_desc(
        typename Fwd::desc(prop, d.alg, d.ax, d.aw, d.bias, d.ay, d.strides, d.pads, d.pads), attr, e);
  return typename Fwd::primitive_desc(typename Fwd::desc(prop, d.alg, d.ax, d.aw, d.ay, d.strides, d.pads, d.pads),
                                      attr, e);
#endif
}

// The forward pass of one shape and output pass (epilogue): y = act(conv(x, w) + b).
struct ForwardPlan {
  dnnl::primitive forward;
  Arg src, weights, dst;
  memory bias;  // ours, (O); empty without a bias

  ForwardPlan(const Shape& x, const Shape& w, const Shape& y, ConvParams p, bool transposed, bool with_bias,
              Activation act) {
    Descs d(x, w, y, p, transposed);
    // A transposed convolution to a few channels (the decoder's last layer: 1 or 3) runs faster on
    // our plain layouts, through oneDNN's GEMM-based kernel, than blocked, where the channels are
    // padded to a block of 16 (AVX-512): decoder.deconv4's forward at batch 64 took 0.9 ms plain
    // against 3.6 ms blocked plus about 1 ms of reorders for 1 channel, 2.8 against 3.6 plus 1.1
    // for 3. Its backward passes stay blocked, which is faster there.
    if (transposed && y[1] < 16) {
      d.ax = d.x;
      d.ay = d.y;
    }
    if (!transposed)
      bind(forward_desc<dnnl::convolution_forward>(d, with_bias, act), d);
    else
      bind(forward_desc<dnnl::deconvolution_forward>(d, with_bias, act), d);
    if (with_bias) bias = memory(d.bias, cpu_engine(), DNNL_MEMORY_NONE);
  }

  template <class Pd>
  void bind(const Pd& f, const Descs& d) {
    forward = dnnl::primitive(f);
    src = Arg(d.x, f.src_desc());
    weights = Arg(d.w, f.weights_desc());
    dst = Arg(d.y, f.dst_desc());
  }
};

// The two backward passes of one shape.
struct BackwardPlan {
  dnnl::primitive backward_data, backward_weights;
  Arg bd_diff_dst, bd_weights, bd_diff_src;
  Arg bw_src, bw_diff_dst, bw_diff_weights;
  bool shared_diff_dst = false;  // both backward passes want dy in the same layout: reorder it once

  BackwardPlan(const Shape& x, const Shape& w, const Shape& y, ConvParams p, bool transposed) {
    const Descs d(x, w, y, p, transposed);
    if (!transposed)
      make<dnnl::convolution_forward, dnnl::convolution_backward_data, dnnl::convolution_backward_weights>(d);
    else
      make<dnnl::deconvolution_forward, dnnl::deconvolution_backward_data, dnnl::deconvolution_backward_weights>(
          d);
  }

  // The forward descriptor is oneDNN's hint for the backward passes' layouts.
  template <class Fwd, class BwdData, class BwdWeights>
  void make(const Descs& d) {
    dnnl::engine& e = cpu_engine();
    const typename Fwd::primitive_desc f = forward_desc<Fwd>(d, false, Activation::none);
#if DNNL_VERSION_MAJOR >= 3
    const typename BwdData::primitive_desc bd(e, d.alg, d.ax, d.aw, d.ay, d.strides, d.pads, d.pads, f);
    const typename BwdWeights::primitive_desc bw(e, d.alg, d.ax, d.aw, d.ay, d.strides, d.pads, d.pads, f);
#else
    const typename BwdData::primitive_desc bd(
        typename BwdData::desc(d.alg, d.ax, d.aw, d.ay, d.strides, d.pads, d.pads), e, f);
    const typename BwdWeights::primitive_desc bw(
        typename BwdWeights::desc(d.alg, d.ax, d.aw, d.ay, d.strides, d.pads, d.pads), e, f);
#endif
    backward_data = BwdData(bd);
    backward_weights = BwdWeights(bw);
    bd_diff_dst = Arg(d.y, bd.diff_dst_desc());
    bd_weights = Arg(d.w, bd.weights_desc());
    bd_diff_src = Arg(d.x, bd.diff_src_desc());
    bw_src = Arg(d.x, bw.src_desc());
    bw_diff_dst = Arg(d.y, bw.diff_dst_desc());
    bw_diff_weights = Arg(d.w, bw.diff_weights_desc());
    shared_diff_dst = bd.diff_dst_desc() == bw.diff_dst_desc();
  }
};

// Plans by shape (and, for the forward, output pass); a training step reuses the same few, so
// each is built once.
using PlanKey = std::array<std::int64_t, 16>;

PlanKey plan_key(const Shape& x, const Shape& w, const Shape& y, ConvParams p, bool transposed, std::int64_t pass) {
  return PlanKey{x[0], x[1], x[2], x[3], w[0], w[1], w[2], w[3], y[1], y[2], y[3],
                 p.stride, p.pad, transposed ? 1 : 0, y[0], pass};
}

template <class Plan, class... Args>
Plan& cached(const PlanKey& key, Args&&... args) {
  static std::map<PlanKey, std::unique_ptr<Plan>> plans;
  static std::mutex mutex;
  std::lock_guard<std::mutex> lock(mutex);
  std::unique_ptr<Plan>& plan = plans[key];
  if (!plan) plan = std::make_unique<Plan>(std::forward<Args>(args)...);
  return *plan;
}

ForwardPlan& forward_plan(const Shape& x, const Shape& w, const Shape& y, ConvParams p, bool transposed,
                          bool with_bias, Activation act) {
  const std::int64_t pass = (with_bias ? 2 : 0) + (act == Activation::relu ? 1 : 0);
  return cached<ForwardPlan>(plan_key(x, w, y, p, transposed, pass), x, w, y, p, transposed, with_bias, act);
}

BackwardPlan& backward_plan(const Shape& x, const Shape& w, const Shape& y, ConvParams p, bool transposed) {
  return cached<BackwardPlan>(plan_key(x, w, y, p, transposed, -1), x, w, y, p, transposed);
}

}  // namespace

// The primitives stay shared per shape; a node owns its copy of x.
struct ConvNodeState {
  memory x_inner;                 // x in the forward's layout; empty where the forward reads x as it is
  bool backward_reads_x = false;  // backward-weights wants x_inner's layout too
  bool x_written = false;         // the producer's forward has just written x_inner
  bool x_ready = false;           // x_inner holds the x of this node's last forward
  memory::desc y_inner;           // the forward's output layout; empty where it writes y as it is
  ConvNodeState* consumer = nullptr;  // the node (of the same graph) whose x_inner our output fills
};

std::shared_ptr<ConvNodeState> conv_node_state(const Shape& x, const Shape& w, const Shape& y, ConvParams p,
                                               bool transposed, bool with_bias, Activation act,
                                               ConvNodeState* producer) {
  auto state = std::make_shared<ConvNodeState>();
  const ForwardPlan& forward = forward_plan(x, w, y, p, transposed, with_bias, act);
  if (forward.dst.converted()) state->y_inner = forward.dst.wanted();
  if (!forward.src.converted()) return state;
  state->x_inner = memory(forward.src.wanted(), cpu_engine());
  const BackwardPlan& backward = backward_plan(x, w, y, p, transposed);
  state->backward_reads_x = backward.bw_src.converted() && backward.bw_src.wanted() == forward.src.wanted();
  if (producer != nullptr && producer->y_inner == forward.src.wanted()) producer->consumer = state.get();
  return state;
}

namespace {

void run_forward(const Tensor& x, const Tensor& w, const Tensor& y, ConvParams p, bool transposed,
                 const float* bias, Activation act, ConvNodeState* node) {
  ForwardPlan& plan = forward_plan(x.shape, w.shape, y.shape, p, transposed, bias != nullptr, act);
  dnnl::stream s(cpu_engine());
  memory src;
  if (node != nullptr && node->x_inner) {
    if (!node->x_written) plan.src.in_to(s, x.ptr<float>(), node->x_inner);
    node->x_written = false;
    node->x_ready = true;
    src = node->x_inner;
  } else {
    src = plan.src.in(s, x.ptr<float>());
  }
  const memory weights = plan.weights.in(s, w.ptr<float>());
  ConvNodeState* consumer = node != nullptr ? node->consumer : nullptr;
  const memory dst = consumer != nullptr ? consumer->x_inner : plan.dst.out(y.ptr<float>());
  std::unordered_map<int, memory> args{{DNNL_ARG_SRC, src}, {DNNL_ARG_WEIGHTS, weights}, {DNNL_ARG_DST, dst}};
  if (bias != nullptr) {
    plan.bias.set_data_handle(const_cast<float*>(bias));
    args.emplace(DNNL_ARG_BIAS, plan.bias);
  }
  plan.forward.execute(s, args);
  if (consumer != nullptr) {
    plan.dst.finish_from(s, dst, y.ptr<float>());
    consumer->x_written = true;
  } else {
    plan.dst.finish(s);
  }
  s.wait();
}

// dx += d(x) (or dx = d(x)), dw += d(w) given dy; dx may be undefined (an input that needs no
// gradient).
void run_backward(const Tensor& x, const Tensor& w, const Tensor& dy, const Tensor& dx, const Tensor& dw,
                  ConvParams p, bool transposed, DxMode dx_mode, const ConvNodeState* node) {
  BackwardPlan& plan = backward_plan(x.shape, w.shape, dy.shape, p, transposed);
  dnnl::stream s(cpu_engine());
  memory diff_dst;
  if (dx.defined()) {
    diff_dst = plan.bd_diff_dst.in(s, dy.ptr<float>());
    const memory weights = plan.bd_weights.in(s, w.ptr<float>());
    const bool adding = dx_mode == DxMode::accumulate;
    const memory diff_src = adding ? plan.bd_diff_src.out_adding(dx.ptr<float>(), dx.numel())
                                   : plan.bd_diff_src.out(dx.ptr<float>());
    plan.backward_data.execute(
        s, {{DNNL_ARG_DIFF_DST, diff_dst}, {DNNL_ARG_WEIGHTS, weights}, {DNNL_ARG_DIFF_SRC, diff_src}});
    if (adding)
      plan.bd_diff_src.finish_adding(s);
    else
      plan.bd_diff_src.finish(s);
  }
  if (!dx.defined() || !plan.shared_diff_dst) diff_dst = plan.bw_diff_dst.in(s, dy.ptr<float>());
  const bool reuse_x = node != nullptr && node->backward_reads_x && node->x_ready;
  const memory src = reuse_x ? node->x_inner : plan.bw_src.in(s, x.ptr<float>());
  const memory diff_weights = plan.bw_diff_weights.out_adding(dw.ptr<float>(), dw.numel());
  plan.backward_weights.execute(
      s, {{DNNL_ARG_SRC, src}, {DNNL_ARG_DIFF_DST, diff_dst}, {DNNL_ARG_DIFF_WEIGHTS, diff_weights}});
  plan.bw_diff_weights.finish_adding(s);
  s.wait();
}

}  // namespace

void conv2d_forward(const Tensor& x, const Tensor& w, const Tensor& y, ConvParams p, const float* bias,
                    Activation act, ConvNodeState* node) {
  run_forward(x, w, y, p, false, bias, act, node);
}

void conv2d_backward(const Tensor& x, const Tensor& w, const Tensor& dy, const Tensor& dx,
                     const Tensor& dw, ConvParams p, DxMode dx_mode, const ConvNodeState* node) {
  run_backward(x, w, dy, dx, dw, p, false, dx_mode, node);
}

void conv_transpose2d_forward(const Tensor& x, const Tensor& w, const Tensor& y, ConvParams p,
                              ConvNodeState* node) {
  run_forward(x, w, y, p, true, nullptr, Activation::none, node);
}

void conv_transpose2d_backward(const Tensor& x, const Tensor& w, const Tensor& dy, const Tensor& dx,
                               const Tensor& dw, ConvParams p, DxMode dx_mode, const ConvNodeState* node) {
  run_backward(x, w, dy, dx, dw, p, true, dx_mode, node);
}

}  // namespace vsae::cpu
