// Receives the changes of watched products from InventoryStore::Watch.
#ifndef DOMAIN_INVENTORY_STOCK_WATCHER_H_
#define DOMAIN_INVENTORY_STOCK_WATCHER_H_

#include <cstdint>

#include "absl/strings/string_view.h"

namespace domain::inventory {

struct Availability {
  bool is_available = false;  // quantity > 0
  std::int32_t quantity = 0;
};

class StockWatcher {
 public:
  // Called with the product's shard lock held, once with the value current
  // at InventoryStore::Watch and then after every change, in the order the
  // changes were applied. Must be quick, must not block and must not call
  // into the store. Several products' calls may arrive concurrently.
  virtual void OnStockChanged(absl::string_view product_id, Availability availability) = 0;

 protected:
  ~StockWatcher() = default;
};

}  // namespace domain::inventory

#endif  // DOMAIN_INVENTORY_STOCK_WATCHER_H_
