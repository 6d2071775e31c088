// The VAE-SAE model on the graph engine: PyTorch names and layouts, a CPU sanity fit, and a whole
// training step compared across backends.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <map>
#include <utility>

#include "apps/vsae/model/vae_sae.hpp"
#include "engine/ops/adam.hpp"
#include "tests/support/backends.hpp"
#include "tests/support/compare.hpp"
#include "tests/support/twin.hpp"

namespace vsae {
namespace {

// A few binary 64x64 images with rectangles of different sizes and places.
std::vector<float> tiny_batch(int batch, int channels) {
  std::vector<float> x(static_cast<std::size_t>(batch) * channels * 64 * 64, 0.0f);
  for (int n = 0; n < batch; ++n)
    for (int c = 0; c < channels; ++c)
      for (int i = 0; i < 64; ++i)
        for (int j = 0; j < 64; ++j) {
          int top = 8 + 6 * n, left = 10 + 4 * n, side = 12 + 2 * n;
          bool on = i >= top && i < top + side && j >= left && j < left + side;
          x[((static_cast<std::size_t>(n) * channels + c) * 64 + i) * 64 + j] = on ? 1.0f : 0.0f;
        }
  return x;
}

// One training forward and backward on the batch in input(); the SAE codes it gave.
std::vector<float> training_codes(VaeSaeModel& model, Backend& be) {
  model.forward_backward(be);
  std::vector<float> a(static_cast<std::size_t>(model.codes().data.numel()));
  be.download(a.data(), model.codes().data);
  return a;
}

TEST(Model, ParameterNamesAndLayoutsFollowPyTorch) {
  ModelConfig cfg;
  cfg.channels = 3;
  VaeSaeModel model(test::cpu(), cfg, 2, 1);
  std::map<std::string, Shape> expected{
      {"encoder.conv1.weight", Shape{32, 3, 4, 4}}, {"encoder.conv1.bias", Shape{32}},
      {"encoder.conv2.weight", Shape{32, 32, 4, 4}}, {"encoder.conv3.weight", Shape{64, 32, 4, 4}},
      {"encoder.conv4.weight", Shape{64, 64, 4, 4}}, {"encoder.fc1.weight", Shape{256, 1024}},
      {"head.mu.weight", Shape{10, 256}},           {"head.logvar.bias", Shape{10}},
      {"decoder.fc2.weight", Shape{256, 10}},       {"decoder.fc3.weight", Shape{1024, 256}},
      {"decoder.deconv1.weight", Shape{64, 64, 4, 4}}, {"decoder.deconv2.weight", Shape{64, 32, 4, 4}},
      {"decoder.deconv3.weight", Shape{32, 32, 4, 4}}, {"decoder.deconv4.weight", Shape{32, 3, 4, 4}},
      {"decoder.deconv4.bias", Shape{3}}};
  for (const auto& [name, shape] : expected) EXPECT_EQ(model.graph().find_parameter(name).shape, shape) << name;
  EXPECT_EQ(model.logits().shape, (Shape{2, 3, 64, 64}));
  EXPECT_EQ(model.mu().shape, (Shape{2, 10}));
}

TEST(Model, IdentitySaeVaeFitsATinyBatchOnTheCpu) {
  Backend& be = test::cpu();
  ModelConfig cfg;
  VaeSaeModel model(be, cfg, 4, 7);
  std::vector<float> x = tiny_batch(4, 1);
  be.upload(model.input().data, x.data());
  AdamHyper hyper;
  hyper.lr = 1e-3f;
  model.train_step(be, hyper);
  const float first = model.read_losses(be).total;
  float last = first;
  for (int step = 1; step < 300; ++step) model.train_step(be, hyper);
  last = model.read_losses(be).total;
  std::printf("identity-SAE VAE on 4 images: loss %.1f -> %.1f after 300 steps (factor %.1f)\n", first, last,
              first / last);
  ASSERT_TRUE(std::isfinite(last));
  EXPECT_GT(first / last, 20.0f);
}

TEST(Model, TopkSaeKeepsAtMostKUnitsPerExample) {
  Backend& be = test::cpu();
  ModelConfig cfg;
  cfg.sae = SaeKind::topk;
  VaeSaeModel model(be, cfg, 4, 3);
  EXPECT_EQ(model.graph().find_parameter("sae.enc.weight").shape, (Shape{500, 256}));
  EXPECT_EQ(model.graph().find_parameter("sae.dec.weight").shape, (Shape{256, 500}));
  std::vector<float> x = tiny_batch(4, 1);
  be.upload(model.input().data, x.data());
  model.set_k(be, 10);
  model.reset_fire_counts(be);
  model.train_step(be, AdamHyper{});
  std::vector<float> codes(4 * 500);
  be.download(codes.data(), model.codes().data);
  for (int n = 0; n < 4; ++n) {
    int active = 0;
    for (int j = 0; j < 500; ++j) active += codes[n * 500 + j] > 0;
    EXPECT_GT(active, 0);
    EXPECT_LE(active, 10);
  }
  std::int64_t fired = 0;
  for (std::int64_t c : model.read_fire_counts(be)) fired += c;
  std::int64_t positive = 0;
  for (float a : codes) positive += a > 0;
  EXPECT_EQ(fired, positive);
  LossValues l = model.read_losses(be);
  EXPECT_GT(l.sae, 0.0f);
  EXPECT_THROW(model.set_k(be, 501), Error);
}

TEST(Model, L1ControllerRaisesLambdaWhenTooManyUnitsFire) {
  Backend& be = test::cpu();
  ModelConfig cfg;
  cfg.sae = SaeKind::l1;
  VaeSaeModel model(be, cfg, 4, 5);
  std::vector<float> x = tiny_batch(4, 1);
  be.upload(model.input().data, x.data());
  model.set_k(be, 1);  // far fewer than the ReLU code's active units
  model.set_coefficient(be, 1e-3f);
  model.enable_controller(SparsityControl{0.05f, 1e-6f, 1e3f});
  model.train_step(be, AdamHyper{});
  EXPECT_GT(model.read_coefficient(be), 1e-3f);
  EXPECT_GT(model.read_losses(be).l1, 0.0f);
}

// With the relative threshold a = max(z − τ·s, 0), s the RMS of z, is homogeneous in z: an encoder
// scaled by c gives codes scaled by c, so growing z cannot outrun τ. The running s is state.
TEST(Model, RelativeL1ProxCodesScaleWithTheEncoder) {
  Backend& be = test::cpu();
  ModelConfig cfg;
  cfg.sae = SaeKind::l1_prox;
  cfg.l1_prox_threshold = "relative";
  cfg.l1_prox_scale_beta = 0.5f;
  VaeSaeModel model(be, cfg, 4, 5);
  const auto state = model.state_tensors();
  EXPECT_TRUE(std::any_of(state.begin(), state.end(), [](const auto& s) { return s.first == "l1_prox_running_scale"; }));
  EXPECT_LT(model.read_l1_prox_running_scale(be), 0.0f);  // unset before the first step
  std::vector<float> x = tiny_batch(4, 1);
  be.upload(model.input().data, x.data());
  model.set_coefficient(be, 0.5f);
  const auto codes = [&] { return training_codes(model, be); };
  const std::vector<float> before = codes();
  const float s1 = model.read_l1_prox_running_scale(be);
  EXPECT_GT(s1, 0.0f);
  const auto positive = std::count_if(before.begin(), before.end(), [](float v) { return v > 0; });
  EXPECT_GT(positive, 0);
  EXPECT_LT(positive, static_cast<long>(before.size()));
  for (const char* name : {"sae.enc.weight", "sae.enc.bias"}) {
    Parameter& p = model.graph().find_parameter(name);
    std::vector<float> v(static_cast<std::size_t>(p.value.numel()));
    be.download(v.data(), p.value);
    for (float& e : v) e *= 3.0f;
    be.upload(p.value, v.data());
  }
  // Evaluation reads the running s (set from the first step's batch), not this batch's.
  model.evaluate_batch(be);
  std::vector<float> eval(before.size());
  be.download(eval.data(), model.codes().data);
  const auto eval_positive = std::count_if(eval.begin(), eval.end(), [](float v) { return v > 0; });
  EXPECT_GT(eval_positive, positive);  // 3·z against the threshold of 1·z: more units pass
  const std::vector<float> after = codes();
  for (std::size_t i = 0; i < before.size(); ++i) ASSERT_NEAR(after[i], 3.0f * before[i], 1e-4f * (1.0f + before[i])) << i;
  EXPECT_NEAR(model.read_l1_prox_running_scale(be), 0.5f * s1 + 0.5f * 3.0f * s1, 1e-5f * s1);
}

// The per-unit threshold μ_j + τ·σ_j makes each unit's codes independent of its own offset and
// scale: scaling unit j's encoder row and bias by c_j > 0 scales its codes by c_j, and shifting its
// bias changes nothing. The running pair is state, and the controller's τ is signed.
TEST(Model, PerUnitL1ProxCodesIgnoreEachUnitsOffsetAndScale) {
  Backend& be = test::cpu();
  ModelConfig cfg;
  cfg.sae = SaeKind::l1_prox;
  cfg.l1_prox_threshold = "per_unit";
  VaeSaeModel model(be, cfg, 4, 5);
  const auto state = model.state_tensors();
  const auto find = [&](const char* name) {
    const auto it = std::find_if(state.begin(), state.end(), [&](const auto& s) { return s.first == name; });
    EXPECT_NE(it, state.end()) << name;
    std::vector<float> v(static_cast<std::size_t>(it->second.numel()));
    be.download(v.data(), it->second);
    return v;
  };
  for (float sd : find("l1_prox_running_std")) ASSERT_LT(sd, 0.0f);  // unset before the first step
  EXPECT_EQ(find("l1_prox_eval_tau").size(), 1u);
  std::vector<float> x = tiny_batch(4, 1);
  be.upload(model.input().data, x.data());
  model.set_coefficient(be, -0.2f);
  const auto codes = [&] { return training_codes(model, be); };
  const std::vector<float> before = codes();
  for (float sd : find("l1_prox_running_std")) ASSERT_GE(sd, 0.0f);
  const auto positive = std::count_if(before.begin(), before.end(), [](float v) { return v > 0; });
  EXPECT_GT(positive, 0);
  EXPECT_LT(positive, static_cast<long>(before.size()));
  const std::int64_t width = cfg.sae_width, hidden = cfg.hidden;
  Parameter& w_enc = model.graph().find_parameter("sae.enc.weight");
  Parameter& b_enc = model.graph().find_parameter("sae.enc.bias");
  std::vector<float> w(static_cast<std::size_t>(w_enc.value.numel())), b(static_cast<std::size_t>(width));
  be.download(w.data(), w_enc.value);
  be.download(b.data(), b_enc.value);
  const auto scale_of = [](std::int64_t j) { return 0.5f + static_cast<float>(j % 7); };
  for (std::int64_t j = 0; j < width; ++j) {
    for (std::int64_t r = 0; r < hidden; ++r) w[static_cast<std::size_t>(j * hidden + r)] *= scale_of(j);
    b[static_cast<std::size_t>(j)] = b[static_cast<std::size_t>(j)] * scale_of(j) + (j % 2 ? 3.0f : -3.0f);
  }
  be.upload(w_enc.value, w.data());
  be.upload(b_enc.value, b.data());
  const std::vector<float> after = codes();
  for (std::size_t i = 0; i < before.size(); ++i) {
    const float c = scale_of(static_cast<std::int64_t>(i) % width);
    ASSERT_NEAR(after[i], c * before[i], 1e-3f * c * (1.0f + before[i])) << i;
  }
  SparsityControl control{0.5f, 1e-3f, 4.0f, 0.01f};
  model.set_k(be, 1);
  model.enable_controller(control);
  model.train_step(be, AdamHyper{});  // L0 > k: τ rises from −0.2, by at most 0.5·(W − 1)/1
  const float tau = model.read_coefficient(be);
  EXPECT_GT(tau, -0.2f);
  EXPECT_GT(model.read_l1_prox_eval_tau(be), -0.2f);  // evaluation's τ too, on its own count
  model.set_coefficient(be, -3.9f);
  model.set_k(be, cfg.sae_width);
  model.train_step(be, AdamHyper{});  // L0 < k: τ falls, below 0 and to the clamp −hi
  EXPECT_LE(model.read_coefficient(be), -3.9f);
  EXPECT_GE(model.read_coefficient(be), -4.0f);
}

// sparsity.jumprelu.threshold_lr_scale reaches Adam: the first step moves log θ by lr·scale
// (Adam's first step is lr·g/(|g| + ε) per entry), every other parameter by at most lr.
TEST(Model, JumpReluThresholdLearnsAtItsOwnRate) {
  Backend& be = test::cpu();
  ModelConfig cfg;
  cfg.sae = SaeKind::jumprelu;
  cfg.jumprelu_bandwidth = 100.0f;  // every pre-activation in the window: every θ gets a gradient
  cfg.jumprelu_threshold_lr_scale = 100.0f;
  VaeSaeModel model(be, cfg, 4, 7);
  std::vector<float> x = tiny_batch(4, 1);
  be.upload(model.input().data, x.data());
  model.set_k(be, 10);
  model.set_coefficient(be, 1.0f);
  auto values = [&](const char* name) {
    const Tensor& t = model.graph().find_parameter(name).value;
    std::vector<float> host(static_cast<std::size_t>(t.numel()));
    be.download(host.data(), t);
    return host;
  };
  const std::vector<float> theta0 = values("sae.log_threshold"), w0 = values("sae.enc.weight");
  const AdamHyper hyper{1e-4f};
  model.train_step(be, hyper);
  const std::vector<float> theta1 = values("sae.log_threshold"), w1 = values("sae.enc.weight");
  for (std::size_t j = 0; j < theta0.size(); ++j)
    EXPECT_NEAR(std::fabs(theta1[j] - theta0[j]), 100.0f * hyper.lr, 1e-3f * 100.0f * hyper.lr) << "unit " << j;
  for (std::size_t i = 0; i < w0.size(); ++i) ASSERT_LE(std::fabs(w1[i] - w0[i]), hyper.lr * (1.0f + 1e-4f));
}

// The most a correct Adam can move one parameter in `steps` steps. With bias correction, step t
// moves it by lr·|m̂_t|/(√v̂_t + ε), and Cauchy–Schwarz over the gradient history bounds
//   |m̂_t|/√v̂_t ≤ (1−β1)/(1−β1^t) · √((1−β2^t)/(1−β2)) · √(Σ_{i<t} (β1²/β2)^i),
// which is 1 at t = 1 and 1.0014, 1.0036 at t = 2, 3 for the default betas; ε only shrinks it.
double adam_displacement_bound(const AdamHyper& h, int steps) {
  const double b1 = h.beta1, b2 = h.beta2, r = b1 * b1 / b2;
  double total = 0.0, geometric = 0.0;
  for (int t = 1; t <= steps; ++t) {
    geometric += std::pow(r, t - 1);
    total += (1.0 - b1) / (1.0 - std::pow(b1, t)) *
             std::sqrt((1.0 - std::pow(b2, t)) / (1.0 - b2)) * std::sqrt(geometric);
  }
  return h.lr * total;
}

// Parameters after Adam steps on two backends. Adam moves an entry by about lr per step whatever
// the gradient's size, so an entry whose gradient is near zero, and rounds to opposite signs on
// the two backends, ends up to twice the bound above apart: no entry may differ by more. A wrong
// gradient changes many entries, though, while such sign flips are rare: all but 1% of each
// parameter's entries must also agree to `tight`.
::testing::AssertionResult adam_params_close(const std::vector<float>& ref,
                                             const std::vector<float>& got, const AdamHyper& hyper,
                                             int steps, test::Tolerance tight) {
  const test::Tolerance loosest{tight.abs + 2.0 * adam_displacement_bound(hyper, steps), tight.rel};
  ::testing::AssertionResult within_adam = test::all_close(ref, got, loosest);
  if (!within_adam) return within_adam << " (2·Adam's bound over " << steps << " steps)";
  std::size_t outside = 0;
  for (std::size_t i = 0; i < ref.size(); ++i)
    outside +=
        std::fabs(static_cast<double>(got[i]) - ref[i]) > tight.abs + tight.rel * std::fabs(ref[i]);
  if (outside > std::max<std::size_t>(1, ref.size() / 100))
    return ::testing::AssertionFailure()
           << outside << " of " << ref.size() << " entries differ by more than abs " << tight.abs
           << " + rel " << tight.rel;
  return ::testing::AssertionSuccess();
}

// Two Adam runs from the same start whose gradients agree except that `flipped` entries get
// +1e-6 in one and −1e-6 in the other, as two backends may round a near-zero gradient.
std::pair<std::vector<float>, std::vector<float>> adam_runs_with_flips(const AdamHyper& hyper,
                                                                       int steps,
                                                                       std::size_t flipped) {
  const std::int64_t n = 400;
  const std::vector<float> start = test::random_uniform(n, -0.5f, 0.5f, 3);
  std::vector<float> result[2];
  for (int run = 0; run < 2; ++run) {
    std::vector<float> p = start, m(n, 0.0f), v(n, 0.0f);
    for (std::int32_t t = 1; t <= steps; ++t) {
      std::vector<float> grads = test::random_normal(n, 1e-2f, 10 + static_cast<std::uint64_t>(t));
      for (std::size_t i = 0; i < flipped; ++i) grads[i] = run == 0 ? 1e-6f : -1e-6f;
      std::vector<std::int32_t> step{t};
      adam_step(test::cpu(), test::host_view(p, Shape{n}), test::host_view(grads, Shape{n}),
                test::host_view(m, Shape{n}), test::host_view(v, Shape{n}),
                test::host_view(step, Shape{1}), hyper);
    }
    result[run] = p;
  }
  return {result[0], result[1]};
}

// The tolerance below admits what flipped near-zero gradients legitimately do (2·lr per step,
// here 6e-4 where {1e-5, 1e-3} would fail), and rejects the same on many entries.
TEST(Model, AdamToleranceAdmitsRareGradientSignFlips) {
  const AdamHyper hyper;
  EXPECT_NEAR(adam_displacement_bound(hyper, 3), 3.0050 * hyper.lr, 1e-4 * hyper.lr);
  const auto [a, b] = adam_runs_with_flips(hyper, 3, 1);
  EXPECT_GT(std::fabs(a[0] - b[0]), 5.9 * hyper.lr);
  EXPECT_FALSE(test::all_close(a, b, {1e-5, 1e-3}));
  EXPECT_TRUE(adam_params_close(a, b, hyper, 3, {1e-5, 1e-3}));
  const auto [c, d] = adam_runs_with_flips(hyper, 3, 40);
  EXPECT_FALSE(adam_params_close(c, d, hyper, 3, {1e-5, 1e-3}));
  // One entry three times as far apart as two correct Adams can get: a bug, however rare.
  std::vector<float> moved = a;
  moved[7] += 2e-3f;
  EXPECT_FALSE(adam_params_close(a, moved, hyper, 3, {1e-5, 1e-3}));
}

TEST(Model, TrainingStepMatchesAcrossBackends) {
  VSAE_REQUIRE_CUDA_LIBRARIES("cuBLAS and cuDNN");
  ModelConfig cfg;
  cfg.sae = SaeKind::topk;
  std::vector<float> x = tiny_batch(3, 1);
  AdamHyper hyper;
  VaeSaeModel on_cpu(test::cpu(), cfg, 3, 11);
  VaeSaeModel on_gpu(test::cuda(), cfg, 3, 11);
  test::Tf32Scope exact(test::cuda(), false);
  test::cpu().upload(on_cpu.input().data, x.data());
  test::cuda().upload(on_gpu.input().data, x.data());
  on_cpu.set_k(test::cpu(), 50);
  on_gpu.set_k(test::cuda(), 50);
  const int steps = 3;
  for (int step = 0; step < steps; ++step) {
    on_cpu.train_step(test::cpu(), hyper);
    on_gpu.train_step(test::cuda(), hyper);
  }
  LossValues a = on_cpu.read_losses(test::cpu()), b = on_gpu.read_losses(test::cuda());
  EXPECT_NEAR(a.recon, b.recon, 1e-3 * std::fabs(a.recon));
  EXPECT_NEAR(a.kl, b.kl, 1e-3 * std::fabs(a.kl) + 1e-4);
  for (const Parameter& p : on_cpu.graph().parameters()) {
    const Parameter& q = on_gpu.graph().find_parameter(p.name);
    std::vector<float> ref(static_cast<std::size_t>(p.shape.numel())), got(ref.size());
    test::cpu().download(ref.data(), p.value);
    test::cuda().download(got.data(), q.value);
    EXPECT_TRUE(adam_params_close(ref, got, hyper, steps, {1e-5, 1e-3})) << p.name;
  }
}

}  // namespace
}  // namespace vsae
