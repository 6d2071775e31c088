// Training-step throughput of the whole VAE-SAE (gather, forward, backward, Adam) on synthetic
// resident data, for dSprites- and Shapes3D-shaped inputs at two batch sizes; on CUDA both eager
// launches and CUDA Graph replay. Each row also gives the step's achieved GFLOP/s (the GEMM-like
// ops' flops over the step time); --peak measures the CPU's practical FP32 limit (a large OpenBLAS
// sgemm) and --profile each op's share of the step. tools/bench_train.sh sets it against PyTorch.
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <functional>
#include <iostream>
#include <memory>
#include <string>
#include <vector>

#include <cblas.h>

#include <map>
#include <utility>

#include "apps/vsae/model/vae_sae.hpp"
#include "engine/core/backend.hpp"
#include "engine/graph/op_profile.hpp"
#include "engine/core/philox.hpp"
#include "engine/graph/step_graph.hpp"
#include "engine/ops/gather.hpp"

namespace vsae {
namespace {

struct Options {
  std::string device = "auto";
  int warmup = 3;
  int steps = 20;
  int repeats = 3;  // timed blocks of `steps`; the best is reported (robust on a shared machine)
  std::vector<int> batches{64, 256};
  std::vector<std::string> datasets{"dsprites", "shapes3d"};
  bool peak = false;     // time a large OpenBLAS sgemm first (CPU)
  bool profile = false;  // after the timing, a per-op breakdown of --steps profiled steps
};

void usage() {
  std::cout << "usage: bench_train [--device auto|cpu|cuda] [--warmup N] [--steps N] [--repeats N]\n"
               "                   [--batch B]... [--dataset dsprites|shapes3d]... [--peak] [--profile]\n"
               "  Times training steps of the default VAE-SAE (Top-k, k = 50) on synthetic data and\n"
               "  prints one row per case: ms/step, images/s and GFLOP/s of the best of --repeats blocks.\n"
               "  --peak     first a 'peak' row: the best GFLOP/s of a 2048^3 OpenBLAS sgemm (CPU only)\n"
               "  --profile  then 'profile' rows per case: each op's and op family's ms/step and share,\n"
               "             with the backend synchronised around every op\n";
}

Options parse(int argc, char** argv) {
  Options o;
  bool batch_given = false, dataset_given = false;
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    const bool has_value = i + 1 < argc;
    if (arg == "--device" && has_value) {
      o.device = argv[++i];
    } else if (arg == "--warmup" && has_value) {
      o.warmup = std::max(1, std::atoi(argv[++i]));
    } else if (arg == "--steps" && has_value) {
      o.steps = std::max(1, std::atoi(argv[++i]));
    } else if (arg == "--repeats" && has_value) {
      o.repeats = std::max(1, std::atoi(argv[++i]));
    } else if (arg == "--batch" && has_value) {
      if (!batch_given) o.batches.clear();
      batch_given = true;
      o.batches.push_back(std::max(1, std::atoi(argv[++i])));
    } else if (arg == "--dataset" && has_value) {
      if (!dataset_given) o.datasets.clear();
      dataset_given = true;
      o.datasets.push_back(argv[++i]);
    } else if (arg == "--peak") {
      o.peak = true;
    } else if (arg == "--profile") {
      o.profile = true;
    } else if (arg == "--help" || arg == "-h") {
      usage();
      std::exit(0);
    } else {
      usage();
      throw Error("bench_train: unknown or incomplete argument " + arg);
    }
  }
  return o;
}

// A resident uint8 image set with the dataset's shape and value range, and its batch cursor.
struct SyntheticData {
  Storage storage;
  Tensor images, order, cursor;
  float scale = 1.0f;

  SyntheticData(Backend& be, int channels, std::int64_t count) {
    const std::int64_t pixels = std::int64_t{channels} * 64 * 64;
    ArenaPlan plan;
    const std::size_t images_off = plan.reserve(Shape{count, channels, 64, 64}, DType::u8);
    const std::size_t order_off = plan.reserve(Shape{count}, DType::i32);
    const std::size_t cursor_off = plan.reserve(Shape{1}, DType::i32);
    storage = be.allocate(plan.total_bytes());
    images = storage.view(Shape{count, channels, 64, 64}, DType::u8, images_off);
    order = storage.view(Shape{count}, DType::i32, order_off);
    cursor = storage.view(Shape{1}, DType::i32, cursor_off);
    // dSprites is binary (scale 1), Shapes3D is 8-bit colour (scale 1/255), as in the real data.
    const bool binary = channels == 1;
    scale = binary ? 1.0f : 1.0f / 255.0f;
    std::vector<std::uint8_t> host(static_cast<std::size_t>(count * pixels));
    for (std::size_t i = 0; i < host.size(); ++i) {
      const std::uint32_t r = philox_draw(7, RngStream::init, static_cast<std::uint32_t>(i), 99).v[0];
      host[i] = static_cast<std::uint8_t>(binary ? (r >> 31) : (r >> 24));
    }
    be.upload(images, host.data());
    std::vector<std::int32_t> identity(static_cast<std::size_t>(count));
    for (std::size_t i = 0; i < identity.size(); ++i) identity[i] = static_cast<std::int32_t>(i);
    be.upload(order, identity.data());
    be.zero(cursor);
  }
};

// Seconds per step of the best of `repeats` blocks of `steps` steps, after `warmup` steps.
double time_steps(Backend& be, StepGraph& runner, const std::function<void()>& step, const Options& o) {
  for (int i = 0; i < o.warmup; ++i) runner.run(step);
  be.synchronize();
  double best = 1e30;
  for (int r = 0; r < o.repeats; ++r) {
    const auto start = std::chrono::steady_clock::now();
    for (int i = 0; i < o.steps; ++i) runner.run(step);
    be.synchronize();
    const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    best = std::min(best, s / o.steps);
  }
  return best;
}

// The practical FP32 peak of the CPU: the best of 5 calls of a square sgemm, large enough that
// OpenBLAS runs at its steady rate on every thread.
double sgemm_peak_gflops(int n) {
  std::vector<float> a(static_cast<std::size_t>(n) * n), b(a.size()), c(a.size());
  for (std::size_t i = 0; i < a.size(); ++i) {
    a[i] = static_cast<float>(i % 13) * 0.01f;
    b[i] = static_cast<float>(i % 7) * 0.02f;
  }
  double best = 1e30;
  for (int r = 0; r < 6; ++r) {
    const auto start = std::chrono::steady_clock::now();
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, n, n, n, 1.0f, a.data(), n, b.data(), n,
                0.0f, c.data(), n);
    const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    if (r > 0) best = std::min(best, s);  // the first call warms the threads and caches
  }
  return 2.0 * n * n * double(n) / best / 1e9;
}

// The op family of a profiled entry ("conv2d forward", "adam", ...).
std::string family_of(const std::string& op) {
  if (op.rfind("conv_transpose2d", 0) == 0) return "transposed convolutions";
  if (op.rfind("conv2d", 0) == 0) return "convolutions";
  if (op.rfind("linear", 0) == 0) return "GEMMs";
  if (op.rfind("sparsify_topk", 0) == 0) return "Top-k";
  if (op == "adam") return "Adam";
  return "elementwise";  // bias + activation, noise, losses, gradient zeroing, gather, controller
}

// Profiles `steps` steps and prints each op's, then each family's, ms/step and share of the sum.
void print_profile(Backend& be, VaeSaeModel& model, const std::function<void(OpProfile*)>& step,
                   const std::string& dataset, int batch, int steps, double unprofiled_seconds) {
  OpProfile profile;
  model.set_profile(&profile);
  for (int i = 0; i < steps; ++i) step(&profile);
  be.synchronize();
  model.set_profile(nullptr);
  double total = 0.0;
  std::map<std::string, double> families;
  for (const auto& [op, s] : profile.seconds()) {
    total += s;
    families[family_of(op)] += s;
  }
  std::printf("# profile of %s batch %d: %d steps, synchronised around each op; their sum %.3f ms/step "
              "(unprofiled %.3f)\n",
              dataset.c_str(), batch, steps, total / steps * 1e3, unprofiled_seconds * 1e3);
  auto row = [&](const char* what, const std::string& name, double s) {
    std::printf("profile %-9s %6d %-6s %-32s %10.3f %6.1f%%\n", dataset.c_str(), batch, what, name.c_str(),
                s / steps * 1e3, 100.0 * s / total);
  };
  std::vector<std::pair<double, std::string>> ops;
  for (const auto& [op, s] : profile.seconds()) ops.emplace_back(s, op);
  std::sort(ops.rbegin(), ops.rend());
  for (const auto& [s, op] : ops) row("op", op, s);
  for (const auto& [family, s] : families) row("family", family, s);
}

int run(int argc, char** argv) {
  const Options o = parse(argc, argv);
  std::unique_ptr<Backend> be = Backend::create(parse_device_choice(o.device), &std::cerr);
  be->set_tf32(true);
  std::printf("# bench_train: device %s\n", be->name().c_str());
  std::printf("# warm-up %d steps, then the best of %d blocks of %d steps; Top-k SAE (width 500, k 50)\n",
              o.warmup, o.repeats, o.steps);
  if (o.peak) {
    VSAE_CHECK(!be->is_cuda(), "--peak measures the CPU's OpenBLAS sgemm; run it with --device cpu");
    constexpr int kPeakSize = 2048;
    std::printf("peak sgemm %d %.1f GFLOP/s\n", kPeakSize, sgemm_peak_gflops(kPeakSize));
  }
  std::printf("%-9s %2s %6s %-6s %10s %10s %10s\n", "dataset", "C", "batch", "mode", "ms/step", "images/s",
              "GFLOP/s");
  const AdamHyper adam;
  for (const std::string& dataset : o.datasets) {
    VSAE_CHECK(dataset == "dsprites" || dataset == "shapes3d", "unknown dataset " << dataset);
    const int channels = dataset == "dsprites" ? 1 : 3;
    for (int batch : o.batches) {
      SyntheticData data(*be, channels, std::max<std::int64_t>(4 * batch, 1024));
      ModelConfig config;
      config.channels = channels;
      config.sae = SaeKind::topk;
      VaeSaeModel model(*be, config, batch, 0);
      model.set_k(*be, 50);
      const auto profiled_step = [&](OpProfile* profile) {
        profiled(profile, *be, "gather", [&] {
          gather_batch(*be, data.images, data.order, data.cursor, model.input().data, data.scale);
          advance_counter(*be, data.cursor, batch);
        });
        model.train_step(*be, adam);
      };
      const auto step = [&] { profiled_step(nullptr); };
      const double flops = model.graph().training_flops();
      double eager_seconds = 0.0;
      std::printf("# %s batch %d: %.2f GFLOP per step (%.1f MFLOP per image) in the GEMM-like ops, forward + backward\n",
                  dataset.c_str(), batch, flops / 1e9, flops / batch / 1e6);
      std::vector<bool> modes{false};
      if (be->is_cuda()) modes.push_back(true);
      for (bool graph : modes) {
        StepGraph runner(*be, graph);
        const double seconds = time_steps(*be, runner, step, o);
        if (!graph) eager_seconds = seconds;
        std::printf("%-9s %2d %6d %-6s %10.3f %10.1f %10.1f\n", dataset.c_str(), channels, batch,
                    graph ? "graph" : "eager", seconds * 1e3, batch / seconds, flops / seconds / 1e9);
        std::fflush(stdout);
      }
      if (o.profile) print_profile(*be, model, profiled_step, dataset, batch, o.steps, eager_seconds);
      // Catch a diverged or broken step rather than timing garbage.
      const LossValues l = model.read_losses(*be);
      VSAE_CHECK(std::isfinite(l.total), "the loss went non-finite while benchmarking " << dataset);
    }
  }
  return 0;
}

}  // namespace
}  // namespace vsae

int main(int argc, char** argv) {
  try {
    return vsae::run(argc, argv);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "bench_train: %s\n", e.what());
    return 1;
  }
}
