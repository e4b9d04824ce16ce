// Everything a server binary needs around its own services: the engine, the
// defensive limits, health, optional reflection, and the ordered shutdown.
// Both the InventoryService and the ProductService run inside one of these.
#ifndef SERVER_COMMON_SERVER_HOST_H_
#define SERVER_COMMON_SERVER_HOST_H_

#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "server/common/server_limits.h"
#include "server/engine/engine.h"
#include "server/health/health_service.h"

namespace server {

struct ServerHostOptions {
  engine::EngineOptions engine;
  ServerLimits limits;
  bool reflection = false;
  // Extra gRPC channel arguments, applied after the limits (so they can
  // override them): name -> integer value, or a string if not an integer.
  std::vector<std::pair<std::string, std::string>> channel_args;
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

  // Starts serving on `listen_address`, then marks the server ("") and each
  // of `service_names` SERVING. Returns the bound port.
  absl::StatusOr<int> Start(const std::string& listen_address,
                            const std::vector<std::string>& service_names);

  // 1. health NOT_SERVING; 2..5. Engine::Shutdown. Idempotent.
  void Shutdown();

 private:
  ServerHostOptions options_;
  // Declared before the engine: the services must outlive its server.
  HealthService health_;
  engine::Engine engine_;
};

}  // namespace server

#endif  // SERVER_COMMON_SERVER_HOST_H_
