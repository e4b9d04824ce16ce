#include "server/product/batching_client_metrics.h"

#include <prometheus/client_metric.h>
#include <prometheus/metric_family.h>

#include <limits>
#include <string>
#include <utility>

namespace server::product {
namespace {

prometheus::MetricFamily Family(std::string name, std::string help, prometheus::MetricType type) {
  prometheus::MetricFamily family;
  family.name = std::move(name);
  family.help = std::move(help);
  family.type = type;
  return family;
}

prometheus::ClientMetric Value(double value, prometheus::MetricType type,
                               std::vector<prometheus::ClientMetric::Label> labels = {}) {
  prometheus::ClientMetric metric;
  metric.label = std::move(labels);
  if (type == prometheus::MetricType::Counter) {
    metric.counter.value = value;
  } else {
    metric.gauge.value = value;
  }
  return metric;
}

}  // namespace

BatchRpcMetrics::BatchRpcMetrics(engine::RpcObserver& client_metrics)
    : batch_(client_metrics.ObserveMethod("inventory.InventoryService/BatchGetProductAvailability",
                                          engine::RpcType::kUnary)),
      unary_(client_metrics.ObserveMethod("inventory.InventoryService/GetProductAvailability",
                                          engine::RpcType::kUnary)) {}

namespace {

// As go-grpc-prometheus's unary client interceptor counts: the request is a
// message sent when the call starts, the response one received if it is OK.
void UnaryStarted(engine::MethodObserver* method) {
  if (method == nullptr) return;
  method->OnStarted();
  method->OnMessageSent();
}

void UnaryDone(engine::MethodObserver* method, const absl::Status& status, absl::Duration latency) {
  if (method == nullptr) return;
  if (status.ok()) method->OnMessageReceived();
  method->OnHandled(static_cast<grpc::StatusCode>(status.code()), latency);
}

}  // namespace

void BatchRpcMetrics::OnBatchSent(int lookups, int unique_ids) { UnaryStarted(batch_); }

void BatchRpcMetrics::OnBatchDone(int lookups, const absl::Status& status, absl::Duration latency) {
  UnaryDone(batch_, status, latency);
}

void BatchRpcMetrics::OnUnarySent() { UnaryStarted(unary_); }

void BatchRpcMetrics::OnUnaryDone(const absl::Status& status, absl::Duration latency) {
  UnaryDone(unary_, status, latency);
}

std::vector<prometheus::MetricFamily> BatchingClientCollector::Collect() const {
  const client::BatchingInventoryClientStats stats = client_.Stats();
  std::vector<prometheus::MetricFamily> families;

  auto batch_size = Family("inventory_lookup_batch_size",
                           "Look-ups per BatchGetProductAvailability RPC sent by the batching "
                           "client.",
                           prometheus::MetricType::Histogram);
  prometheus::ClientMetric histogram;
  std::uint64_t cumulative = 0;
  for (std::size_t i = 0; i < client::kBatchSizeBucketBounds.size(); ++i) {
    cumulative += static_cast<std::uint64_t>(stats.batch_size_buckets[i]);
    histogram.histogram.bucket.push_back(
        {cumulative, static_cast<double>(client::kBatchSizeBucketBounds[i])});
  }
  histogram.histogram.bucket.push_back({cumulative, std::numeric_limits<double>::infinity()});
  histogram.histogram.sample_count = static_cast<std::uint64_t>(stats.batches_sent);
  histogram.histogram.sample_sum = static_cast<double>(stats.batch_size_sum);
  batch_size.metric.push_back(std::move(histogram));
  families.push_back(std::move(batch_size));

  auto depth =
      Family("inventory_lookup_queue_depth", "Look-ups waiting in the batching client to be sent.",
             prometheus::MetricType::Gauge);
  depth.metric.push_back(
      Value(static_cast<double>(stats.queue_depth), prometheus::MetricType::Gauge));
  families.push_back(std::move(depth));

  auto total = Family("inventory_lookups_total", "Look-ups asked of the batching client.",
                      prometheus::MetricType::Counter);
  total.metric.push_back(
      Value(static_cast<double>(stats.lookups_requested), prometheus::MetricType::Counter));
  families.push_back(std::move(total));

  auto failed = Family("inventory_lookups_failed_total", "Look-ups that failed, by cause.",
                       prometheus::MetricType::Counter);
  const std::pair<const char*, std::int64_t> causes[] = {
      {"invalid", stats.failed_invalid},
      {"resource_exhausted", stats.failed_resource_exhausted},
      {"deadline_exceeded", stats.failed_deadline_exceeded},
      {"cancelled", stats.failed_cancelled},
      {"rpc_error", stats.failed_rpc_error},
      {"shut_down", stats.failed_shut_down},
  };
  for (const auto& [cause, count] : causes) {
    failed.metric.push_back(
        Value(static_cast<double>(count), prometheus::MetricType::Counter, {{"cause", cause}}));
  }
  families.push_back(std::move(failed));
  return families;
}

}  // namespace server::product
