// The batching client's metrics for Prometheus: grpc_client_* for its
// BatchGetProductAvailability RPCs (as a BatchListener), and, read from its
// Stats() at each scrape, the batch-size histogram, the queue depth and the
// look-ups failed by cause:
//
//   inventory_lookup_batch_size            histogram of look-ups per batch
//   inventory_lookup_queue_depth           gauge: look-ups waiting to be sent
//   inventory_lookups_total                counter: Lookup() calls
//   inventory_lookups_failed_total{cause}  invalid, resource_exhausted,
//                                          deadline_exceeded, cancelled,
//                                          rpc_error, shut_down
#ifndef SERVER_PRODUCT_BATCHING_CLIENT_METRICS_H_
#define SERVER_PRODUCT_BATCHING_CLIENT_METRICS_H_

#include <prometheus/collectable.h>

#include <vector>

#include "client/batching_inventory_client.h"
#include "engine/rpc_observer.h"

namespace server::product {

// Feeds grpc_client_* for the client's RPCs (BatchGetProductAvailability, or
// GetProductAvailability with batching off) from a BatchListener.
class BatchRpcMetrics final : public client::BatchListener {
 public:
  explicit BatchRpcMetrics(engine::RpcObserver& client_metrics);
  void OnBatchSent(int lookups, int unique_ids) override;
  void OnBatchDone(int lookups, const absl::Status& status, absl::Duration latency) override;
  void OnUnarySent() override;
  void OnUnaryDone(const absl::Status& status, absl::Duration latency) override;

 private:
  engine::MethodObserver* const batch_;
  engine::MethodObserver* const unary_;
};

// Reads the client's Stats() at each scrape. Register it on a registry's
// exposer; `client` must outlive every scrape.
class BatchingClientCollector final : public prometheus::Collectable {
 public:
  explicit BatchingClientCollector(const client::BatchingInventoryClient& client)
      : client_(client) {}
  std::vector<prometheus::MetricFamily> Collect() const override;

 private:
  const client::BatchingInventoryClient& client_;
};

}  // namespace server::product

#endif  // SERVER_PRODUCT_BATCHING_CLIENT_METRICS_H_
