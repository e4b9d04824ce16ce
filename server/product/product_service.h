// The ProductService's RPCs: catalog data joined with live stock from the
// InventoryService. A thin layer: the catalog and order rules live in
// domain/product, what a request must pass before the inventory is asked in
// product_requests.h, the look-ups go through the batching client, and no
// handler ever waits: each finishes its call from the inventory's answer.
#ifndef SERVER_PRODUCT_PRODUCT_SERVICE_H_
#define SERVER_PRODUCT_PRODUCT_SERVICE_H_

#include <memory>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "client/batching_inventory_client.h"
#include "domain/product/product_catalog.h"
#include "engine/engine.h"
#include "product.grpc.pb.h"
#include "server/product/inventory_reserver.h"
#include "server/product/product_requests.h"

namespace server::product {

// The types this file translates between, from other layers.
using domain::product::ProductCatalog;
using ::inventory::InventoryService;
using ::product::GetProductRequest;
using ::product::GetProductResponse;
using ::product::PlaceOrderRequest;
using ::product::PlaceOrderResponse;
using ::product::ProductService;

struct ProductServiceOptions {
  // The longest any call to the InventoryService may take (look-ups and
  // ReserveStock), also bounded by the client's own deadline. An inventory
  // that does not answer in time makes the call UNAVAILABLE.
  absl::Duration inventory_deadline = absl::Milliseconds(500);
  // Requests posted ahead per completion queue for each method. Both methods
  // hold their call (and its slot) until the inventory has answered; each
  // matched request is replaced at once from the engine's slot pool, so this
  // is how many arriving calls find a request ready on a queue, not a limit
  // on calls in flight. It was sized when it was that limit: by
  // Little's law, 100,000 calls/s that take 2 ms from arrival to answer
  // under load (waiting for a batch, then its round trip) keep 200 in
  // flight, and GetProduct at 8 x 64 streams went from 87,735 to 111,377
  // req/s going from 64 to 256 (docs/performance.md; not measured again
  // since the pool).
  int calls_per_queue = 256;
  // The most calls of each method (GetProduct, PlaceOrder) in flight at
  // once, waiting for the inventory included; past it a call is answered
  // RESOURCE_EXHAUSTED at once instead of waiting. This is the bound that
  // sheds load when the inventory hangs: every call holds its slot for up
  // to inventory_deadline, so at the default 500 ms, 4096 per method admit
  // about 8,000 calls/s of each to a hung inventory. Both methods together
  // (8192) stay within the engine's max_call_slots (16384), so no call
  // waits inside gRPC uncounted. 0 = no limit of its own.
  int max_calls_in_flight = 4096;
};

class ProductGrpcService {
 public:
  // All three must outlive this object.
  ProductGrpcService(const ProductCatalog& catalog, client::BatchingInventoryClient& lookups,
                     InventoryReserver& reserver, ProductServiceOptions options = {});
  ProductGrpcService(const ProductGrpcService&) = delete;
  ProductGrpcService& operator=(const ProductGrpcService&) = delete;

  // Adds both methods to `engine`; call before Engine::Start.
  void Register(engine::Engine& engine);

  static constexpr const char* kServiceName = "product.ProductService";

 private:
  class PlaceOrderCall;

  void GetProduct(engine::UnaryResponder<GetProductResponse> responder,
                  const GetProductRequest& request);
  void PlaceOrder(engine::UnaryResponder<PlaceOrderResponse> responder,
                  const PlaceOrderRequest& request);
  // The earlier of the caller's deadline and now + inventory_deadline.
  absl::Time InventoryDeadline(absl::Time caller_deadline) const;

  const ProductCatalog& catalog_;
  client::BatchingInventoryClient& lookups_;
  InventoryReserver& reserver_;
  const ProductServiceOptions options_;
};

// The look-up client as product_server runs it. With `lookup_threads` 0 it
// has no thread of its own: it runs on `engine`'s queues, one lane per
// queue, and the engine shuts it down before those queues close
// (Engine::RunBeforeQueuesClose), so it must outlive the engine's
// Shutdown(). With N > 0 it has N threads of its own (`options.threads`) and
// its owner shuts it down after the engine. INVALID_ARGUMENT for a negative
// `lookup_threads`, options the client refuses, or an engine whose options
// made no queues.
absl::StatusOr<std::unique_ptr<client::BatchingInventoryClient>> CreateLookupClient(
    client::BatchingInventoryClientOptions options, int lookup_threads, engine::Engine& engine);

}  // namespace server::product

#endif  // SERVER_PRODUCT_PRODUCT_SERVICE_H_
