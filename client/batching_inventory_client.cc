#include "client/batching_inventory_client.h"

#include <grpcpp/alarm.h>
#include <grpcpp/grpcpp.h>

#include <algorithm>
#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <deque>
#include <thread>
#include <utility>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/container/inlined_vector.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/synchronization/mutex.h"
#include "domain/inventory/limits.h"
#include "domain/inventory/product_id.h"
#include "engine/tag.h"
#include "inventory.grpc.pb.h"

namespace client {
namespace internal {

// Locks. `ClientCore::mu_` (the core lock) guards the queue, the entry pool,
// the slot bookkeeping and the alarms. Each RPC slot has its own `mu` for its
// call objects: the thread that starts an RPC and the queue thread that
// completes it meet there, so the hand-off is visible to ThreadSanitizer
// (gRPC's own hand-off through its completion queue is not). Order: core lock
// before a slot lock, never the other way round. No lock is held while a
// callback or the listener runs.

class ClientCore;
class Worker;

// Every operation the client starts (an RPC's Finish, an alarm) is owned by
// an object deriving from this, which holds the engine::Tag gRPC gets: the
// same tag type the server engine uses, so the client's operations can
// share the server's queues and threads.
class ClientOperation : public engine::CompletionHandler {
 public:
  explicit ClientOperation(ClientCore* core, engine::CompletionKind kind)
      : core_(core), tag_(this, kind) {}

  // Runs on the thread draining the queue, whoever owns it.
  void OnCompletion(engine::CompletionKind kind, bool ok) final;

 protected:
  ~ClientOperation() = default;
  virtual void Completed(bool ok, Worker& worker) = 0;

  ClientCore* const core_;
  engine::Tag tag_;  // what gRPC gets for the operation
};

// A callback with its outcome, to be run once no lock is held.
struct Delivery {
  LookupCallback callback;
  absl::StatusOr<LookupResult> result;
};

void Deliver(std::vector<Delivery>& deliveries) {
  for (Delivery& delivery : deliveries) {
    std::move(delivery.callback)(std::move(delivery.result));
  }
  deliveries.clear();  // keeps the capacity
}

class BatchCall;
class UnaryCall;
using StartList = absl::InlinedVector<BatchCall*, 4>;

// Per-thread scratch space, reused so steady-state completions allocate
// nothing of their own. Thread-local, since the threads may be a server's.
class Worker {
 public:
  std::vector<Delivery> deliveries;
  StartList starts;
};
thread_local Worker worker_of_this_thread;

enum class EntryState : std::uint8_t { kFree, kQueued, kSent };

// One look-up. Entries are pooled: never freed before the client, reused
// through a free list; `generation` tells a ticket whether its look-up is
// still the one in the entry. Fields are guarded by the core lock, except
// `product_id`, which the thread that took the entry into a batch reads
// without it while the entry is kSent (nothing writes it then).
struct LookupEntry {
  std::string product_id;   // batching mode only; keeps its capacity across reuse
  LookupCallback callback;  // empty once claimed: whoever empties it delivers
  absl::Time deadline;
  absl::Time enqueued_at;
  std::uint64_t generation = 0;
  EntryState state = EntryState::kFree;
  LookupEntry* prev = nullptr;   // queue links while kQueued
  LookupEntry* next = nullptr;   // queue link while kQueued, free list while kFree
  int heap_pos = -1;             // in the deadline heap while kQueued (unless no deadline)
  bool expired_at_send = false;  // kSent past its deadline: not asked, fails DEADLINE_EXCEEDED
  BatchCall* batch = nullptr;    // while kSent, batching mode
  UnaryCall* unary = nullptr;    // while kSent, unary mode
};

// What every RPC slot shares: the ClientContext of its current RPC, and a
// sequence-number handshake that lets another thread cancel "the RPC this
// slot holds for look-up X" without ever cancelling a later one.
class RpcSlot {
 public:
  explicit RpcSlot(grpc::CompletionQueue* cq) : cq_(cq) {}

  grpc::CompletionQueue* cq() const { return cq_; }

  // Core lock held. Called when the slot is taken for a new RPC; returns its
  // sequence number.
  std::uint64_t Take() { return ++seq_; }
  std::uint64_t seq() const { return seq_; }

  // Core lock held (the order is core lock, then slot lock). Cancels RPC
  // `seq` if it has started and not yet completed; if it has not started,
  // Begin() will cancel it.
  void RequestCancel(std::uint64_t seq) {
    absl::MutexLock lock(&mu_);
    if (context_ != nullptr && started_seq_ == seq) {
      context_->TryCancel();
    } else {
      cancel_seq_ = seq;
    }
  }

 protected:
  // Slot lock held. A fresh context for RPC `seq`.
  grpc::ClientContext* Begin(std::uint64_t seq, absl::Time deadline)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    context_ = std::make_unique<grpc::ClientContext>();
    if (deadline != absl::InfiniteFuture()) context_->set_deadline(absl::ToChronoTime(deadline));
    started_seq_ = seq;
    // TryCancel before the call starts makes gRPC cancel it as it starts.
    if (cancel_seq_ == seq) context_->TryCancel();
    return context_.get();
  }
  // Slot lock held. After the RPC completed.
  void End() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { context_.reset(); }

  absl::Mutex mu_;

 private:
  grpc::CompletionQueue* const cq_;
  std::uint64_t seq_ = 0;  // core lock
  std::unique_ptr<grpc::ClientContext> context_ ABSL_GUARDED_BY(mu_);
  std::uint64_t started_seq_ ABSL_GUARDED_BY(mu_) = 0;
  std::uint64_t cancel_seq_ ABSL_GUARDED_BY(mu_) = 0;
};

absl::Status FromGrpc(const grpc::Status& status) {
  return absl::Status(static_cast<absl::StatusCode>(status.error_code()), status.error_message());
}

// One BatchGetProductAvailability RPC at a time. There are exactly
// max_in_flight_batches of them; a free one is taken for each batch.
class BatchCall final : public ClientOperation, public RpcSlot {
 public:
  BatchCall(ClientCore* core, grpc::CompletionQueue* cq)
      : ClientOperation(core, engine::CompletionKind::kOperation), RpcSlot(cq) {}

  // Core lock: set when taken, read at completion.
  std::vector<LookupEntry*> lookups;
  int live = 0;  // lookups whose callback is still unclaimed
  absl::Time deadline;
  BatchCall* next_free = nullptr;

  // Outside the core lock, by the thread that took the slot: Build() fills
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
  UnaryCall(ClientCore* core, grpc::CompletionQueue* cq)
      : ClientOperation(core, engine::CompletionKind::kOperation), RpcSlot(cq) {}

  // Core lock.
  LookupEntry* entry = nullptr;
  UnaryCall* next_free = nullptr;
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

// A reusable grpc::Alarm whose event goes to a ClientCore handler. gRPC lets
// an alarm be Set again once its previous event has been delivered.
class AlarmTag final : public ClientOperation {
 public:
  // Which ClientCore handler the alarm's event goes to. (An enum rather than
  // a pointer to member: GCC's UBSan build checks a call through a pointer
  // to a member of ClientCore, incomplete here, against the wrong object.)
  enum class Purpose : std::uint8_t { kLinger, kDeadline };
  AlarmTag(ClientCore* core, Purpose purpose)
      : ClientOperation(core, engine::CompletionKind::kWake), purpose_(purpose) {}

  // Core lock.
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

// Relaxed atomic counters behind Stats().
struct Counters {
  std::atomic<std::int64_t> lookups_requested{0};
  std::atomic<std::int64_t> lookups_succeeded{0};
  std::atomic<std::int64_t> lookups_sent{0};
  std::atomic<std::int64_t> failed_invalid{0};
  std::atomic<std::int64_t> failed_resource_exhausted{0};
  std::atomic<std::int64_t> failed_deadline_exceeded{0};
  std::atomic<std::int64_t> failed_cancelled{0};
  std::atomic<std::int64_t> failed_rpc_error{0};
  std::atomic<std::int64_t> failed_shut_down{0};
  std::atomic<std::int64_t> rpcs_sent{0};
  std::atomic<std::int64_t> rpcs_failed{0};
  std::atomic<std::int64_t> batches_sent{0};
  std::atomic<std::int64_t> batch_ids_sent{0};
  std::atomic<std::int64_t> batch_size_sum{0};
  std::atomic<std::int64_t> batch_size_max{0};
  std::array<std::atomic<std::int64_t>, kBatchSizeBucketBounds.size()> batch_size_buckets{};

  static void Add(std::atomic<std::int64_t>& counter, std::int64_t n = 1) {
    counter.fetch_add(n, std::memory_order_relaxed);
  }

  // Counts a look-up that ended with the outcome of an RPC (or a cancel).
  void CountOutcome(const absl::Status& status) {
    switch (status.code()) {
      case absl::StatusCode::kOk:
        Add(lookups_succeeded);
        break;
      case absl::StatusCode::kDeadlineExceeded:
        Add(failed_deadline_exceeded);
        break;
      case absl::StatusCode::kCancelled:
        Add(failed_cancelled);
        break;
      default:
        Add(failed_rpc_error);
        break;
    }
  }

  void CountBatch(int lookups, int unique_ids) {
    Add(rpcs_sent);
    Add(batches_sent);
    Add(lookups_sent, lookups);
    Add(batch_ids_sent, unique_ids);
    Add(batch_size_sum, lookups);
    std::int64_t max = batch_size_max.load(std::memory_order_relaxed);
    while (lookups > max &&
           !batch_size_max.compare_exchange_weak(max, lookups, std::memory_order_relaxed)) {
    }
    std::size_t bucket = 0;
    while (bucket + 1 < kBatchSizeBucketBounds.size() && lookups > kBatchSizeBucketBounds[bucket]) {
      ++bucket;
    }
    Add(batch_size_buckets[bucket]);
  }
};

// The client whose completion this thread is handling, if any: Shutdown()
// from there would wait for itself.
thread_local const ClientCore* current_client_thread_core = nullptr;

class ClientCore {
 public:
  explicit ClientCore(BatchingInventoryClientOptions options)
      : options_(std::move(options)),
        linger_alarm_(this, AlarmTag::Purpose::kLinger),
        deadline_alarm_(this, AlarmTag::Purpose::kDeadline) {}
  ClientCore(const ClientCore&) = delete;
  ClientCore& operator=(const ClientCore&) = delete;
  ~ClientCore() { Shutdown(); }

  void Start();
  LookupTicket Lookup(absl::string_view product_id, absl::Time deadline, LookupCallback callback);
  bool Cancel(LookupEntry* entry, std::uint64_t generation);
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

  // All below: core lock held.
  LookupEntry* AllocateEntry() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void FreeEntry(LookupEntry* entry) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void PushBack(LookupEntry* entry) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void Unlink(LookupEntry* entry) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void HeapPush(LookupEntry* entry) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void HeapRemove(LookupEntry* entry) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void HeapSiftUp(int pos) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void HeapSiftDown(int pos) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void HeapSwap(int a, int b) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Removes a queued entry, claims its callback into `out` with `status`.
  void DropQueued(LookupEntry* entry, absl::Status status, std::vector<Delivery>& out)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Takes every batch the send rule allows now into `starts`.
  void MaybeSend(absl::Time now, StartList& starts) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  BatchCall* TakeBatch(absl::Time now) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void ArmLinger() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void ArmDeadline() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  bool Quiescent() const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // After a completion that may have made the client quiescent.
  void SignalIfShuttingDown() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    if (shutting_down_) shutdown_cv_.SignalAll();
  }
  int BatchesInFlight() const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    return options_.max_in_flight_batches - free_batch_count_;
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
  bool shut_down_ ABSL_GUARDED_BY(mu_) = false;           // threads joined
  std::atomic<int> completions_running_{0};               // handlers not yet returned
  std::deque<LookupEntry> entries_ ABSL_GUARDED_BY(mu_);  // stable addresses
  LookupEntry* free_entries_ ABSL_GUARDED_BY(mu_) = nullptr;
  LookupEntry* queue_head_ ABSL_GUARDED_BY(mu_) = nullptr;
  LookupEntry* queue_tail_ ABSL_GUARDED_BY(mu_) = nullptr;
  int queue_size_ ABSL_GUARDED_BY(mu_) = 0;
  std::vector<LookupEntry*> deadline_heap_ ABSL_GUARDED_BY(mu_);  // min-heap on deadline
  BatchCall* free_batches_ ABSL_GUARDED_BY(mu_) = nullptr;
  int free_batch_count_ ABSL_GUARDED_BY(mu_) = 0;
  std::deque<UnaryCall> unary_calls_ ABSL_GUARDED_BY(mu_);  // stable addresses
  UnaryCall* free_unary_calls_ ABSL_GUARDED_BY(mu_) = nullptr;
  int unary_in_flight_ ABSL_GUARDED_BY(mu_) = 0;
  AlarmTag linger_alarm_ ABSL_GUARDED_BY(mu_);
  AlarmTag deadline_alarm_ ABSL_GUARDED_BY(mu_);
};

// ---------------------------------------------------------------------------
// Set-up and threads.

void ClientCore::Start() {
  const std::string service_config = InventoryServiceConfigJson(options_);
  std::shared_ptr<grpc::ChannelCredentials> credentials =
      options_.credentials != nullptr ? options_.credentials : grpc::InsecureChannelCredentials();
  for (int i = 0; i < options_.channels; ++i) {
    grpc::ChannelArguments args;
    args.SetServiceConfigJSON(service_config);
    // Channels with identical arguments would share one connection.
    args.SetInt("batching_client.channel_index", i);
    args.SetInt(GRPC_ARG_ENABLE_RETRIES, 1);
    args.SetInt(GRPC_ARG_INITIAL_RECONNECT_BACKOFF_MS,
                static_cast<int>(absl::ToInt64Milliseconds(options_.initial_reconnect_backoff)));
    args.SetInt(GRPC_ARG_MAX_RECONNECT_BACKOFF_MS,
                static_cast<int>(absl::ToInt64Milliseconds(options_.max_reconnect_backoff)));
    channels_.push_back(grpc::CreateCustomChannel(options_.target, credentials, args));
    stubs_.push_back(inventory::InventoryService::NewStub(channels_.back()));
  }
  if (!options_.completion_queues.empty()) {
    queues_ = options_.completion_queues;
  } else {
    for (int i = 0; i < options_.threads; ++i) {
      owned_queues_.push_back(std::make_unique<grpc::CompletionQueue>());
      queues_.push_back(owned_queues_.back().get());
    }
  }
  {
    absl::MutexLock lock(&mu_);
    if (options_.batching) {
      for (int i = 0; i < options_.max_in_flight_batches; ++i) {
        batch_calls_.push_back(std::make_unique<BatchCall>(this, queues_[i % queues_.size()]));
        batch_calls_.back()->lookups.reserve(options_.max_batch_size);
        batch_calls_.back()->next_free = free_batches_;
        free_batches_ = batch_calls_.back().get();
        ++free_batch_count_;
      }
    }
  }
  for (auto& queue : owned_queues_) {
    threads_.emplace_back([cq = queue.get()] { engine::Tag::CompleteAllUntilShutdown(cq); });
  }
}

void ClientOperation::OnCompletion(engine::CompletionKind /*kind*/, bool ok) {
  const ClientCore* const outer = std::exchange(current_client_thread_core, core_);
  core_->EnterCompletion();
  Completed(ok, worker_of_this_thread);
  core_->LeaveCompletion();
  current_client_thread_core = outer;
}

bool ClientCore::Quiescent() const {
  return free_batch_count_ == static_cast<int>(batch_calls_.size()) && unary_in_flight_ == 0 &&
         !linger_alarm_.outstanding && !deadline_alarm_.outstanding;
}

void ClientCore::Shutdown() {
  // It would wait for events only this thread can deliver. (A thread that
  // drains a borrowed queue is refused by BatchingInventoryClient::Shutdown,
  // for every lane at once.)
  if (current_client_thread_core == this) {
    std::fprintf(stderr,
                 "BatchingInventoryClient::Shutdown called from one of its own callbacks; it "
                 "would wait for itself\n");
    std::abort();
  }
  std::vector<Delivery> deliveries;
  {
    absl::MutexLock lock(&mu_);
    if (shutting_down_) {
      while (!shut_down_) shutdown_cv_.Wait(&mu_);
      return;
    }
    shutting_down_ = true;
    const absl::Status cancelled = absl::CancelledError("the inventory client is shutting down");
    while (queue_head_ != nullptr) DropQueued(queue_head_, cancelled, deliveries);
    for (auto& batch : batch_calls_) {
      if (!batch->lookups.empty()) batch->RequestCancel(batch->seq());  // in flight
    }
    for (UnaryCall& call : unary_calls_) {
      if (call.entry != nullptr) call.RequestCancel(call.seq());
    }
    linger_alarm_.Cancel();
    deadline_alarm_.Cancel();
  }
  Deliver(deliveries);
  {
    absl::MutexLock lock(&mu_);
    // Every RPC and alarm event comes back through the queues, which are
    // still being drained by their threads.
    while (!Quiescent()) shutdown_cv_.Wait(&mu_);
  }
  // The last handlers may still be delivering callbacks; they need no lock
  // and are about to leave.
  while (completions_running_.load(std::memory_order_acquire) > 0) {
    absl::SleepFor(absl::Microseconds(50));
  }
  // Nothing is outstanding and nothing new can start: Next() now returns
  // false once each queue is empty. Borrowed queues are their owner's to
  // shut down.
  for (auto& queue : owned_queues_) queue->Shutdown();
  for (std::thread& thread : threads_) thread.join();
  absl::MutexLock lock(&mu_);
  shut_down_ = true;
  shutdown_cv_.SignalAll();
}

// ---------------------------------------------------------------------------
// The queue, the entry pool and the deadline heap.

LookupEntry* ClientCore::AllocateEntry() {
  LookupEntry* entry = free_entries_;
  if (entry != nullptr) {
    free_entries_ = entry->next;
  } else {
    entry = &entries_.emplace_back();
  }
  entry->prev = entry->next = nullptr;
  return entry;
}

void ClientCore::FreeEntry(LookupEntry* entry) {
  entry->state = EntryState::kFree;
  ++entry->generation;
  entry->batch = nullptr;
  entry->unary = nullptr;
  entry->callback = nullptr;
  entry->next = free_entries_;
  free_entries_ = entry;
}

void ClientCore::PushBack(LookupEntry* entry) {
  entry->state = EntryState::kQueued;
  entry->prev = queue_tail_;
  entry->next = nullptr;
  (queue_tail_ != nullptr ? queue_tail_->next : queue_head_) = entry;
  queue_tail_ = entry;
  ++queue_size_;
}

void ClientCore::Unlink(LookupEntry* entry) {
  (entry->prev != nullptr ? entry->prev->next : queue_head_) = entry->next;
  (entry->next != nullptr ? entry->next->prev : queue_tail_) = entry->prev;
  entry->prev = entry->next = nullptr;
  --queue_size_;
}

void ClientCore::HeapSwap(int a, int b) {
  std::swap(deadline_heap_[a], deadline_heap_[b]);
  deadline_heap_[a]->heap_pos = a;
  deadline_heap_[b]->heap_pos = b;
}

void ClientCore::HeapSiftUp(int pos) {
  while (pos > 0) {
    const int parent = (pos - 1) / 2;
    if (deadline_heap_[parent]->deadline <= deadline_heap_[pos]->deadline) break;
    HeapSwap(parent, pos);
    pos = parent;
  }
}

void ClientCore::HeapSiftDown(int pos) {
  const int size = static_cast<int>(deadline_heap_.size());
  while (true) {
    int smallest = pos;
    for (int child : {2 * pos + 1, 2 * pos + 2}) {
      if (child < size && deadline_heap_[child]->deadline < deadline_heap_[smallest]->deadline) {
        smallest = child;
      }
    }
    if (smallest == pos) return;
    HeapSwap(pos, smallest);
    pos = smallest;
  }
}

void ClientCore::HeapPush(LookupEntry* entry) {
  entry->heap_pos = static_cast<int>(deadline_heap_.size());
  deadline_heap_.push_back(entry);
  HeapSiftUp(entry->heap_pos);
}

void ClientCore::HeapRemove(LookupEntry* entry) {
  const int pos = entry->heap_pos;
  if (pos < 0) return;
  entry->heap_pos = -1;
  LookupEntry* last = deadline_heap_.back();
  deadline_heap_.pop_back();
  if (last == entry) return;
  deadline_heap_[pos] = last;
  last->heap_pos = pos;
  HeapSiftDown(pos);
  HeapSiftUp(last->heap_pos);
}

void ClientCore::DropQueued(LookupEntry* entry, absl::Status status, std::vector<Delivery>& out) {
  Unlink(entry);
  HeapRemove(entry);
  counters_.CountOutcome(status);
  out.push_back({std::exchange(entry->callback, nullptr), std::move(status)});
  FreeEntry(entry);
}

// ---------------------------------------------------------------------------
// The send rule.

void ClientCore::MaybeSend(absl::Time now, StartList& starts) {
  while (queue_size_ > 0 && free_batch_count_ > 0 && !shutting_down_) {
    const bool send = BatchesInFlight() == 0 || queue_size_ >= options_.max_batch_size ||
                      now - queue_head_->enqueued_at >= options_.max_linger;
    if (!send) break;
    starts.push_back(TakeBatch(now));
  }
  ArmLinger();
}

BatchCall* ClientCore::TakeBatch(absl::Time now) {
  BatchCall* batch = free_batches_;
  batch->lookups.clear();
  batch->deadline = absl::InfiniteFuture();
  absl::Time earliest_expired = absl::InfiniteFuture();
  while (queue_head_ != nullptr &&
         static_cast<int>(batch->lookups.size()) < options_.max_batch_size) {
    LookupEntry* entry = queue_head_;
    Unlink(entry);
    HeapRemove(entry);
    entry->state = EntryState::kSent;
    entry->batch = batch;
    // Past its deadline, but the deadline alarm has not run yet (its thread
    // is busy). It rides along without its id and fails DEADLINE_EXCEEDED at
    // completion, on a client thread; it must not shorten the batch deadline.
    entry->expired_at_send = entry->deadline <= now;
    if (entry->expired_at_send) {
      earliest_expired = std::min(earliest_expired, entry->deadline);
    } else {
      batch->deadline = std::min(batch->deadline, entry->deadline);
    }
    batch->lookups.push_back(entry);
  }
  // Only expired look-ups: the RPC fails at once, locally, with DEADLINE_EXCEEDED.
  if (batch->deadline == absl::InfiniteFuture() && earliest_expired != absl::InfiniteFuture()) {
    batch->deadline = earliest_expired;
  }
  free_batches_ = batch->next_free;
  batch->next_free = nullptr;
  --free_batch_count_;
  batch->live = static_cast<int>(batch->lookups.size());
  batch->Take();
  return batch;
}

void ClientCore::ArmLinger() {
  // Only worth an alarm when something queued is waiting for it: with no
  // batch in flight the queue would have gone already, and with all slots
  // busy the next completion re-runs the send rule.
  if (shutting_down_ || queue_size_ == 0 || linger_alarm_.outstanding) return;
  const int in_flight = BatchesInFlight();
  if (in_flight == 0 || in_flight == options_.max_in_flight_batches) return;
  linger_alarm_.Set(queues_[0], queue_head_->enqueued_at + options_.max_linger);
}

void ClientCore::ArmDeadline() {
  if (shutting_down_ || deadline_heap_.empty()) return;
  const absl::Time earliest = deadline_heap_.front()->deadline;
  if (!deadline_alarm_.outstanding) {
    deadline_alarm_.Set(queues_[0], earliest);
  } else if (earliest < deadline_alarm_.armed_for) {
    // Cancelled alarms come back at once (ok=false); the handler re-arms.
    deadline_alarm_.Cancel();
  }
}

void ClientCore::StartBatches(StartList& starts) {
  for (BatchCall* batch : starts) {
    // seq() is read without the core lock: only the core lock's holder
    // writes it, when taking a free slot, and this slot is ours until its
    // completion frees it.
    const int lookups = static_cast<int>(batch->lookups.size());
    const int unique_ids = batch->Build();
    // Counted and reported before Launch, so never after the batch's own
    // completion.
    counters_.CountBatch(lookups, unique_ids);
    if (options_.listener != nullptr) options_.listener->OnBatchSent(lookups, unique_ids);
    batch->Launch(batch->seq(), PickStub());
  }
  starts.clear();
}

inventory::InventoryService::Stub* ClientCore::PickStub() {
  const std::size_t count = stubs_.size();
  const std::size_t first = next_channel_.fetch_add(1, std::memory_order_relaxed);
  for (std::size_t i = 0; i < count; ++i) {
    const std::size_t index = (first + i) % count;
    // A cheap read of the channel's state; false: do not start connecting.
    if (channels_[index]->GetState(false) != GRPC_CHANNEL_TRANSIENT_FAILURE) {
      return stubs_[index].get();
    }
  }
  return stubs_[first % count].get();
}

// ---------------------------------------------------------------------------
// Look-ups.

LookupTicket ClientCore::Lookup(absl::string_view product_id, absl::Time deadline,
                                LookupCallback callback) {
  Counters::Add(counters_.lookups_requested);
  if (absl::Status valid = domain::inventory::ValidateProductId(product_id); !valid.ok()) {
    Counters::Add(counters_.failed_invalid);
    std::move(callback)(std::move(valid));
    return {};
  }
  const absl::Time now = absl::Now();
  if (deadline <= now) {
    Counters::Add(counters_.failed_deadline_exceeded);
    std::move(callback)(absl::DeadlineExceededError("the look-up's deadline had already passed"));
    return {};
  }
  return options_.batching ? LookupBatched(product_id, deadline, now, std::move(callback))
                           : LookupUnary(product_id, deadline, std::move(callback));
}

LookupTicket ClientCore::LookupBatched(absl::string_view product_id, absl::Time deadline,
                                       absl::Time now, LookupCallback callback) {
  StartList starts;
  LookupTicket ticket;
  absl::Status refused;
  {
    absl::MutexLock lock(&mu_);
    if (shutting_down_) {
      refused = absl::UnavailableError("the inventory client is shut down");
    } else if (queue_size_ >= options_.max_queued_lookups) {
      refused = absl::ResourceExhaustedError(absl::StrCat("inventory look-up queue is full (",
                                                          options_.max_queued_lookups, " queued)"));
    } else {
      LookupEntry* entry = AllocateEntry();
      entry->product_id.assign(product_id.data(), product_id.size());
      entry->callback = std::move(callback);
      entry->deadline = deadline;
      entry->enqueued_at = now;
      PushBack(entry);
      MaybeSend(now, starts);
      if (entry->state == EntryState::kQueued && deadline != absl::InfiniteFuture()) {
        HeapPush(entry);
        ArmDeadline();
      }
      ticket = LookupTicket(this, entry, entry->generation);
    }
  }
  if (!refused.ok()) return Refuse(std::move(refused), std::move(callback));
  StartBatches(starts);
  return ticket;
}

LookupTicket ClientCore::LookupUnary(absl::string_view product_id, absl::Time deadline,
                                     LookupCallback callback) {
  UnaryCall* call = nullptr;
  std::uint64_t seq = 0;
  LookupTicket ticket;
  absl::Status refused;
  {
    absl::MutexLock lock(&mu_);
    if (shutting_down_) {
      refused = absl::UnavailableError("the inventory client is shut down");
    } else if (unary_in_flight_ >= options_.max_queued_lookups) {
      refused = absl::ResourceExhaustedError(absl::StrCat("too many inventory look-ups in flight (",
                                                          options_.max_queued_lookups, ")"));
    } else {
      LookupEntry* entry = AllocateEntry();
      entry->callback = std::move(callback);
      entry->deadline = deadline;
      entry->state = EntryState::kSent;
      call = free_unary_calls_;
      if (call != nullptr) {
        free_unary_calls_ = call->next_free;
      } else {
        const std::size_t index = unary_calls_.size();
        call = &unary_calls_.emplace_back(this, queues_[index % queues_.size()]);
      }
      call->next_free = nullptr;
      call->entry = entry;
      entry->unary = call;
      seq = call->Take();
      ++unary_in_flight_;
      ticket = LookupTicket(this, entry, entry->generation);
    }
  }
  if (!refused.ok()) return Refuse(std::move(refused), std::move(callback));
  Counters::Add(counters_.rpcs_sent);
  Counters::Add(counters_.lookups_sent);
  if (options_.listener != nullptr) options_.listener->OnUnarySent();
  call->started_at = absl::Now();
  call->Start(seq, product_id, deadline, PickStub());
  return ticket;
}

LookupTicket ClientCore::Refuse(absl::Status refused, LookupCallback callback) {
  Counters::Add(refused.code() == absl::StatusCode::kUnavailable
                    ? counters_.failed_shut_down
                    : counters_.failed_resource_exhausted);
  std::move(callback)(std::move(refused));
  return {};
}

bool ClientCore::Cancel(LookupEntry* entry, std::uint64_t generation) {
  LookupCallback callback;
  {
    absl::MutexLock lock(&mu_);
    if (entry->generation != generation || entry->callback == nullptr) return false;
    if (entry->state == EntryState::kQueued) {
      Unlink(entry);
      HeapRemove(entry);
      callback = std::exchange(entry->callback, nullptr);
      FreeEntry(entry);
    } else {
      // Sent: the RPC's completion frees the entry and ignores its answer.
      callback = std::exchange(entry->callback, nullptr);
      if (entry->batch != nullptr) {
        if (--entry->batch->live == 0) entry->batch->RequestCancel(entry->batch->seq());
      } else if (entry->unary != nullptr) {
        entry->unary->RequestCancel(entry->unary->seq());
      }
    }
  }
  Counters::Add(counters_.failed_cancelled);
  std::move(callback)(absl::CancelledError("the look-up was cancelled by its caller"));
  return true;
}

// ---------------------------------------------------------------------------
// RPCs.

int BatchCall::Build() {
  request_.Clear();
  response_.Clear();
  position_of_.clear();
  response_index_.clear();
  for (const LookupEntry* entry : lookups) {
    if (entry->expired_at_send) {
      response_index_.push_back(-1);
      continue;
    }
    const auto [it, inserted] =
        position_of_.try_emplace(entry->product_id, request_.product_ids_size());
    if (inserted) request_.add_product_ids(entry->product_id);
    response_index_.push_back(it->second);
  }
  return request_.product_ids_size();
}

void BatchCall::Launch(std::uint64_t seq, inventory::InventoryService::Stub* stub) {
  absl::MutexLock lock(&mu_);
  sent_at_ = absl::Now();
  grpc::ClientContext* context = Begin(seq, deadline);
  reader_ = stub->PrepareAsyncBatchGetProductAvailability(context, request_, cq());
  reader_->StartCall();
  reader_->Finish(&response_, &status_, tag_.ToCompletionQueueTag());
}

absl::Status BatchCall::Complete(absl::Duration* latency) {
  absl::MutexLock lock(&mu_);
  *latency = absl::Now() - sent_at_;
  reader_.reset();  // lives in the call's arena: before the context
  End();
  results_.clear();
  absl::Status status = FromGrpc(status_);
  if (status.ok() && response_.items_size() != request_.product_ids_size()) {
    status = absl::InternalError(absl::StrCat("BatchGetProductAvailability answered ",
                                              response_.items_size(), " items for ",
                                              request_.product_ids_size(), " ids"));
  }
  for (int i = 0; status.ok() && i < response_.items_size(); ++i) {
    if (response_.items(i).product_id() != request_.product_ids(i)) {
      status = absl::InternalError(
          absl::StrCat("BatchGetProductAvailability answered item ", i, " for another id"));
    }
  }
  for (int index : response_index_) {
    if (index < 0) {
      results_.emplace_back(absl::DeadlineExceededError("deadline passed while queued"));
    } else if (status.ok()) {
      const inventory::ProductAvailability& item = response_.items(index);
      results_.emplace_back(LookupResult{item.is_available(), item.quantity()});
    } else {
      results_.emplace_back(status);
    }
  }
  return status;
}

void BatchCall::Completed(bool /*ok*/, Worker& worker) { core_->OnBatchDone(*this, worker); }

void ClientCore::OnBatchDone(BatchCall& batch, Worker& worker) {
  absl::Duration latency;
  const absl::Status status = batch.Complete(&latency);
  const int lookups = static_cast<int>(batch.lookups.size());
  if (!status.ok()) Counters::Add(counters_.rpcs_failed);
  {
    absl::MutexLock lock(&mu_);
    for (int i = 0; i < lookups; ++i) {
      LookupEntry* entry = batch.lookups[i];
      if (entry->callback != nullptr) {
        const absl::StatusOr<LookupResult>& result = batch.result(i);
        counters_.CountOutcome(result.status());
        worker.deliveries.push_back({std::exchange(entry->callback, nullptr), result});
      }
      FreeEntry(entry);
    }
    batch.lookups.clear();
    batch.live = 0;
    batch.next_free = free_batches_;
    free_batches_ = &batch;
    ++free_batch_count_;
    MaybeSend(absl::Now(), worker.starts);
    SignalIfShuttingDown();
  }
  StartBatches(worker.starts);
  if (options_.listener != nullptr) options_.listener->OnBatchDone(lookups, status, latency);
  Deliver(worker.deliveries);
}

void UnaryCall::Start(std::uint64_t seq, absl::string_view product_id, absl::Time deadline,
                      inventory::InventoryService::Stub* stub) {
  absl::MutexLock lock(&mu_);
  request_.set_product_id(product_id.data(), product_id.size());
  response_.Clear();
  grpc::ClientContext* context = Begin(seq, deadline);
  reader_ = stub->PrepareAsyncGetProductAvailability(context, request_, cq());
  reader_->StartCall();
  reader_->Finish(&response_, &status_, tag_.ToCompletionQueueTag());
}

absl::StatusOr<LookupResult> UnaryCall::Complete() {
  absl::MutexLock lock(&mu_);
  reader_.reset();
  End();
  if (!status_.ok()) return FromGrpc(status_);
  return LookupResult{response_.is_available(), response_.quantity()};
}

void UnaryCall::Completed(bool /*ok*/, Worker& worker) { core_->OnUnaryDone(*this, worker); }

void ClientCore::OnUnaryDone(UnaryCall& call, Worker& worker) {
  absl::StatusOr<LookupResult> result = call.Complete();
  if (!result.ok()) Counters::Add(counters_.rpcs_failed);
  if (options_.listener != nullptr) {
    options_.listener->OnUnaryDone(result.status(), absl::Now() - call.started_at);
  }
  LookupCallback callback;
  {
    absl::MutexLock lock(&mu_);
    LookupEntry* entry = call.entry;
    callback = std::exchange(entry->callback, nullptr);
    FreeEntry(entry);
    call.entry = nullptr;
    call.next_free = free_unary_calls_;
    free_unary_calls_ = &call;
    --unary_in_flight_;
    SignalIfShuttingDown();
  }
  if (callback != nullptr) {
    counters_.CountOutcome(result.status());
    std::move(callback)(std::move(result));
  }
}

// ---------------------------------------------------------------------------
// Alarms.

void AlarmTag::Completed(bool ok, Worker& worker) {
  switch (purpose_) {
    case Purpose::kLinger:
      core_->OnLingerAlarm(ok, worker);
      return;
    case Purpose::kDeadline:
      core_->OnDeadlineAlarm(ok, worker);
      return;
  }
}

void ClientCore::OnLingerAlarm(bool ok, Worker& worker) {
  {
    absl::MutexLock lock(&mu_);
    linger_alarm_.outstanding = false;
    MaybeSend(absl::Now(), worker.starts);
    SignalIfShuttingDown();
  }
  StartBatches(worker.starts);
}

void ClientCore::OnDeadlineAlarm(bool ok, Worker& worker) {
  {
    absl::MutexLock lock(&mu_);
    deadline_alarm_.outstanding = false;
    const absl::Time now = absl::Now();
    while (!deadline_heap_.empty() && deadline_heap_.front()->deadline <= now) {
      DropQueued(deadline_heap_.front(),
                 absl::DeadlineExceededError("deadline passed while queued"), worker.deliveries);
    }
    ArmDeadline();
    SignalIfShuttingDown();
  }
  Deliver(worker.deliveries);
}

BatchingInventoryClientStats ClientCore::Stats() const {
  BatchingInventoryClientStats stats;
  const auto get = [](const std::atomic<std::int64_t>& counter) {
    return counter.load(std::memory_order_relaxed);
  };
  stats.lookups_requested = get(counters_.lookups_requested);
  stats.lookups_succeeded = get(counters_.lookups_succeeded);
  stats.lookups_sent = get(counters_.lookups_sent);
  stats.failed_invalid = get(counters_.failed_invalid);
  stats.failed_resource_exhausted = get(counters_.failed_resource_exhausted);
  stats.failed_deadline_exceeded = get(counters_.failed_deadline_exceeded);
  stats.failed_cancelled = get(counters_.failed_cancelled);
  stats.failed_rpc_error = get(counters_.failed_rpc_error);
  stats.failed_shut_down = get(counters_.failed_shut_down);
  stats.rpcs_sent = get(counters_.rpcs_sent);
  stats.rpcs_failed = get(counters_.rpcs_failed);
  stats.batches_sent = get(counters_.batches_sent);
  stats.batch_ids_sent = get(counters_.batch_ids_sent);
  stats.batch_size_sum = get(counters_.batch_size_sum);
  stats.batch_size_max = get(counters_.batch_size_max);
  for (std::size_t i = 0; i < stats.batch_size_buckets.size(); ++i) {
    stats.batch_size_buckets[i] = get(counters_.batch_size_buckets[i]);
  }
  absl::MutexLock lock(&mu_);
  stats.queue_depth = queue_size_;
  stats.rpcs_in_flight = options_.batching ? BatchesInFlight() : unary_in_flight_;
  return stats;
}

}  // namespace internal

// ---------------------------------------------------------------------------
// Public surface.

absl::Status ValidateBatchingInventoryClientOptions(const BatchingInventoryClientOptions& options) {
  const auto in_range = [](absl::string_view name, int value, int low, int high) -> absl::Status {
    if (value < low || value > high) {
      return absl::InvalidArgumentError(
          absl::StrCat(name, " must be in [", low, ", ", high, "], got ", value));
    }
    return absl::OkStatus();
  };
  const auto positive = [](absl::string_view name, absl::Duration value) -> absl::Status {
    if (value <= absl::ZeroDuration() || value == absl::InfiniteDuration()) {
      return absl::InvalidArgumentError(
          absl::StrCat(name, " must be positive and finite, got ", absl::FormatDuration(value)));
    }
    return absl::OkStatus();
  };
  if (options.target.empty()) return absl::InvalidArgumentError("target must not be empty");
  for (const grpc::CompletionQueue* queue : options.completion_queues) {
    if (queue == nullptr) return absl::InvalidArgumentError("completion_queues holds a null queue");
  }
  for (absl::Status status : {
           in_range("channels", options.channels, 1, 256),
           in_range("threads", options.threads, 1, 256),
           in_range("completion_queues (count)", static_cast<int>(options.completion_queues.size()),
                    0, 256),
           in_range("max_batch_size", options.max_batch_size, 1, domain::inventory::kMaxBatchIds),
           in_range("max_in_flight_batches", options.max_in_flight_batches, 1, 10000),
           in_range("max_queued_lookups", options.max_queued_lookups, 1, 100'000'000),
           in_range("retry_max_attempts", options.retry_max_attempts, 1, 5),
           positive("retry_initial_backoff", options.retry_initial_backoff),
           positive("retry_max_backoff", options.retry_max_backoff),
           positive("initial_reconnect_backoff", options.initial_reconnect_backoff),
           positive("max_reconnect_backoff", options.max_reconnect_backoff),
       }) {
    if (!status.ok()) return status;
  }
  if (options.max_linger < absl::ZeroDuration() || options.max_linger == absl::InfiniteDuration()) {
    return absl::InvalidArgumentError(absl::StrCat("max_linger must be >= 0 and finite, got ",
                                                   absl::FormatDuration(options.max_linger)));
  }
  if (options.retry_max_backoff < options.retry_initial_backoff) {
    return absl::InvalidArgumentError("retry_max_backoff must be >= retry_initial_backoff");
  }
  if (options.max_reconnect_backoff < options.initial_reconnect_backoff) {
    return absl::InvalidArgumentError("max_reconnect_backoff must be >= initial_reconnect_backoff");
  }
  return absl::OkStatus();
}

std::string InventoryServiceConfigJson(const BatchingInventoryClientOptions& options) {
  const auto seconds = [](absl::Duration duration) {
    return absl::StrFormat("%.6fs", absl::ToDoubleSeconds(duration));
  };
  std::string retry_policy;
  if (options.retry_max_attempts > 1) {
    retry_policy = absl::StrFormat(
        R"(,"retryPolicy":{"maxAttempts":%d,"initialBackoff":"%s","maxBackoff":"%s",)"
        R"("backoffMultiplier":2,"retryableStatusCodes":["UNAVAILABLE"]})",
        options.retry_max_attempts, seconds(options.retry_initial_backoff),
        seconds(options.retry_max_backoff));
  }
  return absl::StrCat(
      R"({"loadBalancingConfig":[{"round_robin":{}}],"methodConfig":[{"name":[)",
      R"({"service":"inventory.InventoryService","method":"GetProductAvailability"},)",
      R"({"service":"inventory.InventoryService","method":"BatchGetProductAvailability"}])",
      retry_policy, "}]}");
}

bool LookupTicket::Cancel() {
  if (core_ == nullptr) return false;
  return core_->Cancel(entry_, generation_);
}

absl::StatusOr<std::unique_ptr<BatchingInventoryClient>> BatchingInventoryClient::Create(
    BatchingInventoryClientOptions options) {
  if (absl::Status valid = ValidateBatchingInventoryClientOptions(options); !valid.ok()) {
    return valid;
  }
  std::vector<std::unique_ptr<internal::ClientCore>> lanes;
  if (options.completion_queues.size() > 1) {
    for (grpc::CompletionQueue* queue : options.completion_queues) {
      BatchingInventoryClientOptions lane = options;
      lane.completion_queues = {queue};
      lanes.push_back(std::make_unique<internal::ClientCore>(std::move(lane)));
    }
  } else {
    lanes.push_back(std::make_unique<internal::ClientCore>(options));
  }
  for (auto& lane : lanes) lane->Start();
  return std::unique_ptr<BatchingInventoryClient>(
      new BatchingInventoryClient(std::move(options), std::move(lanes)));
}

BatchingInventoryClient::BatchingInventoryClient(
    BatchingInventoryClientOptions options,
    std::vector<std::unique_ptr<internal::ClientCore>> lanes)
    : options_(std::move(options)), lanes_(std::move(lanes)) {}

BatchingInventoryClient::~BatchingInventoryClient() { Shutdown(); }

LookupTicket BatchingInventoryClient::Lookup(absl::string_view product_id, absl::Time deadline,
                                             LookupCallback callback) {
  return LaneForThisThread().Lookup(product_id, deadline, std::move(callback));
}

internal::ClientCore& BatchingInventoryClient::LaneForThisThread() const {
  if (lanes_.size() == 1) return *lanes_.front();
  grpc::CompletionQueue* here = engine::Tag::QueueDrainedByThisThread();
  for (std::size_t i = 0; i < lanes_.size(); ++i) {
    if (options_.completion_queues[i] == here) return *lanes_[i];
  }
  return *lanes_[next_lane_.fetch_add(1, std::memory_order_relaxed) % lanes_.size()];
}

void BatchingInventoryClient::Shutdown() {
  // Checked for every lane before any lane starts: a thread that drains one
  // lane's queue would otherwise shut the others down, then hang.
  grpc::CompletionQueue* here = engine::Tag::QueueDrainedByThisThread();
  for (grpc::CompletionQueue* queue : options_.completion_queues) {
    if (queue == here) {
      std::fprintf(stderr,
                   "BatchingInventoryClient::Shutdown called on a thread that drains one of its "
                   "completion queues; it would wait for itself\n");
      std::abort();
    }
  }
  for (auto& lane : lanes_) lane->Shutdown();
}

BatchingInventoryClientStats BatchingInventoryClient::Stats() const {
  BatchingInventoryClientStats total;
  for (const auto& lane : lanes_) {
    const BatchingInventoryClientStats s = lane->Stats();
    total.lookups_requested += s.lookups_requested;
    total.lookups_succeeded += s.lookups_succeeded;
    total.lookups_sent += s.lookups_sent;
    total.failed_invalid += s.failed_invalid;
    total.failed_resource_exhausted += s.failed_resource_exhausted;
    total.failed_deadline_exceeded += s.failed_deadline_exceeded;
    total.failed_cancelled += s.failed_cancelled;
    total.failed_rpc_error += s.failed_rpc_error;
    total.failed_shut_down += s.failed_shut_down;
    total.rpcs_sent += s.rpcs_sent;
    total.rpcs_failed += s.rpcs_failed;
    total.batches_sent += s.batches_sent;
    total.batch_ids_sent += s.batch_ids_sent;
    total.batch_size_sum += s.batch_size_sum;
    total.batch_size_max = std::max(total.batch_size_max, s.batch_size_max);
    for (std::size_t i = 0; i < total.batch_size_buckets.size(); ++i) {
      total.batch_size_buckets[i] += s.batch_size_buckets[i];
    }
    total.queue_depth += s.queue_depth;
    total.rpcs_in_flight += s.rpcs_in_flight;
  }
  return total;
}

const BatchingInventoryClientOptions& BatchingInventoryClient::options() const { return options_; }

}  // namespace client
