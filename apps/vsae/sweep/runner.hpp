// Runs a sweep's members: in this process one after another, or as child processes of the same
// binary (several at once on one device, or one per local GPU), then writes summary.json.
#pragma once

#include <string>
#include <vector>

#include "apps/vsae/run/run_directory.hpp"
#include "apps/vsae/sweep/grid.hpp"

namespace vsae::sweep {

struct RunnerOptions {
  bool resume = false;            // keep finished members, resume started ones from their checkpoint
  int parallel = 1;               // members at once (per GPU with `gpus`); > 1 runs child processes
  std::vector<std::string> gpus;  // CUDA_VISIBLE_DEVICES of each slot's children; implies children
  std::string self;               // this binary, which the children run
};

// Writes DIR/sweep.json (the manifest), DIR/members.txt (one member config path per line) and
// every member's DIR/<member>/config.json, which `vsae_gpu --json` runs on its own. Without
// `resume` a directory that already holds member outputs is an error; with it, a member whose
// recorded config differs from the sweep's is an error. `root` is the sweep directory, locked by
// the caller for as long as it works there.
void prepare(const Grid& grid, bool resume, const RunDirectory& root);

// Locks the sweep directory, prepare(), then every unfinished member, then summary.json. A failed
// member does not stop the others; when any failed, throws vsae::Error naming them after the
// summary is written. SIGINT or SIGTERM stops the running members gracefully (each checkpoints),
// starts no other, and throws Stopped.
void run(const Grid& grid, const RunnerOptions& options);

}  // namespace vsae::sweep
