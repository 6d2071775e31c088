// Graceful stop on SIGINT and SIGTERM (DESIGN §8): the first signal asks the trainer to stop at
// the next step boundary and checkpoint there; a second one ends the process at once. Slurm sends
// SIGTERM before it preempts a job or its time runs out. SIGUSR1 asks for the same stop but never
// escalates: a sweep uses it to pass a stop on to its member processes.
#pragma once

#include <string>

#include "engine/core/check.hpp"

namespace vsae {

// Installs the handlers for this process (idempotent).
void install_stop_handlers();
// 0 while no stop was requested; else the signal that asked for it.
int stop_requested();
// SIGINT, SIGTERM or SIGUSR1.
bool is_stop_signal(int signal);
// The exit status of a process stopped by `signal`: 128 + signal, by convention.
inline int stopped_exit_status(int signal) { return 128 + signal; }

// Thrown once the work up to the stop is saved; main prints it and exits with stopped_exit_status.
class Stopped : public Error {
 public:
  Stopped(int signal, const std::string& what) : Error(what), signal_(signal) {}
  int signal() const { return signal_; }

 private:
  int signal_;
};

// "SIGTERM", "SIGINT", "SIGUSR1" or "signal N".
std::string signal_name(int signal);

}  // namespace vsae
