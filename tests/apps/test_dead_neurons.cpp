// Dead-neuron grid and revival tracking on hand-made firing counts.
#include <gtest/gtest.h>

#include "apps/vsae/metrics/dead_neurons.hpp"

namespace vsae::metrics {
namespace {

TEST(DeadNeurons, GridCountsUnitsAtOrBelowEachThreshold) {
  // 4 units over 1000 samples; ε = 0 and ε = 1e-3 counts.
  std::vector<std::vector<std::int64_t>> counts{{0, 1, 50, 1000}, {0, 0, 5, 900}};
  DeadNeuronGrid g = dead_neuron_grid(counts, 1000, {0.0, 1e-3, 1e-2}, {0.0, 1e-3});
  EXPECT_EQ(g.count[0], (std::vector<std::int64_t>{1, 2, 2}));
  EXPECT_EQ(g.count[1], (std::vector<std::int64_t>{2, 2, 3}));
  EXPECT_DOUBLE_EQ(g.headline(), 0.25);
  EXPECT_DOUBLE_EQ(g.fraction[1][2], 0.75);
  EXPECT_EQ(g.to_json()["grid"].size(), 6u);
}

TEST(DeadNeurons, RevivalCountsOnlyUnitsDeadAtScheduleEnd) {
  RevivalTracker r;
  r.mark_schedule_end(never_fired({0, 3, 0, 0}));
  EXPECT_EQ(r.dead_at_end(), 3);
  EXPECT_EQ(r.update({0, 5, 0, 0}), 0);
  EXPECT_EQ(r.update({0, 0, 2, 0}), 1);
  EXPECT_EQ(r.update({0, 0, 0, 0}), 1);  // once revived, stays counted
  EXPECT_EQ(r.revived(), 1);
}

}  // namespace
}  // namespace vsae::metrics
