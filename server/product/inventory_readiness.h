// Readiness that follows the inventory. product_server can answer only what
// the InventoryService answers, so its readiness, the health status of
// product.ProductService, turns NOT_SERVING when the inventory's own health
// Check fails kFailuresToUnready times in a row (down, hung past the
// timeout, or not SERVING itself), and SERVING again at the first success.
// Liveness, the status of "" (the whole server), does not follow it: a
// product_server whose inventory is down is alive, answers UNAVAILABLE at
// once, and must not be restarted for it.
#ifndef SERVER_PRODUCT_INVENTORY_READINESS_H_
#define SERVER_PRODUCT_INVENTORY_READINESS_H_

#include <grpcpp/grpcpp.h>

#include <atomic>
#include <memory>
#include <string>
#include <thread>

#include "absl/synchronization/notification.h"
#include "absl/time/time.h"
#include "server/health/health_service.h"

namespace server::product {

struct InventoryReadinessOptions {
  // The InventoryService, as --inventory names it.
  std::string target;
  // The health status it asks for (the inventory serves both "" and this).
  std::string inventory_service = "inventory.InventoryService";
  // Time between checks. Positive.
  absl::Duration interval = absl::Seconds(1);
  // A check not answered within this fails. Positive.
  absl::Duration timeout = absl::Milliseconds(500);
  // Null: plaintext. With TLS, ssl_target_name_override (if not empty) is
  // the name the inventory's certificate must carry.
  std::shared_ptr<grpc::ChannelCredentials> credentials;
  std::string ssl_target_name_override;
};

class InventoryReadiness {
 public:
  // Consecutive failed checks that make the service NOT_SERVING: one lost
  // check (a connection being replaced) does not flap readiness.
  static constexpr int kFailuresToUnready = 2;

  // Checks at once, then every `interval`, on a thread of its own, setting
  // the status of `service` in `health` (which must outlive this).
  InventoryReadiness(InventoryReadinessOptions options, server::health::HealthService& health,
                     std::string service);
  InventoryReadiness(const InventoryReadiness&) = delete;
  InventoryReadiness& operator=(const InventoryReadiness&) = delete;
  // Stop().
  ~InventoryReadiness();

  // Ends the checks and waits for the thread (at most one check's timeout).
  // Idempotent. The last status set stays.
  void Stop();

  // Whether the last status set was SERVING.
  bool ready() const { return ready_.load(std::memory_order_acquire); }
  // Checks completed so far, for tests and logs.
  int checks() const { return checks_.load(std::memory_order_acquire); }

 private:
  void Run();
  // One Health/Check of the inventory: true if it answered SERVING in time.
  bool CheckOnce();

  const InventoryReadinessOptions options_;
  server::health::HealthService& health_;
  const std::string service_;
  std::unique_ptr<grpc::health::v1::Health::Stub> stub_;  // holds its channel
  std::atomic<bool> ready_{true};
  std::atomic<int> checks_{0};
  absl::Notification stop_;
  std::thread thread_;
};

}  // namespace server::product

#endif  // SERVER_PRODUCT_INVENTORY_READINESS_H_
