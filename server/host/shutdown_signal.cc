#include "server/host/shutdown_signal.h"

#include <pthread.h>
#include <signal.h>
#include <spdlog/spdlog.h>
#include <unistd.h>

namespace server::host {
namespace {

sigset_t ShutdownSignals() {
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGTERM);
  sigaddset(&set, SIGINT);
  sigaddset(&set, SIGHUP);
  return set;
}

}  // namespace

void BlockShutdownSignals() {
  sigset_t set = ShutdownSignals();
  pthread_sigmask(SIG_BLOCK, &set, nullptr);
}

int WaitForShutdownSignal() {
  sigset_t set = ShutdownSignals();
  for (;;) {
    int signal_number = 0;
    if (sigwait(&set, &signal_number) != 0) continue;
    if (signal_number != SIGHUP) return signal_number;
    // A terminal closing or a supervisor's "reload" must not stop the
    // server: there is nothing to reload (flags are read once at start).
    spdlog::warn(
        "signal {} (SIGHUP) received; ignored: the server has no configuration to "
        "reload and keeps serving (SIGTERM or SIGINT stops it)",
        signal_number);
  }
}

void RequestShutdown() {
  // To the process, not this thread: the signal is blocked everywhere and
  // only the thread in sigwait may take it.
  kill(getpid(), SIGTERM);
}

}  // namespace server::host
