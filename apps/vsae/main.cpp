// vsae_gpu: the command line. `vsae_gpu --json run.json` trains one run; `export-dataset` writes
// the procedural datasets in the official file formats. Errors print one line and exit non-zero.
#include <CLI/CLI.hpp>

#include <cstdio>
#include <exception>
#include <iostream>
#include <string>

#include "apps/vsae/config/run_config.hpp"
#include "apps/vsae/data/export.hpp"
#include "apps/vsae/run/run_data.hpp"
#include "apps/vsae/run/run_directory.hpp"
#include "apps/vsae/train/trainer.hpp"
#include "engine/core/backend.hpp"

namespace {

constexpr const char* kDescription =
    "vsae_gpu: trains a hybrid VAE-SAE with Top-k or L1 sparsification and measures dead neurons and MIG.\n"
    "The run config is JSON; every key, its default and its range is listed in README.md (Config reference).";

struct RunFlags {
  std::string json_path, device, out, dump_step;
  long long seed = -1;
  bool resume = false;
};

int run_training(const RunFlags& flags) {
  vsae::config::RunConfig config = vsae::config::load_run_config(flags.json_path);
  // Overrides go through the same validation as the file.
  nlohmann::json resolved = config.to_json();
  if (!flags.device.empty()) resolved["device"] = flags.device;
  if (!flags.out.empty()) resolved["output"]["dir"] = flags.out;
  if (flags.seed >= 0) resolved["seed"] = flags.seed;
  config = vsae::config::parse_run_config(resolved);

  auto backend = vsae::Backend::create(vsae::parse_device_choice(config.device), &std::cerr);
  vsae::RunDirectory out(config.output.dir);
  vsae::RunData data = vsae::load_run_data(config, *backend, &std::cerr);
  vsae::Trainer trainer(config, *backend, *data.train, *data.eval, out);
  vsae::TrainOptions options;
  options.resume = flags.resume;
  options.dump_step_dir = flags.dump_step;
  nlohmann::json results = trainer.run(options);
  if (flags.dump_step.empty())
    std::fprintf(stderr, "vsae_gpu: done; results in %s/results.json\n", config.output.dir.c_str());
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{kDescription, "vsae_gpu"};
  app.set_version_flag("--version", std::string("vsae_gpu ") + VSAE_VERSION + " (git " + VSAE_GIT_COMMIT + ")");
  app.require_subcommand(0, 1);

  RunFlags run;
  app.add_option("--json", run.json_path, "run config (JSON)")->check(CLI::ExistingFile);
  app.add_option("--device", run.device, "override the config's device")->check(CLI::IsMember({"auto", "cpu", "cuda"}));
  app.add_option("--out", run.out, "override output.dir, the run directory");
  app.add_option("--seed", run.seed, "override the seed")->check(CLI::NonNegativeNumber);
  app.add_flag("--resume", run.resume, "continue the run in the output directory from its checkpoint");
  app.add_option("--dump-step", run.dump_step,
                 "write the first training step (inputs, noise, parameters, losses, gradients) to DIR/step.safetensors "
                 "and stop; tools/torch_reference.py check verifies it");

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
    if (run.json_path.empty()) {
      std::fprintf(stderr, "vsae_gpu: error: --json RUN.json is required (see --help)\n");
      return 2;
    }
    return run_training(run);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "vsae_gpu: error: %s\n", e.what());
    return 1;
  }
}
