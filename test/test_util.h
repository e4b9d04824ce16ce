// Waiting and deadlines for tests. Waits here are hang guards with generous
// bounds, never performance thresholds. No gRPC.
#ifndef TEST_TEST_UTIL_H_
#define TEST_TEST_UTIL_H_

#include <chrono>
#include <functional>

#include "absl/time/clock.h"
#include "absl/time/time.h"

namespace testing_util {

// Polls `done` until it holds or `limit` passes; returns its last value.
inline bool WaitUntil(const std::function<bool()>& done, absl::Duration limit = absl::Seconds(30)) {
  const absl::Time give_up = absl::Now() + limit;
  while (!done()) {
    if (absl::Now() > give_up) return false;
    absl::SleepFor(absl::Milliseconds(1));
  }
  return true;
}

// `duration` from now, for grpc::ClientContext::set_deadline.
inline std::chrono::system_clock::time_point DeadlineIn(absl::Duration duration) {
  return absl::ToChronoTime(absl::Now() + duration);
}

// `duration` from now as an absl::Time, for APIs that take one (the
// batching client's Lookup).
inline absl::Time AbslDeadlineIn(absl::Duration duration) { return absl::Now() + duration; }

}  // namespace testing_util

#endif  // TEST_TEST_UTIL_H_
