// Runs the evaluation set through the model in batches and reduces it to the DESIGN §6 metrics.
#include "apps/vsae/train/evaluator.hpp"

#include <numeric>

#include "engine/ops/firing.hpp"
#include "engine/ops/gather.hpp"

namespace vsae {

namespace {
// Rows [begin, begin + rows) of a row-major (N, D) tensor.
Tensor rows_of(const Tensor& t, std::int64_t begin, std::int64_t rows) {
  const std::int64_t d = t.numel() / t.dim(0);
  return Tensor(static_cast<std::byte*>(t.data) + begin * d * static_cast<std::int64_t>(dtype_size(t.dtype)),
                Shape{rows, d}, t.dtype, t.device);
}
}  // namespace

Evaluator::Evaluator(Backend& be, VaeSaeModel& model, EvalSet set, const config::EvalConfig& config)
    : model_(model), set_(std::move(set)), config_(config), n_(set_.images.dim(0)) {
  VSAE_CHECK(n_ > 0, "the evaluation set is empty");
  VSAE_CHECK(config_.activation_eps.size() <= static_cast<std::size_t>(kMaxFiringThresholds),
             "at most " << kMaxFiringThresholds << " activation thresholds");
  const std::int64_t latent = model.mu().shape[1];
  const std::int64_t width = model.has_sae() ? model.codes().shape[1] : 1;
  const std::int64_t eps_count = static_cast<std::int64_t>(config_.activation_eps.size());
  ArenaPlan plan;
  std::size_t order_off = plan.reserve(Shape{n_}, DType::i32);
  std::size_t cursor_off = plan.reserve(Shape{1}, DType::i32);
  std::size_t mu_off = plan.reserve(Shape{n_, latent}, DType::f32);
  std::size_t codes_off = plan.reserve(Shape{n_, width}, DType::f32);
  std::size_t counts_off = plan.reserve(Shape{eps_count, width}, DType::i32);
  std::size_t max_off = plan.reserve(Shape{width}, DType::f32);
  buffers_ = be.allocate(plan.total_bytes());
  order_ = buffers_.view(Shape{n_}, DType::i32, order_off);
  cursor_ = buffers_.view(Shape{1}, DType::i32, cursor_off);
  mu_all_ = buffers_.view(Shape{n_, latent}, DType::f32, mu_off);
  codes_all_ = buffers_.view(Shape{n_, width}, DType::f32, codes_off);
  counts_ = buffers_.view(Shape{eps_count, width}, DType::i32, counts_off);
  max_act_ = buffers_.view(Shape{width}, DType::f32, max_off);
  std::vector<std::int32_t> identity(static_cast<std::size_t>(n_));
  std::iota(identity.begin(), identity.end(), 0);
  be.upload(order_, identity.data());
}

EvalResult Evaluator::run(Backend& be) {
  const std::int64_t batch = model_.batch();
  const std::vector<float> eps(config_.activation_eps.begin(), config_.activation_eps.end());
  be.zero(cursor_);
  be.zero(counts_);
  be.zero(max_act_);  // codes are ReLU outputs, so 0 is the floor of their maximum

  EvalResult r;
  r.samples = n_;
  double recon = 0, kl = 0, sae = 0, l1 = 0, sparsity = 0, multi_topk = 0, total = 0;
  const std::int64_t hidden = model_.has_sae() ? model_.encoder_input().shape[1] : 1;
  metrics::CenteringAccumulator centering(hidden);
  std::vector<float> h_rows;
  for (std::int64_t begin = 0; begin < n_; begin += batch) {
    const std::int64_t rows = std::min(batch, n_ - begin);
    gather_batch(be, set_.images, order_, cursor_, model_.input().data, set_.pixel_scale);
    advance_counter(be, cursor_, static_cast<int>(batch));
    model_.evaluate_batch(be);
    be.copy(rows_of(mu_all_, begin, rows), rows_of(model_.mu().data, 0, rows));
    if (model_.has_sae()) {
      Tensor codes = rows_of(model_.codes().data, 0, rows);
      be.copy(rows_of(codes_all_, begin, rows), codes);
      firing_stats(be, codes, eps, counts_, max_act_);
      h_rows.resize(static_cast<std::size_t>(rows * hidden));
      be.download(h_rows.data(), rows_of(model_.encoder_input().data, 0, rows));
      centering.add(h_rows.data(), rows);
    }
    // The loss terms are batch means; the last, partial batch wraps around the set, so weight
    // each batch by its real rows.
    LossValues l = model_.read_losses(be);
    const double w = static_cast<double>(rows);
    recon += w * l.recon;
    kl += w * l.kl;
    sae += w * l.sae;
    l1 += w * l.l1;
    sparsity += w * l.sparsity;
    multi_topk += w * l.multi_topk;
    total += w * l.total;
  }
  const double n = static_cast<double>(n_);
  r.loss.recon = static_cast<float>(recon / n);
  r.loss.kl = static_cast<float>(kl / n);
  r.loss.sae = static_cast<float>(sae / n);
  r.loss.l1 = static_cast<float>(l1 / n);
  r.loss.sparsity = static_cast<float>(sparsity / n);
  r.loss.multi_topk = static_cast<float>(multi_topk / n);
  r.loss.total = static_cast<float>(total / n);

  r.mig = compute_mig(be, mu_all_, set_.classes, set_.num_classes, static_cast<int>(config_.mig_bins));
  if (model_.has_sae()) {
    const std::int64_t width = counts_.dim(1);
    std::vector<std::int32_t> counts(static_cast<std::size_t>(counts_.numel()));
    be.download(counts.data(), counts_);
    for (std::size_t e = 0; e < eps.size(); ++e)
      r.fire_counts.emplace_back(counts.begin() + static_cast<std::ptrdiff_t>(e * width),
                                 counts.begin() + static_cast<std::ptrdiff_t>((e + 1) * width));
    r.max_activation.resize(static_cast<std::size_t>(width));
    be.download(r.max_activation.data(), max_act_);
    // a > 0 is the L0 of the codes; use the ε = 0 row when the grid has one, else the smallest ε.
    std::size_t zero_row = 0;
    for (std::size_t e = 0; e < eps.size(); ++e)
      if (eps[e] < eps[zero_row]) zero_row = e;
    r.mean_l0 = static_cast<double>(std::accumulate(r.fire_counts[zero_row].begin(), r.fire_counts[zero_row].end(),
                                                    std::int64_t{0})) / n;
    r.dead = metrics::dead_neuron_grid(r.fire_counts, n_, config_.dead_thresholds, config_.activation_eps);
    r.sae_mig = compute_mig(be, codes_all_, set_.classes, set_.num_classes, static_cast<int>(config_.mig_bins));
    r.sae_input = centering.stats();
  }
  return r;
}

}  // namespace vsae
