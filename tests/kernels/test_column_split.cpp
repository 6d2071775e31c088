// The row split of the column-reducing kernels: a function of the shape alone, so the L1 penalty
// and the sparse bias gradient, one partial sum per split, round the same way on every GPU.
#include <gtest/gtest.h>

#include <cstdint>

#include "kernels/column_split.hpp"

namespace vsae {
namespace {

using cuda_kernels::column_split;
using cuda_kernels::ColumnSplit;

// Known answers, fixed for every GPU: a device-dependent rule (such as 8 CTAs per SM) gives
// other numbers on an A100 (108 SMs) and an H100 (132 SMs) than these.
TEST(ColumnSplit, KnownAnswersHoldOnEveryDevice) {
  struct Case {
    std::int64_t rows, cols;
    int col_blocks, splits;
    std::int64_t rows_per_split;
  };
  for (const Case& c : {
           Case{64, 500, 16, 1, 64},       // one split: the CTA adds straight into its output
           Case{4096, 500, 16, 64, 64},    // 16 x 64 = 1024 CTAs
           Case{4096, 4096, 128, 8, 512},  // 128 x 8 = 1024 CTAs
           Case{257, 7, 1, 5, 52},         // capped by ceil(257 / 64) = 5 splits
           Case{1 << 20, 16, 1, 1024, 1024},
           Case{1, 1, 1, 1, 1},
           Case{0, 10, 1, 1, 1},
       }) {
    SCOPED_TRACE(testing::Message() << c.rows << " x " << c.cols);
    const ColumnSplit s = column_split(c.rows, c.cols);
    EXPECT_EQ(s.col_blocks, c.col_blocks);
    EXPECT_EQ(s.splits, c.splits);
    EXPECT_EQ(s.rows_per_split, c.rows_per_split);
  }
}

// Every row belongs to exactly one split, no split is empty, and the grid fits gridDim.y.
TEST(ColumnSplit, SplitsCoverTheRowsOnce) {
  for (std::int64_t rows : {1, 63, 64, 65, 1000, 4096, 100000, 10000000})
    for (std::int64_t cols : {1, 31, 32, 33, 500, 4096, 40000})
      for (std::int64_t min_rows : {1, 64, 256}) {
        SCOPED_TRACE(testing::Message() << rows << " x " << cols << " min_rows " << min_rows);
        const ColumnSplit s = column_split(rows, cols, min_rows);
        EXPECT_EQ(s.col_blocks, (cols + 31) / 32);
        EXPECT_GE(s.splits, 1);
        EXPECT_LE(s.splits, 65535);
        EXPECT_GE(s.splits * s.rows_per_split, rows);
        EXPECT_LT((s.splits - 1) * s.rows_per_split, rows);
        EXPECT_LE(s.splits, (rows + min_rows - 1) / min_rows);
        // Rows are split only while the grid stays within the target.
        if (s.splits > 1) {
          EXPECT_LE(static_cast<std::int64_t>(s.col_blocks) * s.splits,
                    cuda_kernels::kColumnSplitTargetCtas);
        }
      }
}

}  // namespace
}  // namespace vsae
