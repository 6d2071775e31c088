// The CUDA Graph training step (StepGraph) against eager launches: the step the trainer runs
// (gather_batch + advance_counter + train_step, trainer.cpp's train_epoch) captured once and
// replayed must give the bit-identical parameters of the same step launched op by op, also after
// k and the L1 coefficient λ change in device memory between replays. CUDA only.
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <sstream>
#include <string>
#include <utility>
#include <vector>

#include "apps/vsae/model/vae_sae.hpp"
#include "engine/core/philox.hpp"
#include "engine/graph/step_graph.hpp"
#include "engine/ops/gather.hpp"
#include "tests/support/backends.hpp"

namespace vsae {
namespace {

constexpr int kBatch = 16;
constexpr std::int64_t kImages = 96;  // 6 batches: the device cursor wraps once in 8 steps

// A resident binary u8 image set (dSprites-shaped) with a shuffled order, as ResidentDataset
// gives the trainer; `order` stays at one address, which the graph is keyed on.
struct Images {
  Storage storage;
  Tensor images, order;

  explicit Images(Backend& be) {
    ArenaPlan plan;
    const std::size_t images_off = plan.reserve(Shape{kImages, 1, 64, 64}, DType::u8);
    const std::size_t order_off = plan.reserve(Shape{kImages}, DType::i32);
    storage = be.allocate(plan.total_bytes());
    images = storage.view(Shape{kImages, 1, 64, 64}, DType::u8, images_off);
    order = storage.view(Shape{kImages}, DType::i32, order_off);
    std::vector<std::uint8_t> host(static_cast<std::size_t>(images.numel()));
    for (std::size_t i = 0; i < host.size(); ++i)
      host[i] = static_cast<std::uint8_t>(
          philox_draw(5, RngStream::init, static_cast<std::uint32_t>(i), 17).v[0] >> 31);
    be.upload(images, host.data());
    std::vector<std::int32_t> perm(static_cast<std::size_t>(kImages));
    for (std::size_t i = 0; i < perm.size(); ++i)
      perm[i] = static_cast<std::int32_t>((i * 37 + 11) % perm.size());  // 37 is prime to 96
    be.upload(order, perm.data());
  }
};

// One model with its own batch cursor, trained either eagerly or through a StepGraph.
struct Trainee {
  VaeSaeModel model;
  Storage cursor_storage;
  Tensor cursor;
  StepGraph graph;

  Trainee(Backend& be, const ModelConfig& config, bool use_graph)
      : model(be, config, kBatch, 42), graph(be, use_graph) {
    cursor_storage = be.allocate(Storage::kAlignment);
    cursor = cursor_storage.view(Shape{1}, DType::i32);
    be.zero(cursor);
  }

  void steps(Backend& be, const Images& data, const AdamHyper& adam, int n) {
    for (int i = 0; i < n; ++i)
      graph.run(
          [&] {
            gather_batch(be, data.images, data.order, cursor, model.input().data, 1.0f);
            advance_counter(be, cursor, kBatch);
            model.train_step(be, adam);
          },
          {data.order.data});
    be.synchronize();
  }
};

std::vector<std::uint8_t> bytes_of(Backend& be, const Tensor& t) {
  std::vector<std::uint8_t> host(t.bytes());
  be.download(host.data(), t);
  return host;
}

// Every parameter and both Adam moments of `a` and `b` are equal bit for bit.
::testing::AssertionResult bitwise_equal(Backend& be, VaeSaeModel& a, VaeSaeModel& b) {
  std::ostringstream diffs;
  int differing = 0;
  for (const Parameter& p : a.graph().parameters()) {
    const Parameter& q = b.graph().find_parameter(p.name);
    const std::pair<const char*, std::pair<const Tensor*, const Tensor*>> parts[] = {
        {"value", {&p.value, &q.value}},
        {"adam_m", {&p.adam_m, &q.adam_m}},
        {"adam_v", {&p.adam_v, &q.adam_v}}};
    for (const auto& [what, tensors] : parts) {
      const std::vector<std::uint8_t> x = bytes_of(be, *tensors.first),
                                      y = bytes_of(be, *tensors.second);
      if (x.size() != y.size() || std::memcmp(x.data(), y.data(), x.size()) != 0) {
        std::size_t first = 0;
        while (first < x.size() && first < y.size() && x[first] == y[first]) ++first;
        diffs << "\n  " << p.name << "." << what << " differs from float " << first / 4;
        ++differing;
      }
    }
  }
  const std::vector<std::pair<std::string, Tensor>> b_state = b.state_tensors();
  for (const auto& [name, tensor] : a.state_tensors()) {
    const Tensor* other = nullptr;
    for (const auto& [n, t] : b_state)
      if (n == name) other = &t;
    if (other == nullptr || bytes_of(be, tensor) != bytes_of(be, *other)) {
      diffs << "\n  device scalar " << name << " differs";
      ++differing;
    }
  }
  if (differing == 0) return ::testing::AssertionSuccess();
  return ::testing::AssertionFailure()
         << differing << " tensors differ between eager and graph replay:" << diffs.str();
}

// The largest number of active SAE units in one row of the last batch's codes.
int max_active(Backend& be, VaeSaeModel& m) {
  const Tensor& codes = m.codes().data;
  std::vector<float> a(static_cast<std::size_t>(codes.numel()));
  be.download(a.data(), codes);
  const std::int64_t width = codes.dim(1);
  int most = 0;
  for (std::int64_t n = 0; n < codes.dim(0); ++n) {
    int active = 0;
    for (std::int64_t j = 0; j < width; ++j)
      active += a[static_cast<std::size_t>(n * width + j)] > 0.0f;
    most = std::max(most, active);
  }
  return most;
}

AdamHyper adam_for_test() {
  AdamHyper adam;
  adam.lr = 1e-3f;  // large enough that every step visibly moves every parameter
  return adam;
}

TEST(StepGraphCuda, TopkReplayEqualsEagerBitwiseAcrossAChangeOfK) {
  VSAE_REQUIRE_CUDA_LIBRARIES("cuBLAS, cuDNN and graph capture");
  Backend& be = test::cuda();
  ModelConfig config;
  config.sae = SaeKind::topk;
  const Images data(be);
  const AdamHyper adam = adam_for_test();
  Trainee eager(be, config, false), replayed(be, config, true);
  for (Trainee* t : {&eager, &replayed}) t->model.set_k(be, 100);

  eager.steps(be, data, adam, 5);
  replayed.steps(be, data, adam, 5);  // warm-up, capture + first launch, 3 replays
  EXPECT_EQ(replayed.graph.captures(), 1);
  EXPECT_EQ(eager.graph.captures(), 0);
  EXPECT_TRUE(bitwise_equal(be, eager.model, replayed.model));
  EXPECT_LE(max_active(be, replayed.model), 100);

  // k lives in device memory: the same graph must pick it up without a new capture.
  for (Trainee* t : {&eager, &replayed}) t->model.set_k(be, 7);
  eager.steps(be, data, adam, 3);
  replayed.steps(be, data, adam, 3);
  EXPECT_EQ(replayed.graph.captures(), 1);
  EXPECT_TRUE(bitwise_equal(be, eager.model, replayed.model));
  EXPECT_LE(max_active(be, replayed.model), 7) << "the replayed step kept the captured k";
  const LossValues a = eager.model.read_losses(be), b = replayed.model.read_losses(be);
  EXPECT_EQ(std::memcmp(&a, &b, sizeof a), 0) << "losses " << a.total << " vs " << b.total;
}

TEST(StepGraphCuda, L1ReplayEqualsEagerBitwiseAcrossAChangeOfLambdaAndTarget) {
  VSAE_REQUIRE_CUDA_LIBRARIES("cuBLAS, cuDNN and graph capture");
  Backend& be = test::cuda();
  ModelConfig config;
  config.sae = SaeKind::l1;
  const Images data(be);
  const AdamHyper adam = adam_for_test();
  Trainee eager(be, config, false), replayed(be, config, true);
  for (Trainee* t : {&eager, &replayed}) {
    t->model.set_k(be, 50);  // the controller's target
    t->model.set_coefficient(be, 1e-3f);
    t->model.enable_controller(SparsityControl{0.05f, 1e-7f, 1e3f});
  }

  eager.steps(be, data, adam, 5);
  replayed.steps(be, data, adam, 5);
  EXPECT_EQ(replayed.graph.captures(), 1);
  EXPECT_TRUE(bitwise_equal(be, eager.model, replayed.model));
  const float lambda_eager = eager.model.read_coefficient(be);
  EXPECT_EQ(lambda_eager, replayed.model.read_coefficient(be));
  EXPECT_NE(lambda_eager, 1e-3f) << "the controller moved λ on the device";

  // λ and the target k are device scalars: a new value reaches the captured step.
  for (Trainee* t : {&eager, &replayed}) {
    t->model.set_coefficient(be, 0.5f);
    t->model.set_k(be, 5);
  }
  eager.steps(be, data, adam, 3);
  replayed.steps(be, data, adam, 3);
  EXPECT_EQ(replayed.graph.captures(), 1);
  EXPECT_TRUE(bitwise_equal(be, eager.model, replayed.model));
  const float after_eager = eager.model.read_coefficient(be),
              after_graph = replayed.model.read_coefficient(be);
  EXPECT_EQ(after_eager, after_graph);
  // From 0.5 the controller moves λ by at most a factor exp(±0.05·(L0 − k)/k) per step; a graph
  // that kept the captured λ (about 1e-3) would be orders of magnitude away.
  EXPECT_GT(after_graph, 0.05f) << "the replayed step kept the captured λ";
  const LossValues a = eager.model.read_losses(be), b = replayed.model.read_losses(be);
  EXPECT_EQ(std::memcmp(&a, &b, sizeof a), 0) << "losses " << a.total << " vs " << b.total;
  EXPECT_GT(b.l1, 0.0f);
}

}  // namespace
}  // namespace vsae
