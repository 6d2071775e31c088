// vsae_gpu: the command line. `vsae_gpu --json run.json` trains one run, or every member of a sweep
// when the config has a `sweep` section; `sweep-summary` aggregates a sweep directory;
// `export-dataset` writes the procedural datasets in the official file formats. Errors print one
// line and exit non-zero.
#include <CLI/CLI.hpp>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <exception>
#include <filesystem>
#include <iostream>
#include <string>
#include <vector>

#include "apps/vsae/config/overrides.hpp"
#include "apps/vsae/config/run_config.hpp"
#include "apps/vsae/data/export.hpp"
#include "apps/vsae/run/run_directory.hpp"
#include "apps/vsae/run/stop_signal.hpp"
#include "apps/vsae/run/train_run.hpp"
#include "apps/vsae/sweep/grid.hpp"
#include "apps/vsae/sweep/runner.hpp"
#include "apps/vsae/sweep/summary.hpp"
#include "engine/core/check.hpp"

namespace {

constexpr const char* kDescription =
    "vsae_gpu: trains a hybrid VAE-SAE with Top-k or L1 sparsification and measures dead neurons and MIG.\n"
    "The run config is JSON; every key, its default and its range is listed in README.md (Config reference).";

struct RunFlags {
  std::string json_path, device, out, dump_step;
  long long seed = -1;
  bool resume = false;
  bool plan = false;
  int parallel = 1;
  std::vector<std::string> gpus;
  std::vector<std::string> set_args;         // --set KEY=VALUE, in order
  std::vector<vsae::config::Override> sets;  // those parsed
};

// The older override flags as overrides of their key paths.
std::vector<vsae::config::Override> flag_overrides(const RunFlags& flags) {
  std::vector<vsae::config::Override> out;
  if (!flags.device.empty()) out.push_back(vsae::config::flag_override("--device", "device", flags.device));
  if (!flags.out.empty()) out.push_back(vsae::config::flag_override("--out", "output.dir", flags.out));
  if (flags.seed >= 0) out.push_back(vsae::config::flag_override("--seed", "seed", flags.seed));
  return out;
}

// Overrides go into the JSON, so they pass the same validation as the file (and, for a sweep,
// reach every member). A flag and a --set never share a key, so their order does not matter.
nlohmann::json with_overrides(nlohmann::json root, const RunFlags& flags) {
  vsae::config::apply_all(root, flag_overrides(flags));
  vsae::config::apply_all(root, flags.sets);
  return root;
}

int run_training(const nlohmann::json& root, const RunFlags& flags) {
  if (flags.plan || flags.parallel != 1 || !flags.gpus.empty())
    throw vsae::Error("--plan, --parallel and --gpus need a sweep config (one with a \"sweep\" section)");
  vsae::config::RunConfig config;
  try {
    config = vsae::config::parse_run_config(with_overrides(root, flags));
  } catch (const vsae::Error& e) {
    throw vsae::Error("config " + flags.json_path + ": " + e.what());
  }
  vsae::TrainOptions options;
  options.resume = flags.resume;
  options.dump_step_dir = flags.dump_step;
  vsae::train_run(config, options);
  if (flags.dump_step.empty())
    std::fprintf(stderr, "vsae_gpu: done; results in %s/results.json\n", config.output.dir.c_str());
  return 0;
}

int run_sweep(const nlohmann::json& root, const RunFlags& flags, const char* argv0) {
  if (!flags.dump_step.empty()) throw vsae::Error("--dump-step takes a single-run config, not a sweep");
  if (flags.seed >= 0 && root["sweep"].is_object() && root["sweep"].contains("seed"))
    throw vsae::Error("--seed cannot override a sweep over seeds");
  vsae::config::reject_swept_keys(root, flags.sets);
  vsae::sweep::Grid grid;
  try {
    grid = vsae::sweep::expand(with_overrides(root, flags));
  } catch (const vsae::Error& e) {
    throw vsae::Error("config " + flags.json_path + ": " + e.what());
  }
  if (flags.plan) {
    const vsae::RunDirectory sweep_dir(grid.dir);
    vsae::sweep::prepare(grid, flags.resume, sweep_dir);
    // One member config per line on stdout, for job arrays (tools/slurm).
    for (const vsae::sweep::Member& m : grid.members) std::printf("%s/config.json\n", m.config.output.dir.c_str());
    return 0;
  }
  vsae::sweep::RunnerOptions options;
  options.resume = flags.resume;
  options.parallel = flags.parallel;
  options.gpus = flags.gpus;
  // Children run this very binary; /proc/self/exe survives a relative argv[0] and a changed PATH.
  std::error_code ec;
  options.self = std::filesystem::read_symlink("/proc/self/exe", ec).string();
  if (ec) options.self = argv0;
  vsae::sweep::run(grid, options);
  return 0;
}

// OpenMP workers that busy-wait at barriers starve each other on a shared or oversubscribed CPU
// (a 2-core CI machine ran the quick config 5x slower). libgomp reads OMP_WAIT_POLICY when it
// loads, before main, so when the user has not chosen a policy we set one and re-execute once.
void prefer_passive_openmp_waits(char** argv) {
  if (std::getenv("OMP_WAIT_POLICY") != nullptr) return;
  ::setenv("OMP_WAIT_POLICY", "passive", 1);
  ::execv("/proc/self/exe", argv);  // returns only on failure: then carry on with the default
}

}  // namespace

int main(int argc, char** argv) {
  prefer_passive_openmp_waits(argv);
  CLI::App app{kDescription, "vsae_gpu"};
  app.set_version_flag("--version", std::string("vsae_gpu ") + VSAE_VERSION + " (git " + VSAE_GIT_COMMIT + ")");
  app.require_subcommand(0, 1);

  RunFlags run;
  app.add_option("--json", run.json_path, "run config (JSON)")->check(CLI::ExistingFile);
  app.add_option("--device", run.device, "override the config's device")->check(CLI::IsMember({"auto", "cpu", "cuda"}));
  app.add_option("--out", run.out, "override output.dir, the run directory");
  app.add_option("--seed", run.seed, "override the seed")->check(CLI::NonNegativeNumber);
  app.add_option("--set", run.set_args, vsae::config::kSetHelp)
      ->option_text("KEY=VALUE")
      ->allow_extra_args(false);  // one KEY=VALUE per --set; no splitting at ',' or of [..]
  app.add_flag("--resume", run.resume,
               "continue the run in the output directory from its checkpoint; for a sweep: keep finished members, "
               "resume started ones, run the rest");
  app.add_option("--parallel", run.parallel,
                 "sweep: members at once, as child processes of this binary (per GPU with --gpus)")
      ->check(CLI::Range(1, 256));
  app.add_option("--gpus", run.gpus, "sweep: run members as child processes, one per listed GPU (CUDA_VISIBLE_DEVICES)")
      ->delimiter(',');
  app.add_flag("--plan", run.plan,
               "sweep: validate, write the manifest and every member's config.json, list those configs on stdout, "
               "run nothing (for job arrays: tools/slurm)");
  app.add_option("--dump-step", run.dump_step,
                 "write the first training step (inputs, noise, parameters, losses, gradients) to DIR/step.safetensors "
                 "and stop; tools/torch_reference.py check verifies it");

  std::string summary_dir;
  CLI::App* summary_cmd =
      app.add_subcommand("sweep-summary", "aggregate a sweep directory's finished members into DIR/summary.json");
  summary_cmd->add_option("dir", summary_dir, "the sweep directory (holds sweep.json)")->required();

  vsae::data::ExportOptions export_options;
  CLI::App* export_cmd = app.add_subcommand("export-dataset", "write the procedural dataset in the official file format");
  vsae::data::add_export_flags(*export_cmd, export_options);

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e);
  }

  try {
    if (export_cmd->parsed()) return vsae::data::run_export(export_options);
    if (summary_cmd->parsed()) {
      nlohmann::json summary = vsae::sweep::write_summary(summary_dir);
      std::fprintf(stderr, "vsae_gpu: %s/summary.json: %d of %d members finished\n", summary_dir.c_str(),
                   summary["finished"].get<int>(), summary["members"].get<int>());
      return 0;
    }
    if (run.json_path.empty()) {
      std::fprintf(stderr, "vsae_gpu: error: --json RUN.json is required (see --help)\n");
      return 2;
    }
    run.sets = vsae::config::parse_sets(run.set_args);
    vsae::config::reject_flag_conflicts(run.sets, flag_overrides(run));
    const nlohmann::json root = vsae::sweep::read_json_file(run.json_path);
    vsae::install_stop_handlers();
    return vsae::sweep::is_sweep(root) ? run_sweep(root, run, argv[0]) : run_training(root, run);
  } catch (const vsae::Stopped& e) {
    std::fprintf(stderr, "vsae_gpu: %s\n", e.what());
    return vsae::stopped_exit_status(e.signal());
  } catch (const std::exception& e) {
    std::fprintf(stderr, "vsae_gpu: error: %s\n", e.what());
    return 1;
  }
}
