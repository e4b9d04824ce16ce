// Everything a server binary needs around its own services: the engine, the
// defensive limits, health, optional reflection, and the ordered shutdown.
// Both the InventoryService and the ProductService run inside one of these.
#ifndef SERVER_HOST_SERVER_HOST_H_
#define SERVER_HOST_SERVER_HOST_H_

#include <prometheus/registry.h>

#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "engine/engine.h"
#include "metrics/grpc_prometheus.h"
#include "metrics/metrics_server.h"
#include "server/health/health_service.h"
#include "server/host/authorization.h"
#include "server/host/server_limits.h"
#include "server/host/tls_credentials.h"

namespace server::host {

// The types this file translates between, from other layers.
using server::health::HealthService;

struct ServerHostOptions {
  engine::EngineOptions engine;
  ServerLimits limits;
  bool reflection = false;
  // Extra gRPC channel arguments, applied after the limits (so they can
  // override them): name -> integer value, or a string if not an integer.
  std::vector<std::pair<std::string, std::string>> channel_args;
  // host:port to serve Prometheus metrics on (GET /metrics); empty: none.
  // Port 0 picks a free port (metrics_port() says which).
  std::string metrics_listen;
  // Its HTTP workers and request timeout (metrics/metrics_server.h).
  metrics::MetricsServerOptions metrics;
  // TLS or mTLS on the listening port (tls_credentials.h); nothing set:
  // plaintext, logged as a warning when the address is not loopback.
  ServerTlsOptions tls;
  // Which methods need an admin, and who is one (authorization.h). The
  // host installs it as the engine's authorizer (engine.authorizer is
  // replaced).
  AuthorizationOptions authorization;
};

// Services registered on engine() are referenced, not owned: they must
// outlive the ServerHost. Declare them before it (members are destroyed in
// reverse order), or call Shutdown() before they go.
class ServerHost {
 public:
  explicit ServerHost(ServerHostOptions options);
  ServerHost(const ServerHost&) = delete;
  ServerHost& operator=(const ServerHost&) = delete;
  ~ServerHost();

  // Register services on this before Start().
  engine::Engine& engine() { return engine_; }
  HealthService& health() { return health_; }
  // Where the grpc_server_* metrics and build_info (metrics/build_info.h)
  // live; a service may add its own.
  prometheus::Registry& metrics_registry() { return *metrics_registry_; }
  // Scraped with the registry from Start() on; before Start() only.
  void AddMetricsCollectable(std::shared_ptr<prometheus::Collectable> collectable) {
    extra_collectables_.push_back(std::move(collectable));
  }
  // The bound metrics port after Start(), or 0 if metrics are off.
  int metrics_port() const { return metrics_server_ ? metrics_server_->port() : 0; }

  // Starts the metrics endpoint (if configured), then serves on
  // `listen_address` ("host:port" with a port in 0..65535, or a "unix:"
  // address; anything else is INVALID_ARGUMENT) with the credentials of
  // options.tls (INVALID_ARGUMENT naming the file if one is unusable) and
  // the admin check of options.authorization (INVALID_ARGUMENT likewise), then
  // marks the server ("") and each of `service_names` SERVING. Returns the
  // bound port.
  absl::StatusOr<int> Start(const std::string& listen_address,
                            const std::vector<std::string>& service_names);

  // 1. health NOT_SERVING; 2..5. Engine::Shutdown; then the metrics
  // endpoint stops, so no scrape reads what the caller destroys next.
  // Idempotent.
  void Shutdown();

 private:
  static ServerHostOptions WithHooks(ServerHostOptions options, engine::RpcObserver* observer,
                                     engine::CallAuthorizer* authorizer);

  // Declared before the engine, which reports to it until destroyed.
  std::shared_ptr<prometheus::Registry> metrics_registry_;
  metrics::GrpcPrometheus server_metrics_;
  // Declared before the engine, which calls it until destroyed.
  std::unique_ptr<Authorization> authorization_;
  ServerHostOptions options_;
  // Declared before the engine: the services must outlive its server.
  HealthService health_;
  engine::Engine engine_;
  std::vector<std::shared_ptr<prometheus::Collectable>> extra_collectables_;
  std::unique_ptr<metrics::MetricsServer> metrics_server_;
};

}  // namespace server::host

#endif  // SERVER_HOST_SERVER_HOST_H_
