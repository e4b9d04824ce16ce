// The counters behind BatchingInventoryClient::Stats(): relaxed atomics per
// lane, bumped without the lane lock, and the arithmetic that turns them
// into (and adds up) BatchingInventoryClientStats.
//
// Not for users: part of client/batching_inventory_client's implementation.
#ifndef CLIENT_INTERNAL_COUNTERS_H_
#define CLIENT_INTERNAL_COUNTERS_H_

#include <array>
#include <atomic>
#include <cstddef>
#include <cstdint>

#include "absl/status/status.h"
#include "client/batching_inventory_client.h"

namespace client::internal {

// Relaxed atomic counters behind one lane's Stats().
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

  // Counts a batch of `lookups` look-ups carrying `unique_ids` distinct ids.
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

  // Fills in the monotonic counters of `stats` (the gauges are the lane's).
  void Snapshot(BatchingInventoryClientStats& stats) const;
};

// Adds a lane's `stats` into `total` (batch_size_max: the larger).
void AddStats(const BatchingInventoryClientStats& stats, BatchingInventoryClientStats& total);

}  // namespace client::internal

#endif  // CLIENT_INTERNAL_COUNTERS_H_
