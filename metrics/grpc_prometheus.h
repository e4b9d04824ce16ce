// gRPC metrics in Prometheus form, under the names go-grpc-prometheus uses,
// so existing gRPC dashboards and alerts read them unchanged:
//
//   grpc_server_started_total{grpc_type,grpc_service,grpc_method}
//   grpc_server_handled_total{grpc_type,grpc_service,grpc_method,grpc_code}
//   grpc_server_handling_seconds{grpc_type,grpc_service,grpc_method} (histogram)
//   grpc_server_msg_received_total{grpc_type,grpc_service,grpc_method}
//   grpc_server_msg_sent_total{grpc_type,grpc_service,grpc_method}
//     (messages: a unary call receives one and, if it succeeds, sends one; a
//     server stream receives one and sends one per completed write)
//   grpc_client_started_total / _handled_total / _handling_seconds /
//   _msg_sent_total / _msg_received_total: the same, for calls this process
//   makes (its clients count a unary call's request as sent, and its
//   response as received if the call is OK).
//
// grpc_type is "unary", "server_stream" or "bidi_stream"; grpc_code is the Go name of the
// status code ("OK", "Canceled", "InvalidArgument", ...). As with
// go-grpc-prometheus's InitializeMetrics, every code of every method exists
// from the start at 0, so rate() and absent() work before the first error.
// Buckets: go-grpc-prometheus's defaults (5 ms .. 10 s) plus 100 µs .. 2.5 ms,
// where these services' calls actually fall.
#ifndef METRICS_GRPC_PROMETHEUS_H_
#define METRICS_GRPC_PROMETHEUS_H_

#include <prometheus/counter.h>
#include <prometheus/family.h>
#include <prometheus/histogram.h>
#include <prometheus/registry.h>

#include <memory>
#include <string>
#include <vector>

#include "absl/synchronization/mutex.h"
#include "engine/rpc_observer.h"

namespace metrics {

using engine::MethodObserver;
using engine::RpcObserver;
using engine::RpcType;

// The Go name of a status code, as go-grpc-prometheus labels it.
const char* GoCodeName(grpc::StatusCode code);

// The histogram buckets of *_handling_seconds, in seconds.
const std::vector<double>& HandlingSecondsBuckets();

class GrpcPrometheus final : public RpcObserver {
 public:
  enum class Side { kServer, kClient };

  // Registers the three families of `side` on `registry`.
  GrpcPrometheus(prometheus::Registry& registry, Side side);
  ~GrpcPrometheus() override;

  MethodObserver* ObserveMethod(const std::string& full_method, RpcType type) override;

 private:
  class Method;

  prometheus::Family<prometheus::Counter>& started_;
  prometheus::Family<prometheus::Counter>& handled_;
  prometheus::Family<prometheus::Histogram>& handling_seconds_;
  prometheus::Family<prometheus::Counter>& msg_received_;
  prometheus::Family<prometheus::Counter>& msg_sent_;
  absl::Mutex mu_;
  std::vector<std::unique_ptr<Method>> methods_ ABSL_GUARDED_BY(mu_);
};

}  // namespace metrics

#endif  // METRICS_GRPC_PROMETHEUS_H_
