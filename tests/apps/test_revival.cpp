// Dead-neuron revival in the model and the config: AuxK trains dead units' encoder rows (their
// gradient is zero without it) with a finite-difference check, resampling re-initialises dead units
// that then fire again in a tiny CPU run, and the revival config keys are validated.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>

#include "apps/vsae/config/run_config.hpp"
#include "apps/vsae/model/vae_sae.hpp"
#include "tests/support/backends.hpp"
#include "tests/support/compare.hpp"
#include "tests/support/gradcheck.hpp"

namespace vsae {
namespace {

constexpr int kBatch = 4, kWidth = 64, kDeadSteps = 5;
constexpr float kScale = 1.0f;  // the config default: a resampled unit must win Top-k slots

// Binary 64x64 images of squares of different sizes and places.
std::vector<float> squares(int batch) {
  std::vector<float> x(static_cast<std::size_t>(batch) * 64 * 64, 0.0f);
  for (int n = 0; n < batch; ++n)
    for (int i = 0; i < 64; ++i)
      for (int j = 0; j < 64; ++j) {
        const int top = 8 + 9 * n, left = 6 + 7 * n, side = 10 + 3 * n;
        x[(static_cast<std::size_t>(n) * 64 + i) * 64 + j] = i >= top && i < top + side && j >= left && j < left + side;
      }
  return x;
}

ModelConfig topk_config(int auxk_k) {
  ModelConfig cfg;
  cfg.sae = SaeKind::topk;
  cfg.sae_width = kWidth;
  cfg.dead_steps = kDeadSteps;
  cfg.auxk_k = auxk_k;
  cfg.auxk_alpha = 0.5f;
  return cfg;
}

std::vector<float> grad_of(Backend& be, VaeSaeModel& m, const std::string& name) {
  const Parameter& p = m.graph().find_parameter(name);
  std::vector<float> g(static_cast<std::size_t>(p.grad.numel()));
  be.download(g.data(), p.grad);
  return g;
}

// Odd units are dead (steps since fired = dead_steps), even ones live.
std::vector<std::int32_t> odd_units_dead() {
  std::vector<std::int32_t> since(kWidth, 0);
  for (int j = 1; j < kWidth; j += 2) since[j] = kDeadSteps;
  return since;
}

// Units that no row of the main Top-k kept: only AuxK can reach their encoder rows.
std::vector<int> silent_units(Backend& be, VaeSaeModel& m) {
  std::vector<float> codes(static_cast<std::size_t>(kBatch * kWidth));
  be.download(codes.data(), m.codes().data);
  std::vector<int> silent;
  for (int j = 0; j < kWidth; ++j) {
    bool fired = false;
    for (int n = 0; n < kBatch; ++n) fired = fired || codes[n * kWidth + j] != 0.0f;
    if (!fired) silent.push_back(j);
  }
  return silent;
}

TEST(Revival, AuxkGivesDeadUnitsEncoderGradients) {
  Backend& be = test::cpu();
  const std::vector<float> x = squares(kBatch);
  VaeSaeModel plain(be, topk_config(0), kBatch, 9), auxk(be, topk_config(16), kBatch, 9);
  for (VaeSaeModel* m : {&plain, &auxk}) {
    be.upload(m->input().data, x.data());
    m->set_k(be, 4);
    m->set_steps_since_fired(be, odd_units_dead());
    m->forward_backward(be);
  }
  const std::vector<float> g_plain = grad_of(be, plain, "sae.enc.weight"), g_auxk = grad_of(be, auxk, "sae.enc.weight");
  const std::vector<int> silent = silent_units(be, plain);
  ASSERT_FALSE(silent.empty());
  const int hidden = 256;
  int dead_with_grad = 0;
  for (int j : silent) {
    auto row = [&](const std::vector<float>& g) { return std::vector<float>(g.begin() + j * hidden, g.begin() + (j + 1) * hidden); };
    const auto p = row(g_plain), a = row(g_auxk);
    EXPECT_TRUE(std::all_of(p.begin(), p.end(), [](float v) { return v == 0.0f; })) << "unit " << j;
    const bool moved = std::any_of(a.begin(), a.end(), [](float v) { return v != 0.0f; });
    if (j % 2 == 0) {
      EXPECT_FALSE(moved) << "live unit " << j << " gets an AuxK gradient";
    }
    dead_with_grad += j % 2 == 1 && moved;
  }
  EXPECT_GT(dead_with_grad, 0);
  // Live units' encoder rows see the same gradient with and without AuxK.
  for (int j = 0; j < kWidth; j += 2)
    EXPECT_TRUE(test::all_close(std::vector<float>(g_plain.begin() + j * hidden, g_plain.begin() + (j + 1) * hidden),
                                std::vector<float>(g_auxk.begin() + j * hidden, g_auxk.begin() + (j + 1) * hidden),
                                test::Tolerance{1e-6, 1e-4}))
        << "unit " << j;
  // The counter moved on after the step: units that fired restart at 0, the others count up.
  const std::vector<std::int32_t> since = auxk.read_steps_since_fired(be);
  for (int j : silent) EXPECT_EQ(since[j], j % 2 ? kDeadSteps + 1 : 1);
}

// Only the AuxK term depends on a silent dead unit's encoder row, so d total / d W_enc[j] must
// equal α · d aux / d W_enc[j] by central differences of the forward's aux loss.
TEST(Revival, AuxkEncoderGradientMatchesFiniteDifferences) {
  Backend& be = test::cpu();
  const std::vector<float> x = squares(kBatch);
  const ModelConfig cfg = topk_config(16);
  VaeSaeModel m(be, cfg, kBatch, 9);
  be.upload(m.input().data, x.data());
  m.set_k(be, 4);
  m.set_steps_since_fired(be, odd_units_dead());
  m.forward_backward(be);
  m.set_steps_since_fired(be, odd_units_dead());  // forward_backward advanced the counters
  const std::vector<int> silent = silent_units(be, m);
  const std::vector<float> grad = grad_of(be, m, "sae.enc.weight");
  Parameter& w = m.graph().find_parameter("sae.enc.weight");
  std::vector<float> weights(static_cast<std::size_t>(w.value.numel()));
  be.download(weights.data(), w.value);
  const int hidden = 256;
  int checked = 0;
  for (int j : silent) {
    if (j % 2 == 0) continue;
    std::vector<float> row(weights.begin() + j * hidden, weights.begin() + (j + 1) * hidden);
    const std::vector<float> analytic(grad.begin() + j * hidden, grad.begin() + (j + 1) * hidden);
    if (std::all_of(analytic.begin(), analytic.end(), [](float v) { return v == 0.0f; })) continue;
    auto loss = [&] {
      std::copy(row.begin(), row.end(), w.value.ptr<float>() + j * hidden);
      m.evaluate_batch(be);
      return static_cast<double>(cfg.auxk_alpha) * m.read_losses(be).aux;
    };
    test::GradCheckOptions options;
    options.max_probes = 8;
    options.abs_tol = 1e-3;
    EXPECT_TRUE(test::check_gradient(loss, row, analytic, "sae.enc.weight[" + std::to_string(j) + "]", options));
    loss();  // restore the row
    if (++checked == 2) break;
  }
  EXPECT_GT(checked, 0);
}

TEST(Revival, ResamplingRevivesDeadUnitsInATinyCpuRun) {
  Backend& be = test::cpu();
  const std::vector<float> x = squares(kBatch);
  VaeSaeModel m(be, topk_config(0), kBatch, 5);
  be.upload(m.input().data, x.data());
  m.set_k(be, 4);
  AdamHyper hyper;
  hyper.lr = 1e-3f;
  for (int s = 0; s < 3 * kDeadSteps; ++s) m.train_step(be, hyper);
  std::vector<std::int32_t> since = m.read_steps_since_fired(be);
  std::vector<int> dead;
  for (int j = 0; j < kWidth; ++j)
    if (since[j] >= kDeadSteps) dead.push_back(j);
  ASSERT_GT(dead.size(), 8u) << "k = 4 of 64 on four images leaves most units dead";

  m.evaluate_batch(be);  // the residuals of this batch seed the new directions
  EXPECT_EQ(m.resample_dead_units(be, kScale), static_cast<std::int64_t>(dead.size()));
  since = m.read_steps_since_fired(be);
  const Parameter& b_enc = m.graph().find_parameter("sae.enc.bias");
  const Parameter& w_dec = m.graph().find_parameter("sae.dec.weight");
  std::vector<float> bias(kWidth), dec(static_cast<std::size_t>(256 * kWidth)), m_dec(dec.size());
  be.download(bias.data(), b_enc.value);
  be.download(dec.data(), w_dec.value);
  be.download(m_dec.data(), w_dec.adam_m);
  for (int j : dead) {
    EXPECT_EQ(since[j], 0);
    EXPECT_EQ(bias[j], 0.0f);
    double sq = 0.0;
    for (int c = 0; c < 256; ++c) {
      sq += double(dec[c * kWidth + j]) * dec[c * kWidth + j];
      EXPECT_EQ(m_dec[c * kWidth + j], 0.0f);
    }
    EXPECT_NEAR(std::sqrt(sq), 1.0, 1e-5) << "unit " << j;
  }
  EXPECT_EQ(m.resample_dead_units(be, kScale), 0) << "nothing is dead right after a resampling";

  // The resampled units point at the worst-reconstructed residuals: some of them win a Top-k slot.
  for (int s = 0; s < kDeadSteps - 1; ++s) m.train_step(be, hyper);
  since = m.read_steps_since_fired(be);
  const auto revived = std::count_if(dead.begin(), dead.end(), [&](int j) { return since[j] < kDeadSteps - 1; });
  std::printf("%zu units dead after %d steps; %ld of them fired again after resampling\n", dead.size(),
              3 * kDeadSteps, static_cast<long>(revived));
  EXPECT_GT(revived, 0);
}

TEST(RevivalConfig, DefaultsAndModelWiring) {
  using nlohmann::json;
  config::RunConfig c = config::parse_run_config(json::object());
  EXPECT_EQ(c.revival.method, "none");
  EXPECT_EQ(c.revival.auxk_k, 128);
  EXPECT_DOUBLE_EQ(c.revival.auxk_alpha, 1.0 / 32.0);
  EXPECT_EQ(c.revival.dead_steps, 1000);
  EXPECT_EQ(c.revival.resample_every, 5);
  EXPECT_DOUBLE_EQ(c.revival.resample_scale, 1.0);
  EXPECT_EQ(c.model.dead_steps, 0);
  EXPECT_EQ(c.model.auxk_k, 0);

  c = config::parse_run_config(json{{"model", {{"sae_width", 40}}}, {"revival", {{"method", "auxk"}, {"dead_steps", 7}}}});
  EXPECT_EQ(c.revival.auxk_k, 40) << "the default is clamped to the width";
  EXPECT_EQ(c.model.auxk_k, 40);
  EXPECT_EQ(c.model.dead_steps, 7);
  c = config::parse_run_config(json{{"revival", {{"method", "resample"}}}});
  EXPECT_EQ(c.model.auxk_k, 0);
  EXPECT_EQ(c.model.dead_steps, 1000);
  EXPECT_EQ(config::parse_run_config(c.to_json()).to_json(), c.to_json());
}

TEST(RevivalConfig, BadValuesNameTheKey) {
  using nlohmann::json;
  auto error_of = [](const json& j) -> std::string {
    try {
      config::parse_run_config(j);
    } catch (const Error& e) {
      return e.what();
    }
    return "no error";
  };
  EXPECT_NE(error_of(json{{"revival", {{"method", "ghost"}}}}).find("revival.method"), std::string::npos);
  EXPECT_NE(error_of(json{{"revival", {{"auxk_k", 501}}}}).find("revival.auxk_k"), std::string::npos);
  EXPECT_NE(error_of(json{{"revival", {{"dead_steps", 0}}}}).find("revival.dead_steps"), std::string::npos);
  EXPECT_NE(error_of(json{{"revival", {{"resample_every", 0}}}}).find("revival.resample_every"), std::string::npos);
  EXPECT_NE(error_of(json{{"revival", {{"resample_scale", 0.0}}}}).find("revival.resample_scale"), std::string::npos);
  EXPECT_NE(error_of(json{{"revival", {{"auxk_alpha", -1.0}}}}).find("revival.auxk_alpha"), std::string::npos);
  EXPECT_NE(error_of(json{{"revival", {{"bogus", 1}}}}).find("bogus"), std::string::npos);
}

}  // namespace
}  // namespace vsae
