#include "server/inventory/inventory_service.h"

#include <utility>

#include "absl/container/flat_hash_set.h"
#include "absl/strings/str_cat.h"
#include "domain/inventory/limits.h"
#include "domain/inventory/product_id.h"
#include "server/inventory/availability_watch.h"

namespace server::inventory {

// The types this file translates between, from other layers.
using domain::inventory::kMaxBatchIds;
using domain::inventory::kMaxOrderLines;
using domain::inventory::kMaxWatchIds;
using domain::inventory::OrderLine;
using domain::inventory::ValidateProductId;
using ::inventory::StockLine;

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

void SetAvailability(ProductAvailability& out, const std::string& product_id,
                     Availability availability) {
  out.set_product_id(product_id);
  out.set_is_available(availability.is_available);
  out.set_quantity(availability.quantity);
}

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
void InventoryGrpcService::FinishWithRemaining(
    engine::UnaryResponder<Response> responder,
    const absl::StatusOr<std::vector<ProductStock>>& remaining) {
  if (!remaining.ok()) {
    responder.Finish(remaining.status());
    return;
  }
  auto* out = responder.response().mutable_remaining();
  out->Reserve(static_cast<int>(remaining->size()));
  for (const ProductStock& stock : *remaining) {
    SetAvailability(*out->Add(), stock.product_id, stock.availability);
  }
  FinishWhenDurable(std::move(responder));
}

void InventoryGrpcService::ReserveStock(engine::UnaryResponder<ReserveStockResponse> responder,
                                        const ReserveStockRequest& request) {
  // Checked before copying the lines: the store would refuse them anyway.
  if (request.lines_size() > static_cast<int>(kMaxOrderLines)) {
    responder.Finish(absl::InvalidArgumentError(
        absl::StrCat("order has ", request.lines_size(), " lines; the limit is ", kMaxOrderLines)));
    return;
  }
  std::vector<OrderLine> lines;
  lines.reserve(request.lines_size());
  for (const StockLine& line : request.lines()) {
    lines.push_back({line.product_id(), line.quantity()});
  }
  // A replayed order is answered only once its original is durable too:
  // waiting for everything appended so far covers it.
  FinishWithRemaining(std::move(responder), store_.Reserve(request.order_id(), lines));
}

void InventoryGrpcService::ReleaseReservation(
    engine::UnaryResponder<ReleaseReservationResponse> responder,
    const ReleaseReservationRequest& request) {
  FinishWithRemaining(std::move(responder), store_.Release(request.order_id()));
}

void InventoryGrpcService::SetStock(engine::UnaryResponder<SetStockResponse> responder,
                                    const SetStockRequest& request) {
  if (options_.authorize_admin) {
    if (absl::Status allowed = options_.authorize_admin(responder.context()); !allowed.ok()) {
      responder.Finish(allowed);
      return;
    }
  }
  if (absl::Status set = store_.Set(request.product_id(), request.quantity()); !set.ok()) {
    responder.Finish(set);
    return;
  }
  SetAvailability(*responder.response().mutable_availability(), request.product_id(),
                  {request.quantity() > 0, request.quantity()});
  FinishWhenDurable(std::move(responder));
}

absl::StatusOr<std::unique_ptr<engine::StreamSource<ProductAvailability>>>
InventoryGrpcService::Watch(engine::StreamWaker waker,
                            const WatchProductAvailabilityRequest& request) {
  if (request.product_ids_size() == 0) {
    return absl::InvalidArgumentError("product_ids is empty: name at least one product to watch");
  }
  if (request.product_ids_size() > kMaxWatchIds) {
    return absl::InvalidArgumentError(absl::StrCat("a watch may name at most ", kMaxWatchIds,
                                                   " product ids, got ",
                                                   request.product_ids_size()));
  }
  std::vector<std::string> ids;
  ids.reserve(request.product_ids_size());
  absl::flat_hash_set<absl::string_view> seen;
  for (int i = 0; i < request.product_ids_size(); ++i) {
    const std::string& id = request.product_ids(i);
    if (absl::Status valid = ValidateProductId(id); !valid.ok()) {
      return absl::InvalidArgumentError(absl::StrCat("product_ids[", i, "]: ", valid.message()));
    }
    if (seen.insert(id).second) ids.push_back(id);  // a repeated id is watched once
  }
  return std::make_unique<AvailabilityWatch>(store_, std::move(ids), waker);
}

void InventoryGrpcService::GetProductAvailability(
    engine::UnaryResponder<GetProductAvailabilityResponse> responder,
    const GetProductAvailabilityRequest& request) {
  if (absl::Status valid = ValidateProductId(request.product_id()); !valid.ok()) {
    responder.Finish(valid);
    return;
  }
  Availability availability = store_.Get(request.product_id());
  responder.response().set_is_available(availability.is_available);
  responder.response().set_quantity(availability.quantity);
  responder.Finish();
}

void InventoryGrpcService::BatchGetProductAvailability(
    engine::UnaryResponder<BatchGetProductAvailabilityResponse> responder,
    const BatchGetProductAvailabilityRequest& request) {
  if (request.product_ids_size() > kMaxBatchIds) {
    responder.Finish(
        absl::InvalidArgumentError(absl::StrCat("a batch may hold at most ", kMaxBatchIds,
                                                " product ids, got ", request.product_ids_size())));
    return;
  }
  for (int i = 0; i < request.product_ids_size(); ++i) {
    if (absl::Status valid = ValidateProductId(request.product_ids(i)); !valid.ok()) {
      responder.Finish(
          absl::InvalidArgumentError(absl::StrCat("product_ids[", i, "]: ", valid.message())));
      return;
    }
  }
  auto* items = responder.response().mutable_items();
  items->Reserve(request.product_ids_size());
  for (const std::string& id : request.product_ids()) {
    SetAvailability(*items->Add(), id, store_.Get(id));
  }
  responder.Finish();
}

}  // namespace server::inventory
