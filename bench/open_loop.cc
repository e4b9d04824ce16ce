#include "bench/open_loop.h"

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
  absl::Time last_completion ABSL_GUARDED_BY(mu);
};

}  // namespace

OpenLoopResult RunOpenLoop(const OpenLoopOptions& options, const StartCall& start_call) {
  auto tally = std::make_shared<Tally>();
  const absl::Duration interval = absl::Seconds(1) / options.calls_per_second;
  const absl::Time start = absl::Now();
  const absl::Time end = start + options.duration;
  for (std::uint64_t i = 0;; ++i) {
    const absl::Time scheduled = start + interval * static_cast<double>(i);
    if (scheduled >= end) break;
    // Behind schedule (a slow start_call, a descheduled thread): send at once
    // and still time the call from when it should have started.
    if (absl::Duration early = scheduled - absl::Now(); early > absl::ZeroDuration()) {
      absl::SleepFor(early);
    }
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
      const absl::Time now = absl::Now();
      absl::MutexLock lock(&tally->mu);
      tally->result.latency_ns.Record(
          static_cast<std::uint64_t>(absl::ToInt64Nanoseconds(now - scheduled)));
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
  result.elapsed = std::max(tally->last_completion, start) - start;
  return result;
}

}  // namespace bench
