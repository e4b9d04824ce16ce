#include "server/product/product_requests.h"

#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "domain/inventory/product_id.h"

namespace server::product {

// The types this file translates between, from other layers.
using domain::product::kMaxOrderLines;
using domain::product::OrderRequestLine;
using domain::product::PricedOrder;
using domain::product::ProductCatalog;
using domain::product::ProductInfo;
using ::product::GetProductRequest;
using ::product::OrderLine;
using ::product::PlaceOrderRequest;

absl::StatusOr<const ProductInfo*> FindRequestedProduct(const ProductCatalog& catalog,
                                                        const GetProductRequest& request) {
  if (absl::Status valid = domain::inventory::ValidateProductId(request.product_id());
      !valid.ok()) {
    return valid;
  }
  const ProductInfo* info = catalog.Find(request.product_id());
  if (info == nullptr) {
    return absl::NotFoundError(absl::StrCat("unknown product '", request.product_id(), "'"));
  }
  return info;
}

absl::StatusOr<PricedOrder> PricePlaceOrder(const ProductCatalog& catalog,
                                            const PlaceOrderRequest& request) {
  if (request.lines_size() > static_cast<int>(kMaxOrderLines)) {
    return absl::InvalidArgumentError(
        absl::StrCat("order has ", request.lines_size(), " lines; the limit is ", kMaxOrderLines));
  }
  std::vector<OrderRequestLine> lines;
  lines.reserve(request.lines_size());
  for (const OrderLine& line : request.lines()) {
    lines.push_back({line.product_id(), line.quantity()});
  }
  return PriceOrder(catalog, request.order_id(), lines);
}

::inventory::ReserveStockRequest ReserveStockRequestFor(const PlaceOrderRequest& request) {
  ::inventory::ReserveStockRequest reserve;
  reserve.set_order_id(request.order_id());
  reserve.mutable_lines()->Reserve(request.lines_size());
  for (const OrderLine& line : request.lines()) {
    ::inventory::StockLine* out = reserve.add_lines();
    out->set_product_id(line.product_id());
    out->set_quantity(line.quantity());
  }
  return reserve;
}

// UNAVAILABLE only when the inventory is down, did not answer within its
// own deadline while the caller still had time, or cancelled the call (it,
// or this server's look-up client, is shutting down): "retry" is then the
// right advice. The caller's own expired deadline is DEADLINE_EXCEEDED; shedding
// stays RESOURCE_EXHAUSTED; anything else the inventory said is this
// server's failure (INTERNAL), never "retry".
absl::Status InventoryFailure(const absl::Status& status, absl::Time caller_deadline) {
  const std::string detail =
      absl::StrCat(absl::StatusCodeToString(status.code()), ": ", status.message());
  switch (status.code()) {
    case absl::StatusCode::kResourceExhausted:
      return status;
    case absl::StatusCode::kCancelled:
      return absl::UnavailableError(absl::StrCat("the inventory call was cancelled: ", detail));
    case absl::StatusCode::kDeadlineExceeded:
      if (absl::Now() >= caller_deadline) {
        return absl::DeadlineExceededError(
            absl::StrCat("the call's deadline passed while waiting for the inventory: ", detail));
      }
      return absl::UnavailableError(absl::StrCat("the inventory did not answer in time: ", detail));
    case absl::StatusCode::kUnavailable:
      return absl::UnavailableError(absl::StrCat("the inventory is unavailable: ", detail));
    default:
      return absl::InternalError(absl::StrCat("the inventory failed: ", detail));
  }
}

absl::Status PlaceOrderReserveFailure(const absl::Status& status, absl::Time caller_deadline) {
  switch (status.code()) {
    case absl::StatusCode::kFailedPrecondition:  // short: names the product
    case absl::StatusCode::kAlreadyExists:       // order id reused with other lines
      return status;
    case absl::StatusCode::kInvalidArgument:
      // The catalog knows the product, the inventory does not stock it.
      return absl::FailedPreconditionError(
          absl::StrCat("the inventory cannot reserve this order: ", status.message()));
    default:
      return InventoryFailure(status, caller_deadline);
  }
}

}  // namespace server::product
