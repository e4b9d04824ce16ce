// Where the service sends every change of stock or orders, without knowing
// which store decides it. Reads (Get, Watch) always come from an
// InventoryStore in memory; mutations go through this interface:
//
//   * EmbeddedStockMutations (embedded_stock_mutations.h): the in-memory
//     InventoryStore decides, optionally made durable by a StockJournal
//     (RocksDB, storage/) before the answer;
//   * storage::postgres::PostgresStockMutations: PostgreSQL decides, in one
//     transaction per call, on a pool of connection threads; the replica's
//     InventoryStore is then only a cache fed by the database.
//
// Each call answers exactly once through its callback, possibly on another
// thread, possibly before the call returns. Callbacks must not block.
// The statuses are InventoryStore's (inventory_store.h is the spec of every
// check and message), plus, for stores that queue work: RESOURCE_EXHAUSTED
// (the queue is full), UNAVAILABLE (the system of record is down; retry),
// DEADLINE_EXCEEDED (`deadline` passed before the work could start) and
// ABORTED (conflicts persisted after the store's own retries).
#ifndef DOMAIN_INVENTORY_STOCK_MUTATIONS_H_
#define DOMAIN_INVENTORY_STOCK_MUTATIONS_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/functional/any_invocable.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "domain/inventory/inventory_store.h"

namespace domain::inventory {

// The quantities left after a reservation or release, one per order line.
using StockResult = absl::StatusOr<std::vector<ProductStock>>;
using StockDone = absl::AnyInvocable<void(StockResult) &&>;
using SetDone = absl::AnyInvocable<void(absl::Status) &&>;

class StockMutations {
 public:
  virtual ~StockMutations() = default;

  // InventoryStore::Reserve; `done` gets its answer once it is durable.
  virtual void Reserve(std::string order_id, std::vector<OrderLine> lines, std::string owner,
                       absl::Time deadline, StockDone done) = 0;
  // InventoryStore::Release; `done` gets its answer once it is durable.
  virtual void Release(std::string order_id, std::string caller, absl::Time deadline,
                       StockDone done) = 0;
  // InventoryStore::Set; `done` gets OK once the new quantity is durable.
  virtual void Set(std::string product_id, std::int32_t quantity, absl::Time deadline,
                   SetDone done) = 0;
};

}  // namespace domain::inventory

#endif  // DOMAIN_INVENTORY_STOCK_MUTATIONS_H_
