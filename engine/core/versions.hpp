// Versions of the libraries this build runs on, for results.json.
#pragma once

#include <nlohmann/json.hpp>

namespace vsae {

nlohmann::json library_versions();

}  // namespace vsae
