// One lane of the batching client: a whole batching client of its own (its
// queue of look-ups, its batch and unary RPC slots, its alarms and
// counters) whose RPCs complete on one set of completion queues. The
// BatchingInventoryClient runs one lane per borrowed queue, or one lane on
// queues of its own; it routes each Lookup to a lane and adds their Stats up.
//
// The send rule, the deadlines and shutdown are described in
// client/batching_inventory_client.h; the locks in client/internal/calls.h.
//
// Not for users: part of client/batching_inventory_client's implementation.
#ifndef CLIENT_INTERNAL_LANE_H_
#define CLIENT_INTERNAL_LANE_H_

#include <grpcpp/grpcpp.h>

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <memory>
#include <thread>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "client/batching_inventory_client.h"
#include "client/internal/calls.h"
#include "client/internal/counters.h"
#include "client/internal/lookup_queue.h"
#include "inventory.grpc.pb.h"

namespace client::internal {

class Lane {
 public:
  // `options` are the client's, with at most one borrowed queue (this
  // lane's). Nothing starts before Start().
  explicit Lane(BatchingInventoryClientOptions options)
      : options_(std::move(options)),
        linger_alarm_(this, AlarmTag::Purpose::kLinger),
        deadline_alarm_(this, AlarmTag::Purpose::kDeadline) {}
  Lane(const Lane&) = delete;
  Lane& operator=(const Lane&) = delete;
  ~Lane() { Shutdown(); }

  // Creates the channels, the queues (unless borrowed), the batch slots and
  // the queue threads.
  void Start();
  // BatchingInventoryClient::Lookup and LookupTicket::Cancel, for this lane.
  LookupTicket Lookup(absl::string_view product_id, absl::Time deadline, LookupCallback callback);
  bool Cancel(LookupEntry* entry, std::uint64_t generation);
  // BatchingInventoryClient::Shutdown for this lane; aborts when called from
  // one of its own completion handlers.
  void Shutdown();
  BatchingInventoryClientStats Stats() const;
  const BatchingInventoryClientOptions& options() const { return options_; }

  // Completion handlers, on queue threads.
  void OnBatchDone(BatchCall& batch, Worker& worker);
  void OnUnaryDone(UnaryCall& call, Worker& worker);
  void OnLingerAlarm(bool ok, Worker& worker);
  void OnDeadlineAlarm(bool ok, Worker& worker);
  // Around every completion handler. On borrowed queues no join tells
  // Shutdown that a queue thread has left the client, and a handler still
  // delivers callbacks after it freed its slot. Entered while the handler's
  // operation still counts as outstanding (so before Quiescent() can hold);
  // the decrement is the handler's last touch of the client, so Shutdown
  // waits for zero by polling rather than by a signal sent after it.
  void EnterCompletion() { completions_running_.fetch_add(1, std::memory_order_seq_cst); }
  void LeaveCompletion() { completions_running_.fetch_sub(1, std::memory_order_release); }

 private:
  LookupTicket LookupBatched(absl::string_view product_id, absl::Time deadline, absl::Time now,
                             LookupCallback callback);
  // Fails a look-up that Lookup could not take (shut down, or full), counted
  // by cause; runs `callback` on this thread, outside the lock.
  LookupTicket Refuse(absl::Status refused, LookupCallback callback);
  LookupTicket LookupUnary(absl::string_view product_id, absl::Time deadline,
                           LookupCallback callback);
  void StartBatches(StartList& starts);
  // The next channel in turn that is not in TRANSIENT_FAILURE (if all are,
  // the next in turn: its RPC fails fast with UNAVAILABLE).
  inventory::InventoryService::Stub* PickStub();

  // All below: lane lock held.
  // Removes a queued entry, claims its callback into `out` with `status`.
  void DropQueued(LookupEntry* entry, absl::Status status, std::vector<Delivery>& out)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Takes every batch the send rule allows now into `starts`.
  void MaybeSend(absl::Time now, StartList& starts) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  BatchCall* TakeBatch(absl::Time now) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void ArmLinger() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void ArmDeadline() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  bool Quiescent() const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // After a completion that may have made the lane quiescent.
  void SignalIfShuttingDown() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    if (shutting_down_) shutdown_cv_.SignalAll();
  }
  int BatchesInFlight() const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    return options_.max_in_flight_batches - static_cast<int>(free_batches_.size());
  }

  const BatchingInventoryClientOptions options_;
  Counters counters_;

  // Fixed after Start().
  std::vector<std::shared_ptr<grpc::Channel>> channels_;
  std::vector<std::unique_ptr<inventory::InventoryService::Stub>> stubs_;
  std::vector<std::unique_ptr<grpc::CompletionQueue>> owned_queues_;  // empty on a borrowed queue
  std::vector<grpc::CompletionQueue*> queues_;                        // the queues used
  std::vector<std::unique_ptr<BatchCall>> batch_calls_;
  std::vector<std::thread> threads_;
  std::atomic<std::size_t> next_channel_{0};

  mutable absl::Mutex mu_;
  // Shutdown waits on this for Quiescent() and, in a second caller, for
  // shut_down_. A CondVar loop rather than Mutex::Await: the predicate is
  // then evaluated by this code under the lock, where ThreadSanitizer (with
  // the test shim for Debian's abseil) can see that it is locked.
  absl::CondVar shutdown_cv_;
  bool shutting_down_ ABSL_GUARDED_BY(mu_) = false;
  bool shut_down_ ABSL_GUARDED_BY(mu_) = false;  // threads joined
  std::atomic<int> completions_running_{0};      // handlers not yet returned
  LookupQueue queue_ ABSL_GUARDED_BY(mu_);
  // Free batch slots (of batch_calls_), reserved to hold all of them.
  std::vector<BatchCall*> free_batches_ ABSL_GUARDED_BY(mu_);
  std::deque<UnaryCall> unary_calls_ ABSL_GUARDED_BY(mu_);  // stable addresses
  std::vector<UnaryCall*> free_unary_calls_ ABSL_GUARDED_BY(mu_);
  int unary_in_flight_ ABSL_GUARDED_BY(mu_) = 0;
  AlarmTag linger_alarm_ ABSL_GUARDED_BY(mu_);
  AlarmTag deadline_alarm_ ABSL_GUARDED_BY(mu_);
};

}  // namespace client::internal

#endif  // CLIENT_INTERNAL_LANE_H_
