// The inventory's size limits: how much one request may name. Rules of the
// inventory itself, so every layer that checks or respects them (the
// store, the InventoryService, the batching client, the ProductService)
// uses these definitions and no copy of its own. No gRPC types.
#ifndef DOMAIN_INVENTORY_LIMITS_H_
#define DOMAIN_INVENTORY_LIMITS_H_

#include <cstddef>

namespace domain::inventory {

// The longest product id, in bytes (ValidateProductId). Order ids follow
// the same rule.
inline constexpr std::size_t kMaxProductIdBytes = 128;

// The most lines one order may have (InventoryStore::Reserve, ReserveStock,
// and PlaceOrder, whose order is reserved whole).
inline constexpr std::size_t kMaxOrderLines = 100;

// The most product ids one BatchGetProductAvailability may ask for; the
// batching client never sends more in one batch.
inline constexpr int kMaxBatchIds = 1000;

// The most product ids one WatchProductAvailability may name.
inline constexpr int kMaxWatchIds = 1000;

}  // namespace domain::inventory

#endif  // DOMAIN_INVENTORY_LIMITS_H_
