#include "test/batching_client_testing.h"

#include <grpcpp/alarm.h>

#include <catch2/catch.hpp>
#include <utility>

#include "engine/tag.h"
#include "test/callback_queue_pin.h"
#include "test/loopback.h"
#include "test/test_util.h"

namespace testing_util {

using client::BatchingInventoryClient;
using client::LookupResult;

client::LookupCallback Outcome::Callback() {
  return [this](absl::StatusOr<LookupResult> result) {
    absl::MutexLock lock(&mu_);
    ++calls_;
    result_ = std::move(result);
  };
}

bool Outcome::Done() const {
  absl::MutexLock lock(&mu_);
  return calls_ > 0;
}

int Outcome::calls() const {
  absl::MutexLock lock(&mu_);
  return calls_;
}

absl::StatusOr<LookupResult> Outcome::Wait(absl::Duration limit) const {
  REQUIRE(WaitUntil([&] { return Done(); }, limit));
  absl::MutexLock lock(&mu_);
  return result_;
}

bool AllDone(const std::deque<Outcome>& outcomes, absl::Duration limit) {
  return WaitUntil(
      [&] {
        for (const Outcome& outcome : outcomes) {
          if (!outcome.Done()) return false;
        }
        return true;
      },
      limit);
}

client::BatchingInventoryClientOptions ClientOptionsFor(int port) {
  client::BatchingInventoryClientOptions options;
  options.target = LoopbackTarget(port);
  return options;
}

std::unique_ptr<BatchingInventoryClient> MakeClient(
    client::BatchingInventoryClientOptions options) {
  PinGrpcCallbackQueue();
  absl::StatusOr<std::unique_ptr<BatchingInventoryClient>> made =
      BatchingInventoryClient::Create(std::move(options));
  REQUIRE(made.ok());
  return std::move(*made);
}

FrozenClientThread::FrozenClientThread(BatchingInventoryClient& client,
                                       const std::string& warm_up_id) {
  client.Lookup(warm_up_id, AbslDeadlineIn(absl::Seconds(60)),
                [this](absl::StatusOr<LookupResult> result) {
                  warm_up_ok_ = result.ok();
                  entered_.Notify();
                  released_.WaitForNotification();
                  left_.Notify();
                });
  REQUIRE(entered_.WaitForNotificationWithTimeout(absl::Seconds(30)));
  REQUIRE(warm_up_ok_);
}

FrozenClientThread::~FrozenClientThread() {
  Release();
  left_.WaitForNotification();
}

void FrozenClientThread::Release() {
  if (!released_.HasBeenNotified()) released_.Notify();
}

void CountingListener::OnBatchSent(int lookups, int unique_ids) {
  ++sent;
  lookups_sent += lookups;
}

void CountingListener::OnBatchDone(int lookups, const absl::Status& status,
                                   absl::Duration latency) {
  ++done;
  if (!status.ok()) ++failed;
}

std::int64_t FailedTotal(const client::BatchingInventoryClientStats& stats) {
  return stats.failed_invalid + stats.failed_resource_exhausted + stats.failed_deadline_exceeded +
         stats.failed_cancelled + stats.failed_rpc_error + stats.failed_shut_down;
}

BorrowedQueue::BorrowedQueue()
    : thread_([this] {
        bool ok = false;
        while (engine::Tag* tag = engine::Tag::Next(&cq_, &ok)) {
          events_.fetch_add(1, std::memory_order_relaxed);
          tag->Complete(ok);
        }
      }) {}

void BorrowedQueue::Close() {
  if (!thread_.joinable()) return;
  cq_.Shutdown();
  thread_.join();
}

void RunOnQueueThread(grpc::CompletionQueue* queue, std::function<void()> work) {
  class Job final : public engine::CompletionHandler {
   public:
    explicit Job(std::function<void()> work) : work_(std::move(work)) {}
    void Start(grpc::CompletionQueue* queue) {
      alarm_.Set(queue, absl::ToChronoTime(absl::Now()), tag_.ToCompletionQueueTag());
    }
    void OnCompletion(engine::CompletionKind, bool) override {
      work_();
      absl::MutexLock lock(&mu_);  // a Mutex, which the TSan build can see
      done_ = true;
    }
    bool done() {
      absl::MutexLock lock(&mu_);
      return done_;
    }

   private:
    std::function<void()> work_;
    engine::Tag tag_{this, engine::CompletionKind::kWake};
    grpc::Alarm alarm_;
    absl::Mutex mu_;
    bool done_ ABSL_GUARDED_BY(mu_) = false;
  };
  Job job(std::move(work));
  job.Start(queue);
  REQUIRE(WaitUntil([&] { return job.done(); }));
}

}  // namespace testing_util
