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

template <class Response>
void InventoryGrpcService::FinishWhenDurable(engine::UnaryResponder<Response> responder) {
  if (options_.journal == nullptr) {
    responder.Finish();
    return;
  }
  options_.journal->WhenDurable([responder = std::move(responder)](absl::Status status) mutable {
    responder.Finish(status);
  });
}

template <class Response>
void InventoryGrpcService::FinishMutation(engine::UnaryResponder<Response> responder,
                                          const absl::Status& applied) {
  if (!applied.ok()) {
    responder.Finish(applied);
    return;
  }
  FinishWhenDurable(std::move(responder));
}

void InventoryGrpcService::ReserveStock(engine::UnaryResponder<ReserveStockResponse> responder,
                                        const ReserveStockRequest& request) {
  // A replayed order is answered only once its original is durable too:
  // waiting for everything appended so far covers it.
  // The principal is the ordering identity the engine's authorizer let in
  // (--order_identities), recorded as the order's owner; empty when orders
  // are not checked.
  absl::Status reserved =
      ApplyReserveStock(store_, request, responder.response(), responder.principal());
  FinishMutation(std::move(responder), reserved);
}

void InventoryGrpcService::ReleaseReservation(
    engine::UnaryResponder<ReleaseReservationResponse> responder,
    const ReleaseReservationRequest& request) {
  absl::Status released =
      ApplyReleaseReservation(store_, request, responder.response(), responder.principal());
  FinishMutation(std::move(responder), released);
}

void InventoryGrpcService::SetStock(engine::UnaryResponder<SetStockResponse> responder,
                                    const SetStockRequest& request) {
  absl::Status set = ApplySetStock(store_, request, responder.response());
  FinishMutation(std::move(responder), set);
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
