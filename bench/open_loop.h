// Open-loop load: calls are started on a fixed schedule, whatever the server
// does, and each call's latency is measured from its *scheduled* start time.
//
// A closed loop (N calls in flight, next call when one returns) stops sending
// while the server stalls, so the stall shows up in only N samples: the
// coordinated-omission error of most load tools. Timing from the schedule
// charges every call that should have been sent during a stall with the time
// it waited, as wrk2 does.
#ifndef BENCH_OPEN_LOOP_H_
#define BENCH_OPEN_LOOP_H_

#include <cstdint>
#include <functional>

#include "absl/time/time.h"
#include "bench/latency_histogram.h"

namespace bench {

// Monotonic nanoseconds (CLOCK_MONOTONIC, the clock of std::chrono::steady_clock).
std::int64_t MonotonicNowNs();

// Sleeps until MonotonicNowNs() >= deadline_ns: an absolute clock_nanosleep,
// with the calling thread's timer slack lowered to 1 us on first use (the
// default 50 us would make every scheduled call late by that much). gRPC's
// own timers and completion-queue deadlines have a resolution of 1 ms, too
// coarse to send calls on a schedule.
void SleepUntilNs(std::int64_t deadline_ns);

// The schedule of an open loop: call k (k = 0, 1, ...) is due at
// start_ns + k / calls_per_second, computed from k alone so that rounding
// never accumulates.
class OpenLoopSchedule {
 public:
  OpenLoopSchedule(std::int64_t start_ns, double calls_per_second)
      : start_ns_(start_ns), interval_ns_(1e9 / calls_per_second) {}
  std::int64_t Due(std::uint64_t k) const {
    return start_ns_ + static_cast<std::int64_t>(interval_ns_ * static_cast<double>(k));
  }
  // How many calls from call `first` on are due in [from_ns, to_ns).
  std::uint64_t CountDue(std::uint64_t first, std::int64_t from_ns, std::int64_t to_ns) const;

 private:
  std::int64_t start_ns_;
  double interval_ns_;
};

struct OpenLoopOptions {
  double calls_per_second = 1000;
  absl::Duration duration = absl::Seconds(1);
  // Calls allowed in flight; a scheduled call beyond it is not sent and is
  // counted in `skipped` (so a dead server cannot make memory grow).
  int max_outstanding = 100000;
  // After the schedule ends, how long to wait for calls still in flight.
  absl::Duration drain_timeout = absl::Seconds(30);
};

struct OpenLoopResult {
  LatencyHistogram latency_ns;  // successful and failed calls, from schedule
  std::uint64_t scheduled = 0;
  std::uint64_t succeeded = 0;
  std::uint64_t failed = 0;
  std::uint64_t skipped = 0;     // over max_outstanding
  std::uint64_t unfinished = 0;  // still in flight after drain_timeout
  absl::Duration elapsed;        // first scheduled call to last completion
};

// Starts one asynchronous call and arranges for `done(ok)` to be called
// exactly once, from any thread, when it completes. Must not block.
using StartCall = std::function<void(std::function<void(bool ok)> done)>;

// Runs the schedule on the calling thread and returns when every call has
// completed or drain_timeout has passed. `start_call` must stay valid until
// then, and calls still unfinished must not outlive what they reference.
OpenLoopResult RunOpenLoop(const OpenLoopOptions& options, const StartCall& start_call);

}  // namespace bench

#endif  // BENCH_OPEN_LOOP_H_
