// MIG: the C++ result against disentanglement_lib's procedure run with numpy and scikit-learn
// (tests/kernels/mig_oracle.py), CUDA histograms against the CPU twin, and input validation.
#include <gtest/gtest.h>
#include <unistd.h>

#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>

#include "engine/ops/mig.hpp"
#include "tests/support/backends.hpp"
#include "tests/support/compare.hpp"

namespace vsae {
namespace {

struct MigCase {
  std::string name;
  std::int64_t rows = 0;
  int latents = 0;
  std::vector<int> classes;
  std::vector<float> codes;           // (N, L)
  std::vector<std::int32_t> factors;  // (N, F)
};

// Factors drawn independently and uniformly over their classes.
std::vector<std::int32_t> random_factors(std::int64_t rows, const std::vector<int>& classes,
                                         std::uint64_t seed) {
  const auto f = classes.size();
  std::vector<float> u = test::random_uniform(static_cast<std::size_t>(rows) * f, 0.0f, 1.0f, seed);
  std::vector<std::int32_t> y(u.size());
  for (std::size_t i = 0; i < u.size(); ++i) {
    const int c = classes[i % f];
    y[i] = std::min(c - 1, static_cast<int>(u[i] * static_cast<float>(c)));
  }
  return y;
}

MigCase make_case(const std::string& name, std::int64_t rows, int latents, std::vector<int> classes,
                  std::uint64_t seed) {
  MigCase c;
  c.name = name;
  c.rows = rows;
  c.latents = latents;
  c.classes = std::move(classes);
  c.factors = random_factors(rows, c.classes, seed);
  c.codes = test::random_uniform(static_cast<std::size_t>(rows * latents), -1.0f, 1.0f, seed + 1);
  return c;
}

float factor_value(const MigCase& c, std::int64_t n, int f) {
  const std::size_t F = c.classes.size();
  return static_cast<float>(
             c.factors[static_cast<std::size_t>(n) * F + static_cast<std::size_t>(f)]) /
         static_cast<float>(std::max(1, c.classes[static_cast<std::size_t>(f)] - 1));
}

float& code(MigCase& c, std::int64_t n, int l) {
  return c.codes[static_cast<std::size_t>(n * c.latents + l)];
}

// Cases are built on demand from their spec: every ctest case is its own process, and none should
// pay for building the others' data.
MigCase disentangled() {
  // One latent per factor (a monotone map of its class plus small noise), then pure-noise latents.
  MigCase c = make_case("disentangled", 4000, 10, {3, 6, 40, 32, 32}, 101);
  for (std::int64_t n = 0; n < c.rows; ++n)
    for (int l = 0; l < 5; ++l)
      code(c, n, l) = 2.0f * factor_value(c, n, l) + 1e-3f * code(c, n, l);
  return c;
}

MigCase random_codes() {
  return make_case("random", 4000, 10, {3, 6, 40, 32, 32}, 202);
}

MigCase permuted_duplicated() {
  // Latents in shuffled order, with factor 0 encoded twice (its gap is 0) and factor 2 once.
  MigCase c = make_case("permuted_duplicated", 3000, 6, {4, 10, 15}, 303);
  for (std::int64_t n = 0; n < c.rows; ++n) {
    code(c, n, 4) = factor_value(c, n, 0) + 1e-4f * code(c, n, 4);
    code(c, n, 1) = -3.0f * factor_value(c, n, 0) + 1e-4f * code(c, n, 1);
    code(c, n, 3) = factor_value(c, n, 2) * factor_value(c, n, 2) + 1e-4f * code(c, n, 3);
  }
  return c;
}

MigCase constant_latents() {
  // Constant latents (0, a positive and a large negative value) next to informative ones; latent 1
  // puts factor 0's classes exactly on bin edges.
  MigCase c = make_case("constant_latents", 2500, 6, {5, 8}, 404);
  for (std::int64_t n = 0; n < c.rows; ++n) {
    code(c, n, 0) = 0.0f;
    code(c, n, 2) = 3.5f;
    code(c, n, 5) = -1e6f;
    code(c, n, 1) = factor_value(c, n, 0);
    code(c, n, 3) = factor_value(c, n, 1) + 0.05f * code(c, n, 3);
  }
  return c;
}

MigCase sae_codes() {
  // SAE-like codes: 500 mostly-zero ReLU units, some driven by one factor class.
  MigCase c = make_case("sae_codes", 2000, 500, {3, 6, 10}, 505);
  for (std::int64_t n = 0; n < c.rows; ++n)
    for (int l = 0; l < c.latents; ++l) {
      const int f = l % 3;
      const int cls = c.factors[static_cast<std::size_t>(n) * 3 + static_cast<std::size_t>(f)];
      const float drive =
          l % 7 == 0 && cls == l % c.classes[static_cast<std::size_t>(f)] ? 1.0f : 0.0f;
      code(c, n, l) = std::max(0.0f, code(c, n, l) - 0.6f + drive);
    }
  return c;
}

MigCase mu_300k() {
  MigCase c = make_case("mu_300k", 300000, 10, {3, 6, 40, 32, 32}, 606);
  for (std::int64_t n = 0; n < c.rows; ++n)
    for (int l = 0; l < 5; ++l) code(c, n, l) = factor_value(c, n, l) + 0.02f * code(c, n, l);
  return c;
}

MigCase sae_20k() {
  return make_case("sae_20k", 20000, 500, {3, 6, 40, 32, 32, 10}, 707);
}

struct MigSpec {
  const char* name;
  MigCase (*build)();
};

void PrintTo(const MigSpec& s, std::ostream* os) {
  *os << s.name;
}

std::string spec_name(const ::testing::TestParamInfo<MigSpec>& info) {
  return info.param.name;
}

const std::vector<MigSpec> kOracleSpecs{{"disentangled", disentangled},
                                        {"random", random_codes},
                                        {"permuted_duplicated", permuted_duplicated},
                                        {"constant_latents", constant_latents},
                                        {"sae_codes", sae_codes}};

MigResult run_mig(Backend& be, const MigCase& c) {
  const auto F = static_cast<std::int64_t>(c.classes.size());
  test::GuardedTensor codes(be, Shape{c.rows, c.latents}),
      factors(be, Shape{c.rows, F}, DType::i32);
  codes.upload(c.codes);
  factors.upload(c.factors);
  MigResult r = compute_mig(be, codes, factors, c.classes);
  EXPECT_TRUE(codes.guards_intact() && factors.guards_intact());
  return r;
}

struct OracleResult {
  double mig = 0;
  std::vector<double> entropy, gap, mutual_info;
};

bool python_has_sklearn(std::string* why) {
  const std::string cmd =
      std::string(VSAE_TEST_PYTHON) + " -c 'import numpy, sklearn.metrics' > /dev/null 2>&1";
  if (std::system(cmd.c_str()) == 0) return true;
  *why = std::string(VSAE_TEST_PYTHON) +
         " cannot import numpy and sklearn (install python3-numpy and python3-sklearn)";
  return false;
}

template <class T>
void write_raw(const std::filesystem::path& path, const std::vector<T>& data) {
  std::ofstream out(path, std::ios::binary);
  out.write(reinterpret_cast<const char*>(data.data()),
            static_cast<std::streamsize>(data.size() * sizeof(T)));
  ASSERT_TRUE(out.good()) << "cannot write " << path;
}

OracleResult run_oracle(const MigCase& c) {
  const std::filesystem::path dir =
      std::filesystem::temp_directory_path() /
      ("vsae_mig_oracle_" + std::to_string(::getpid()) + "_" + c.name);
  std::filesystem::create_directories(dir);
  {
    std::ofstream meta(dir / "meta.txt");
    meta << c.rows << " " << c.latents << " " << c.classes.size() << " " << 20 << "\n";
  }
  write_raw(dir / "codes.f32", c.codes);
  write_raw(dir / "factors.i32", c.factors);
  const std::string cmd = std::string(VSAE_TEST_PYTHON) + " " + VSAE_SOURCE_DIR +
                          "/tests/kernels/mig_oracle.py " + dir.string();
  const int status = std::system(cmd.c_str());
  EXPECT_EQ(status, 0) << "oracle failed: " << cmd;
  OracleResult r;
  std::ifstream in(dir / "result.txt");
  const std::size_t F = c.classes.size();
  r.entropy.resize(F);
  r.gap.resize(F);
  r.mutual_info.resize(static_cast<std::size_t>(c.latents) * F);
  in >> r.mig;
  for (double& v : r.entropy) in >> v;
  for (double& v : r.gap) in >> v;
  for (double& v : r.mutual_info) in >> v;
  EXPECT_TRUE(static_cast<bool>(in)) << "cannot parse " << (dir / "result.txt");
  std::filesystem::remove_all(dir);
  return r;
}

void expect_near_all(const std::vector<double>& ref, const std::vector<double>& got, double tol,
                     const char* what) {
  ASSERT_EQ(ref.size(), got.size()) << what;
  for (std::size_t i = 0; i < ref.size(); ++i)
    EXPECT_NEAR(got[i], ref[i], tol) << what << "[" << i << "]";
}

class MigOracle : public ::testing::TestWithParam<MigSpec> {};

TEST_P(MigOracle, CpuMatchesSklearn) {
  std::string why;
  if (!python_has_sklearn(&why)) GTEST_SKIP() << why;
  const MigCase c = GetParam().build();
  const OracleResult ref = run_oracle(c);
  const MigResult got = run_mig(test::cpu(), c);
  expect_near_all(ref.entropy, got.factor_entropy, 1e-6, "entropy");
  expect_near_all(ref.mutual_info, got.mutual_info, 1e-6, "mutual_info");
  expect_near_all(ref.gap, got.gap, 1e-6, "gap");
  EXPECT_NEAR(got.mig, ref.mig, 1e-6);
}

INSTANTIATE_TEST_SUITE_P(Cases, MigOracle, ::testing::ValuesIn(kOracleSpecs), spec_name);

// What the cases are built to show, independent of the oracle.
TEST(Mig, CasesBehaveAsDesigned) {
  const MigResult separated = run_mig(test::cpu(), disentangled());
  EXPECT_GT(separated.mig, 0.8);
  for (int f = 0; f < 5; ++f) EXPECT_EQ(separated.best_latent[static_cast<std::size_t>(f)], f);
  const MigResult random = run_mig(test::cpu(), random_codes());
  EXPECT_LT(random.mig, 0.05);
  const MigResult duplicated = run_mig(test::cpu(), permuted_duplicated());
  EXPECT_NEAR(duplicated.gap[0], 0.0, 1e-12);
  EXPECT_EQ(duplicated.best_latent[0], 1);  // equal MI: the lower index wins
  EXPECT_EQ(duplicated.best_latent[2], 3);
  EXPECT_EQ(duplicated.latent_best_factor[4], 0);
  EXPECT_NEAR(duplicated.latent_best_nmi[4], 1.0, 1e-12);
  const MigResult constant = run_mig(test::cpu(), constant_latents());
  for (int l : {0, 2, 5}) {
    for (int f = 0; f < 2; ++f)
      EXPECT_EQ(constant.mutual_info[static_cast<std::size_t>(l * 2 + f)], 0.0);
    EXPECT_EQ(constant.latent_best_nmi[static_cast<std::size_t>(l)], 0.0);
  }
  EXPECT_NEAR(constant.latent_best_nmi[1], 1.0, 1e-12);
}

TEST(Mig, SingleLatentTakesZeroAsSecondBest) {
  MigCase c = make_case("single", 500, 1, {4}, 9);
  for (std::int64_t n = 0; n < c.rows; ++n) code(c, n, 0) = factor_value(c, n, 0);
  const MigResult r = run_mig(test::cpu(), c);
  EXPECT_NEAR(r.mig, 1.0, 1e-12);
}

TEST(Mig, RejectsBadInputs) {
  Backend& be = test::cpu();
  test::GuardedTensor codes(be, Shape{4, 2}), factors(be, Shape{4, 1}, DType::i32);
  codes.upload(std::vector<float>{0, 1, 2, 3, 4, 5, 6, NAN});
  factors.upload(std::vector<std::int32_t>{0, 1, 0, 1});
  EXPECT_THROW(compute_mig(be, codes, factors, {2}), Error);  // NaN code
  codes.upload(std::vector<float>{0, 1, 2, 3, 4, 5, 6, 7});
  EXPECT_THROW(compute_mig(be, codes, factors, {1}), Error);     // class 1 of a 1-class factor
  EXPECT_THROW(compute_mig(be, codes, factors, {2, 2}), Error);  // F mismatch
  EXPECT_THROW(compute_mig(be, codes, factors, {2}, 0), Error);  // no bins
  EXPECT_NO_THROW(compute_mig(be, codes, factors, {2}));
}

// The histograms are integer counts, and the host arithmetic is shared, so CUDA must match the
// CPU twin exactly, including at scale (N = 300k, 40 classes) and for 500 latents.
void expect_identical(const MigResult& ref, const MigResult& got) {
  EXPECT_EQ(ref.mutual_info, got.mutual_info);
  EXPECT_EQ(ref.factor_entropy, got.factor_entropy);
  EXPECT_EQ(ref.gap, got.gap);
  EXPECT_EQ(ref.mig, got.mig);
  EXPECT_EQ(ref.latent_best_nmi, got.latent_best_nmi);
}

class MigBackends : public ::testing::TestWithParam<MigSpec> {};

TEST_P(MigBackends, CudaMatchesCpu) {
  VSAE_REQUIRE_CUDA();
  const MigCase c = GetParam().build();
  expect_identical(run_mig(test::cpu(), c), run_mig(test::cuda(), c));
}

const std::vector<MigSpec> kBackendSpecs{{"disentangled", disentangled},
                                         {"random", random_codes},
                                         {"permuted_duplicated", permuted_duplicated},
                                         {"constant_latents", constant_latents},
                                         {"sae_codes", sae_codes},
                                         {"mu_300k", mu_300k},
                                         {"sae_20k", sae_20k}};

INSTANTIATE_TEST_SUITE_P(Cases, MigBackends, ::testing::ValuesIn(kBackendSpecs), spec_name);

}  // namespace
}  // namespace vsae
