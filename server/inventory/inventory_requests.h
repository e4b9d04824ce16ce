// What each InventoryService RPC does with its request: validate it, ask the
// domain store, fill the wire response. No engine, tags or threads here:
// InventoryGrpcService adds the call around each function (authorization,
// waiting for durability, finishing the call), and the request fuzzer
// (fuzz/) drives exactly these functions against an in-memory store.
//
// Each returns OK with `response` filled in, or the status the call ends
// with (`response` then holds nothing meant for the client). The statuses
// are the ones docs/api.md lists per method.
#ifndef SERVER_INVENTORY_INVENTORY_REQUESTS_H_
#define SERVER_INVENTORY_INVENTORY_REQUESTS_H_

#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "domain/inventory/inventory_store.h"
#include "inventory.pb.h"

namespace server::inventory {

// GetProductAvailability: INVALID_ARGUMENT for a bad product id; an unknown
// product is OK with {false, 0}.
absl::Status AnswerGetProductAvailability(const domain::inventory::InventoryStore& store,
                                          const ::inventory::GetProductAvailabilityRequest& request,
                                          ::inventory::GetProductAvailabilityResponse& response);

// BatchGetProductAvailability: INVALID_ARGUMENT for more than kMaxBatchIds
// ids or for the first bad one ("product_ids[i]: ..."); otherwise one item
// per requested id, in request order, duplicates included.
absl::Status AnswerBatchGetProductAvailability(
    const domain::inventory::InventoryStore& store,
    const ::inventory::BatchGetProductAvailabilityRequest& request,
    ::inventory::BatchGetProductAvailabilityResponse& response);

// ReserveStock: InventoryStore::Reserve (its checks and statuses) on the
// request's lines; more than kMaxOrderLines lines are refused before they are
// copied. `remaining` gets one item per line, in line order. `owner` is the
// caller's identity (empty: none), recorded with a new order.
absl::Status ApplyReserveStock(domain::inventory::InventoryStore& store,
                               const ::inventory::ReserveStockRequest& request,
                               ::inventory::ReserveStockResponse& response,
                               absl::string_view owner);

// ReleaseReservation: InventoryStore::Release by `caller` (empty: none);
// `remaining` gets one item per line of the original order.
absl::Status ApplyReleaseReservation(domain::inventory::InventoryStore& store,
                                     const ::inventory::ReleaseReservationRequest& request,
                                     ::inventory::ReleaseReservationResponse& response,
                                     absl::string_view caller);

// SetStock, once the caller is authorized: InventoryStore::Set (INVALID_ARGUMENT
// for a bad id or a negative quantity); `availability` is the new value.
absl::Status ApplySetStock(domain::inventory::InventoryStore& store,
                           const ::inventory::SetStockRequest& request,
                           ::inventory::SetStockResponse& response);

// ReserveStock's lines, as the domain takes them; INVALID_ARGUMENT for more
// than kMaxOrderLines lines (refused before they are copied). The other
// checks are the store's (ValidateReservation).
absl::StatusOr<std::vector<domain::inventory::OrderLine>> OrderLinesOf(
    const ::inventory::ReserveStockRequest& request);

// A reservation's or release's answer: its error, or OK with `out` filled
// with one item per line.
absl::Status FillRemaining(
    const absl::StatusOr<std::vector<domain::inventory::ProductStock>>& remaining,
    google::protobuf::RepeatedPtrField<::inventory::ProductAvailability>& out);

// WatchProductAvailability: the ids to watch, each once, in the order they
// first appear; INVALID_ARGUMENT for no ids, more than kMaxWatchIds, or the
// first bad one ("product_ids[i]: ...").
absl::StatusOr<std::vector<std::string>> WatchedProductIds(
    const ::inventory::WatchProductAvailabilityRequest& request);

}  // namespace server::inventory

#endif  // SERVER_INVENTORY_INVENTORY_REQUESTS_H_
