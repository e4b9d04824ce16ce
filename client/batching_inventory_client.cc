// The public surface of the batching client: options, the service config,
// tickets, and the routing of look-ups to lanes. The work is done by the
// lanes (client/internal/lane.h), their RPCs and alarms
// (client/internal/calls.h) and their look-up queues
// (client/internal/lookup_queue.h).
#include "client/batching_inventory_client.h"

#include <grpcpp/grpcpp.h>

#include <cstdio>
#include <cstdlib>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "client/internal/counters.h"
#include "client/internal/lane.h"
#include "domain/inventory/limits.h"
#include "engine/tag.h"

namespace client {

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
  if (lane_ == nullptr) return false;
  return lane_->Cancel(entry_, generation_);
}

absl::StatusOr<std::unique_ptr<BatchingInventoryClient>> BatchingInventoryClient::Create(
    BatchingInventoryClientOptions options) {
  if (absl::Status valid = ValidateBatchingInventoryClientOptions(options); !valid.ok()) {
    return valid;
  }
  std::vector<std::unique_ptr<internal::Lane>> lanes;
  if (options.completion_queues.size() > 1) {
    for (grpc::CompletionQueue* queue : options.completion_queues) {
      BatchingInventoryClientOptions lane = options;
      lane.completion_queues = {queue};
      lanes.push_back(std::make_unique<internal::Lane>(std::move(lane)));
    }
  } else {
    lanes.push_back(std::make_unique<internal::Lane>(options));
  }
  for (auto& lane : lanes) lane->Start();
  return std::unique_ptr<BatchingInventoryClient>(
      new BatchingInventoryClient(std::move(options), std::move(lanes)));
}

BatchingInventoryClient::BatchingInventoryClient(BatchingInventoryClientOptions options,
                                                 std::vector<std::unique_ptr<internal::Lane>> lanes)
    : options_(std::move(options)), lanes_(std::move(lanes)) {}

BatchingInventoryClient::~BatchingInventoryClient() { Shutdown(); }

LookupTicket BatchingInventoryClient::Lookup(absl::string_view product_id, absl::Time deadline,
                                             LookupCallback callback) {
  return LaneForThisThread().Lookup(product_id, deadline, std::move(callback));
}

internal::Lane& BatchingInventoryClient::LaneForThisThread() const {
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
  for (const auto& lane : lanes_) internal::AddStats(lane->Stats(), total);
  return total;
}

const BatchingInventoryClientOptions& BatchingInventoryClient::options() const { return options_; }

}  // namespace client
