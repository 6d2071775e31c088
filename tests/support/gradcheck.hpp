// Finite-difference gradient checks for backward ops on the CPU backend.
#pragma once

#include <gtest/gtest.h>

#include <functional>
#include <string>
#include <vector>

namespace vsae::test {

struct GradCheckOptions {
  double step = 1e-3;   // central-difference step
  double abs_tol = 2e-3;
  double rel_tol = 2e-2;
  std::size_t max_probes = 64;  // elements probed, spread evenly over the input
};

// `loss` evaluates a scalar (in double) from the current contents of `input`; `analytic` holds
// d loss / d input from the backward op. Probes elements by central differences.
::testing::AssertionResult check_gradient(const std::function<double()>& loss, std::vector<float>& input,
                                          const std::vector<float>& analytic, const std::string& name,
                                          GradCheckOptions options = {});

// The standard scalar for checking a tensor-valued op: L = Σ_i w_i · y_i for fixed weights w.
double weighted_sum(const std::vector<float>& y, const std::vector<float>& weights);

}  // namespace vsae::test
