// Where the store reports every change it makes, so a durability layer can
// persist it. No storage types here: the store only knows this interface,
// and storage/ implements it (in-memory servers run without one).
#ifndef DOMAIN_INVENTORY_STOCK_JOURNAL_H_
#define DOMAIN_INVENTORY_STOCK_JOURNAL_H_

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "absl/functional/any_invocable.h"
#include "absl/status/status.h"
#include "absl/time/time.h"

namespace domain::inventory {

// A product and its absolute quantity.
struct StockLevel {
  std::string product_id;
  std::int32_t quantity = 0;
};

// One line of a recorded reservation.
struct ReservationLine {
  std::string product_id;
  std::int32_t quantity = 0;   // units taken
  std::int32_t remaining = 0;  // the product's quantity right after the reservation
};

// Everything the store remembers about one order id: what it reserved (in
// the request's line order) and whether it has been released. This is also
// the idempotency record a retried ReserveStock is answered from.
struct OrderState {
  std::string order_id;
  std::vector<ReservationLine> lines;
  bool released = false;
  // When it was first released (meaningful only if released): the order
  // retention window (InventoryStore::ForgetReleasedBefore) runs from here.
  absl::Time released_at = absl::InfinitePast();
  // Who reserved it (InventoryStore::Reserve's owner); empty: nobody named.
  std::string owner;
};

// The effect of one store operation: new absolute levels of the products it
// changed; for reservations and releases, the order's new state; for the
// retention sweep (InventoryStore::ForgetReleasedBefore), the ids of released
// orders the store has forgotten, whose records the journal deletes. A
// journal applying mutations in append order rebuilds the store exactly.
struct StockMutation {
  std::vector<StockLevel> levels;
  std::optional<OrderState> order;
  std::vector<std::string> forgotten_orders;
};

class StockJournal {
 public:
  virtual ~StockJournal() = default;

  // Called by the store while it still holds the locks of every product and
  // order the mutation names, so two mutations touching the same product or
  // order are appended in the order they were applied. Must not block on
  // I/O or call back into the store.
  virtual void Append(StockMutation mutation) = 0;

  // Calls `done` once every mutation appended before this call is durable,
  // with OK, or with the error that prevented it. `done` may run on this
  // thread (before WhenDurable returns) or on a journal thread; it must not
  // block.
  virtual void WhenDurable(absl::AnyInvocable<void(absl::Status) &&> done) = 0;

  // OK while appended mutations can still become durable; otherwise why they
  // cannot (a failed write, a closed journal). The store asks before every
  // change, so a change that could never be acknowledged is refused rather
  // than applied in memory only. Cheap; called without the store's locks.
  virtual absl::Status Accepting() const = 0;
};

}  // namespace domain::inventory

#endif  // DOMAIN_INVENTORY_STOCK_JOURNAL_H_
