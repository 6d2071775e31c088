// Sweeps: grid expansion, member naming, whole-grid validation and the across-seed aggregation.
#include <gtest/gtest.h>

#include <cctype>
#include <cmath>

#include "apps/vsae/sweep/grid.hpp"
#include "apps/vsae/sweep/summary.hpp"
#include "engine/core/check.hpp"

namespace vsae::sweep {
namespace {

using nlohmann::json;

json base_with(const json& sweep) {
  return {{"name", "g"}, {"output", {{"dir", "out/g"}}}, {"sweep", sweep}};
}

std::string error_of(const json& root) {
  try {
    expand(root);
  } catch (const Error& e) {
    return e.what();
  }
  return "no error";
}

TEST(Sweep, ExpandsTheGridWithSeedsLastAndNamesFromValues) {
  Grid g = expand(base_with({{"seed", {0, 1, 2}}, {"sparsity.method", {"topk", "l1"}}, {"dataset.name", {"dsprites", "shapes3d"}}}));
  ASSERT_EQ(g.members.size(), 12u);
  EXPECT_EQ(g.dir, "out/g");
  EXPECT_EQ(g.axes.back().key, "seed");
  EXPECT_EQ(g.members[0].name, "dsprites-topk-seed0");
  EXPECT_EQ(g.members[1].name, "dsprites-topk-seed1");
  EXPECT_EQ(g.members[3].name, "dsprites-l1-seed0");
  EXPECT_EQ(g.members[11].name, "shapes3d-l1-seed2");
  const config::RunConfig& last = g.members[11].config;
  EXPECT_EQ(last.dataset.name, "shapes3d");
  EXPECT_EQ(last.model.channels, 3);
  EXPECT_EQ(last.sparsity.method, SaeKind::l1);
  EXPECT_EQ(last.seed, 2u);
  EXPECT_EQ(last.name, "shapes3d-l1-seed2");
  EXPECT_EQ(last.output.dir, "out/g/shapes3d-l1-seed2");
  EXPECT_EQ(g.members[11].values, (json{{"dataset.name", "shapes3d"}, {"sparsity.method", "l1"}, {"seed", 2}}));
}

TEST(Sweep, NameFragments) {
  EXPECT_EQ(name_fragment("seed", 3), "seed3");
  EXPECT_EQ(name_fragment("model.sae_width", 1000), "sae_width1000");
  EXPECT_EQ(name_fragment("dataset.source", "/data/x y.npz"), "_data_x_y.npz");
  EXPECT_EQ(name_fragment("training.tf32", false), "tf32false");
  EXPECT_EQ(name_fragment("dataset.name", ".."), "_..");
}

TEST(Sweep, ValidatesEveryMemberBeforeRunning) {
  // Only the second value is out of range: the error names the member and the key.
  const std::string e = error_of(base_with({{"sparsity.schedule.end", {50, 0}}}));
  EXPECT_NE(e.find("sweep member end0"), std::string::npos) << e;
  EXPECT_NE(e.find("sparsity.schedule.end must be between"), std::string::npos) << e;
  EXPECT_NE(error_of(base_with({{"dataset.nmae", {"dsprites"}}})).find("dataset.nmae"), std::string::npos);
}

TEST(Sweep, RejectsMalformedSections) {
  EXPECT_NE(error_of(base_with(json::object())).find("non-empty object"), std::string::npos);
  EXPECT_NE(error_of(base_with({{"seed", json::array()}})).find("sweep.seed must be a non-empty list"),
            std::string::npos);
  EXPECT_NE(error_of(base_with({{"seed", 3}})).find("sweep.seed must be a non-empty list"), std::string::npos);
  EXPECT_NE(error_of(base_with({{"output.dir", {"a", "b"}}})).find("cannot be swept"), std::string::npos);
  EXPECT_NE(error_of(base_with({{"name", {"a"}}})).find("cannot be swept"), std::string::npos);
  EXPECT_NE(error_of(base_with({{"dataset..name", {"dsprites"}}})).find("empty component"), std::string::npos);
  EXPECT_NE(error_of(base_with({{"name.x", {1}}})).find("name is not an object"), std::string::npos);
  // Two values that sanitise to the same directory name.
  EXPECT_NE(error_of(base_with({{"dataset.source", {"a/b", "a_b"}}})).find("share the directory name"),
            std::string::npos);
}

TEST(Sweep, SingleRunConfigIgnoresTheSweepKey) {
  config::RunConfig c = config::parse_run_config(base_with({{"seed", {0, 1}}}));
  EXPECT_EQ(c.name, "g");
}

TEST(Summary, MeanAndSampleStd) {
  Stat s = mean_std({1.0, 2.0, 3.0});
  EXPECT_DOUBLE_EQ(s.mean, 2.0);
  EXPECT_DOUBLE_EQ(s.std, 1.0);
  EXPECT_EQ(s.n, 3);
  EXPECT_DOUBLE_EQ(mean_std({4.0}).std, 0.0);
  EXPECT_EQ(mean_std({}).n, 0);
}

TEST(Summary, FlattensNumbersAndSkipsPerUnitData) {
  json flat = json::object();
  flatten_numbers({{"a", {{"b", 1}, {"c", "text"}}}, {"grid", {{{"d", 0.5}}, {{"d", 0.25}}}}, {"seed", 7},
                   {"final_fire_frequency", {0.1, 0.2}}, {"none", nullptr}},
                  "", flat);
  EXPECT_EQ(flat, (json{{"a.b", 1.0}, {"grid.0.d", 0.5}, {"grid.1.d", 0.25}}));
}

TEST(Summary, GroupsByTheNonSeedAxesAndBuildsThePaperTable) {
  Grid g = expand(base_with({{"sparsity.method", {"topk", "l1"}}, {"seed", {0, 1}}}));
  auto result = [](double dead, double ips) {
    return json{{"dataset", "dsprites"}, {"images_per_s", ips},
                {"at_schedule_end", {{"dead", {{"headline_dead_fraction", dead}}}}}};
  };
  // l1-seed1 has not finished: it is listed as missing and left out of its group.
  json summary = summarize(g.manifest(), {result(0.30, 100), result(0.40, 300), result(0.9, 50), nullptr});
  EXPECT_EQ(summary["members"], 4);
  EXPECT_EQ(summary["finished"], 3);
  EXPECT_EQ(summary["missing"], json::array({"l1-seed1"}));
  EXPECT_EQ(summary["group_by"], json::array({"sparsity.method"}));
  const json& topk = summary["groups"][0];
  EXPECT_EQ(topk["values"], (json{{"sparsity.method", "topk"}}));
  EXPECT_EQ(topk["n"], 2);
  EXPECT_DOUBLE_EQ(topk["figures"]["images_per_s"]["mean"].get<double>(), 200.0);
  EXPECT_NEAR(topk["figures"]["images_per_s"]["std"].get<double>(), 141.42135623730951, 1e-9);
  const json& cell = summary["table"]["cells"][0];
  EXPECT_EQ(cell["dataset"], "dsprites");
  EXPECT_EQ(cell["row"], (json{{"sparsity.method", "topk"}}));
  EXPECT_NEAR(cell["dead_percent"]["mean"].get<double>(), 35.0, 1e-9);
  EXPECT_EQ(summary["groups"][1]["n"], 1);
  EXPECT_DOUBLE_EQ(summary["groups"][1]["figures"]["images_per_s"]["std"].get<double>(), 0.0);
}

TEST(Summary, ReducesPerUnitListsWithinAMember) {
  json null;
  json r = unit_reductions({{"death_epoch", {null, 3, 0, null, 5, null, null, 8}},
                            {"final_fire_frequency", {0.0, 0.0, 5e-5, 1e-4, 2e-3, 0.05, 0.5, 1.0}},
                            {"live_unit_interpretability",
                             {{{"unit", 2}, {"best_nmi", 0.2}, {"factor", 1}}, {{"unit", 6}, {"best_nmi", 0.6}, {"factor", 0}}}}});
  EXPECT_EQ(r["death_epoch"], (json{{"units", 8.0}, {"died", 4.0}, {"died_fraction", 0.5},
                                    {"mean_over_died", 4.0}, {"median_over_died", 4.0}}));
  const json& f = r["final_fire_frequency"];
  EXPECT_EQ(f["units"], 8.0);
  EXPECT_DOUBLE_EQ(f["median"].get<double>(), 0.5 * (1e-4 + 2e-3));
  // Upper edges are inclusive: 1e-4 is in (0, 1e-4], 1 in (1e-1, 1].
  EXPECT_EQ(f["fraction"], (json{{"eq0", 0.25}, {"0_1e-4", 0.25}, {"1e-4_1e-3", 0.0}, {"1e-3_1e-2", 0.125},
                                 {"1e-2_1e-1", 0.125}, {"1e-1_1", 0.25}}));
  EXPECT_EQ(r["live_unit_interpretability"]["live"], 2.0);
  EXPECT_DOUBLE_EQ(r["live_unit_interpretability"]["best_nmi_mean"].get<double>(), 0.4);
  // No unit died: the count, and no mean or median over an empty set.
  EXPECT_EQ(unit_reductions({{"death_epoch", {null, null}}})["death_epoch"],
            (json{{"units", 2.0}, {"died", 0.0}, {"died_fraction", 0.0}}));
  EXPECT_EQ(unit_reductions({{"images_per_s", 5}}), json::object());
}

TEST(Summary, NeverAveragesPerUnitListsByUnitIndex) {
  Grid g = expand(base_with({{"seed", {0, 1}}}));
  json null;
  auto member = [&](const json& death, const json& frequency, double nmi) {
    return json{{"dataset", "dsprites"},
                {"seed", 0},
                {"recovered_neurons", 2},
                {"final", {{"mig", {{"mig", 0.1}, {"gap", {0.1, 0.2}}, {"best_latent", {3, 7}}}}}},
                {"death_epoch", death},
                {"final_fire_frequency", frequency},
                {"live_unit_interpretability", {{{"unit", 0}, {"best_nmi", nmi}, {"factor", 0}}}}};
  };
  // Seed 0: 1 of 4 units died (at epoch 2); seed 1: 3 of 4 died (at 1, 4, 10).
  json summary = summarize(g.manifest(), {member({null, 2, null, null}, {0.0, 0.5, 0.5, 0.5}, 0.3),
                                          member({1, 4, null, 10}, {0.0, 0.0, 0.0, 5e-3}, 0.5)});
  ASSERT_EQ(summary["groups"].size(), 1u);
  const json& figures = summary["groups"][0]["figures"];
  for (const auto& [figure, stat] : figures.items()) {
    for (const char* per_unit : {"death_epoch.", "final_fire_frequency.", "live_unit_interpretability."})
      if (figure.rfind(per_unit, 0) == 0) {
        const std::string rest = figure.substr(std::string(per_unit).size());
        EXPECT_FALSE(std::isdigit(static_cast<unsigned char>(rest[0]))) << figure << " is keyed by unit index";
      }
    EXPECT_EQ(figure.find("best_latent"), std::string::npos) << figure;
    EXPECT_NE(figure, "seed");
  }
  auto expect = [&](const std::string& figure, double mean, double std) {
    ASSERT_TRUE(figures.contains(figure)) << figure;
    EXPECT_NEAR(figures[figure]["mean"].get<double>(), mean, 1e-12) << figure;
    EXPECT_NEAR(figures[figure]["std"].get<double>(), std, 1e-12) << figure;
    EXPECT_EQ(figures[figure]["n"], 2) << figure;
  };
  const double sqrt2 = std::sqrt(2.0);
  expect("death_epoch.units", 4, 0);
  expect("death_epoch.died", 2, sqrt2);                     // 1 and 3
  expect("death_epoch.died_fraction", 0.5, 0.25 * sqrt2);  // 0.25 and 0.75
  expect("death_epoch.mean_over_died", 3.5, 1.5 * sqrt2);  // 2 and 5
  expect("death_epoch.median_over_died", 3, sqrt2);         // 2 and 4
  expect("final_fire_frequency.fraction.eq0", 0.5, 0.5 / sqrt2);      // 0.25 and 0.75
  expect("final_fire_frequency.fraction.1e-3_1e-2", 0.125, 0.25 / sqrt2);  // 0 and 0.25
  expect("final_fire_frequency.fraction.1e-1_1", 0.375, 0.75 / sqrt2);   // 0.75 and 0
  expect("live_unit_interpretability.best_nmi_mean", 0.4, 0.2 / sqrt2);
  // Member-level figures and lists indexed by something shared (MIG's factors) are kept.
  expect("recovered_neurons", 2, 0);
  expect("final.mig.gap.1", 0.2, 0);
  EXPECT_TRUE(summary.contains("per_unit"));
}

}  // namespace
}  // namespace vsae::sweep
