#include "server/product/product_service.h"

#include <memory>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "domain/product/order_pricing.h"

namespace server::product {

// The types this file translates between, from other layers.
using domain::product::PricedOrder;
using domain::product::ProductInfo;

absl::StatusOr<std::unique_ptr<client::BatchingInventoryClient>> CreateLookupClient(
    client::BatchingInventoryClientOptions options, int lookup_threads, engine::Engine& engine) {
  if (lookup_threads < 0) {
    return absl::InvalidArgumentError(
        absl::StrCat("lookup_threads must be >= 0, got ", lookup_threads));
  }
  if (lookup_threads > 0) {
    options.threads = lookup_threads;
    return client::BatchingInventoryClient::Create(std::move(options));
  }
  options.completion_queues = engine.completion_queues();
  if (options.completion_queues.empty()) return engine::ValidateEngineOptions(engine.options());
  auto lookups = client::BatchingInventoryClient::Create(std::move(options));
  if (!lookups.ok()) return lookups;
  // Ends the look-ups while the queue threads still deliver their replies.
  engine.RunBeforeQueuesClose([client = lookups->get()] { client->Shutdown(); });
  return lookups;
}

ProductGrpcService::ProductGrpcService(const ProductCatalog& catalog,
                                       client::BatchingInventoryClient& lookups,
                                       InventoryReserver& reserver, ProductServiceOptions options)
    : catalog_(catalog), lookups_(lookups), reserver_(reserver), options_(options) {}

void ProductGrpcService::Register(engine::Engine& engine) {
  // Both answer only once the inventory has, and never need IsCancelled().
  const engine::MethodOptions answers_later{.requests_posted = options_.calls_per_queue,
                                            .max_in_flight = options_.max_calls_in_flight,
                                            .watch_cancellation = false};
  using Service = ProductService::AsyncService;
  engine.AddService<ProductService>()
      .Unary(
          &Service::RequestGetProduct,
          [this](auto rpc, const auto& request) { GetProduct(std::move(rpc), request); },
          answers_later)
      .Unary(
          &Service::RequestPlaceOrder,
          [this](auto rpc, const auto& request) { PlaceOrder(std::move(rpc), request); },
          answers_later);
}

absl::Time ProductGrpcService::InventoryDeadline(absl::Time caller_deadline) const {
  return std::min(caller_deadline, absl::Now() + options_.inventory_deadline);
}

void ProductGrpcService::GetProduct(engine::UnaryResponder<GetProductResponse> responder,
                                    const GetProductRequest& request) {
  absl::StatusOr<const ProductInfo*> found = FindRequestedProduct(catalog_, request);
  if (!found.ok()) {
    responder.Finish(found.status());
    return;
  }
  const ProductInfo* info = *found;
  const absl::Time deadline = InventoryDeadline(responder.deadline());
  lookups_.Lookup(
      info->product_id, deadline,
      [responder = std::move(responder), info](absl::StatusOr<client::LookupResult> stock) mutable {
        if (!stock.ok()) {
          responder.Finish(InventoryFailure(stock.status(), responder.deadline()));
          return;
        }
        GetProductResponse& response = responder.response();
        response.set_product_id(info->product_id);
        response.set_name(info->name);
        response.set_price_cents(info->price_cents);
        response.set_is_available(stock->is_available);
        response.set_quantity(stock->quantity);
        responder.Finish();
      });
}

// One PlaceOrder in progress: the availability look-ups of its lines, joined,
// then ReserveStock. Owned by shared_ptrs held by its pending callbacks.
class ProductGrpcService::PlaceOrderCall
    : public std::enable_shared_from_this<ProductGrpcService::PlaceOrderCall> {
 public:
  PlaceOrderCall(ProductGrpcService& service, engine::UnaryResponder<PlaceOrderResponse> responder,
                 const PlaceOrderRequest& request, std::int64_t total_cents, absl::Time deadline)
      : service_(service),
        responder_(std::move(responder)),
        reserve_request_(ReserveStockRequestFor(request)),
        deadline_(deadline),
        pending_lookups_(request.lines_size()) {
    PlaceOrderResponse& response = responder_.response();
    response.set_order_id(request.order_id());
    response.set_total_cents(total_cents);
    *response.mutable_lines() = request.lines();
  }

  // Checks every line's availability through the batching client (one
  // look-up per line, merged with other callers' into few RPCs).
  void Start() {
    for (int i = 0; i < reserve_request_.lines_size(); ++i) {
      service_.lookups_.Lookup(
          reserve_request_.lines(i).product_id(), deadline_,
          [self = shared_from_this()](absl::StatusOr<client::LookupResult> stock) {
            self->OnLookup(std::move(stock));
          });
    }
  }

 private:
  void OnLookup(absl::StatusOr<client::LookupResult> stock) {
    absl::Status failure;
    {
      absl::MutexLock lock(&mu_);
      if (!stock.ok() && failure_.ok()) {
        failure_ = InventoryFailure(stock.status(), responder_.deadline());
      }
      if (--pending_lookups_ > 0) return;
      failure = failure_;
    }
    // Every look-up is back; only this thread gets here.
    if (!failure.ok()) {
      responder_.Finish(failure);
      return;
    }
    // ReserveStock decides even when a line looks short here: a retry of an
    // order that took the last units must find its reservation, not "short",
    // and only ReserveStock (atomic, idempotent per order_id) can tell the
    // two apart. The look-ups are a snapshot; the reservation is the truth.
    Reserve();
  }

  void Reserve() {
    service_.reserver_.Reserve(
        reserve_request_, deadline_,
        [self = shared_from_this()](absl::StatusOr<::inventory::ReserveStockResponse> reserved) {
          self->OnReserved(std::move(reserved));
        });
  }

  void OnReserved(absl::StatusOr<::inventory::ReserveStockResponse> reserved) {
    if (reserved.ok()) {
      responder_.Finish();
      return;
    }
    responder_.Finish(PlaceOrderReserveFailure(reserved.status(), responder_.deadline()));
  }

  ProductGrpcService& service_;
  engine::UnaryResponder<PlaceOrderResponse> responder_;
  ::inventory::ReserveStockRequest reserve_request_;
  const absl::Time deadline_;
  absl::Mutex mu_;
  int pending_lookups_ ABSL_GUARDED_BY(mu_);
  absl::Status failure_ ABSL_GUARDED_BY(mu_);  // the first look-up failure
};

void ProductGrpcService::PlaceOrder(engine::UnaryResponder<PlaceOrderResponse> responder,
                                    const PlaceOrderRequest& request) {
  absl::StatusOr<PricedOrder> priced = PricePlaceOrder(catalog_, request);
  if (!priced.ok()) {
    responder.Finish(priced.status());
    return;
  }
  const absl::Time deadline = InventoryDeadline(responder.deadline());
  auto call = std::make_shared<PlaceOrderCall>(*this, std::move(responder), request,
                                               priced->total_cents, deadline);
  call->Start();
}

}  // namespace server::product
