// The operations a lane of the batching client puts on a completion queue:
// its RPCs (one BatchGetProductAvailability, or one unary
// GetProductAvailability, per slot) and its alarms, each completing through
// an engine::Tag into a Lane handler.
//
// Locks. The lane lock (Lane::mu_) guards the queue, the entry pool, the slot
// bookkeeping and the alarms. Each RPC slot has its own `mu_` for its call
// objects: the thread that starts an RPC and the queue thread that completes
// it meet there, so the hand-off is visible to ThreadSanitizer (gRPC's own
// hand-off through its completion queue is not). Order: lane lock before a
// slot lock, never the other way round. No lock is held while a callback or
// the listener runs.
//
// Not for users: part of client/batching_inventory_client's implementation.
#ifndef CLIENT_INTERNAL_CALLS_H_
#define CLIENT_INTERNAL_CALLS_H_

#include <grpcpp/alarm.h>
#include <grpcpp/grpcpp.h>

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/container/inlined_vector.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "client/internal/lookup_queue.h"
#include "client/lookup_result.h"
#include "engine/tag.h"
#include "inventory.grpc.pb.h"

namespace client::internal {

class Lane;
class BatchCall;

// A callback with its outcome, to be run once no lock is held.
struct Delivery {
  LookupCallback callback;
  absl::StatusOr<LookupResult> result;
};

// Runs and clears `deliveries`, keeping the vector's capacity.
void Deliver(std::vector<Delivery>& deliveries);

using StartList = absl::InlinedVector<BatchCall*, 4>;

// Per-thread scratch space, reused so steady-state completions allocate
// nothing of their own. Thread-local, since the threads may be a server's.
class Worker {
 public:
  std::vector<Delivery> deliveries;
  StartList starts;
};

// The lane whose completion this thread is handling, if any: Shutdown()
// from there would wait for itself.
const Lane* LaneCompletingOnThisThread();

// Every operation the client starts (an RPC's Finish, an alarm) is owned by
// an object deriving from this, which holds the engine::Tag gRPC gets: the
// same tag type the server engine uses, so the client's operations can
// share the server's queues and threads.
class ClientOperation : public engine::CompletionHandler {
 public:
  explicit ClientOperation(Lane* lane, engine::CompletionKind kind)
      : lane_(lane), tag_(this, kind) {}

  // Runs on the thread draining the queue, whoever owns it.
  void OnCompletion(engine::CompletionKind kind, bool ok) final;

 protected:
  ~ClientOperation() = default;
  virtual void Completed(bool ok, Worker& worker) = 0;

  Lane* const lane_;
  engine::Tag tag_;  // what gRPC gets for the operation
};

// What every RPC slot shares: the ClientContext of its current RPC, and a
// sequence-number handshake that lets another thread cancel "the RPC this
// slot holds for look-up X" without ever cancelling a later one.
class RpcSlot {
 public:
  explicit RpcSlot(grpc::CompletionQueue* cq) : cq_(cq) {}

  grpc::CompletionQueue* cq() const { return cq_; }

  // Lane lock held. Called when the slot is taken for a new RPC; returns its
  // sequence number.
  std::uint64_t Take() { return ++seq_; }
  std::uint64_t seq() const { return seq_; }

  // Lane lock held (the order is lane lock, then slot lock). Cancels RPC
  // `seq` if it has started and not yet completed; if it has not started,
  // Begin() will cancel it.
  void RequestCancel(std::uint64_t seq);

 protected:
  // Slot lock held. A fresh context for RPC `seq`.
  grpc::ClientContext* Begin(std::uint64_t seq, absl::Time deadline)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Slot lock held. After the RPC completed.
  void End() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { context_.reset(); }

  absl::Mutex mu_;

 private:
  grpc::CompletionQueue* const cq_;
  std::uint64_t seq_ = 0;  // lane lock
  std::unique_ptr<grpc::ClientContext> context_ ABSL_GUARDED_BY(mu_);
  std::uint64_t started_seq_ ABSL_GUARDED_BY(mu_) = 0;
  std::uint64_t cancel_seq_ ABSL_GUARDED_BY(mu_) = 0;
};

// One BatchGetProductAvailability RPC at a time. There are exactly
// max_in_flight_batches of them; a free one is taken for each batch.
class BatchCall final : public ClientOperation, public RpcSlot {
 public:
  BatchCall(Lane* lane, grpc::CompletionQueue* cq)
      : ClientOperation(lane, engine::CompletionKind::kOperation), RpcSlot(cq) {}

  // Lane lock: set when taken, read at completion.
  std::vector<LookupEntry*> lookups;
  int live = 0;  // lookups whose callback is still unclaimed
  absl::Time deadline;

  // Outside the lane lock, by the thread that took the slot: Build() fills
  // the request from the look-ups' ids and returns the number of distinct
  // ids; Launch() starts the RPC for `seq`. Until Launch the slot's messages
  // belong to that thread alone; Launch holds the slot lock, and so does the
  // completion, which orders the hand-off to the queue thread.
  int Build();
  void Launch(std::uint64_t seq, inventory::InventoryService::Stub* stub);

  // Slot lock: after completion, the outcome of lookups[i].
  const absl::StatusOr<LookupResult>& result(int i) const { return results_[i]; }
  // Slot work at completion: results, RPC status, latency. Returns the status.
  absl::Status Complete(absl::Duration* latency);

 private:
  void Completed(bool ok, Worker& worker) override;

  // Owned as described at Build(); reused across batches (Clear() keeps the
  // capacity of the repeated strings and items).
  inventory::BatchGetProductAvailabilityRequest request_;
  inventory::BatchGetProductAvailabilityResponse response_;
  grpc::Status status_;
  std::unique_ptr<grpc::ClientAsyncResponseReader<inventory::BatchGetProductAvailabilityResponse>>
      reader_;
  absl::flat_hash_map<absl::string_view, int> position_of_;  // id -> index in the request
  std::vector<int> response_index_;                          // per look-up; -1: expired, not asked
  absl::Time sent_at_;
  std::vector<absl::StatusOr<LookupResult>> results_;  // per look-up, at completion
};

// One unary GetProductAvailability RPC (batching = false). Pooled like the
// entries: at most max_queued_lookups exist.
class UnaryCall final : public ClientOperation, public RpcSlot {
 public:
  UnaryCall(Lane* lane, grpc::CompletionQueue* cq)
      : ClientOperation(lane, engine::CompletionKind::kOperation), RpcSlot(cq) {}

  // Lane lock.
  LookupEntry* entry = nullptr;
  // Written before Start, read at completion (ordered by the queue).
  absl::Time started_at;

  void Start(std::uint64_t seq, absl::string_view product_id, absl::Time deadline,
             inventory::InventoryService::Stub* stub);
  absl::StatusOr<LookupResult> Complete();

 private:
  void Completed(bool ok, Worker& worker) override;

  inventory::GetProductAvailabilityRequest request_ ABSL_GUARDED_BY(mu_);
  inventory::GetProductAvailabilityResponse response_ ABSL_GUARDED_BY(mu_);
  grpc::Status status_ ABSL_GUARDED_BY(mu_);
  std::unique_ptr<grpc::ClientAsyncResponseReader<inventory::GetProductAvailabilityResponse>>
      reader_ ABSL_GUARDED_BY(mu_);
};

// A reusable grpc::Alarm whose event goes to a Lane handler. gRPC lets an
// alarm be Set again once its previous event has been delivered.
class AlarmTag final : public ClientOperation {
 public:
  // Which Lane handler the alarm's event goes to. (An enum rather than a
  // pointer to member: GCC's UBSan build checks a call through a pointer to
  // a member of a class incomplete at that point against the wrong object.)
  enum class Purpose : std::uint8_t { kLinger, kDeadline };
  AlarmTag(Lane* lane, Purpose purpose)
      : ClientOperation(lane, engine::CompletionKind::kWake), purpose_(purpose) {}

  // Lane lock.
  void Set(grpc::CompletionQueue* cq, absl::Time when) {
    alarm_.Set(cq, absl::ToChronoTime(when), tag_.ToCompletionQueueTag());
    outstanding = true;
    armed_for = when;
    cancel_requested = false;
  }
  void Cancel() {
    if (outstanding && !cancel_requested) {
      alarm_.Cancel();
      cancel_requested = true;
    }
  }

  bool outstanding = false;
  bool cancel_requested = false;
  absl::Time armed_for;

 private:
  void Completed(bool ok, Worker& worker) override;

  const Purpose purpose_;
  grpc::Alarm alarm_;
};

}  // namespace client::internal

#endif  // CLIENT_INTERNAL_CALLS_H_
