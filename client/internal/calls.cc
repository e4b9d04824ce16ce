#include "client/internal/calls.h"

#include <utility>

#include "absl/strings/str_cat.h"
#include "client/internal/lane.h"

namespace client::internal {
namespace {

thread_local Worker worker_of_this_thread;
thread_local const Lane* lane_completing_on_this_thread = nullptr;

absl::Status FromGrpc(const grpc::Status& status) {
  return absl::Status(static_cast<absl::StatusCode>(status.error_code()), status.error_message());
}

}  // namespace

void Deliver(std::vector<Delivery>& deliveries) {
  for (Delivery& delivery : deliveries) {
    std::move(delivery.callback)(std::move(delivery.result));
  }
  deliveries.clear();  // keeps the capacity
}

const Lane* LaneCompletingOnThisThread() { return lane_completing_on_this_thread; }

void ClientOperation::OnCompletion(engine::CompletionKind /*kind*/, bool ok) {
  const Lane* const outer = std::exchange(lane_completing_on_this_thread, lane_);
  lane_->EnterCompletion();
  Completed(ok, worker_of_this_thread);
  lane_->LeaveCompletion();
  lane_completing_on_this_thread = outer;
}

// ---------------------------------------------------------------------------
// RPC slots.

void RpcSlot::RequestCancel(std::uint64_t seq) {
  absl::MutexLock lock(&mu_);
  if (context_ != nullptr && started_seq_ == seq) {
    context_->TryCancel();
  } else {
    cancel_seq_ = seq;
  }
}

grpc::ClientContext* RpcSlot::Begin(std::uint64_t seq, absl::Time deadline) {
  context_ = std::make_unique<grpc::ClientContext>();
  if (deadline != absl::InfiniteFuture()) context_->set_deadline(absl::ToChronoTime(deadline));
  started_seq_ = seq;
  // TryCancel before the call starts makes gRPC cancel it as it starts.
  if (cancel_seq_ == seq) context_->TryCancel();
  return context_.get();
}

// ---------------------------------------------------------------------------
// Batches.

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

void BatchCall::Completed(bool /*ok*/, Worker& worker) { lane_->OnBatchDone(*this, worker); }

// ---------------------------------------------------------------------------
// Unary look-ups (batching = false).

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

void UnaryCall::Completed(bool /*ok*/, Worker& worker) { lane_->OnUnaryDone(*this, worker); }

// ---------------------------------------------------------------------------
// Alarms.

void AlarmTag::Completed(bool ok, Worker& worker) {
  switch (purpose_) {
    case Purpose::kLinger:
      lane_->OnLingerAlarm(ok, worker);
      return;
    case Purpose::kDeadline:
      lane_->OnDeadlineAlarm(ok, worker);
      return;
  }
}

}  // namespace client::internal
