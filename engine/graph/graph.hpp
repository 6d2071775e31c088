// The graph engine: a model is an ordered list of nodes over named values and parameters.
// Forward runs the nodes in order, backward in reverse. All activation, gradient, parameter and
// optimizer memory is planned once by plan(), so a training step allocates nothing and never
// waits on the host — the whole step can be captured into a CUDA Graph.
#pragma once

#include <cstdint>
#include <deque>
#include <memory>
#include <string>
#include <vector>

#include "engine/core/backend.hpp"
#include "engine/core/storage.hpp"
#include "engine/graph/op_profile.hpp"

namespace vsae {

// How a value's gradient is formed in backward. accumulated: any number of nodes add to it, from
// zero. written: exactly one node writes it whole (bias_act, into a layer's pre-activation) before
// any node reads it, so backward does not zero it.
enum class GradUse { accumulated, written };

class Node;

// An activation. `alias_of` values share the memory (and gradient) of another value under a new
// shape, e.g. the flatten between conv4 and fc1.
struct Value {
  std::string name;
  Shape shape;
  bool requires_grad = true;
  GradUse grad_use = GradUse::accumulated;
  bool has_data = true;  // false: an intermediate a fused op never writes, kept for its gradient
  const Value* alias_of = nullptr;
  // The node whose forward writes data, where the builder records it (the layer builders do), so
  // that a consumer's prepare can share state with it.
  const Node* producer = nullptr;
  Tensor data;  // set by Graph::plan when has_data
  Tensor grad;  // set by Graph::plan when requires_grad
};

// How a parameter is initialised: PyTorch's defaults for Conv/Linear, U(−b, b), b = 1/√fan_in.
struct ParamInit {
  std::int64_t fan_in = 1;
};

struct Parameter {
  std::string name;  // PyTorch-style, e.g. "encoder.conv1.weight"
  Shape shape;       // PyTorch layout
  ParamInit init;
  Tensor value, grad, adam_m, adam_v;  // set by Graph::plan
  float lr_scale = 1.0f;  // Adam's learning rate for this tensor is the step's times this (set before plan)
};

// The parameters that share one learning-rate scale: contiguous slices of the four arenas, so one
// Adam launch updates the group.
struct ParamGroup {
  float lr_scale;
  Tensor params, grads, adam_m, adam_v;
};

class Node {
 public:
  virtual ~Node() = default;
  virtual const char* kind() const = 0;

  // Checks that every tensor still has the shape it was built with, then runs the op.
  void forward(Backend& be);
  // Accumulates into the gradients of the inputs and parameters from what forward saved.
  virtual void backward(Backend& be) = 0;
  // Called once after memory planning: reserve scratch, choose algorithms.
  virtual void prepare(Backend& /*be*/) {}
  // Floating-point operations of one forward or backward pass, a multiply-add counting 2: the
  // GEMM-like ops report theirs; the others (memory-bound) report 0.
  virtual double flops(bool /*backward*/) const { return 0.0; }

 protected:
  virtual void check_shapes() const = 0;
  virtual void forward_impl(Backend& be) = 0;
};

class Graph {
 public:
  Graph() = default;
  Graph(const Graph&) = delete;
  Graph& operator=(const Graph&) = delete;

  // ---- building ---------------------------------------------------------------------------
  Value* value(const std::string& name, Shape shape, bool requires_grad = true,
               GradUse grad_use = GradUse::accumulated);
  // A value that exists for its gradient alone (written by one node; no data is planned), e.g. a
  // convolution's output before the bias and activation fused into it.
  Value* gradient_only(const std::string& name, Shape shape);
  Value* alias(const std::string& name, const Value* source, Shape shape);
  Parameter* parameter(const std::string& name, Shape shape, ParamInit init);
  template <class NodeT, class... Args>
  NodeT* add(Args&&... args) {
    auto node = std::make_unique<NodeT>(std::forward<Args>(args)...);
    NodeT* raw = node.get();
    nodes_.push_back(std::move(node));
    return raw;
  }

  // ---- memory -----------------------------------------------------------------------------
  // Allocates every arena on `be` and initialises the parameters from `seed` (identical values
  // on every backend); the graph is then fixed.
  void plan(Backend& be, std::uint64_t seed);
  bool planned() const { return planned_; }

  // ---- running ----------------------------------------------------------------------------
  void forward(Backend& be);
  // Zeroes every accumulated gradient (one memset) and runs the nodes' backward in reverse order.
  void backward(Backend& be);
  // Times every node's forward and backward under "<kind> forward|backward" (null: off).
  void set_profile(OpProfile* profile) { profile_ = profile; }
  // Floating-point operations of one forward plus backward pass, a multiply-add counting 2.
  double training_flops() const;

  // ---- access -----------------------------------------------------------------------------
  const std::deque<Parameter>& parameters() const { return params_; }
  Parameter& find_parameter(const std::string& name);
  Value& find_value(const std::string& name);
  bool has_value(const std::string& name) const;
  std::int64_t parameter_count() const;  // scalars, excluding alignment padding

  // The parameter, gradient and Adam arenas share one layout, split by lr_scale into flat groups
  // that the optimizer updates in one launch each: the parameters of scale 1 first (the whole
  // arena when no parameter has another scale), then one group per other scale, in order of
  // first use.
  const std::vector<ParamGroup>& param_groups() const { return param_groups_; }

 private:
  void initialise_parameters(Backend& be, std::uint64_t seed);
  // One node's forward or backward, timed under "<kind> forward|backward" when profiling.
  void run_pass(Backend& be, Node& node, bool backward);

  std::deque<Value> values_;  // deque: stable addresses while building
  std::deque<Parameter> params_;
  std::vector<std::unique_ptr<Node>> nodes_;
  bool planned_ = false;
  OpProfile* profile_ = nullptr;

  Storage activations_;
  // Parameter gradients first (same layout as params), then the accumulated activation gradients,
  // then the written ones. accumulated_grads_ views the first two, which backward zeroes.
  Storage grads_;
  Tensor accumulated_grads_;
  Storage params_arena_, adam_m_arena_, adam_v_arena_;
  std::vector<ParamGroup> param_groups_;
};

}  // namespace vsae
