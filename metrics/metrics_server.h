// Serves a process's Prometheus metrics over HTTP (GET /metrics), with
// prometheus-cpp's embedded server (Debian's prometheus-cpp-dev).
#ifndef METRICS_METRICS_SERVER_H_
#define METRICS_METRICS_SERVER_H_

#include <prometheus/exposer.h>
#include <prometheus/registry.h>

#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "absl/time/time.h"

namespace metrics {

// The embedded HTTP server gives each connection a worker thread for as long
// as it takes to read the request and write the answer. A client that
// connects and sends nothing holds its worker until `request_timeout`; with
// one worker that blinded every scrape for civetweb's default of 30 s.
struct MetricsServerOptions {
  // Connections served at once; more wait in the listen backlog.
  int workers = 4;
  // Longest wait for one read or write of a request, after which the
  // connection is closed. Prometheus sends a scrape's request at once.
  absl::Duration request_timeout = absl::Seconds(2);
};

class MetricsServer {
 public:
  // Listens on `listen_address` ("host:port"; port 0 picks a free port) and
  // serves `registry` at /metrics. Fails with a message naming the address
  // if it cannot listen, and INVALID_ARGUMENT for options out of range
  // (workers 1..64, request_timeout 1 ms..60 s).
  static absl::StatusOr<std::unique_ptr<MetricsServer>> Start(
      const std::string& listen_address, std::shared_ptr<prometheus::Registry> registry,
      const MetricsServerOptions& options = {});

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
