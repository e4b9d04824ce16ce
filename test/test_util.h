// Helpers shared by the integration tests. Waits here are hang guards with
// generous bounds, never performance thresholds.
#ifndef TEST_TEST_UTIL_H_
#define TEST_TEST_UTIL_H_

#include <grpcpp/grpcpp.h>

#include <functional>
#include <memory>
#include <string>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "client/callback_queue_pin.h"

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

// A channel to 127.0.0.1:port. Channels with different `connection` values
// get their own HTTP/2 connection (identical arguments would share one).
inline std::shared_ptr<grpc::Channel> LoopbackChannel(int port, int connection = 0) {
  client::PinGrpcCallbackQueue();  // tests create and drop channels per case
  grpc::ChannelArguments args;
  args.SetInt("test.connection_index", connection);
  return grpc::CreateCustomChannel(absl::StrCat("127.0.0.1:", port),
                                   grpc::InsecureChannelCredentials(), args);
}

inline std::chrono::system_clock::time_point DeadlineIn(absl::Duration duration) {
  return absl::ToChronoTime(absl::Now() + duration);
}

}  // namespace testing_util

#endif  // TEST_TEST_UTIL_H_
