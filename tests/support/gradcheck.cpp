// Central-difference gradient probing.
#include "tests/support/gradcheck.hpp"

#include <algorithm>
#include <cmath>
#include <sstream>

namespace vsae::test {

::testing::AssertionResult check_gradient(const std::function<double()>& loss, std::vector<float>& input,
                                          const std::vector<float>& analytic, const std::string& name,
                                          GradCheckOptions options) {
  if (analytic.size() != input.size())
    return ::testing::AssertionFailure() << name << ": analytic gradient has " << analytic.size()
                                         << " elements, input " << input.size();
  std::size_t n = input.size();
  std::size_t probes = std::min(n, options.max_probes);
  std::ostringstream failures;
  std::size_t bad = 0;
  for (std::size_t p = 0; p < probes; ++p) {
    std::size_t i = probes == n ? p : p * (n - 1) / (probes - 1);
    float saved = input[i];
    input[i] = static_cast<float>(saved + options.step);
    double up = loss();
    input[i] = static_cast<float>(saved - options.step);
    double down = loss();
    input[i] = saved;
    // Divide by the step actually taken after rounding to float.
    double taken = static_cast<double>(static_cast<float>(saved + options.step)) -
                   static_cast<double>(static_cast<float>(saved - options.step));
    double numeric = (up - down) / taken;
    double err = std::fabs(numeric - analytic[i]);
    if (!std::isfinite(analytic[i]) || err > options.abs_tol + options.rel_tol * std::fabs(numeric)) {
      if (bad++ < 5)
        failures << "\n  " << name << "[" << i << "]: numeric " << numeric << ", analytic " << analytic[i];
    }
  }
  if (bad == 0) return ::testing::AssertionSuccess();
  return ::testing::AssertionFailure() << bad << " of " << probes << " probes of " << name
                                       << " disagree:" << failures.str();
}

double weighted_sum(const std::vector<float>& y, const std::vector<float>& weights) {
  double s = 0.0;
  for (std::size_t i = 0; i < y.size(); ++i) s += static_cast<double>(y[i]) * weights[i];
  return s;
}

}  // namespace vsae::test
