// How the column-reducing kernels split a (rows, cols) matrix into CTAs (see
// kernels/launch_geometry.cuh). Plain host code without CUDA headers, so the rule is tested in
// every build.
#pragma once

#include <algorithm>
#include <cstdint>

namespace vsae::cuda_kernels {

constexpr int kTileCols = 32;  // one warp across the columns: coalesced 128-byte row segments
constexpr int kTileRows = 8;   // warps per CTA, each walking its own rows

// The CTA count the split aims at: 8 resident CTAs of 256 threads on each SM of a 128-SM GPU.
// It is a constant, not the device's SM count, because each split is one partial sum: the L1
// penalty and the sparse bias gradient then round the same way on every GPU. GPUs with fewer SMs
// run more waves; those with a few more leave them idle for these short kernels.
constexpr std::int64_t kColumnSplitTargetCtas = 8 * 128;

struct ColumnSplit {
  int col_blocks = 1;  // ceil(cols / kTileCols), gridDim.x
  int splits = 1;      // row ranges, gridDim.y
  std::int64_t rows_per_split = 0;
};

// Enough row splits to bring the grid to kColumnSplitTargetCtas, but no more than
// ceil(rows / min_rows), so per-CTA reductions stay cheap next to the rows they cover, and at
// most 65535 (gridDim.y). Depends on the shape alone.
inline ColumnSplit column_split(std::int64_t rows, std::int64_t cols, std::int64_t min_rows = 64) {
  ColumnSplit s;
  s.col_blocks = static_cast<int>((cols + kTileCols - 1) / kTileCols);
  const std::int64_t want = std::max<std::int64_t>(1, kColumnSplitTargetCtas / s.col_blocks);
  const std::int64_t most = std::max<std::int64_t>(1, (rows + min_rows - 1) / min_rows);
  const std::int64_t splits = std::min({want, most, std::int64_t{65535}});
  s.rows_per_split = std::max<std::int64_t>(1, (rows + splits - 1) / splits);
  s.splits =
      static_cast<int>(std::max<std::int64_t>(1, (rows + s.rows_per_split - 1) / s.rows_per_split));
  return s;
}

}  // namespace vsae::cuda_kernels
