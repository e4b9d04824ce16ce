#include "server/inventory/inventory_service.h"

#include "absl/strings/str_cat.h"
#include "domain/inventory/product_id.h"

namespace inventory {

namespace {

// Both look-ups answer from memory before returning, so they never need to
// learn about a cancellation, and skip the per-call done notification.
constexpr engine::MethodOptions kAnswersImmediately{.requests_posted = 0,
                                                    .watch_cancellation = false};

}  // namespace

void InventoryGrpcService::Register(engine::Engine& engine) {
  engine.AddUnaryMethod<GetProductAvailabilityRequest, GetProductAvailabilityResponse>(
      &raw_service_, &RawService::RequestGetProductAvailability,
      "inventory.InventoryService/GetProductAvailability",
      [this](auto responder, const auto& request) {
        GetProductAvailability(std::move(responder), request);
      },
      kAnswersImmediately);
  engine.AddUnaryMethod<BatchGetProductAvailabilityRequest, BatchGetProductAvailabilityResponse>(
      &raw_service_, &RawService::RequestBatchGetProductAvailability,
      "inventory.InventoryService/BatchGetProductAvailability",
      [this](auto responder, const auto& request) {
        BatchGetProductAvailability(std::move(responder), request);
      },
      kAnswersImmediately);
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
    Availability availability = store_.Get(id);
    ProductAvailability* item = items->Add();
    item->set_product_id(id);
    item->set_is_available(availability.is_available);
    item->set_quantity(availability.quantity);
  }
  responder.Finish();
}

}  // namespace inventory
