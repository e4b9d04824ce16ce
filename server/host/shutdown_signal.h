// SIGTERM/SIGINT handling without async-signal-safety hazards: the signals
// are blocked in every thread and collected synchronously with sigwait.
// SIGHUP is blocked and collected too, and ignored (logged): its default
// action would kill the server without a drain, and there is nothing to
// reload.
#ifndef SERVER_HOST_SHUTDOWN_SIGNAL_H_
#define SERVER_HOST_SHUTDOWN_SIGNAL_H_

namespace server::host {

// Blocks SIGTERM, SIGINT and SIGHUP in the calling thread. Call first thing in
// main(), before any thread exists, so every thread inherits the mask.
void BlockShutdownSignals();

// Waits for SIGTERM or SIGINT and returns its number. A SIGHUP meanwhile is
// logged and otherwise ignored.
int WaitForShutdownSignal();

// Makes WaitForShutdownSignal return as if SIGTERM had arrived (it sends
// SIGTERM to the process), for a component that decides the server must
// stop. Any thread; async-signal-safe.
void RequestShutdown();

}  // namespace server::host

#endif  // SERVER_HOST_SHUTDOWN_SIGNAL_H_
