// The order retention window: a thread that makes an InventoryStore forget
// the records of orders released longer ago than the window, so a stream of
// new order ids cannot grow memory (and, with a journal, the data directory)
// without bound.
//
// What it means for clients: a ReserveStock retried within the window after
// its order was released is answered from the record (the original result,
// nothing reserved again); after the window the id is unused, and the same
// request reserves anew. An order never released keeps its record for as long
// as it holds stock, whatever its age.
#ifndef DOMAIN_INVENTORY_ORDER_RETENTION_H_
#define DOMAIN_INVENTORY_ORDER_RETENTION_H_

#include <cstddef>
#include <cstdint>
#include <functional>
#include <thread>

#include "absl/synchronization/notification.h"
#include "absl/time/time.h"
#include "domain/inventory/inventory_store.h"

namespace domain::inventory {

class OrderRetention {
 public:
  // The default window: a client's retries of one order (with backoff, or
  // after an outage of its own) are expected well within a day.
  static constexpr absl::Duration kDefaultRetention = absl::Hours(24);

  // How often the sweep runs for `retention`: a tenth of it, at least 100 ms
  // and at most a minute. A released order is therefore forgotten between
  // `retention` and `retention` + that interval after its release.
  static absl::Duration SweepInterval(absl::Duration retention);

  // Called after every sweep, on the sweeping thread, with the number of
  // records forgotten by it and the number the store still holds. Must not
  // block or call back into this object.
  using SweepObserver = std::function<void(std::size_t forgotten, std::size_t held)>;

  // Starts the sweeping thread for `store`, which must outlive this object.
  // `retention` must be positive and finite (a caller that keeps records
  // forever does not create one).
  OrderRetention(InventoryStore& store, absl::Duration retention, SweepObserver observer = {});
  // Stops the thread (waiting for a sweep in progress to finish).
  ~OrderRetention();
  OrderRetention(const OrderRetention&) = delete;
  OrderRetention& operator=(const OrderRetention&) = delete;

  absl::Duration retention() const { return retention_; }
  absl::Duration interval() const { return interval_; }

  // One sweep now, on the caller's thread (the thread's sweeps go on
  // meanwhile; the store serialises them per shard). Returns how many
  // records it forgot.
  std::size_t SweepNow();

 private:
  void Run();

  InventoryStore& store_;
  const absl::Duration retention_;
  const absl::Duration interval_;
  const SweepObserver observer_;
  absl::Notification stop_;
  std::thread thread_;
};

}  // namespace domain::inventory

#endif  // DOMAIN_INVENTORY_ORDER_RETENTION_H_
