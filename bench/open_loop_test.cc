// The open-loop scheduler against a real server with an injected stall: the
// stall must show in the tail for every call scheduled during it, which a
// closed loop would hide.
#include "bench/open_loop.h"

#include <catch2/catch.hpp>
#include <deque>
#include <thread>

#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "engine/engine.h"
#include "test/engine_test_server.h"
#include "test/test_util.h"

namespace {

using enginetest::Message;
using Responder = engine::UnaryResponder<Message>;

// Answers at once, except during a stall window, when it holds every call
// until the window ends.
class StallingServer {
 public:
  StallingServer()
      : server_(Options(), [this](Responder responder, const Message&) {
          absl::MutexLock lock(&mu_);
          if (stalling_) {
            held_.push_back(std::move(responder));
          } else {
            responder.Finish();
          }
        }) {}

  void Stall(absl::Duration length) {
    {
      absl::MutexLock lock(&mu_);
      stalling_ = true;
    }
    absl::SleepFor(length);
    std::deque<Responder> held;
    {
      absl::MutexLock lock(&mu_);
      stalling_ = false;
      held.swap(held_);
    }
    for (Responder& responder : held) responder.Finish();
  }

  enginetest::TestService::Stub& stub() { return server_.stub(); }

 private:
  static engine::EngineOptions Options() {
    engine::EngineOptions options;
    options.completion_queues = 1;
    options.requests_per_method = 256;  // enough slots to hold a stall's calls
    return options;
  }

  // Before server_: its handler uses them while the engine runs.
  absl::Mutex mu_;
  bool stalling_ ABSL_GUARDED_BY(mu_) = false;
  std::deque<Responder> held_ ABSL_GUARDED_BY(mu_);
  testing_util::EngineTestServer server_;
};

struct Call {
  grpc::ClientContext context;
  Message request, response;
};

bench::StartCall UnaryCalls(StallingServer& server) {
  return [&server](std::function<void(bool)> done) {
    auto call = std::make_shared<Call>();
    call->context.set_deadline(testing_util::DeadlineIn(absl::Seconds(30)));
    server.stub().async()->Unary(
        &call->context, &call->request, &call->response,
        [call, done = std::move(done)](grpc::Status status) { done(status.ok()); });
  };
}

}  // namespace

TEST_CASE("a 50 ms server stall shows up in the open-loop p99", "[open-loop]") {
  StallingServer server;
  bench::OpenLoopOptions options;
  options.calls_per_second = 1000;
  options.duration = absl::Seconds(1);
  std::thread staller([&] {
    absl::SleepFor(absl::Milliseconds(300));
    server.Stall(absl::Milliseconds(50));
  });
  bench::OpenLoopResult result = bench::RunOpenLoop(options, UnaryCalls(server));
  staller.join();

  CHECK(result.scheduled == 1000);
  CHECK(result.succeeded + result.failed + result.skipped + result.unfinished == result.scheduled);
  CHECK(result.failed == 0);
  CHECK(result.skipped == 0);
  CHECK(result.unfinished == 0);
  // About 50 calls (5%) were scheduled inside the stall, waiting from ~50 ms
  // down to ~0: the 99th percentile (the 10th slowest) waited ~40 ms or more.
  // Latency only grows on a slower machine, so this bound cannot be made
  // false by load, only by a scheduler that stops timing from the schedule.
  const absl::Duration p99 = absl::Nanoseconds(result.latency_ns.Percentile(0.99));
  const absl::Duration worst = absl::Nanoseconds(result.latency_ns.max());
  INFO("p50=" << absl::FormatDuration(absl::Nanoseconds(result.latency_ns.Percentile(0.5)))
              << " p99=" << absl::FormatDuration(p99) << " max=" << absl::FormatDuration(worst));
  CHECK(p99 >= absl::Milliseconds(30));
  CHECK(worst >= absl::Milliseconds(45));
  CHECK(result.latency_ns.Percentile(0.5) < result.latency_ns.Percentile(0.99));
}

TEST_CASE("calls beyond max_outstanding are skipped and counted, not queued", "[open-loop]") {
  std::vector<std::function<void(bool)>> never_done;
  bench::OpenLoopOptions options;
  options.calls_per_second = 2000;
  options.duration = absl::Milliseconds(50);
  options.max_outstanding = 10;
  options.drain_timeout = absl::Milliseconds(10);
  bench::OpenLoopResult result = bench::RunOpenLoop(
      options, [&](std::function<void(bool)> done) { never_done.push_back(std::move(done)); });
  CHECK(result.scheduled == 100);
  CHECK(result.unfinished == 10);
  CHECK(result.skipped == 90);
  CHECK(result.succeeded == 0);
  for (auto& done : never_done) done(true);  // late completions are still safe
}

TEST_CASE("the schedule is kept when calls complete at once", "[open-loop]") {
  bench::OpenLoopOptions options;
  options.calls_per_second = 5000;
  options.duration = absl::Milliseconds(100);
  bench::OpenLoopResult result =
      bench::RunOpenLoop(options, [](std::function<void(bool)> done) { done(true); });
  CHECK(result.scheduled == 500);
  CHECK(result.succeeded == 500);
  CHECK(result.latency_ns.count() == 500);
}

TEST_CASE("calls sent late because the sender stalled are timed from their schedule",
          "[open-loop]") {
  // The sender itself blocks for 50 ms once (as a client stuck on flow control
  // would); every call due meanwhile goes out late and completes at once.
  // Timed from the actual send they would all look instant; timed from the
  // schedule (coordinated omission corrected) they carry the wait.
  bench::OpenLoopOptions options;
  options.calls_per_second = 1000;
  options.duration = absl::Milliseconds(500);
  int started = 0;
  bench::OpenLoopResult result = bench::RunOpenLoop(options, [&](std::function<void(bool)> done) {
    if (++started == 100) absl::SleepFor(absl::Milliseconds(50));
    done(true);
  });
  CHECK(result.scheduled == 500);
  CHECK(result.succeeded == 500);
  const absl::Duration p99 = absl::Nanoseconds(result.latency_ns.Percentile(0.99));
  INFO("p99=" << absl::FormatDuration(p99));
  CHECK(p99 >= absl::Milliseconds(30));  // ~50 calls (10%) waited 0..50 ms
}

TEST_CASE("the schedule: call k is due at start + k / rate, counted exactly", "[open-loop]") {
  const bench::OpenLoopSchedule schedule(1'000, 3.0);  // every 333,333,333.3 ns
  CHECK(schedule.Due(0) == 1'000);
  CHECK(schedule.Due(3) == 1'000'001'000);
  CHECK(schedule.Due(3'000'000) == 1'000'000'000'001'000);  // no accumulated rounding
  // Calls due in [1 s, 2 s) after the start: k = 3, 4, 5.
  CHECK(schedule.CountDue(0, 1'000'001'000, 2'000'001'000) == 3);
  // From call 5 on, only k = 5 is left in that window.
  CHECK(schedule.CountDue(5, 1'000'001'000, 2'000'001'000) == 1);
  CHECK(schedule.CountDue(9, 1'000'001'000, 2'000'001'000) == 0);
  CHECK(schedule.CountDue(0, 0, 1'000) == 0);
  CHECK(schedule.CountDue(0, 0, 1'001) == 1);  // k = 0 only
}

TEST_CASE("SleepUntilNs does not return early", "[open-loop]") {
  for (int i = 0; i < 20; ++i) {
    const std::int64_t deadline = bench::MonotonicNowNs() + 200'000;
    bench::SleepUntilNs(deadline);
    CHECK(bench::MonotonicNowNs() >= deadline);
  }
}
