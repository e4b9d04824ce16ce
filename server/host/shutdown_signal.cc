#include "server/host/shutdown_signal.h"

#include <pthread.h>
#include <signal.h>
#include <unistd.h>

namespace server::host {
namespace {

sigset_t ShutdownSignals() {
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGTERM);
  sigaddset(&set, SIGINT);
  return set;
}

}  // namespace

void BlockShutdownSignals() {
  sigset_t set = ShutdownSignals();
  pthread_sigmask(SIG_BLOCK, &set, nullptr);
}

int WaitForShutdownSignal() {
  sigset_t set = ShutdownSignals();
  int signal_number = 0;
  while (sigwait(&set, &signal_number) != 0) {
  }
  return signal_number;
}

void RequestShutdown() {
  // To the process, not this thread: the signal is blocked everywhere and
  // only the thread in sigwait may take it.
  kill(getpid(), SIGTERM);
}

}  // namespace server::host
