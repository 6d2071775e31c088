// Formats check failures into one readable line.
#include "engine/core/check.hpp"

#include <cstring>

namespace vsae::detail {

namespace {
const char* base_name(const char* path) {
  const char* slash = std::strrchr(path, '/');
  return slash ? slash + 1 : path;
}
}  // namespace

void throw_check_failure(const std::string& message, const char* condition, const char* file,
                         int line) {
  std::ostringstream os;
  os << message << " [check '" << condition << "' failed at " << base_name(file) << ":" << line
     << "]";
  throw Error(os.str());
}

void throw_api_failure(const char* api, const std::string& detail, const char* statement,
                       const char* file, int line) {
  std::ostringstream os;
  os << api << " error: " << detail << " in '" << statement << "' at " << base_name(file) << ":"
     << line;
  throw Error(os.str());
}

}  // namespace vsae::detail
