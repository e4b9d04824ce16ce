// The checks and answers of InventoryStore::Reserve and Release that do not
// depend on where stock is kept, so that every store (the in-memory one and
// PostgreSQL, storage/postgres/) gives the same statuses with the same
// messages. inventory_store.h specifies them.
#ifndef DOMAIN_INVENTORY_ORDER_CHECKS_H_
#define DOMAIN_INVENTORY_ORDER_CHECKS_H_

#include <cstddef>
#include <cstdint>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "domain/inventory/inventory_store.h"
#include "domain/inventory/stock_journal.h"

namespace domain::inventory {

// INVALID_ARGUMENT naming "order_id" if `order_id` breaks the product id rules.
absl::Status ValidateOrderId(absl::string_view order_id);

// Set's and Load's checks: a valid product id and a quantity >= 0.
absl::Status ValidateStockLevel(absl::string_view product_id, std::int32_t quantity);

// Reserve's checks that need no state, in its order: the order id, the line
// count (1..kMaxOrderLines), then each line by index (a valid product id, a
// positive quantity, no product twice).
absl::Status ValidateReservation(absl::string_view order_id, const std::vector<OrderLine>& lines);

// Whether `caller` may not touch an order recorded with `owner`: both named,
// and different.
bool OwnedByAnother(absl::string_view owner, absl::string_view caller);

// PERMISSION_DENIED for another identity's order (the owner is not named).
absl::Status NotYourOrder(absl::string_view order_id);
// NOT_FOUND for an order no reservation recorded (or one forgotten).
absl::Status OrderNotFound(absl::string_view order_id);
// INVALID_ARGUMENT for line `index`, whose product the store does not know.
absl::Status UnknownProduct(std::size_t index, absl::string_view product_id);
// FAILED_PRECONDITION naming line `index`'s product, requested and available.
absl::Status InsufficientStock(std::size_t index, absl::string_view product_id,
                               std::int32_t requested, std::int32_t available);

// The answer to a Reserve of an order already recorded as `recorded`: with
// the same lines (order not significant) the original result, in the order
// of `lines`; otherwise ALREADY_EXISTS. The owner is not checked here.
absl::StatusOr<std::vector<ProductStock>> ReplayOrder(const OrderState& recorded,
                                                      const std::vector<OrderLine>& lines);

}  // namespace domain::inventory

#endif  // DOMAIN_INVENTORY_ORDER_CHECKS_H_
