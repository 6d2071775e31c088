// Sparsity schedules: endpoints, monotonicity and the shape of each type.
#include <gtest/gtest.h>

#include "apps/vsae/train/schedule.hpp"

namespace vsae {
namespace {

config::ScheduleConfig make(const std::string& type, std::int64_t start = 500, std::int64_t end = 50,
                            std::int64_t epochs = 50) {
  config::ScheduleConfig c;
  c.type = type;
  c.start = start;
  c.end = end;
  c.epochs = epochs;
  return c;
}

class ScheduleType : public ::testing::TestWithParam<std::string> {};

TEST_P(ScheduleType, RunsFromStartToEndMonotonicallyThenHolds) {
  SparsitySchedule s(make(GetParam()), 100);
  EXPECT_EQ(s.k_at_epoch(0), 500);
  EXPECT_EQ(s.k_at_epoch(49), 50);
  EXPECT_EQ(s.k_at_epoch(50), 50);
  EXPECT_EQ(s.k_at_epoch(149), 50);
  for (int e = 1; e < 60; ++e) EXPECT_LE(s.k_at_epoch(e), s.k_at_epoch(e - 1)) << "epoch " << e;
  EXPECT_FALSE(s.finished(49));
  EXPECT_TRUE(s.finished(50));
}

INSTANTIATE_TEST_SUITE_P(Schedule, ScheduleType, ::testing::Values("linear", "exponential", "cosine", "step"));

TEST(Schedule, LinearMidpoint) {
  SparsitySchedule s(make("linear", 500, 50, 51), 10);
  EXPECT_EQ(s.k_at_epoch(25), 275);
}

TEST(Schedule, ExponentialIsGeometric) {
  SparsitySchedule s(make("exponential", 400, 25, 5), 10);  // ratio 1/2 per epoch
  EXPECT_EQ(s.k_at_epoch(1), 200);
  EXPECT_EQ(s.k_at_epoch(2), 100);
}

TEST(Schedule, CosineStartsSlowly) {
  SparsitySchedule s(make("cosine"), 10);
  SparsitySchedule lin(make("linear"), 10);
  EXPECT_GT(s.k_at_epoch(5), lin.k_at_epoch(5));
}

TEST(Schedule, StepHoldsBetweenDrops) {
  config::ScheduleConfig c = make("step", 500, 50, 41);
  c.step_every = 10;
  SparsitySchedule s(c, 10);
  EXPECT_EQ(s.k_at_epoch(0), 500);
  EXPECT_EQ(s.k_at_epoch(9), 500);
  EXPECT_EQ(s.k_at_epoch(10), 388);  // one of four drops of 112.5
  EXPECT_EQ(s.k_at_epoch(39), 163);
  EXPECT_EQ(s.k_at_epoch(40), 50);
}

TEST(Schedule, PerStepGranularityMovesWithinAnEpoch) {
  config::ScheduleConfig c = make("linear", 500, 50, 10);
  c.granularity = "step";
  SparsitySchedule s(c, 100);
  EXPECT_EQ(s.k_at(0, 0), 500);
  EXPECT_LT(s.k_at(0, 99), 500);
  EXPECT_EQ(s.k_at(9, 99), 50);
}

TEST(Schedule, ZeroEpochScheduleStartsAtEnd) {
  SparsitySchedule s(make("linear", 500, 50, 0), 10);
  EXPECT_EQ(s.k_at_epoch(0), 50);
}

}  // namespace
}  // namespace vsae
