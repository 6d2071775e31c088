// Shared dataset helpers: parallel batch rendering and the official mixed-radix index.
#include "apps/vsae/data/dataset.hpp"

#include "engine/core/check.hpp"

namespace vsae::data {

void Dataset::get_many(const std::vector<std::int64_t>& indices, std::uint8_t* images,
                       std::int32_t* classes) const {
  const std::int64_t n = static_cast<std::int64_t>(indices.size());
  const std::int64_t nf = static_cast<std::int64_t>(factors().size());
  const std::int64_t bytes = image_bytes();
#pragma omp parallel for schedule(dynamic, 64)
  for (std::int64_t i = 0; i < n; ++i) get(indices[static_cast<std::size_t>(i)], images + i * bytes, classes + i * nf);
}

std::int64_t flat_index(const std::vector<Factor>& factors, const std::int32_t* classes) {
  std::int64_t index = 0;
  for (std::size_t f = 0; f < factors.size(); ++f) {
    VSAE_CHECK(classes[f] >= 0 && classes[f] < factors[f].num_classes(),
               "factor " << factors[f].name << " class " << classes[f] << " out of range");
    index = index * factors[f].num_classes() + classes[f];
  }
  return index;
}

void classes_of(const std::vector<Factor>& factors, std::int64_t index, std::int32_t* classes) {
  for (std::size_t f = factors.size(); f-- > 0;) {
    classes[f] = static_cast<std::int32_t>(index % factors[f].num_classes());
    index /= factors[f].num_classes();
  }
}

}  // namespace vsae::data
