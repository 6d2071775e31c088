// Run-config validation: defaults, and a clear error naming the key for each kind of bad input.
#include <gtest/gtest.h>

#include "apps/vsae/config/run_config.hpp"

namespace vsae::config {
namespace {

using nlohmann::json;

std::string error_of(const json& j) {
  try {
    parse_run_config(j);
  } catch (const Error& e) {
    return e.what();
  }
  return "no error";
}

TEST(Config, DefaultsFollowTheDesign) {
  RunConfig c = parse_run_config(json::object());
  EXPECT_EQ(c.dataset.name, "dsprites");
  EXPECT_EQ(c.model.channels, 1);
  EXPECT_EQ(c.model.sae_width, 500);
  EXPECT_EQ(c.sparsity.method, SaeKind::topk);
  EXPECT_EQ(c.sparsity.schedule.start, 500);
  EXPECT_EQ(c.sparsity.schedule.end, 50);
  EXPECT_EQ(c.sparsity.schedule.epochs, 50);
  EXPECT_EQ(c.training.extra_epochs, 100);
  EXPECT_EQ(c.training.batch_size, 64);
  EXPECT_DOUBLE_EQ(c.training.lr, 1e-4);
  EXPECT_EQ(c.eval.samples, 10000);
  EXPECT_EQ(c.eval.mig_bins, 20);
  EXPECT_EQ(c.output.dir, "runs/run");
  EXPECT_EQ(c.model.l1_prox_threshold, "absolute");
}

TEST(Config, ResolvedConfigRoundTrips) {
  json in = {{"name", "x"}, {"dataset", {{"name", "shapes3d"}, {"subset", 1000}}},
             {"sparsity", {{"method", "l1"}, {"schedule", {{"type", "cosine"}, {"end", 20}}}}}};
  RunConfig a = parse_run_config(in);
  EXPECT_EQ(a.model.channels, 3);
  RunConfig b = parse_run_config(a.to_json());
  EXPECT_EQ(a.to_json(), b.to_json());
}

// A run resumes under the settings it computes with: device and output may change, and so may
// the sections of sparsifiers it does not use; its own sparsifier's settings may not.
TEST(Config, ResumeIdentityKeepsOnlyTheSettingsTheRunUses) {
  auto digest = [](const json& j) { return resume_digest(parse_run_config(j)); };
  const json topk = {{"sparsity", {{"method", "topk"}}}};
  json moved = topk;
  moved["device"] = "cuda";
  moved["output"] = {{"dir", "elsewhere"}};
  EXPECT_EQ(digest(topk), digest(moved));
  json tuned = topk;
  tuned["sparsity"]["jumprelu"] = {{"coefficient", 30.0}};
  tuned["sparsity"]["batchtopk"] = {{"threshold_beta", 0.99}};
  tuned["sparsity"]["controller"] = {{"rate", 0.01}};
  EXPECT_EQ(digest(topk), digest(tuned));
  json schedule = topk;
  schedule["sparsity"]["schedule"] = {{"end", 40}};
  EXPECT_NE(digest(topk), digest(schedule));

  const json jumprelu = {{"sparsity", {{"method", "jumprelu"}}}};
  json jumprelu_tuned = jumprelu;
  jumprelu_tuned["sparsity"]["jumprelu"] = {{"coefficient", 30.0}};
  EXPECT_NE(digest(jumprelu), digest(jumprelu_tuned));
  jumprelu_tuned = jumprelu;
  jumprelu_tuned["sparsity"]["controller"] = {{"rate", 0.01}};
  EXPECT_EQ(digest(jumprelu), digest(jumprelu_tuned));
  for (const char* method : {"l1", "l1_prox"}) {
    const json l1 = {{"sparsity", {{"method", method}}}};
    json l1_tuned = l1;
    l1_tuned["sparsity"]["controller"] = {{"rate", 0.01}};
    EXPECT_NE(digest(l1), digest(l1_tuned)) << method;
  }
  // L1-prox's relative threshold changes what it computes; with an absolute τ its decay does not
  // (so checkpoints from before the setting existed still resume), nor for other methods.
  const json prox = {{"sparsity", {{"method", "l1_prox"}}}};
  json prox_relative = prox;
  prox_relative["sparsity"]["l1_prox"] = {{"threshold", "relative"}};
  EXPECT_NE(digest(prox), digest(prox_relative));
  json prox_relative_beta = prox_relative;
  prox_relative_beta["sparsity"]["l1_prox"]["scale_beta"] = 0.9;
  EXPECT_NE(digest(prox_relative), digest(prox_relative_beta));
  json prox_per_unit = prox_relative_beta;
  prox_per_unit["sparsity"]["l1_prox"]["threshold"] = "per_unit";
  EXPECT_NE(digest(prox_relative_beta), digest(prox_per_unit));
  json prox_per_unit_beta = prox_per_unit;
  prox_per_unit_beta["sparsity"]["l1_prox"]["scale_beta"] = 0.5;
  EXPECT_NE(digest(prox_per_unit), digest(prox_per_unit_beta));
  json prox_beta = prox;
  prox_beta["sparsity"]["l1_prox"] = {{"scale_beta", 0.9}};
  EXPECT_EQ(digest(prox), digest(prox_beta));
  EXPECT_FALSE(resume_identity(parse_run_config(prox).to_json())["sparsity"].contains("l1_prox"));
  json topk_prox_beta = topk;
  topk_prox_beta["sparsity"]["l1_prox"] = {{"scale_beta", 0.9}};
  EXPECT_EQ(digest(topk), digest(topk_prox_beta));
  const json batchtopk = {{"sparsity", {{"method", "batchtopk"}}}};
  json batchtopk_tuned = batchtopk;
  batchtopk_tuned["sparsity"]["batchtopk"] = {{"threshold_beta", 0.99}};
  EXPECT_NE(digest(batchtopk), digest(batchtopk_tuned));
}

TEST(Config, FirstDifferenceNamesTheKeyPath) {
  const json a = {{"model", {{"conv_channels", {32, 32}}, {"sae_width", 500}}}, {"seed", 0}};
  EXPECT_EQ(first_difference(a, a), "");
  json b = a;
  b["model"]["sae_width"] = 64;
  EXPECT_EQ(first_difference(a, b), "model.sae_width");
  b = a;
  b["model"]["conv_channels"][1] = 64;
  EXPECT_EQ(first_difference(a, b), "model.conv_channels.1");
  b = a;
  b.erase("seed");
  EXPECT_EQ(first_difference(a, b), "seed");
  EXPECT_EQ(first_difference(json(1), json(2)), "the whole config");
}

TEST(Config, ResumeIdentityOfAFileWithoutAValidSparsitySectionIsTheFileItself) {
  // A member's config.json read back from disk may lack the section or hold the wrong type there.
  for (const json& file : {json::object(), json{{"sparsity", nullptr}}, json{{"sparsity", {{"method", 3}}}}}) {
    EXPECT_EQ(resume_identity(file), file) << file.dump();
  }
  const json parsed = parse_run_config(json::object()).to_json();
  EXPECT_NE(resume_identity(json::object()), resume_identity(parsed));
}

struct BadCase {
  const char* label;
  json config;
  const char* message;
};

class BadConfig : public ::testing::TestWithParam<BadCase> {};

TEST_P(BadConfig, FailsWithAMessageNamingTheKey) {
  std::string err = error_of(GetParam().config);
  EXPECT_NE(err.find(GetParam().message), std::string::npos) << "got: " << err;
}

INSTANTIATE_TEST_SUITE_P(
    Config, BadConfig,
    ::testing::Values(
        BadCase{"UnknownTopLevelKey", {{"epochs", 3}}, "unknown config key epochs"},
        BadCase{"UnknownNestedKey", {{"training", {{"lr", 1e-3}, {"momentum", 0.9}}}}, "unknown config key training.momentum"},
        BadCase{"WrongTypeString", {{"seed", "zero"}}, "seed must be an integer"},
        BadCase{"WrongTypeNumber", {{"training", {{"lr", "fast"}}}}, "training.lr must be a number"},
        BadCase{"WrongTypeBool", {{"training", {{"tf32", 1}}}}, "training.tf32 must be true or false"},
        BadCase{"SectionNotObject", {{"dataset", 5}}, "dataset must be a JSON object"},
        BadCase{"BadEnum", {{"sparsity", {{"method", "top_k"}}}}, "sparsity.method must be one of topk, l1, l1_prox"},
        BadCase{"BadDevice", {{"device", "gpu"}}, "device must be one of auto, cpu, cuda"},
        BadCase{"KZero", {{"sparsity", {{"schedule", {{"end", 0}}}}}},
                "sparsity.schedule.end must be between 1 and sae_width (500), got 0"},
        BadCase{"KAboveWidth", {{"model", {{"sae_width", 100}}}, {"sparsity", {{"schedule", {{"start", 500}}}}}},
                "sparsity.schedule.start must be between 1 and sae_width (100), got 500"},
        BadCase{"EndAboveStart", {{"sparsity", {{"schedule", {{"start", 40}, {"end", 50}}}}}},
                "sparsity.schedule.end (50) must not exceed sparsity.schedule.start (40)"},
        BadCase{"ScheduleLongerThanTraining", {{"training", {{"epochs", 10}}}, {"sparsity", {{"schedule", {{"epochs", 20}}}}}},
                "sparsity.schedule.epochs must be between 0 and 10, got 20"},
        BadCase{"NegativeBatch", {{"training", {{"batch_size", -4}}}}, "training.batch_size must be between 1 and 65536"},
        BadCase{"ZeroLr", {{"training", {{"lr", 0.0}}}}, "training.lr must be positive"},
        BadCase{"BadDataset", {{"dataset", {{"name", "mnist"}}}}, "dataset.name must be one of dsprites, shapes3d"},
        BadCase{"SubsetTooLargeForShapes3d", {{"dataset", {{"name", "shapes3d"}, {"subset", 600000}}}},
                "dataset.subset must be between 0 and 480000 for shapes3d"},
        BadCase{"ThresholdOutOfRange", {{"evaluation", {{"dead_thresholds", {0.0, 2.0}}}}},
                "evaluation.dead_thresholds[1] must be between 0 and 1"},
        BadCase{"EmptyThresholds", {{"evaluation", {{"dead_thresholds", json::array()}}}},
                "evaluation.dead_thresholds must be a non-empty array"},
        BadCase{"ConvChannelsCount", {{"model", {{"conv_channels", {32, 32}}}}}, "model.conv_channels must list 4"},
        BadCase{"ControllerBounds", {{"sparsity", {{"controller", {{"min", 1.0}, {"max", 0.5}}}}}},
                "sparsity.controller.min must not exceed sparsity.controller.max"},
        BadCase{"JumpReluBandwidthZero", {{"sparsity", {{"jumprelu", {{"bandwidth", 0.0}}}}}},
                "sparsity.jumprelu.bandwidth must be positive"},
        BadCase{"JumpReluNegativeThresholdLrScale", {{"sparsity", {{"jumprelu", {{"threshold_lr_scale", -1.0}}}}}},
                "sparsity.jumprelu.threshold_lr_scale must be between 0 and 1e+06, got -1"},
        BadCase{"JumpReluZeroThresholdLrScale", {{"sparsity", {{"jumprelu", {{"threshold_lr_scale", 0.0}}}}}},
                "sparsity.jumprelu.threshold_lr_scale must be positive"},
        BadCase{"L1ProxUnknownThreshold", {{"sparsity", {{"l1_prox", {{"threshold", "scaled"}}}}}},
                "sparsity.l1_prox.threshold must be one of"},
        BadCase{"L1ProxScaleBetaOne", {{"sparsity", {{"l1_prox", {{"scale_beta", 1.0}}}}}},
                "sparsity.l1_prox.scale_beta must be below 1"},
        BadCase{"L1ProxRelativeWithTopk", {{"sparsity", {{"l1_prox", {{"threshold", "relative"}}}}}},
                "sparsity.l1_prox.threshold \"relative\" applies to method \"l1_prox\" only"},
        BadCase{"L1ProxPerUnitWithL1", {{"sparsity", {{"method", "l1"}, {"l1_prox", {{"threshold", "per_unit"}}}}}},
                "sparsity.l1_prox.threshold \"per_unit\" applies to method \"l1_prox\" only"},
        BadCase{"L1ProxUnknownKey", {{"sparsity", {{"l1_prox", {{"scale", 1.0}}}}}}, "sparsity.l1_prox.scale"},
        BadCase{"NameWithSlash", {{"name", "a/b"}}, "name must be a non-empty string without '/'"},
        BadCase{"RootNotObject", json::array({1, 2}), "the config must be a JSON object"}),
    [](const ::testing::TestParamInfo<BadCase>& p) { return std::string(p.param.label); });

}  // namespace
}  // namespace vsae::config
