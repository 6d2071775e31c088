// Seeded index sampling for datasets: fixed random subsets and per-epoch permutations. Both come
// from Philox keys computed on the host, so every machine and both backends see the same indices.
#pragma once

#include <cstdint>
#include <vector>

#include "engine/core/philox.hpp"

namespace vsae::data {

// `count` distinct indices of [0, size), ascending: those with the smallest Philox keys for
// (seed, stream). count >= size gives every index.
std::vector<std::int64_t> random_subset(std::int64_t size, std::int64_t count, std::uint64_t seed,
                                        RngStream stream = RngStream::dataset_subset);

// A permutation of [0, n) for `epoch`: positions sorted by their Philox keys (RngStream::shuffle).
std::vector<std::int32_t> epoch_permutation(std::int64_t n, std::uint64_t seed,
                                            std::uint32_t epoch);

}  // namespace vsae::data
