// Graph construction, one-time memory planning, and the forward/backward drivers.
#include "engine/graph/graph.hpp"

#include <algorithm>
#include <cmath>

#include "engine/core/philox.hpp"

namespace vsae {

void Node::forward(Backend& be) {
  check_shapes();
  forward_impl(be);
}

Value* Graph::value(const std::string& name, Shape shape, bool requires_grad, GradUse grad_use) {
  VSAE_CHECK(!planned_, "graph is planned; cannot add value " << name);
  Value v;
  v.name = name;
  v.shape = shape;
  v.requires_grad = requires_grad;
  v.grad_use = grad_use;
  values_.push_back(std::move(v));
  return &values_.back();
}

Value* Graph::gradient_only(const std::string& name, Shape shape) {
  Value* v = value(name, shape, true, GradUse::written);
  v->has_data = false;
  return v;
}

Value* Graph::alias(const std::string& name, const Value* source, Shape shape) {
  VSAE_CHECK(shape.numel() == source->shape.numel(),
             "alias " << name << " " << shape << " of " << source->name << " " << source->shape
                      << " changes the element count");
  Value* v = value(name, shape, source->requires_grad);
  v->alias_of = source->alias_of ? source->alias_of : source;
  v->has_data = v->alias_of->has_data;
  return v;
}

Parameter* Graph::parameter(const std::string& name, Shape shape, ParamInit init) {
  VSAE_CHECK(!planned_, "graph is planned; cannot add parameter " << name);
  for (const Parameter& p : params_) VSAE_CHECK(p.name != name, "duplicate parameter name " << name);
  Parameter p;
  p.name = name;
  p.shape = shape;
  p.init = init;
  params_.push_back(std::move(p));
  return &params_.back();
}

void Graph::plan(Backend& be, std::uint64_t seed) {
  VSAE_CHECK(!planned_, "graph planned twice");

  // Parameters are laid out group by group (see param_groups), each group in creation order.
  std::vector<float> scales{1.0f};
  for (const Parameter& p : params_) {
    VSAE_CHECK(std::isfinite(p.lr_scale) && p.lr_scale >= 0.0f,
               "parameter " << p.name << ": lr_scale must be finite and >= 0, got " << p.lr_scale);
    if (std::find(scales.begin(), scales.end(), p.lr_scale) == scales.end()) scales.push_back(p.lr_scale);
  }
  ArenaPlan param_plan;
  std::vector<std::size_t> param_offsets(params_.size());
  std::vector<std::size_t> group_ends;
  for (float scale : scales) {
    std::size_t i = 0;
    for (const Parameter& p : params_) {
      if (p.lr_scale == scale) param_offsets[i] = param_plan.reserve(p.shape, DType::f32);
      ++i;
    }
    group_ends.push_back(param_plan.total_bytes());
  }

  ArenaPlan act_plan;
  ArenaPlan grad_plan = param_plan;  // activation gradients follow the parameter gradients
  std::vector<std::size_t> data_offsets, grad_offsets(values_.size(), 0);
  std::size_t accumulated_bytes = 0;
  for (const Value& v : values_)
    data_offsets.push_back(v.alias_of == nullptr && v.has_data ? act_plan.reserve(v.shape, DType::f32) : 0);
  for (GradUse use : {GradUse::accumulated, GradUse::written}) {
    std::size_t i = 0;
    for (const Value& v : values_) {
      if (v.alias_of == nullptr && v.requires_grad && v.grad_use == use)
        grad_offsets[i] = grad_plan.reserve(v.shape, DType::f32);
      ++i;
    }
    if (use == GradUse::accumulated) accumulated_bytes = grad_plan.total_bytes();
  }

  params_arena_ = be.allocate(param_plan.total_bytes());
  adam_m_arena_ = be.allocate(param_plan.total_bytes());
  adam_v_arena_ = be.allocate(param_plan.total_bytes());
  grads_ = be.allocate(grad_plan.total_bytes());
  accumulated_grads_ = grads_.view(Shape{static_cast<std::int64_t>(accumulated_bytes)}, DType::u8, 0);
  activations_ = be.allocate(act_plan.total_bytes());

  std::size_t i = 0;
  for (Parameter& p : params_) {
    std::size_t off = param_offsets[i++];
    p.value = params_arena_.view(p.shape, DType::f32, off);
    p.grad = grads_.view(p.shape, DType::f32, off);
    p.adam_m = adam_m_arena_.view(p.shape, DType::f32, off);
    p.adam_v = adam_v_arena_.view(p.shape, DType::f32, off);
  }
  std::size_t group_begin = 0;
  for (std::size_t g = 0; g < scales.size(); ++g) {
    const Shape n{static_cast<std::int64_t>((group_ends[g] - group_begin) / sizeof(float))};
    if (n[0] > 0)
      param_groups_.push_back(ParamGroup{scales[g], params_arena_.view(n, DType::f32, group_begin),
                                         grads_.view(n, DType::f32, group_begin),
                                         adam_m_arena_.view(n, DType::f32, group_begin),
                                         adam_v_arena_.view(n, DType::f32, group_begin)});
    group_begin = group_ends[g];
  }
  i = 0;
  for (Value& v : values_) {
    if (v.alias_of == nullptr) {
      if (v.has_data) v.data = activations_.view(v.shape, DType::f32, data_offsets[i]);
      if (v.requires_grad) v.grad = grads_.view(v.shape, DType::f32, grad_offsets[i]);
    }
    ++i;
  }
  // Aliases point at values planned above (an alias always names a non-alias source).
  for (Value& v : values_) {
    if (v.alias_of == nullptr) continue;
    if (v.has_data) v.data = v.alias_of->data.reshaped(v.shape);
    if (v.alias_of->grad.defined()) v.grad = v.alias_of->grad.reshaped(v.shape);
  }

  initialise_parameters(be, seed);
  for (auto& node : nodes_) node->prepare(be);
  planned_ = true;
}

void Graph::initialise_parameters(Backend& be, std::uint64_t seed) {
  std::vector<float> host;
  std::uint32_t ordinal = 0;
  for (Parameter& p : params_) {
    host.resize(static_cast<std::size_t>(p.shape.numel()));
    float bound = 1.0f / std::sqrt(static_cast<float>(p.init.fan_in));
    for (std::size_t j = 0; j < host.size(); ++j) {
      PhiloxBlock r = philox_draw(seed, RngStream::init, static_cast<std::uint32_t>(j), ordinal);
      host[j] = bound * (2.0f * philox_uniform(r.v[0]) - 1.0f);
    }
    be.upload(p.value, host.data());
    ++ordinal;
  }
}

void Graph::forward(Backend& be) {
  VSAE_CHECK(planned_, "graph must be planned before forward");
  for (auto& node : nodes_) run_pass(be, *node, false);
}

void Graph::backward(Backend& be) {
  VSAE_CHECK(planned_, "graph must be planned before backward");
  profiled(profile_, be, "zero gradients", [&] { be.zero(accumulated_grads_); });
  for (auto it = nodes_.rbegin(); it != nodes_.rend(); ++it) run_pass(be, **it, true);
}

void Graph::run_pass(Backend& be, Node& node, bool backward) {
  const auto pass = [&] { backward ? node.backward(be) : node.forward(be); };
  if (profile_)
    profile_->time(be, std::string(node.kind()) + (backward ? " backward" : " forward"), pass);
  else
    pass();
}

double Graph::training_flops() const {
  double total = 0.0;
  for (const auto& node : nodes_) total += node->flops(false) + node->flops(true);
  return total;
}

Parameter& Graph::find_parameter(const std::string& name) {
  for (Parameter& p : params_)
    if (p.name == name) return p;
  throw Error("no parameter named " + name);
}

Value& Graph::find_value(const std::string& name) {
  for (Value& v : values_)
    if (v.name == name) return v;
  throw Error("no value named " + name);
}

bool Graph::has_value(const std::string& name) const {
  for (const Value& v : values_)
    if (v.name == name) return true;
  return false;
}

std::int64_t Graph::parameter_count() const {
  std::int64_t n = 0;
  for (const Parameter& p : params_) n += p.shape.numel();
  return n;
}

}  // namespace vsae
