// What the ProductService's RPCs decide without the inventory: the checks a
// request must pass before any inventory call, the ReserveStock request
// PlaceOrder sends, and how inventory failures reach the caller. No engine,
// client or threads here: ProductGrpcService runs these around its
// asynchronous inventory calls, and the request fuzzer (fuzz/) drives them
// against an in-memory inventory.
#ifndef SERVER_PRODUCT_PRODUCT_REQUESTS_H_
#define SERVER_PRODUCT_PRODUCT_REQUESTS_H_

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "domain/product/order_pricing.h"
#include "domain/product/product_catalog.h"
#include "inventory.pb.h"
#include "product.pb.h"

namespace server::product {

// GetProduct before its look-up: the catalog entry (valid for the catalog's
// life), INVALID_ARGUMENT for a bad product id, NOT_FOUND for one the
// catalog does not sell.
absl::StatusOr<const domain::product::ProductInfo*> FindRequestedProduct(
    const domain::product::ProductCatalog& catalog, const ::product::GetProductRequest& request);

// PlaceOrder before its look-ups: domain::product::PriceOrder on the
// request's lines (INVALID_ARGUMENT, NOT_FOUND, OUT_OF_RANGE as it says);
// more than kMaxOrderLines lines are refused before they are copied.
absl::StatusOr<domain::product::PricedOrder> PricePlaceOrder(
    const domain::product::ProductCatalog& catalog, const ::product::PlaceOrderRequest& request);

// The ReserveStock request a priced PlaceOrder sends: the same order id and
// the same lines in the same order, so a retried order replays its
// reservation.
::inventory::ReserveStockRequest ReserveStockRequestFor(
    const ::product::PlaceOrderRequest& request);

// What a caller of the ProductService sees when its inventory call failed
// with `status`: RESOURCE_EXHAUSTED (shed) as it is; DEADLINE_EXCEEDED if
// the caller's own `caller_deadline` has passed; UNAVAILABLE if only the
// inventory's deadline did, the inventory is down, or the inventory call
// was cancelled (the caller never cancels it: the inventory or this
// server's look-up client did, each while shutting down), when retry is the
// right advice; any other code INTERNAL. The message says what failed.
absl::Status InventoryFailure(const absl::Status& status, absl::Time caller_deadline);

// What PlaceOrder answers when ReserveStock failed with `status` (not OK):
// FAILED_PRECONDITION (short stock) and ALREADY_EXISTS (order id reused) as
// they are; INVALID_ARGUMENT as FAILED_PRECONDITION (the catalog sells a
// product the inventory does not stock: the order itself was already
// checked); anything else as InventoryFailure says.
absl::Status PlaceOrderReserveFailure(const absl::Status& status, absl::Time caller_deadline);

}  // namespace server::product

#endif  // SERVER_PRODUCT_PRODUCT_REQUESTS_H_
