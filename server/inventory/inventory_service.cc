#include "server/inventory/inventory_service.h"

#include <utility>

#include "server/inventory/availability_watch.h"
#include "server/inventory/inventory_requests.h"

namespace server::inventory {

namespace {

// Both look-ups answer from memory before returning, so they never need to
// learn about a cancellation, and skip the per-call done notification.
constexpr engine::MethodOptions kAnswersImmediately{.requests_posted = 0,
                                                    .watch_cancellation = false};
// Mutations answer once durable, but never need to stop early: a change is
// made whether or not the client is still waiting for its answer.
constexpr engine::MethodOptions kMutation{.requests_posted = 0, .watch_cancellation = false};
// Admin calls are rare: few posted requests keep the outstanding tags down.
constexpr engine::MethodOptions kAdmin{.requests_posted = 4, .watch_cancellation = false};

}  // namespace

void InventoryGrpcService::Register(engine::Engine& engine) {
  using Service = InventoryService::AsyncService;
  engine.AddService<InventoryService>()
      .Unary(
          &Service::RequestGetProductAvailability,
          [this](auto rpc, const auto& request) {
            GetProductAvailability(std::move(rpc), request);
          },
          kAnswersImmediately)
      .Unary(
          &Service::RequestBatchGetProductAvailability,
          [this](auto rpc, const auto& request) {
            BatchGetProductAvailability(std::move(rpc), request);
          },
          kAnswersImmediately)
      .Unary(
          &Service::RequestReserveStock,
          [this](auto rpc, const auto& request) { ReserveStock(std::move(rpc), request); },
          kMutation)
      .Unary(
          &Service::RequestReleaseReservation,
          [this](auto rpc, const auto& request) { ReleaseReservation(std::move(rpc), request); },
          kMutation)
      .Unary(
          &Service::RequestSetStock,
          [this](auto rpc, const auto& request) { SetStock(std::move(rpc), request); }, kAdmin)
      .ServerStream(
          &Service::RequestWatchProductAvailability,
          [this](engine::StreamWaker waker, const WatchProductAvailabilityRequest& request) {
            return Watch(waker, request);
          },
          {.requests_posted = options_.watch_streams_per_queue,
           .max_in_flight = options_.max_watch_streams});
}

void InventoryGrpcService::ReserveStock(engine::UnaryResponder<ReserveStockResponse> responder,
                                        const ReserveStockRequest& request) {
  absl::StatusOr<std::vector<domain::inventory::OrderLine>> lines = OrderLinesOf(request);
  if (!lines.ok()) {
    responder.Finish(lines.status());
    return;
  }
  // The principal is the ordering identity the engine's authorizer let in
  // (--order_identities), recorded as the order's owner; empty when orders
  // are not checked.
  std::string owner = responder.principal();
  const absl::Time deadline = responder.deadline();
  mutations_.Reserve(
      request.order_id(), *std::move(lines), std::move(owner), deadline,
      [responder = std::move(responder)](domain::inventory::StockResult result) mutable {
        responder.Finish(FillRemaining(result, *responder.response().mutable_remaining()));
      });
}

void InventoryGrpcService::ReleaseReservation(
    engine::UnaryResponder<ReleaseReservationResponse> responder,
    const ReleaseReservationRequest& request) {
  std::string caller = responder.principal();
  const absl::Time deadline = responder.deadline();
  mutations_.Release(
      request.order_id(), std::move(caller), deadline,
      [responder = std::move(responder)](domain::inventory::StockResult result) mutable {
        responder.Finish(FillRemaining(result, *responder.response().mutable_remaining()));
      });
}

void InventoryGrpcService::SetStock(engine::UnaryResponder<SetStockResponse> responder,
                                    const SetStockRequest& request) {
  const absl::Time deadline = responder.deadline();
  mutations_.Set(request.product_id(), request.quantity(), deadline,
                 [responder = std::move(responder), id = request.product_id(),
                  quantity = request.quantity()](absl::Status set) mutable {
                   if (set.ok()) {
                     ProductAvailability& out = *responder.response().mutable_availability();
                     out.set_product_id(id);
                     out.set_is_available(quantity > 0);
                     out.set_quantity(quantity);
                   }
                   responder.Finish(set);
                 });
}

absl::StatusOr<std::unique_ptr<engine::StreamSource<ProductAvailability>>>
InventoryGrpcService::Watch(engine::StreamWaker waker,
                            const WatchProductAvailabilityRequest& request) {
  absl::StatusOr<std::vector<std::string>> ids = WatchedProductIds(request);
  if (!ids.ok()) return ids.status();
  return std::make_unique<AvailabilityWatch>(store_, *std::move(ids), waker);
}

void InventoryGrpcService::GetProductAvailability(
    engine::UnaryResponder<GetProductAvailabilityResponse> responder,
    const GetProductAvailabilityRequest& request) {
  absl::Status answered = AnswerGetProductAvailability(store_, request, responder.response());
  responder.Finish(answered);
}

void InventoryGrpcService::BatchGetProductAvailability(
    engine::UnaryResponder<BatchGetProductAvailabilityResponse> responder,
    const BatchGetProductAvailabilityRequest& request) {
  absl::Status answered = AnswerBatchGetProductAvailability(store_, request, responder.response());
  responder.Finish(answered);
}

}  // namespace server::inventory
