// grpc.health.v1.Health (Check and Watch) served on the engine's own queues.
// gRPC's built-in health service is callback-based in 1.51, and a callback
// service inside a completion-queue server costs throughput, hence this one.
#ifndef SERVER_HEALTH_HEALTH_SERVICE_H_
#define SERVER_HEALTH_HEALTH_SERVICE_H_

#include <string>

#include "absl/container/flat_hash_map.h"
#include "absl/container/flat_hash_set.h"
#include "absl/synchronization/mutex.h"
#include "engine/engine.h"
#include "grpc/health/v1/health.grpc.pb.h"

namespace server::health {

using ServingStatus = grpc::health::v1::HealthCheckResponse::ServingStatus;

class HealthService {
 public:
  // Health is called rarely, and every posted request costs every completion
  // a little with Debian's gRPC (see engine.h), so it posts few. Each open
  // Watch holds one slot: at most kWatchStreamsPerQueue watchers per queue
  // at once; more wait inside gRPC until one ends or their deadline passes.
  static constexpr int kCheckRequestsPerQueue = 4;
  static constexpr int kWatchStreamsPerQueue = 16;

  HealthService() = default;
  HealthService(const HealthService&) = delete;
  HealthService& operator=(const HealthService&) = delete;

  // Adds Check and Watch to `engine`; call before Engine::Start. This object
  // must outlive the engine's server.
  void Register(engine::Engine& engine);

  // Sets the status of `service` ("" is the whole server) and notifies its
  // watchers. Thread-safe. After SetAllNotServing() every status stays
  // NOT_SERVING: a late SERVING (from a readiness check still running) is
  // ignored.
  void SetStatus(const std::string& service, ServingStatus status);

  // Marks every known service NOT_SERVING for good: the first step of
  // shutdown, so load balancers stop sending before the server stops
  // accepting.
  void SetAllNotServing();

  class Watch;  // the stream source of one Watch call (health_service.cc)

 private:
  // The status Watch reports: SERVICE_UNKNOWN for services never set.
  ServingStatus CurrentStatus(const std::string& service) const;
  void AddWatch(const std::string& service, Watch* watch);
  void RemoveWatch(const std::string& service, Watch* watch);

  mutable absl::Mutex mu_;
  absl::flat_hash_map<std::string, ServingStatus> statuses_ ABSL_GUARDED_BY(mu_);
  bool shutting_down_ ABSL_GUARDED_BY(mu_) = false;
  absl::flat_hash_map<std::string, absl::flat_hash_set<Watch*>> watches_ ABSL_GUARDED_BY(mu_);
};

}  // namespace server::health

#endif  // SERVER_HEALTH_HEALTH_SERVICE_H_
