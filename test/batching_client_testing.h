// Helpers for tests of the batching InventoryService client
// (client/batching_inventory_client.h): outcomes of look-ups, a client made
// for a loopback server, a way to freeze the client's thread, a listener
// that counts, and completion queues drained by a thread of the test.
#ifndef TEST_BATCHING_CLIENT_TESTING_H_
#define TEST_BATCHING_CLIENT_TESTING_H_

#include <grpcpp/grpcpp.h>

#include <atomic>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <string>
#include <thread>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/synchronization/notification.h"
#include "absl/time/time.h"
#include "client/batching_inventory_client.h"

namespace testing_util {

// The outcome of one look-up, as its callback saw it. Must outlive the
// client that may call it (declare outcomes before the client).
class Outcome {
 public:
  client::LookupCallback Callback();
  bool Done() const;
  int calls() const;
  // Waits for the callback (a hang guard; REQUIREs it ran) and returns what
  // it got.
  absl::StatusOr<client::LookupResult> Wait(absl::Duration limit = absl::Seconds(30)) const;
  absl::StatusCode code() const { return Wait().status().code(); }

 private:
  mutable absl::Mutex mu_;
  int calls_ ABSL_GUARDED_BY(mu_) = 0;
  absl::StatusOr<client::LookupResult> result_ ABSL_GUARDED_BY(mu_) =
      absl::UnknownError("no answer yet");
};

// Waits (a hang guard) until every outcome has its answer.
bool AllDone(const std::deque<Outcome>& outcomes, absl::Duration limit = absl::Seconds(60));

// Options with the client's defaults, aimed at 127.0.0.1:port.
client::BatchingInventoryClientOptions ClientOptionsFor(int port);
// Creates the client (REQUIREs valid options), after pinning gRPC's
// callback queue as every test that creates and drops channels must.
std::unique_ptr<client::BatchingInventoryClient> MakeClient(
    client::BatchingInventoryClientOptions options);

// Holds the client's only thread (options.threads = 1) inside a callback,
// so that no batch can complete while the test issues look-ups: what goes
// into which batch then follows from the queue alone, not from timing. This
// deliberately breaks the "callbacks must not block" contract, for the
// test's determinism. The warm-up look-up also opens a connection.
class FrozenClientThread {
 public:
  FrozenClientThread(client::BatchingInventoryClient& client, const std::string& warm_up_id);
  // A waiter still touches a Notification after Notify(): wait until the
  // callback is out before this object (and released_) goes.
  ~FrozenClientThread();
  void Release();

 private:
  absl::Notification entered_;
  absl::Notification released_;
  absl::Notification left_;  // notified last: its destructor waits for Notify()
  // Atomic: Notify() runs in Debian's uninstrumented abseil, so TSan cannot
  // see it order a plain write before an already-notified waiter.
  std::atomic<bool> warm_up_ok_{false};
};

// Counts the batches a client reports.
class CountingListener : public client::BatchListener {
 public:
  void OnBatchSent(int lookups, int unique_ids) override;
  void OnBatchDone(int lookups, const absl::Status& status, absl::Duration latency) override;
  std::atomic<int> sent{0}, lookups_sent{0}, done{0}, failed{0};
};

// Every failed_* counter added up.
std::int64_t FailedTotal(const client::BatchingInventoryClientStats& stats);

// A completion queue drained by a thread the test owns, the way an
// engine::Engine drains its queues: every event goes to its engine::Tag.
class BorrowedQueue {
 public:
  BorrowedQueue();
  ~BorrowedQueue() { Close(); }

  grpc::CompletionQueue* cq() { return &cq_; }
  std::thread::id thread_id() const { return thread_.get_id(); }
  std::int64_t events() const { return events_.load(std::memory_order_relaxed); }
  // Shuts the queue down and joins its thread, which returns once every
  // outstanding operation on the queue has delivered its event.
  void Close();

 private:
  grpc::CompletionQueue cq_;
  std::atomic<std::int64_t> events_{0};
  std::thread thread_;
};

// Runs `work` on the thread that drains `queue` (an alarm's event), the way
// a server handler runs on its queue's thread, and waits until it has run.
void RunOnQueueThread(grpc::CompletionQueue* queue, std::function<void()> work);

}  // namespace testing_util

#endif  // TEST_BATCHING_CLIENT_TESTING_H_
