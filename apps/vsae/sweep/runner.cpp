// Member scheduling for a sweep: the in-process loop and the child-process pool.
#include "apps/vsae/sweep/runner.hpp"

#include <fcntl.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <deque>
#include <filesystem>
#include <map>
#include <thread>

#include "apps/vsae/run/run_directory.hpp"
#include "apps/vsae/run/stop_signal.hpp"
#include "apps/vsae/run/train_run.hpp"
#include "apps/vsae/sweep/summary.hpp"
#include "engine/core/check.hpp"

extern char** environ;

namespace vsae::sweep {

namespace fs = std::filesystem;
using nlohmann::json;

namespace {

enum class State { fresh, resumable, done };

State state_of(const Member& m) {
  const std::string dir = m.config.output.dir;
  if (fs::exists(dir + "/results.json")) return State::done;
  if (fs::exists(dir + "/checkpoint.safetensors")) return State::resumable;
  return State::fresh;
}

bool has_outputs(const Member& m) {
  const std::string dir = m.config.output.dir;
  for (const char* f : {"results.json", "metrics.jsonl", "checkpoint.safetensors"})
    if (fs::exists(dir + "/" + f)) return true;
  return false;
}

// Where and as whom a member runs may change between attempts; what it computes may not.
// A member killed before its first checkpoint has metrics but nothing to resume from: it starts
// over, and the trainer refuses a directory with stale metrics, so they go.
void clear_unresumable(const Member& m) { fs::remove(m.config.output.dir + "/metrics.jsonl"); }

std::string config_path(const Member& m) { return m.config.output.dir + "/config.json"; }

struct Child {
  std::size_t member;
  std::size_t slot;
};

// The child's environment, built before fork() because only async-signal-safe calls may follow it.
std::vector<std::string> child_environment(const std::string& gpu, int omp_threads) {
  std::vector<std::string> env;
  for (char** e = environ; *e; ++e) {
    const std::string entry(*e);
    if (!gpu.empty() && entry.rfind("CUDA_VISIBLE_DEVICES=", 0) == 0) continue;
    env.push_back(entry);
  }
  if (!gpu.empty()) env.push_back("CUDA_VISIBLE_DEVICES=" + gpu);
  // Members sharing the CPU would each start one OpenMP thread per core and thrash; split the
  // cores unless the user chose a thread count.
  if (omp_threads > 0 && !std::getenv("OMP_NUM_THREADS")) env.push_back("OMP_NUM_THREADS=" + std::to_string(omp_threads));
  return env;
}

pid_t spawn(const std::string& self, const Member& m, bool resume, const std::string& gpu, int omp_threads) {
  std::vector<std::string> args{self, "--json", config_path(m)};
  if (resume) args.push_back("--resume");
  const std::vector<std::string> env = child_environment(gpu, omp_threads);
  std::vector<char*> argv, envp;
  for (const std::string& a : args) argv.push_back(const_cast<char*>(a.c_str()));
  argv.push_back(nullptr);
  for (const std::string& e : env) envp.push_back(const_cast<char*>(e.c_str()));
  envp.push_back(nullptr);
  const std::string log = m.config.output.dir + "/log.txt";
  const int fd = ::open(log.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
  if (fd < 0) throw Error("cannot open " + log + ": " + std::strerror(errno));
  const pid_t pid = ::fork();
  if (pid < 0) {
    ::close(fd);
    throw Error(std::string("cannot start a member process: ") + std::strerror(errno));
  }
  if (pid == 0) {
    // A killed sweep must not leave orphaned members training on.
    ::prctl(PR_SET_PDEATHSIG, SIGTERM);
    ::dup2(fd, STDOUT_FILENO);
    ::dup2(fd, STDERR_FILENO);
    ::execve(self.c_str(), argv.data(), envp.data());
    _exit(127);
  }
  ::close(fd);
  return pid;
}

std::vector<std::string> run_children(const Grid& grid, const RunnerOptions& o, const std::deque<std::size_t>& todo) {
  std::vector<std::string> slots;  // the GPU of each slot ("" = inherit the parent's devices)
  const std::vector<std::string> gpus = o.gpus.empty() ? std::vector<std::string>{""} : o.gpus;
  for (const std::string& g : gpus)
    for (int i = 0; i < o.parallel; ++i) slots.push_back(g);
  const int cores = static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  // max(1, ...): with every member already finished (a resumed sweep) `todo` is empty.
  const std::size_t busy = std::max<std::size_t>(1, std::min(slots.size(), todo.size()));
  const int omp_threads = std::max(1, cores / static_cast<int>(busy));

  std::deque<std::size_t> pending = todo;
  std::deque<std::size_t> free_slots;
  for (std::size_t s = 0; s < slots.size(); ++s) free_slots.push_back(s);
  std::map<pid_t, Child> running;
  std::vector<std::string> failed;
  int forwarded = 0;  // the stop signal passed on to the running members, once
  while (!pending.empty() || !running.empty()) {
    if (const int signal = stop_requested(); signal != 0 && forwarded == 0) {
      forwarded = signal;
      pending.clear();
      for (const auto& [pid, child] : running) ::kill(pid, SIGUSR1);
    }
    while (!pending.empty() && !free_slots.empty()) {
      const std::size_t m = pending.front(), s = free_slots.front();
      pending.pop_front();
      free_slots.pop_front();
      const Member& member = grid.members[m];
      const bool resume = state_of(member) == State::resumable;
      const pid_t pid = spawn(o.self, member, resume, slots[s], omp_threads);
      running.emplace(pid, Child{m, s});
      std::fprintf(stderr, "sweep: %s %s%s (log: %s/log.txt)\n", resume ? "resuming" : "started", member.name.c_str(),
                   slots[s].empty() ? "" : (" on GPU " + slots[s]).c_str(), member.config.output.dir.c_str());
    }
    int status = 0;
    const pid_t pid = ::waitpid(-1, &status, 0);
    if (pid < 0) {
      if (errno == EINTR) continue;
      throw Error(std::string("waiting for member processes: ") + std::strerror(errno));
    }
    auto it = running.find(pid);
    if (it == running.end()) continue;
    const Member& member = grid.members[it->second.member];
    free_slots.push_back(it->second.slot);
    running.erase(it);
    if (WIFEXITED(status) && WEXITSTATUS(status) == 0) {
      std::fprintf(stderr, "sweep: finished %s\n", member.name.c_str());
    } else if (forwarded != 0 && WIFEXITED(status) && WEXITSTATUS(status) > 128 &&
               is_stop_signal(WEXITSTATUS(status) - 128)) {
      std::fprintf(stderr, "sweep: stopped %s (checkpointed)\n", member.name.c_str());
    } else {
      failed.push_back(member.name);
      const std::string how = WIFEXITED(status) ? "exit status " + std::to_string(WEXITSTATUS(status))
                                                : "signal " + std::to_string(WTERMSIG(status));
      std::fprintf(stderr, "sweep: %s failed (%s); see %s/log.txt\n", member.name.c_str(), how.c_str(),
                   member.config.output.dir.c_str());
    }
  }
  if (forwarded != 0)
    throw Stopped(forwarded, "sweep in " + grid.dir + " stopped by " + signal_name(forwarded) +
                                 "; the members checkpointed; continue it with --resume");
  return failed;
}

std::vector<std::string> run_in_process(const Grid& grid, const std::deque<std::size_t>& todo) {
  std::vector<std::string> failed;
  std::size_t done = 0;
  for (std::size_t m : todo) {
    const Member& member = grid.members[m];
    TrainOptions options;
    options.resume = state_of(member) == State::resumable;
    std::fprintf(stderr, "sweep: [%zu/%zu] %s %s\n", ++done, todo.size(), options.resume ? "resuming" : "running",
                 member.name.c_str());
    try {
      train_run(member.config, options);
    } catch (const Stopped&) {
      throw;  // the member checkpointed; the sweep resumes with --resume
    } catch (const std::exception& e) {
      // One diverged member should not cost the rest of the grid.
      failed.push_back(member.name);
      std::fprintf(stderr, "sweep: %s failed: %s\n", member.name.c_str(), e.what());
    }
  }
  return failed;
}

}  // namespace

void prepare(const Grid& grid, bool resume, const RunDirectory& root) {
  std::string list;
  for (const Member& m : grid.members) {
    RunDirectory member_dir(m.config.output.dir);
    const json config = m.config.to_json();
    if (!resume && has_outputs(m))
      throw Error("sweep directory " + grid.dir + " already holds runs (" + m.name +
                  "); pass --resume to continue the sweep or --out to start elsewhere");
    if (resume && fs::exists(config_path(m))) {
      const std::string change = config::first_difference(config::resume_identity(read_json_file(config_path(m))),
                                                          config::resume_identity(config));
      if (!change.empty())
        throw Error("sweep member " + m.name + ": its config differs from " + config_path(m) + " (" + change +
                    "); the sweep changed since it ran, so use another output.dir");
    }
    member_dir.write_json("config.json", config);
    list += config_path(m) + "\n";
  }
  root.write_json("sweep.json", grid.manifest());
  write_file_atomic(grid.dir + "/members.txt", list);
}

void run(const Grid& grid, const RunnerOptions& options) {
  VSAE_CHECK(options.parallel >= 1, "--parallel must be at least 1");
  RunDirectory root(grid.dir);
  prepare(grid, options.resume, root);
  std::deque<std::size_t> todo;
  for (std::size_t m = 0; m < grid.members.size(); ++m) {
    const Member& member = grid.members[m];
    const State s = state_of(member);
    if (s == State::done) {
      std::fprintf(stderr, "sweep: %s already finished; kept\n", member.name.c_str());
      continue;
    }
    if (s == State::fresh) clear_unresumable(member);
    todo.push_back(m);
  }
  std::fprintf(stderr, "sweep: %zu members in %s, %zu to run\n", grid.members.size(), grid.dir.c_str(), todo.size());
  const bool children = options.parallel > 1 || !options.gpus.empty();
  const std::vector<std::string> failed = children ? run_children(grid, options, todo) : run_in_process(grid, todo);

  write_summary(grid.dir);
  std::fprintf(stderr, "sweep: summary in %s/summary.json\n", grid.dir.c_str());
  if (!failed.empty()) {
    std::string names;
    for (const std::string& n : failed) names += (names.empty() ? "" : ", ") + n;
    throw Error("sweep: " + std::to_string(failed.size()) + " of " + std::to_string(grid.members.size()) +
                " members failed (" + names + "); summary.json covers the finished ones; rerun with --resume");
  }
}

}  // namespace vsae::sweep
