// Dead-neuron grid, revival and death-time tracking on hand-made firing counts.
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

TEST(DeadNeurons, DeathEpochIsTheFirstEpochWithoutAnyLaterFiring) {
  // Unit 0 never fires, 1 dies after epoch 0, 2 fires again at epoch 2 after a silent epoch 1,
  // 3 fires throughout.
  DeathTracker d;
  d.update(0, {0, 4, 1, 9});
  d.update(1, {0, 0, 0, 9});
  EXPECT_EQ(d.death_epochs(1), (std::vector<std::int64_t>{0, 1, 1, -1}));
  d.update(2, {0, 0, 2, 9});
  EXPECT_EQ(d.death_epochs(2), (std::vector<std::int64_t>{0, 1, -1, -1}));
  d.update(3, {0, 0, 0, 0});
  EXPECT_EQ(d.death_epochs(3), (std::vector<std::int64_t>{0, 1, 3, 3}));
  EXPECT_EQ(d.last_fired(), (std::vector<std::int32_t>{DeathTracker::kNeverFired, 0, 2, 2}));

  DeathTracker resumed;  // a resumed run continues from the checkpointed state
  resumed.restore(d.last_fired());
  resumed.update(4, {0, 1, 0, 0});
  EXPECT_EQ(resumed.death_epochs(4), (std::vector<std::int64_t>{0, -1, 3, 3}));
}

}  // namespace
}  // namespace vsae::metrics
