#include "client/internal/lane.h"

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <utility>

#include "absl/strings/str_cat.h"
#include "domain/inventory/product_id.h"
#include "engine/tag.h"
#include "engine/write_coalescing.h"

namespace client::internal {

// ---------------------------------------------------------------------------
// Set-up and shutdown.

void Lane::Start() {
  const std::string service_config = InventoryServiceConfigJson(options_);
  std::shared_ptr<grpc::ChannelCredentials> credentials =
      options_.credentials != nullptr ? options_.credentials : grpc::InsecureChannelCredentials();
  for (int i = 0; i < options_.channels; ++i) {
    grpc::ChannelArguments args;
    args.SetServiceConfigJSON(service_config);
    // Channels with identical arguments would share one connection.
    args.SetInt("batching_client.channel_index", i);
    if (!options_.ssl_target_name_override.empty()) {
      args.SetSslTargetNameOverride(options_.ssl_target_name_override);
    }
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
      free_batches_.reserve(options_.max_in_flight_batches);
      for (int i = 0; i < options_.max_in_flight_batches; ++i) {
        batch_calls_.push_back(std::make_unique<BatchCall>(this, queues_[i % queues_.size()]));
        batch_calls_.back()->lookups.reserve(options_.max_batch_size);
        free_batches_.push_back(batch_calls_.back().get());
      }
    }
  }
  for (auto& queue : owned_queues_) {
    threads_.emplace_back([cq = queue.get()] {
      // Its own queue threads send the batches their alarms start.
      engine::ScopedWriteCoalescing coalescing(/*enable=*/true);
      engine::Tag::CompleteAllUntilShutdown(cq);
    });
  }
}

bool Lane::Quiescent() const {
  return free_batches_.size() == batch_calls_.size() && unary_in_flight_ == 0 &&
         !linger_alarm_.outstanding && !deadline_alarm_.outstanding;
}

void Lane::Shutdown() {
  // It would wait for events only this thread can deliver. (A thread that
  // drains a borrowed queue is refused by BatchingInventoryClient::Shutdown,
  // for every lane at once.)
  if (LaneCompletingOnThisThread() == this) {
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
    while (!queue_.empty()) DropQueued(queue_.front(), cancelled, deliveries);
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
// The queue.

void Lane::DropQueued(LookupEntry* entry, absl::Status status, std::vector<Delivery>& out) {
  counters_.CountOutcome(status);
  out.push_back({std::exchange(entry->callback, nullptr), std::move(status)});
  queue_.Drop(entry);
}

// ---------------------------------------------------------------------------
// The send rule.

void Lane::MaybeSend(absl::Time now, StartList& starts) {
  while (!queue_.empty() && !free_batches_.empty() && !shutting_down_) {
    const bool send = BatchesInFlight() == 0 || queue_.size() >= options_.max_batch_size ||
                      now - queue_.front()->enqueued_at >= options_.max_linger;
    if (!send) break;
    starts.push_back(TakeBatch(now));
  }
  ArmLinger();
}

BatchCall* Lane::TakeBatch(absl::Time now) {
  BatchCall* batch = free_batches_.back();
  free_batches_.pop_back();
  batch->lookups.clear();
  batch->deadline = absl::InfiniteFuture();
  absl::Time earliest_expired = absl::InfiniteFuture();
  while (!queue_.empty() && static_cast<int>(batch->lookups.size()) < options_.max_batch_size) {
    LookupEntry* entry = queue_.PopFront();
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
  batch->live = static_cast<int>(batch->lookups.size());
  batch->Take();
  return batch;
}

void Lane::ArmLinger() {
  // Only worth an alarm when something queued is waiting for it: with no
  // batch in flight the queue would have gone already, and with all slots
  // busy the next completion re-runs the send rule.
  if (shutting_down_ || queue_.empty() || linger_alarm_.outstanding) return;
  const int in_flight = BatchesInFlight();
  if (in_flight == 0 || in_flight == options_.max_in_flight_batches) return;
  linger_alarm_.Set(queues_[0], queue_.front()->enqueued_at + options_.max_linger);
}

void Lane::ArmDeadline() {
  const LookupEntry* const soonest = queue_.EarliestDeadline();
  if (shutting_down_ || soonest == nullptr) return;
  const absl::Time earliest = soonest->deadline;
  if (!deadline_alarm_.outstanding) {
    deadline_alarm_.Set(queues_[0], earliest);
  } else if (earliest < deadline_alarm_.armed_for) {
    // Cancelled alarms come back at once (ok=false); the handler re-arms.
    deadline_alarm_.Cancel();
  }
}

void Lane::StartBatches(StartList& starts) {
  for (BatchCall* batch : starts) {
    // seq() is read without the lane lock: only the lane lock's holder
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

inventory::InventoryService::Stub* Lane::PickStub() {
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

LookupTicket Lane::Lookup(absl::string_view product_id, absl::Time deadline,
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

LookupTicket Lane::LookupBatched(absl::string_view product_id, absl::Time deadline, absl::Time now,
                                 LookupCallback callback) {
  StartList starts;
  LookupTicket ticket;
  absl::Status refused;
  {
    absl::MutexLock lock(&mu_);
    if (shutting_down_) {
      refused = absl::UnavailableError("the inventory client is shut down");
    } else if (queue_.size() >= options_.max_queued_lookups) {
      refused = absl::ResourceExhaustedError(absl::StrCat("inventory look-up queue is full (",
                                                          options_.max_queued_lookups, " queued)"));
    } else {
      LookupEntry* entry = queue_.Allocate();
      entry->product_id.assign(product_id.data(), product_id.size());
      entry->callback = std::move(callback);
      entry->deadline = deadline;
      entry->enqueued_at = now;
      queue_.PushBack(entry);
      MaybeSend(now, starts);
      if (entry->state == EntryState::kQueued && deadline != absl::InfiniteFuture()) {
        queue_.WatchDeadline(entry);
        ArmDeadline();
      }
      ticket = LookupTicket(this, entry, entry->generation);
    }
  }
  if (!refused.ok()) return Refuse(std::move(refused), std::move(callback));
  StartBatches(starts);
  return ticket;
}

LookupTicket Lane::LookupUnary(absl::string_view product_id, absl::Time deadline,
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
      LookupEntry* entry = queue_.Allocate();
      entry->callback = std::move(callback);
      entry->deadline = deadline;
      entry->state = EntryState::kSent;
      if (!free_unary_calls_.empty()) {
        call = free_unary_calls_.back();
        free_unary_calls_.pop_back();
      } else {
        const std::size_t index = unary_calls_.size();
        call = &unary_calls_.emplace_back(this, queues_[index % queues_.size()]);
      }
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

LookupTicket Lane::Refuse(absl::Status refused, LookupCallback callback) {
  Counters::Add(refused.code() == absl::StatusCode::kUnavailable
                    ? counters_.failed_shut_down
                    : counters_.failed_resource_exhausted);
  std::move(callback)(std::move(refused));
  return {};
}

bool Lane::Cancel(LookupEntry* entry, std::uint64_t generation) {
  LookupCallback callback;
  {
    absl::MutexLock lock(&mu_);
    if (entry->generation != generation || entry->callback == nullptr) return false;
    if (entry->state == EntryState::kQueued) {
      callback = std::exchange(entry->callback, nullptr);
      queue_.Drop(entry);
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
// Completions.

void Lane::OnBatchDone(BatchCall& batch, Worker& worker) {
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
      queue_.Free(entry);
    }
    batch.lookups.clear();
    batch.live = 0;
    free_batches_.push_back(&batch);
    MaybeSend(absl::Now(), worker.starts);
    SignalIfShuttingDown();
  }
  StartBatches(worker.starts);
  if (options_.listener != nullptr) options_.listener->OnBatchDone(lookups, status, latency);
  Deliver(worker.deliveries);
}

void Lane::OnUnaryDone(UnaryCall& call, Worker& worker) {
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
    queue_.Free(entry);
    call.entry = nullptr;
    free_unary_calls_.push_back(&call);
    --unary_in_flight_;
    SignalIfShuttingDown();
  }
  if (callback != nullptr) {
    counters_.CountOutcome(result.status());
    std::move(callback)(std::move(result));
  }
}

void Lane::OnLingerAlarm(bool ok, Worker& worker) {
  {
    absl::MutexLock lock(&mu_);
    linger_alarm_.outstanding = false;
    MaybeSend(absl::Now(), worker.starts);
    SignalIfShuttingDown();
  }
  StartBatches(worker.starts);
}

void Lane::OnDeadlineAlarm(bool ok, Worker& worker) {
  {
    absl::MutexLock lock(&mu_);
    deadline_alarm_.outstanding = false;
    const absl::Time now = absl::Now();
    for (LookupEntry* soonest = queue_.EarliestDeadline();
         soonest != nullptr && soonest->deadline <= now; soonest = queue_.EarliestDeadline()) {
      DropQueued(soonest, absl::DeadlineExceededError("deadline passed while queued"),
                 worker.deliveries);
    }
    ArmDeadline();
    SignalIfShuttingDown();
  }
  Deliver(worker.deliveries);
}

BatchingInventoryClientStats Lane::Stats() const {
  BatchingInventoryClientStats stats;
  counters_.Snapshot(stats);
  absl::MutexLock lock(&mu_);
  stats.queue_depth = queue_.size();
  stats.rpcs_in_flight = options_.batching ? BatchesInFlight() : unary_in_flight_;
  return stats;
}

}  // namespace client::internal
