#include "server/inventory/inventory_requests.h"

#include "absl/container/flat_hash_set.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "domain/inventory/limits.h"
#include "domain/inventory/product_id.h"

namespace server::inventory {

// The types this file translates between, from other layers.
using domain::inventory::Availability;
using domain::inventory::InventoryStore;
using domain::inventory::kMaxBatchIds;
using domain::inventory::kMaxOrderLines;
using domain::inventory::kMaxWatchIds;
using domain::inventory::OrderLine;
using domain::inventory::ProductStock;
using domain::inventory::ValidateProductId;
using ::inventory::BatchGetProductAvailabilityRequest;
using ::inventory::BatchGetProductAvailabilityResponse;
using ::inventory::GetProductAvailabilityRequest;
using ::inventory::GetProductAvailabilityResponse;
using ::inventory::ProductAvailability;
using ::inventory::ReleaseReservationRequest;
using ::inventory::ReleaseReservationResponse;
using ::inventory::ReserveStockRequest;
using ::inventory::ReserveStockResponse;
using ::inventory::SetStockRequest;
using ::inventory::SetStockResponse;
using ::inventory::StockLine;
using ::inventory::WatchProductAvailabilityRequest;

namespace {

void SetAvailability(ProductAvailability& out, const std::string& product_id,
                     Availability availability) {
  out.set_product_id(product_id);
  out.set_is_available(availability.is_available);
  out.set_quantity(availability.quantity);
}

}  // namespace

absl::Status FillRemaining(const absl::StatusOr<std::vector<ProductStock>>& remaining,
                           google::protobuf::RepeatedPtrField<ProductAvailability>& out) {
  if (!remaining.ok()) return remaining.status();
  out.Reserve(static_cast<int>(remaining->size()));
  for (const ProductStock& stock : *remaining) {
    SetAvailability(*out.Add(), stock.product_id, stock.availability);
  }
  return absl::OkStatus();
}

absl::StatusOr<std::vector<OrderLine>> OrderLinesOf(const ReserveStockRequest& request) {
  // Checked before copying the lines: the store would refuse them anyway.
  if (request.lines_size() > static_cast<int>(kMaxOrderLines)) {
    return absl::InvalidArgumentError(
        absl::StrCat("order has ", request.lines_size(), " lines; the limit is ", kMaxOrderLines));
  }
  std::vector<OrderLine> lines;
  lines.reserve(request.lines_size());
  for (const StockLine& line : request.lines()) {
    lines.push_back({line.product_id(), line.quantity()});
  }
  return lines;
}

absl::Status AnswerGetProductAvailability(const InventoryStore& store,
                                          const GetProductAvailabilityRequest& request,
                                          GetProductAvailabilityResponse& response) {
  if (absl::Status valid = ValidateProductId(request.product_id()); !valid.ok()) return valid;
  Availability availability = store.Get(request.product_id());
  response.set_is_available(availability.is_available);
  response.set_quantity(availability.quantity);
  return absl::OkStatus();
}

absl::Status AnswerBatchGetProductAvailability(const InventoryStore& store,
                                               const BatchGetProductAvailabilityRequest& request,
                                               BatchGetProductAvailabilityResponse& response) {
  if (request.product_ids_size() > kMaxBatchIds) {
    return absl::InvalidArgumentError(absl::StrCat("a batch may hold at most ", kMaxBatchIds,
                                                   " product ids, got ",
                                                   request.product_ids_size()));
  }
  for (int i = 0; i < request.product_ids_size(); ++i) {
    if (absl::Status valid = ValidateProductId(request.product_ids(i)); !valid.ok()) {
      return absl::InvalidArgumentError(absl::StrCat("product_ids[", i, "]: ", valid.message()));
    }
  }
  // One consistent view: a multi-line order is in all of its products or
  // in none of them.
  const std::vector<std::string> ids(request.product_ids().begin(), request.product_ids().end());
  const std::vector<Availability> levels = store.GetMany(ids);
  auto* items = response.mutable_items();
  items->Reserve(request.product_ids_size());
  for (std::size_t i = 0; i < ids.size(); ++i) SetAvailability(*items->Add(), ids[i], levels[i]);
  return absl::OkStatus();
}

absl::Status ApplyReserveStock(InventoryStore& store, const ReserveStockRequest& request,
                               ReserveStockResponse& response, absl::string_view owner) {
  absl::StatusOr<std::vector<OrderLine>> lines = OrderLinesOf(request);
  if (!lines.ok()) return lines.status();
  return FillRemaining(store.Reserve(request.order_id(), *lines, owner),
                       *response.mutable_remaining());
}

absl::Status ApplyReleaseReservation(InventoryStore& store,
                                     const ReleaseReservationRequest& request,
                                     ReleaseReservationResponse& response,
                                     absl::string_view caller) {
  return FillRemaining(store.Release(request.order_id(), caller), *response.mutable_remaining());
}

absl::Status ApplySetStock(InventoryStore& store, const SetStockRequest& request,
                           SetStockResponse& response) {
  if (absl::Status set = store.Set(request.product_id(), request.quantity()); !set.ok()) {
    return set;
  }
  SetAvailability(*response.mutable_availability(), request.product_id(),
                  {request.quantity() > 0, request.quantity()});
  return absl::OkStatus();
}

absl::StatusOr<std::vector<std::string>> WatchedProductIds(
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
  return ids;
}

}  // namespace server::inventory
