// Benchmark of the hand-written CUDA kernels (Top-k, L1/prox, sparsifier backward, firing stats,
// MIG histograms): CUDA-event timings with the L2 flushed before every run, reported as achieved
// GB/s against a device-to-device cudaMemcpy measured in the same run, and Top-k also against
// torch.topk + scatter (tools/bench_topk_torch.py) on the same GPU. Prints a plain-text table
// meant to be committed under bench/results/.
#include <cuda_runtime.h>

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <functional>
#include <iostream>
#include <map>
#include <memory>
#include <sstream>
#include <string>
#include <tuple>
#include <vector>

#include "engine/core/backend.hpp"
#include "engine/core/cuda_context.hpp"
#include "engine/core/philox.hpp"
#include "engine/core/storage.hpp"
#include "engine/ops/firing.hpp"
#include "engine/ops/l1.hpp"
#include "engine/ops/sparse_grad.hpp"
#include "engine/ops/topk.hpp"
#include "kernels/mig.cuh"

namespace vsae {
namespace {

struct Options {
  int reps = 50;
  std::string python = "python3";  // "none" skips the PyTorch comparison
  bool quick = false;
};

void usage() {
  std::cout << "usage: bench_kernels [--reps N] [--python PATH|none] [--quick]\n"
               "  --reps N        timed runs per case (median reported), default 50\n"
               "  --python PATH   interpreter with PyTorch for the torch.topk comparison, default "
               "python3; 'none' skips it\n"
               "  --quick         a few shapes only (a smoke run)\n";
}

Options parse(int argc, char** argv) {
  Options o;
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    if (arg == "--reps" && i + 1 < argc) {
      o.reps = std::max(1, std::atoi(argv[++i]));
    } else if (arg == "--python" && i + 1 < argc) {
      o.python = argv[++i];
    } else if (arg == "--quick") {
      o.quick = true;
    } else if (arg == "--help" || arg == "-h") {
      usage();
      std::exit(0);
    } else {
      usage();
      throw Error("bench_kernels: unknown argument '" + arg + "'");
    }
  }
  return o;
}

// Times one operation: warm-up, then `reps` runs, each after an L2 flush, each bracketed by
// events on the op's stream. Returns the median in microseconds.
class Timer {
 public:
  Timer(Backend& be, int reps) : be_(be), reps_(reps) {
    const cudaDeviceProp& p = be.cuda().props();
    flush_bytes_ = 2 * static_cast<std::size_t>(std::max(p.l2CacheSize, 1 << 20));
    flush_ = be.allocate(flush_bytes_);
    CUDA_CHECK(cudaEventCreate(&start_));
    CUDA_CHECK(cudaEventCreate(&stop_));
  }
  ~Timer() {
    cudaEventDestroy(start_);
    cudaEventDestroy(stop_);
  }
  Timer(const Timer&) = delete;
  Timer& operator=(const Timer&) = delete;

  double median_us(const std::function<void()>& op) {
    cudaStream_t s = be_.cuda().stream();
    for (int i = 0; i < 3; ++i) op();
    std::vector<double> times;
    for (int i = 0; i < reps_; ++i) {
      CUDA_CHECK(cudaMemsetAsync(flush_.data(), i & 0xFF, flush_bytes_, s));
      CUDA_CHECK(cudaEventRecord(start_, s));
      op();
      CUDA_CHECK(cudaEventRecord(stop_, s));
      CUDA_CHECK(cudaEventSynchronize(stop_));
      float ms = 0.0f;
      CUDA_CHECK(cudaEventElapsedTime(&ms, start_, stop_));
      times.push_back(1000.0 * ms);
    }
    std::sort(times.begin(), times.end());
    return times[times.size() / 2];
  }

 private:
  Backend& be_;
  int reps_;
  std::size_t flush_bytes_ = 0;
  Storage flush_;
  cudaEvent_t start_ = nullptr, stop_ = nullptr;
};

// A device tensor filled with reproducible values in [lo, hi).
struct DeviceTensor {
  Storage storage;
  Tensor t;
};

DeviceTensor make_f32(Backend& be, Shape shape, float lo, float hi, std::uint32_t stream_id) {
  DeviceTensor d;
  d.storage = be.allocate(static_cast<std::size_t>(shape.numel()) * sizeof(float));
  d.t = d.storage.view(shape, DType::f32);
  std::vector<float> host(static_cast<std::size_t>(shape.numel()));
  for (std::size_t i = 0; i < host.size(); ++i)
    host[i] =
        lo +
        (hi - lo) *
            philox_uniform(
                philox_draw(42, RngStream::test, static_cast<std::uint32_t>(i), stream_id).v[0]);
  be.upload(d.t, host.data());
  return d;
}

DeviceTensor make_i32(Backend& be, Shape shape, std::int32_t value) {
  DeviceTensor d;
  d.storage = be.allocate(static_cast<std::size_t>(shape.numel()) * sizeof(std::int32_t));
  d.t = d.storage.view(shape, DType::i32);
  std::vector<std::int32_t> host(static_cast<std::size_t>(shape.numel()), value);
  be.upload(d.t, host.data());
  return d;
}

double memcpy_gbps(Backend& be, Timer& timer) {
  const std::size_t bytes = std::size_t{512} << 20;
  Storage src = be.allocate(bytes), dst = be.allocate(bytes);
  const double us = timer.median_us([&] {
    CUDA_CHECK(cudaMemcpyAsync(dst.data(), src.data(), bytes, cudaMemcpyDeviceToDevice,
                               be.cuda().stream()));
  });
  return 2.0 * static_cast<double>(bytes) / (us * 1e3);  // read + write
}

using TopkKey = std::tuple<std::int64_t, std::int64_t, std::int64_t>;

// Runs tools/bench_topk_torch.py for the shapes; returns (B, W, k) -> microseconds, or an empty
// map (with the reason on stderr) when PyTorch with CUDA is not available.
std::map<TopkKey, double> torch_topk_us(const Options& o, const std::vector<TopkKey>& shapes) {
  std::map<TopkKey, double> result;
  if (o.python == "none" || shapes.empty()) return result;
  std::ostringstream cmd;
  cmd << o.python << " " << VSAE_SOURCE_DIR << "/tools/bench_topk_torch.py --reps " << o.reps
      << " --shapes ";
  for (std::size_t i = 0; i < shapes.size(); ++i)
    cmd << (i ? "," : "") << std::get<0>(shapes[i]) << "x" << std::get<1>(shapes[i]) << "x"
        << std::get<2>(shapes[i]);
  FILE* pipe = popen(cmd.str().c_str(), "r");
  if (pipe == nullptr) {
    std::cerr << "bench_kernels: cannot run " << cmd.str() << "\n";
    return result;
  }
  char line[512];
  while (std::fgets(line, sizeof line, pipe) != nullptr) {
    long long b = 0, w = 0, k = 0;
    double us = 0.0;
    if (std::sscanf(line, "topk %lld %lld %lld %lf", &b, &w, &k, &us) == 4) result[{b, w, k}] = us;
  }
  const int status = pclose(pipe);
  if (status != 0)
    std::cerr << "bench_kernels: the PyTorch comparison did not run (" << cmd.str() << ")\n";
  return result;
}

struct Row {
  std::string kernel, shape;
  double us = 0.0, bytes = 0.0;
  double torch_us = 0.0;  // 0: not measured
};

int run(int argc, char** argv) {
  const Options o = parse(argc, argv);
  std::unique_ptr<Backend> be_ptr = Backend::make_cuda();
  Backend& be = *be_ptr;
  const cudaDeviceProp& p = be.cuda().props();
  Timer timer(be, o.reps);
  const double copy_gbps = memcpy_gbps(be, timer);

  const std::vector<std::int64_t> batches = o.quick
                                                ? std::vector<std::int64_t>{64, 4096}
                                                : std::vector<std::int64_t>{1, 3, 64, 257, 4096};
  const std::vector<std::int64_t> widths =
      o.quick ? std::vector<std::int64_t>{500} : std::vector<std::int64_t>{500, 512, 4096};
  std::vector<Row> rows;
  std::vector<TopkKey> topk_shapes;
  const auto f = [](std::int64_t n) { return static_cast<double>(n) * sizeof(float); };

  for (std::int64_t batch : batches)
    for (std::int64_t width : widths) {
      DeviceTensor z = make_f32(be, Shape{batch, width}, -2.0f, 2.0f, 1);
      DeviceTensor b = make_f32(be, Shape{width}, -0.5f, 0.5f, 2);
      DeviceTensor a = make_f32(be, Shape{batch, width}, 0.0f, 0.0f, 3);
      DeviceTensor da = make_f32(be, Shape{batch, width}, -1.0f, 1.0f, 4);
      DeviceTensor dz = make_f32(be, Shape{batch, width}, 0.0f, 0.0f, 5);
      DeviceTensor db = make_f32(be, Shape{width}, 0.0f, 0.0f, 6);
      DeviceTensor coef = make_f32(be, Shape{1}, 0.3f, 0.3f, 7);
      DeviceTensor penalty = make_f32(be, Shape{1}, 0.0f, 0.0f, 8);
      DeviceTensor fire = make_i32(be, Shape{width}, 0);
      DeviceTensor counts = make_i32(be, Shape{2, width}, 0);
      DeviceTensor active = make_i32(be, Shape{1}, 0);
      DeviceTensor k = make_i32(be, Shape{1}, 0);
      DeviceTensor maxv = make_f32(be, Shape{width}, 0.0f, 0.0f, 9);
      const ActivityCounters counters{fire.t, active.t, 0.0f};
      topk_prepare(be, batch, width);
      l1_prepare(be, batch, width);
      std::ostringstream shape;
      shape << batch << "x" << width;
      const double elems = static_cast<double>(batch * width);

      std::vector<std::int64_t> ks;
      for (std::int64_t kk :
           {std::int64_t{1}, std::int64_t{2}, std::int64_t{50}, width / 2, width - 1, width})
        if (kk >= 1 && std::find(ks.begin(), ks.end(), kk) == ks.end()) ks.push_back(kk);
      for (std::int64_t kk : ks) {
        const std::int32_t kv = static_cast<std::int32_t>(kk);
        be.upload(k.t, &kv);
        // Training configuration: a plus the fused counters; reads z_pre and b, writes a.
        const double us = timer.median_us(
            [&] { topk_forward(be, z.t, b.t, k.t, a.t, Tensor(), Tensor(), counters); });
        rows.push_back({"topk_forward", shape.str() + " k=" + std::to_string(kk), us,
                        2 * f(batch * width) + f(width)});
        topk_shapes.emplace_back(batch, width, kk);
      }
      rows.push_back({"sparse_backward", shape.str(), timer.median_us([&] {
                        sparse_backward(be, a.t, da.t, Tensor(), dz.t, db.t);
                      }),
                      4 * elems * sizeof(float) + 2 * f(width)});
      rows.push_back({"l1_backward", shape.str(),
                      timer.median_us([&] { l1_backward(be, a.t, da.t, coef.t, dz.t, db.t); }),
                      4 * elems * sizeof(float) + 2 * f(width)});
      rows.push_back({"l1_forward", shape.str(), timer.median_us([&] {
                        l1_forward(be, z.t, b.t, coef.t, a.t, penalty.t, counters);
                      }),
                      2 * elems * sizeof(float) + f(width)});
      rows.push_back({"l1_prox_forward", shape.str(), timer.median_us([&] {
                        l1_prox_forward(be, z.t, b.t, coef.t, a.t, counters);
                      }),
                      2 * elems * sizeof(float) + f(width)});
      rows.push_back({"firing_stats (2 eps + max)", shape.str(), timer.median_us([&] {
                        firing_stats(be, z.t, {0.0f, 1e-3f}, counts.t, maxv.t);
                      }),
                      elems * sizeof(float)});
    }

  // MIG: the GPU part (ranges + joint histograms) for mu (L = 10) and SAE codes (L = 500) against
  // dSprites' factors (3, 6, 40, 32, 32 classes).
  const std::vector<int> classes{3, 6, 40, 32, 32};
  std::vector<std::int32_t> offset{0};
  for (int c : classes) offset.push_back(offset.back() + c);
  const std::vector<std::pair<std::int64_t, std::int64_t>> mig_shapes =
      o.quick ? std::vector<std::pair<std::int64_t, std::int64_t>>{{10000, 500}}
              : std::vector<std::pair<std::int64_t, std::int64_t>>{
                    {10000, 10}, {10000, 500}, {737280, 10}, {737280, 500}};
  for (const auto& mig_shape : mig_shapes) {
    const std::int64_t n = mig_shape.first, latents = mig_shape.second;
    const int bins = 20;
    const auto F = static_cast<int>(classes.size());
    DeviceTensor codes = make_f32(be, Shape{n, latents}, -3.0f, 3.0f, 10);
    Storage factors = be.allocate(static_cast<std::size_t>(n * F) * sizeof(std::int32_t));
    std::vector<std::int32_t> y(static_cast<std::size_t>(n * F));
    for (std::size_t i = 0; i < y.size(); ++i)
      y[i] = static_cast<std::int32_t>(
          philox_draw(7, RngStream::test, static_cast<std::uint32_t>(i), 1).v[0] %
          static_cast<std::uint32_t>(classes[i % classes.size()]));
    be.upload(factors.flat(DType::i32), y.data());
    std::vector<double> edges(static_cast<std::size_t>(latents * (bins + 1)));
    for (std::size_t l = 0; l < static_cast<std::size_t>(latents); ++l)
      for (int e = 0; e <= bins; ++e)
        edges[l * (bins + 1) + static_cast<std::size_t>(e)] = -3.0 + 6.0 * e / bins;
    Storage edges_dev = be.allocate(edges.size() * sizeof(double));
    be.upload(edges_dev.flat(DType::u8), edges.data());
    Storage hist = be.allocate(static_cast<std::size_t>(latents * bins * offset.back()) *
                               sizeof(std::int32_t));
    Storage scratch = be.allocate(static_cast<std::size_t>(2 * latents + 1) * sizeof(std::int32_t));
    auto* keys = static_cast<std::uint32_t*>(scratch.data());
    auto* flag = reinterpret_cast<std::int32_t*>(keys + 2 * latents);
    std::ostringstream shape;
    shape << n << "x" << latents;
    const cudaStream_t s = be.cuda().stream();
    rows.push_back({"mig latent_ranges", shape.str(), timer.median_us([&] {
                      cuda_kernels::latent_ranges(codes.t.ptr<float>(), n, latents, keys,
                                                  keys + latents, flag, s);
                    }),
                    f(n * latents)});
    rows.push_back({"mig_histograms", shape.str(), timer.median_us([&] {
                      cuda_kernels::mig_histograms(
                          codes.t.ptr<float>(), static_cast<std::int32_t*>(factors.data()), n,
                          latents, F, offset.data(), static_cast<const double*>(edges_dev.data()),
                          bins, static_cast<std::int32_t*>(hist.data()), flag, s);
                    }),
                    f(n * latents) + f(n * F)});
  }

  const std::map<TopkKey, double> torch = torch_topk_us(o, topk_shapes);
  for (Row& r : rows) {
    if (r.kernel != "topk_forward") continue;
    long long b = 0, w = 0, kk = 0;
    if (std::sscanf(r.shape.c_str(), "%lldx%lld k=%lld", &b, &w, &kk) == 3) {
      auto it = torch.find({b, w, kk});
      if (it != torch.end()) r.torch_us = it->second;
    }
  }

  int runtime = 0, driver = 0;
  cudaRuntimeGetVersion(&runtime);
  cudaDriverGetVersion(&driver);
  std::printf("# vsae_gpu bench_kernels\n");
  std::printf("# device: %s, %d SMs, L2 %.0f MiB; CUDA runtime %d, driver %d\n", p.name,
              p.multiProcessorCount, p.l2CacheSize / 1048576.0, runtime, driver);
  std::printf("# device-to-device cudaMemcpy (512 MiB, read + write): %.1f GB/s\n", copy_gbps);
  std::printf("# median of %d runs per case, L2 flushed before each, CUDA events around the op\n",
              o.reps);
  std::printf(
      "# GB/s counts compulsory traffic: inputs read once, outputs written once "
      "(read-modify-write\n");
  std::printf(
      "#   gradients twice); torch = torch.topk(z + b) + zeros.scatter_(relu(values)) on the same "
      "GPU\n");
  std::printf("%-28s %-20s %10s %9s %8s %10s %8s\n", "kernel", "shape", "time_us", "GB/s",
              "%memcpy", "torch_us", "speedup");
  for (const Row& r : rows) {
    const double gbps = r.bytes / (r.us * 1e3);
    std::printf("%-28s %-20s %10.2f %9.1f %7.1f%%", r.kernel.c_str(), r.shape.c_str(), r.us, gbps,
                100.0 * gbps / copy_gbps);
    if (r.torch_us > 0.0)
      std::printf(" %10.2f %7.2fx\n", r.torch_us, r.torch_us / r.us);
    else
      std::printf(" %10s %8s\n", "-", "-");
  }
  return 0;
}

}  // namespace
}  // namespace vsae

int main(int argc, char** argv) {
  try {
    return vsae::run(argc, argv);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "bench_kernels: %s\n", e.what());
    return 1;
  }
}
