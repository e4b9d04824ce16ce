// Calls InventoryService.ReserveStock for the ProductService, asynchronously:
// the caller's thread (a completion-queue thread) never waits for it.
#ifndef SERVER_PRODUCT_INVENTORY_RESERVER_H_
#define SERVER_PRODUCT_INVENTORY_RESERVER_H_

#include <grpcpp/grpcpp.h>

#include <memory>
#include <string>

#include "absl/container/flat_hash_set.h"
#include "absl/functional/any_invocable.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "engine/rpc_observer.h"
#include "inventory.grpc.pb.h"

namespace server::product {

struct InventoryReserverOptions {
  // gRPC target, e.g. "dns:///inventory:50051"; every address it resolves to
  // is used (round_robin).
  std::string target;
  // Null: plaintext. With TLS, ssl_target_name_override (if not empty) is
  // the name the inventory's certificate must carry.
  std::shared_ptr<grpc::ChannelCredentials> credentials;
  std::string ssl_target_name_override;
  // Attempts for an UNAVAILABLE ReserveStock (gRPC's retryPolicy, 1..5).
  // Safe because ReserveStock is idempotent per order_id.
  int retry_max_attempts = 3;
  // Told of every ReserveStock call (grpc_client_* metrics); null: none.
  // Must outlive the reserver.
  engine::RpcObserver* observer = nullptr;
};

class InventoryReserver {
 public:
  using Callback = absl::AnyInvocable<void(absl::StatusOr<::inventory::ReserveStockResponse>) &&>;

  explicit InventoryReserver(InventoryReserverOptions options);
  // Cancels the calls still in flight and waits until each has run its
  // callback (with CANCELLED).
  ~InventoryReserver();

  // Sends `request` with `deadline`; `done` runs exactly once, on a gRPC
  // thread, with the response or the RPC's status. Never blocks.
  void Reserve(const ::inventory::ReserveStockRequest& request, absl::Time deadline, Callback done);

  // The service config each channel gets: round_robin and the retryPolicy.
  static std::string ServiceConfigJson(int retry_max_attempts);

 private:
  struct Call;
  void OnDone(Call* call, const grpc::Status& status);

  std::shared_ptr<grpc::Channel> channel_;
  absl::Mutex mu_;
  absl::flat_hash_set<Call*> in_flight_ ABSL_GUARDED_BY(mu_);
  absl::CondVar all_done_;
  std::unique_ptr<::inventory::InventoryService::Stub> stub_;
  engine::MethodObserver* observer_ = nullptr;
};

}  // namespace server::product

#endif  // SERVER_PRODUCT_INVENTORY_RESERVER_H_
