// SIGTERM/SIGINT handling without async-signal-safety hazards: the signals
// are blocked in every thread and collected synchronously with sigwait.
#ifndef SERVER_HOST_SHUTDOWN_SIGNAL_H_
#define SERVER_HOST_SHUTDOWN_SIGNAL_H_

namespace server::host {

// Blocks SIGTERM and SIGINT in the calling thread. Call first thing in
// main(), before any thread exists, so every thread inherits the mask.
void BlockShutdownSignals();

// Waits for SIGTERM or SIGINT and returns its number.
int WaitForShutdownSignal();

// Makes WaitForShutdownSignal return as if SIGTERM had arrived (it sends
// SIGTERM to the process), for a component that decides the server must
// stop. Any thread; async-signal-safe.
void RequestShutdown();

}  // namespace server::host

#endif  // SERVER_HOST_SHUTDOWN_SIGNAL_H_
