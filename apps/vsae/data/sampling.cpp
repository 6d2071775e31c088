// Subsets and permutations by sorting indices on 64-bit Philox keys (ties go to the lower index).
#include "apps/vsae/data/sampling.hpp"

#include <algorithm>
#include <limits>
#include <utility>

#include "engine/core/check.hpp"

namespace vsae::data {

namespace {

using Keyed = std::pair<std::uint64_t, std::int64_t>;  // (key, index)

std::vector<Keyed> keyed_indices(std::int64_t n, std::uint64_t seed, RngStream stream,
                                 std::uint32_t step) {
  VSAE_CHECK(n >= 0 && n <= std::numeric_limits<std::int32_t>::max(),
             "cannot sample " << n << " indices");
  std::vector<Keyed> keyed(static_cast<std::size_t>(n));
#pragma omp parallel for schedule(static)
  for (std::int64_t i = 0; i < n; ++i) {
    PhiloxBlock r = philox_draw(seed, stream, static_cast<std::uint32_t>(i), step);
    keyed[static_cast<std::size_t>(i)] = {(std::uint64_t{r.v[0]} << 32) | r.v[1], i};
  }
  return keyed;
}

}  // namespace

std::vector<std::int64_t> random_subset(std::int64_t size, std::int64_t count, std::uint64_t seed,
                                        RngStream stream) {
  VSAE_CHECK(count >= 0, "subset size must be non-negative, got " << count);
  count = std::min(count, size);
  std::vector<Keyed> keyed = keyed_indices(size, seed, stream, 0);
  std::nth_element(keyed.begin(), keyed.begin() + count, keyed.end());
  std::vector<std::int64_t> subset(static_cast<std::size_t>(count));
  for (std::size_t i = 0; i < subset.size(); ++i) subset[i] = keyed[i].second;
  // Ascending order keeps the subset's images in the official order, as the full set is.
  std::sort(subset.begin(), subset.end());
  return subset;
}

std::vector<std::int32_t> epoch_permutation(std::int64_t n, std::uint64_t seed,
                                            std::uint32_t epoch) {
  std::vector<Keyed> keyed = keyed_indices(n, seed, RngStream::shuffle, epoch);
  std::sort(keyed.begin(), keyed.end());
  std::vector<std::int32_t> order(keyed.size());
  for (std::size_t i = 0; i < order.size(); ++i)
    order[i] = static_cast<std::int32_t>(keyed[i].second);
  return order;
}

}  // namespace vsae::data
