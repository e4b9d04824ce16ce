#include "client/internal/counters.h"

#include <algorithm>

namespace client::internal {

void Counters::Snapshot(BatchingInventoryClientStats& stats) const {
  const auto get = [](const std::atomic<std::int64_t>& counter) {
    return counter.load(std::memory_order_relaxed);
  };
  stats.lookups_requested = get(lookups_requested);
  stats.lookups_succeeded = get(lookups_succeeded);
  stats.lookups_sent = get(lookups_sent);
  stats.failed_invalid = get(failed_invalid);
  stats.failed_resource_exhausted = get(failed_resource_exhausted);
  stats.failed_deadline_exceeded = get(failed_deadline_exceeded);
  stats.failed_cancelled = get(failed_cancelled);
  stats.failed_rpc_error = get(failed_rpc_error);
  stats.failed_shut_down = get(failed_shut_down);
  stats.rpcs_sent = get(rpcs_sent);
  stats.rpcs_failed = get(rpcs_failed);
  stats.batches_sent = get(batches_sent);
  stats.batch_ids_sent = get(batch_ids_sent);
  stats.batch_size_sum = get(batch_size_sum);
  stats.batch_size_max = get(batch_size_max);
  for (std::size_t i = 0; i < stats.batch_size_buckets.size(); ++i) {
    stats.batch_size_buckets[i] = get(batch_size_buckets[i]);
  }
}

void AddStats(const BatchingInventoryClientStats& s, BatchingInventoryClientStats& total) {
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

}  // namespace client::internal
