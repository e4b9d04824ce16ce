// Serves a process's Prometheus metrics over HTTP (GET /metrics), with
// prometheus-cpp's embedded server (Debian's prometheus-cpp-dev).
#ifndef METRICS_METRICS_SERVER_H_
#define METRICS_METRICS_SERVER_H_

#include <prometheus/exposer.h>
#include <prometheus/registry.h>

#include <memory>
#include <string>

#include "absl/status/statusor.h"

namespace metrics {

class MetricsServer {
 public:
  // Listens on `listen_address` ("host:port"; port 0 picks a free port) and
  // serves `registry` at /metrics. Fails with a message naming the address
  // if it cannot listen.
  static absl::StatusOr<std::unique_ptr<MetricsServer>> Start(
      const std::string& listen_address, std::shared_ptr<prometheus::Registry> registry);

  int port() const { return port_; }

  // Also serves `collectable` at /metrics (held weakly: the caller keeps it
  // alive for as long as it should be scraped).
  void Register(const std::weak_ptr<prometheus::Collectable>& collectable) {
    exposer_->RegisterCollectable(collectable);
  }

 private:
  MetricsServer(std::unique_ptr<prometheus::Exposer> exposer, int port)
      : exposer_(std::move(exposer)), port_(port) {}

  std::unique_ptr<prometheus::Exposer> exposer_;
  int port_;
};

}  // namespace metrics

#endif  // METRICS_METRICS_SERVER_H_
