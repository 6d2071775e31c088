// MIG op: per-latent ranges and joint histograms on the backend, then numpy's bin edges and
// sklearn's mutual_info_score arithmetic on the host, in double.
#include "engine/ops/mig.hpp"

#include <algorithm>
#include <cmath>
#include <limits>
#include <sstream>

#include "engine/core/storage.hpp"
#include "kernels/mig_cpu.hpp"
#include "kernels/ordered_key.hpp"

#if VSAE_HAVE_CUDA
#include "engine/core/cuda_context.hpp"
#include "kernels/mig.cuh"
#endif

namespace vsae {

namespace {

// np.histogram(x, bins)[1] for data spanning [lo, hi]: np.linspace(first, last, bins + 1) in
// double, i·step + first with the last edge exactly `last`.
void histogram_edges(double lo, double hi, int bins, double* edges) {
  double first = lo, last = hi;
  if (first == last) {  // numpy widens an empty range to avoid a zero bin width
    first -= 0.5;
    last += 0.5;
  }
  const double delta = last - first;
  const double step = delta / bins;
  for (int i = 0; i < bins; ++i) {
    // numpy's branch for a step that underflows to 0 (a denormal range).
    const double offset =
        step == 0.0 ? (static_cast<double>(i) / bins) * delta : static_cast<double>(i) * step;
    edges[i] = offset + first;
  }
  edges[bins] = last;
}

// sklearn.metrics.mutual_info_score on a contingency table (rows × cols, row-major counts), in
// nats: 0 when either labelling has a single occupied value, per-cell terms below machine epsilon
// dropped, the sum clipped at 0.
double mutual_info(const std::vector<std::int64_t>& table, int rows, int cols) {
  std::vector<std::int64_t> row_sum(static_cast<std::size_t>(rows), 0),
      col_sum(static_cast<std::size_t>(cols), 0);
  std::int64_t total = 0;
  for (int r = 0; r < rows; ++r)
    for (int c = 0; c < cols; ++c) {
      const std::int64_t n = table[static_cast<std::size_t>(r) * cols + c];
      row_sum[static_cast<std::size_t>(r)] += n;
      col_sum[static_cast<std::size_t>(c)] += n;
      total += n;
    }
  const auto occupied = [](const std::vector<std::int64_t>& v) {
    return std::count_if(v.begin(), v.end(), [](std::int64_t n) { return n > 0; });
  };
  if (occupied(row_sum) <= 1 || occupied(col_sum) <= 1) return 0.0;
  const double log_total = std::log(static_cast<double>(total));
  double mi = 0.0;
  for (int r = 0; r < rows; ++r)
    for (int c = 0; c < cols; ++c) {
      const std::int64_t n = table[static_cast<std::size_t>(r) * cols + c];
      if (n == 0) continue;
      const double p = static_cast<double>(n) / static_cast<double>(total);
      const double outer = static_cast<double>(row_sum[static_cast<std::size_t>(r)] *
                                               col_sum[static_cast<std::size_t>(c)]);
      const double log_outer = -std::log(outer) + log_total + log_total;
      const double term = p * (std::log(static_cast<double>(n)) - log_total) + p * log_outer;
      if (std::fabs(term) >= std::numeric_limits<double>::epsilon()) mi += term;
    }
  return std::max(mi, 0.0);
}

// disentanglement_lib's discrete entropy: mutual_info_score(y, y) from the class counts.
double entropy(const std::vector<std::int64_t>& counts) {
  const int n = static_cast<int>(counts.size());
  std::vector<std::int64_t> diagonal(static_cast<std::size_t>(n) * n, 0);
  for (int c = 0; c < n; ++c)
    diagonal[static_cast<std::size_t>(c) * n + c] = counts[static_cast<std::size_t>(c)];
  return mutual_info(diagonal, n, n);
}

}  // namespace

MigResult compute_mig(Backend& be, const Tensor& codes, const Tensor& factors,
                      const std::vector<int>& num_classes, int bins) {
  check_on(be, codes, DType::f32, "compute_mig: codes");
  check_on(be, factors, DType::i32, "compute_mig: factors");
  VSAE_CHECK(codes.ndim() == 2 && codes.dim(0) >= 1 && codes.dim(1) >= 1,
             "compute_mig: codes must be (N >= 1, L >= 1), got " << codes.shape);
  const std::int64_t rows = codes.dim(0), latents = codes.dim(1);
  const int num_factors = static_cast<int>(num_classes.size());
  VSAE_CHECK(num_factors >= 1, "compute_mig: no factors");
  VSAE_CHECK(factors.shape == (Shape{rows, num_factors}),
             "compute_mig: factors is " << factors.shape << ", expected (" << rows << ", "
                                        << num_factors << ")");
  VSAE_CHECK(bins >= 1, "compute_mig: bins must be >= 1, got " << bins);
  std::vector<std::int32_t> offset(static_cast<std::size_t>(num_factors) + 1, 0);
  for (int f = 0; f < num_factors; ++f) {
    VSAE_CHECK(num_classes[static_cast<std::size_t>(f)] >= 1,
               "compute_mig: factor " << f << " has " << num_classes[static_cast<std::size_t>(f)]
                                      << " classes");
    offset[static_cast<std::size_t>(f) + 1] =
        offset[static_cast<std::size_t>(f)] + num_classes[static_cast<std::size_t>(f)];
  }
  const std::int64_t total_classes = offset.back();
  const auto cells = static_cast<std::size_t>(latents * bins * total_classes);
  const auto L = static_cast<std::size_t>(latents);

  std::vector<float> lo(L), hi(L);
  std::vector<double> edges(L * static_cast<std::size_t>(bins + 1));
  std::vector<std::int32_t> hist(cells);
  bool finite = true, classes_ok = true;
  const auto make_edges = [&] {
    for (std::size_t l = 0; l < L; ++l)
      histogram_edges(lo[l], hi[l], bins, edges.data() + l * static_cast<std::size_t>(bins + 1));
  };
  if (be.device() == Device::cpu) {
    finite = cpu_kernels::latent_ranges(codes.ptr<float>(), rows, latents, lo.data(), hi.data());
    if (finite) {
      make_edges();
      classes_ok = cpu_kernels::mig_histograms(codes.ptr<float>(), factors.ptr<std::int32_t>(),
                                               rows, latents, num_factors, offset.data(),
                                               edges.data(), bins, hist.data());
    }
  } else {
#if VSAE_HAVE_CUDA
    CudaContext& ctx = be.cuda();
    Storage keys = be.allocate(2 * L * sizeof(std::uint32_t));
    Storage flag = be.allocate(sizeof(std::int32_t));
    auto* key_data = static_cast<std::uint32_t*>(keys.data());
    auto* flag_data = static_cast<std::int32_t*>(flag.data());
    cuda_kernels::latent_ranges(codes.ptr<float>(), rows, latents, key_data, key_data + L,
                                flag_data, ctx.stream());
    std::vector<std::uint32_t> key_host(2 * L);
    std::int32_t nonfinite = 0;
    be.download(key_host.data(), keys.flat(DType::i32));
    be.download(&nonfinite, flag.flat(DType::i32));
    finite = nonfinite == 0;
    if (finite) {
      for (std::size_t l = 0; l < L; ++l) {
        lo[l] = ordered_key_value(key_host[l]);
        hi[l] = ordered_key_value(key_host[L + l]);
      }
      make_edges();
      Storage edges_dev = be.allocate(edges.size() * sizeof(double));
      Storage hist_dev = be.allocate(cells * sizeof(std::int32_t));
      be.upload(edges_dev.flat(DType::u8), edges.data());
      cuda_kernels::mig_histograms(
          codes.ptr<float>(), factors.ptr<std::int32_t>(), rows, latents, num_factors,
          offset.data(), static_cast<const double*>(edges_dev.data()), bins,
          static_cast<std::int32_t*>(hist_dev.data()), flag_data, ctx.stream());
      std::int32_t bad_class = 0;
      be.download(hist.data(), hist_dev.flat(DType::i32));
      be.download(&bad_class, flag.flat(DType::i32));
      classes_ok = bad_class == 0;
    }
#endif
  }
  VSAE_CHECK(finite,
             "compute_mig: codes contain NaN or Inf; the histogram range would not be finite");
  VSAE_CHECK(classes_ok,
             "compute_mig: a factor class index is outside [0, num_classes) for its factor");

  MigResult r;
  r.num_latents = static_cast<int>(latents);
  r.num_factors = num_factors;
  r.num_samples = rows;
  r.mutual_info.assign(L * static_cast<std::size_t>(num_factors), 0.0);
  r.factor_entropy.assign(static_cast<std::size_t>(num_factors), 0.0);
  for (int f = 0; f < num_factors; ++f) {
    const int nc = num_classes[static_cast<std::size_t>(f)];
    const std::int32_t off = offset[static_cast<std::size_t>(f)];
    // Class counts are the same under every latent; latent 0's bins add up to them.
    std::vector<std::int64_t> counts(static_cast<std::size_t>(nc), 0);
    for (int b = 0; b < bins; ++b)
      for (int c = 0; c < nc; ++c)
        counts[static_cast<std::size_t>(c)] +=
            hist[static_cast<std::size_t>(b * total_classes + off + c)];
    r.factor_entropy[static_cast<std::size_t>(f)] = entropy(counts);
    // Contingency (class × bin), the orientation of mutual_info_score(factor, code).
    std::vector<std::int64_t> table(static_cast<std::size_t>(nc) * bins);
    for (std::size_t l = 0; l < L; ++l) {
      const std::int32_t* hl = hist.data() + l * static_cast<std::size_t>(bins * total_classes);
      for (int c = 0; c < nc; ++c)
        for (int b = 0; b < bins; ++b)
          table[static_cast<std::size_t>(c) * bins + b] = hl[b * total_classes + off + c];
      r.mutual_info[l * num_factors + f] = mutual_info(table, nc, bins);
    }
  }

  r.best_latent.assign(static_cast<std::size_t>(num_factors), 0);
  r.gap.assign(static_cast<std::size_t>(num_factors), 0.0);
  int scored = 0;
  double gap_sum = 0.0;
  for (int f = 0; f < num_factors; ++f) {
    double best = -1.0, second = 0.0;
    for (std::size_t l = 0; l < L; ++l) {
      const double mi = r.mutual_info[l * num_factors + f];
      if (mi > best) {
        second = std::max(second, best);
        best = mi;
        r.best_latent[static_cast<std::size_t>(f)] = static_cast<int>(l);
      } else {
        second = std::max(second, mi);
      }
    }
    const double h = r.factor_entropy[static_cast<std::size_t>(f)];
    if (h > 0.0) {
      r.gap[static_cast<std::size_t>(f)] = (best - second) / h;
      gap_sum += r.gap[static_cast<std::size_t>(f)];
      ++scored;
    }
  }
  r.mig = scored > 0 ? gap_sum / scored : 0.0;

  r.latent_best_nmi.assign(L, 0.0);
  r.latent_best_factor.assign(L, 0);
  for (std::size_t l = 0; l < L; ++l)
    for (int f = 0; f < num_factors; ++f) {
      const double h = r.factor_entropy[static_cast<std::size_t>(f)];
      const double nmi = h > 0.0 ? r.mutual_info[l * num_factors + f] / h : 0.0;
      if (nmi > r.latent_best_nmi[l]) {
        r.latent_best_nmi[l] = nmi;
        r.latent_best_factor[l] = f;
      }
    }
  return r;
}

}  // namespace vsae
