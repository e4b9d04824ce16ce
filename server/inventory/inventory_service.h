// The InventoryService's RPCs on the engine: each method's request handling
// (validation, the domain store, the wire response) is in
// inventory_requests.h; this adds the call around it (the caller's identity,
// the asynchronous answer of the store that decides mutations, the Watch
// stream). No threading or tags here.
#ifndef SERVER_INVENTORY_INVENTORY_SERVICE_H_
#define SERVER_INVENTORY_INVENTORY_SERVICE_H_

#include <functional>

#include "absl/status/status.h"
#include "domain/inventory/embedded_stock_mutations.h"
#include "domain/inventory/inventory_store.h"
#include "domain/inventory/stock_journal.h"
#include "domain/inventory/stock_mutations.h"
#include "engine/engine.h"
#include "inventory.grpc.pb.h"

namespace server::inventory {

// The types this file translates between, from other layers.
using domain::inventory::InventoryStore;
using domain::inventory::ProductStock;
using domain::inventory::StockJournal;
using domain::inventory::StockMutations;
using ::inventory::BatchGetProductAvailabilityRequest;
using ::inventory::BatchGetProductAvailabilityResponse;
using ::inventory::GetProductAvailabilityRequest;
using ::inventory::GetProductAvailabilityResponse;
using ::inventory::InventoryService;
using ::inventory::ProductAvailability;
using ::inventory::ReleaseReservationRequest;
using ::inventory::ReleaseReservationResponse;
using ::inventory::ReserveStockRequest;
using ::inventory::ReserveStockResponse;
using ::inventory::SetStockRequest;
using ::inventory::SetStockResponse;
using ::inventory::WatchProductAvailabilityRequest;

struct InventoryServiceOptions {
  // Who decides every mutation (ReserveStock, ReleaseReservation, SetStock).
  // Null: the service's own store, through an EmbeddedStockMutations over
  // `journal`. Set (e.g. PostgreSQL, storage/postgres/): the store passed to
  // the service is then only the cache reads are served from, and `journal`
  // is unused. Must outlive the service.
  StockMutations* mutations = nullptr;
  // Without `mutations`: changes are acknowledged only once this journal
  // says they are durable. Null: in memory, acknowledged at once. Must
  // outlive the service.
  StockJournal* journal = nullptr;
  // WatchProductAvailability requests posted ahead per completion queue;
  // each matched one is replaced at once (max_watch_streams bounds the
  // streams open).
  int watch_streams_per_queue = 32;
  // The most WatchProductAvailability streams open at once (all queues);
  // past it a Watch is answered RESOURCE_EXHAUSTED at once.
  int max_watch_streams = 1024;
};

class InventoryGrpcService {
 public:
  // `store` must outlive this object. Reads are answered from it; mutations
  // go to options.mutations, or to `store` itself (see InventoryServiceOptions).
  explicit InventoryGrpcService(InventoryStore& store, InventoryServiceOptions options = {})
      : store_(store),
        options_(std::move(options)),
        embedded_(store, options_.journal),
        mutations_(options_.mutations != nullptr ? *options_.mutations : embedded_) {}
  InventoryGrpcService(const InventoryGrpcService&) = delete;
  InventoryGrpcService& operator=(const InventoryGrpcService&) = delete;

  // Adds every method to `engine`; call before Engine::Start. This object
  // must outlive the engine's server.
  void Register(engine::Engine& engine);

  static constexpr const char* kServiceName = "inventory.InventoryService";

 private:
  void GetProductAvailability(engine::UnaryResponder<GetProductAvailabilityResponse> responder,
                              const GetProductAvailabilityRequest& request);
  void BatchGetProductAvailability(
      engine::UnaryResponder<BatchGetProductAvailabilityResponse> responder,
      const BatchGetProductAvailabilityRequest& request);
  void ReserveStock(engine::UnaryResponder<ReserveStockResponse> responder,
                    const ReserveStockRequest& request);
  void ReleaseReservation(engine::UnaryResponder<ReleaseReservationResponse> responder,
                          const ReleaseReservationRequest& request);
  void SetStock(engine::UnaryResponder<SetStockResponse> responder, const SetStockRequest& request);
  absl::StatusOr<std::unique_ptr<engine::StreamSource<ProductAvailability>>> Watch(
      engine::StreamWaker waker, const WatchProductAvailabilityRequest& request);

  InventoryStore& store_;
  const InventoryServiceOptions options_;
  domain::inventory::EmbeddedStockMutations embedded_;  // used without options_.mutations
  StockMutations& mutations_;
};

}  // namespace server::inventory

#endif  // SERVER_INVENTORY_INVENTORY_SERVICE_H_
