#include "bench/open_loop.h"

#include <sys/prctl.h>
#include <time.h>

#include <algorithm>
#include <cmath>
#include <memory>

#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"

namespace bench {
namespace {

// Shared with the completion callbacks, which may run after RunOpenLoop
// returned (unfinished calls), hence reference-counted.
struct Tally {
  absl::Mutex mu;
  OpenLoopResult result ABSL_GUARDED_BY(mu);
  std::uint64_t outstanding ABSL_GUARDED_BY(mu) = 0;
  std::int64_t last_completion ABSL_GUARDED_BY(mu) = 0;
};

}  // namespace

std::int64_t MonotonicNowNs() {
  timespec now;
  clock_gettime(CLOCK_MONOTONIC, &now);
  return static_cast<std::int64_t>(now.tv_sec) * 1'000'000'000 + now.tv_nsec;
}

void SleepUntilNs(std::int64_t deadline_ns) {
  thread_local bool slack_lowered = [] {
    prctl(PR_SET_TIMERSLACK, 1000UL, 0, 0, 0);  // nanoseconds
    return true;
  }();
  (void)slack_lowered;
  timespec deadline;
  deadline.tv_sec = static_cast<time_t>(deadline_ns / 1'000'000'000);
  deadline.tv_nsec = static_cast<long>(deadline_ns % 1'000'000'000);
  while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &deadline, nullptr) != 0) {
    // EINTR: a signal; sleep on to the same absolute deadline.
  }
}

std::uint64_t OpenLoopSchedule::CountDue(std::uint64_t first, std::int64_t from_ns,
                                         std::int64_t to_ns) const {
  // The first k >= first due at or after from_ns, and the first due at or
  // after to_ns, found from the formula and then corrected for rounding.
  auto first_at_or_after = [&](std::int64_t t) {
    double guess = std::ceil(static_cast<double>(t - start_ns_) / interval_ns_);
    std::uint64_t k = guess > 0 ? static_cast<std::uint64_t>(guess) : 0;
    while (k > 0 && Due(k - 1) >= t) --k;
    while (Due(k) < t) ++k;
    return std::max(k, first);
  };
  const std::uint64_t begin = first_at_or_after(from_ns);
  const std::uint64_t end = first_at_or_after(to_ns);
  return end > begin ? end - begin : 0;
}

OpenLoopResult RunOpenLoop(const OpenLoopOptions& options, const StartCall& start_call) {
  auto tally = std::make_shared<Tally>();
  const std::int64_t start = MonotonicNowNs();
  const std::int64_t end = start + absl::ToInt64Nanoseconds(options.duration);
  const OpenLoopSchedule schedule(start, options.calls_per_second);
  for (std::uint64_t i = 0;; ++i) {
    const std::int64_t scheduled = schedule.Due(i);
    if (scheduled >= end) break;
    // Behind schedule (a slow start_call, a descheduled thread): send at once
    // and still time the call from when it should have started.
    if (scheduled > MonotonicNowNs()) SleepUntilNs(scheduled);
    {
      absl::MutexLock lock(&tally->mu);
      ++tally->result.scheduled;
      if (tally->outstanding >= static_cast<std::uint64_t>(options.max_outstanding)) {
        ++tally->result.skipped;
        continue;
      }
      ++tally->outstanding;
    }
    start_call([tally, scheduled](bool ok) {
      const std::int64_t now = MonotonicNowNs();
      absl::MutexLock lock(&tally->mu);
      tally->result.latency_ns.Record(static_cast<std::uint64_t>(now - scheduled));
      ++(ok ? tally->result.succeeded : tally->result.failed);
      --tally->outstanding;
      tally->last_completion = std::max(tally->last_completion, now);
    });
  }
  absl::MutexLock lock(&tally->mu);
  auto drained = [&]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(tally->mu) { return tally->outstanding == 0; };
  tally->mu.AwaitWithTimeout(absl::Condition(&drained), options.drain_timeout);
  OpenLoopResult result = tally->result;
  result.unfinished = tally->outstanding;
  result.elapsed = absl::Nanoseconds(std::max(tally->last_completion, start) - start);
  return result;
}

}  // namespace bench
