// The InventoryService's RPCs: a thin layer that validates wire requests,
// asks the domain store and writes wire responses. No threading or tags here.
#ifndef SERVER_INVENTORY_INVENTORY_SERVICE_H_
#define SERVER_INVENTORY_INVENTORY_SERVICE_H_

#include "domain/inventory/inventory_store.h"
#include "inventory.grpc.pb.h"
#include "server/engine/engine.h"

namespace inventory {

inline constexpr int kMaxBatchIds = 1000;

class InventoryGrpcService {
 public:
  // `store` must outlive this object.
  explicit InventoryGrpcService(InventoryStore& store) : store_(store) {}
  InventoryGrpcService(const InventoryGrpcService&) = delete;
  InventoryGrpcService& operator=(const InventoryGrpcService&) = delete;

  // Adds every method to `engine`; call before Engine::Start. This object
  // must outlive the engine's server.
  void Register(engine::Engine& engine);

  static constexpr const char* kServiceName = "inventory.InventoryService";

 private:
  using RawService = InventoryService::WithRawMethod_GetProductAvailability<
      InventoryService::WithRawMethod_BatchGetProductAvailability<InventoryService::Service>>;

  void GetProductAvailability(engine::UnaryResponder<GetProductAvailabilityResponse> responder,
                              const GetProductAvailabilityRequest& request);
  void BatchGetProductAvailability(
      engine::UnaryResponder<BatchGetProductAvailabilityResponse> responder,
      const BatchGetProductAvailabilityRequest& request);

  InventoryStore& store_;
  RawService raw_service_;
};

}  // namespace inventory

#endif  // SERVER_INVENTORY_INVENTORY_SERVICE_H_
