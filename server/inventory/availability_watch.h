// The source of one WatchProductAvailability stream: it watches products in
// the store and hands the engine the latest value of each changed product,
// so a slow reader costs at most one pending value per watched product.
#ifndef SERVER_INVENTORY_AVAILABILITY_WATCH_H_
#define SERVER_INVENTORY_AVAILABILITY_WATCH_H_

#include <deque>
#include <string>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/synchronization/mutex.h"
#include "domain/inventory/inventory_store.h"
#include "engine/server_stream.h"
#include "inventory.pb.h"

namespace server::inventory {

// The types this file translates between, from other layers.
using domain::inventory::Availability;
using domain::inventory::InventoryStore;
using domain::inventory::StockWatcher;
using ::inventory::ProductAvailability;

class AvailabilityWatch final : public engine::StreamSource<ProductAvailability>,
                                public StockWatcher {
 public:
  // `product_ids` must be valid and unique. Starts watching at once: the
  // current value of each product is pending (in `product_ids` order) when
  // the constructor returns. `store` must outlive this object.
  AvailabilityWatch(InventoryStore& store, std::vector<std::string> product_ids,
                    engine::StreamWaker waker);
  // Stops watching if OnClosed has not (a source the engine never opened).
  ~AvailabilityWatch() override;

  // StockWatcher: keeps only the latest value per product; products are sent
  // in the order they first became pending.
  void OnStockChanged(absl::string_view product_id, Availability availability) override;

  // engine::StreamSource
  engine::StreamStep Next(ProductAvailability& message) override;
  void OnClosed(bool cancelled) override;

 private:
  void StopWatching();

  InventoryStore& store_;
  const std::vector<std::string> product_ids_;
  const engine::StreamWaker waker_;
  bool watching_ = true;  // touched only by the constructor, OnClosed and the destructor

  absl::Mutex mu_;
  absl::flat_hash_map<std::string, Availability> latest_ ABSL_GUARDED_BY(mu_);
  std::deque<std::string> send_order_ ABSL_GUARDED_BY(mu_);  // the keys of latest_
};

}  // namespace server::inventory

#endif  // SERVER_INVENTORY_AVAILABILITY_WATCH_H_
