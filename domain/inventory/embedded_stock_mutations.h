// StockMutations decided by the in-memory InventoryStore of this process,
// answered once its StockJournal (if any) says the change is durable: the
// in-memory and the embedded RocksDB (--data_dir) servers.
#ifndef DOMAIN_INVENTORY_EMBEDDED_STOCK_MUTATIONS_H_
#define DOMAIN_INVENTORY_EMBEDDED_STOCK_MUTATIONS_H_

#include "domain/inventory/inventory_store.h"
#include "domain/inventory/stock_journal.h"
#include "domain/inventory/stock_mutations.h"

namespace domain::inventory {

class EmbeddedStockMutations final : public StockMutations {
 public:
  // `store` and `journal` (null: in memory, answered at once) must outlive
  // this object; `journal` must be the one `store` appends to.
  EmbeddedStockMutations(InventoryStore& store, StockJournal* journal)
      : store_(store), journal_(journal) {}

  // Each runs the store's call on the caller's thread (the deadline is not
  // consulted: nothing is queued). An error is answered at once; a success
  // once everything appended so far is durable, which also covers a
  // replayed order whose original is still being written.
  void Reserve(std::string order_id, std::vector<OrderLine> lines, std::string owner,
               absl::Time deadline, StockDone done) override;
  void Release(std::string order_id, std::string caller, absl::Time deadline,
               StockDone done) override;
  void Set(std::string product_id, std::int32_t quantity, absl::Time deadline,
           SetDone done) override;

 private:
  void FinishWhenDurable(StockResult result, StockDone done);

  InventoryStore& store_;
  StockJournal* const journal_;
};

}  // namespace domain::inventory

#endif  // DOMAIN_INVENTORY_EMBEDDED_STOCK_MUTATIONS_H_
