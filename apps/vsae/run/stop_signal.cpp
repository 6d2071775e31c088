// The signal handlers behind a graceful stop.
#include "apps/vsae/run/stop_signal.hpp"

#include <unistd.h>

#include <csignal>

namespace vsae {

namespace {

volatile std::sig_atomic_t g_stop_signal = 0;
volatile std::sig_atomic_t g_interrupts = 0;  // SIGINT and SIGTERM received

void on_stop_signal(int signal) {
  // A sweep passes the stop on to its member processes as SIGUSR1, which never escalates: they
  // may have had SIGTERM straight from Slurm or SIGINT from the terminal as well.
  if (signal != SIGUSR1 && ++g_interrupts > 1) {
    ::signal(signal, SIG_DFL);
    ::raise(signal);
    return;
  }
  if (g_stop_signal != 0) return;
  g_stop_signal = signal;
  // write(2) is async-signal-safe; stdio is not.
  constexpr char kNotice[] = "vsae_gpu: stopping after the current step (a second signal stops at once)\n";
  [[maybe_unused]] const ssize_t n = ::write(STDERR_FILENO, kNotice, sizeof kNotice - 1);
}

}  // namespace

void install_stop_handlers() {
  struct sigaction action {};
  action.sa_handler = on_stop_signal;
  action.sa_flags = 0;  // no SA_RESTART: a sweep parent's waitpid returns with EINTR
  sigemptyset(&action.sa_mask);
  for (int signal : {SIGINT, SIGTERM, SIGUSR1}) ::sigaction(signal, &action, nullptr);
}

bool is_stop_signal(int signal) { return signal == SIGINT || signal == SIGTERM || signal == SIGUSR1; }

int stop_requested() { return g_stop_signal; }

std::string signal_name(int signal) {
  if (signal == SIGTERM) return "SIGTERM";
  if (signal == SIGINT) return "SIGINT";
  if (signal == SIGUSR1) return "SIGUSR1";
  return "signal " + std::to_string(signal);
}

}  // namespace vsae
