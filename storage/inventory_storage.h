// The inventory's state at start-up: the InventoryStore a server serves
// and, with a data directory, the DurableJournal that makes its changes
// durable, opened, seeded or restored as the directory requires.
//
//   storage::InventoryStorageOptions options;
//   options.data_dir = "/var/lib/inventory";  // empty: in memory
//   options.journal.on_write_failure = ...;   // e.g. stop the server
//   absl::StatusOr<std::unique_ptr<storage::InventoryStorage>> storage =
//       storage::InventoryStorage::Open(std::move(options), catalog);
//   InventoryGrpcService service((*storage)->store(),
//                                {.journal = (*storage)->journal()});
//
// One object owns both, because their lifetimes are tied: the store reports
// every change to the journal, so the journal is made first and destroyed
// last.
#ifndef STORAGE_INVENTORY_STORAGE_H_
#define STORAGE_INVENTORY_STORAGE_H_

#include <cstddef>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "domain/inventory/inventory_store.h"
#include "storage/durable_journal.h"

namespace storage {

// The types this file translates between, from other layers.
using domain::inventory::InventoryStore;

struct InventoryStorageOptions {
  // Directory of the RocksDB journal, created if missing. Empty: the store
  // lives in memory only, with no journal, and every change is lost at exit.
  std::string data_dir;
  // For the journal (sync, on_write_failure); unused in memory.
  DurableJournalOptions journal;
  // Lock shards of the store (rounded up to a power of two, at least 1).
  int store_shards = InventoryStore::kDefaultShards;
};

class InventoryStorage {
 public:
  // Where the store's state came from.
  enum class Origin {
    kMemory,    // no data directory: loaded from the catalog
    kSeeded,    // an empty (never initialized) data directory: seeded from the catalog
    kRestored,  // an initialized data directory: stock and orders read back from it
  };

  // Opens the storage `options` describe and fills the store:
  //
  //   * no data_dir: loads `catalog` into a store without a journal;
  //   * a data_dir that holds no initialized journal (new or empty): loads
  //     `catalog` into the store, then stores it in the journal and marks
  //     the directory initialized, durably and atomically (a crash leaves it
  //     empty or seeded);
  //   * an initialized data_dir: restores its stock and its orders (so
  //     retried ReserveStock and ReleaseReservation calls are recognized)
  //     and ignores `catalog`: a directory is seeded once, never again.
  //
  // Errors, each naming the directory where there is one, and leaving
  // nothing open:
  //   INVALID_ARGUMENT: `catalog` is invalid (nothing is stored then, so the
  //     directory stays empty);
  //   UNAVAILABLE: the directory cannot be created, opened (a file in the
  //     way, another server holding it, damaged RocksDB files) or written;
  //   DATA_LOSS: a stored record does not parse, or the store rejects the
  //     stock or orders read back;
  //   FAILED_PRECONDITION: the directory was written in another format.
  static absl::StatusOr<std::unique_ptr<InventoryStorage>> Open(
      InventoryStorageOptions options, const std::vector<CatalogEntry>& catalog);

  InventoryStorage(const InventoryStorage&) = delete;
  InventoryStorage& operator=(const InventoryStorage&) = delete;
  // Destroys the store, then closes the journal (which first writes and
  // acknowledges whatever is pending). Callers that want the journal closed
  // earlier, e.g. once the server has drained, call journal()->Close().
  ~InventoryStorage() = default;

  InventoryStore& store() { return store_; }
  // Null in memory. Hand it to the service so that changes are acknowledged
  // once durable.
  DurableJournal* journal() { return journal_.get(); }
  Origin origin() const { return origin_; }
  // kRestored: how many orders were read back; otherwise 0.
  std::size_t restored_orders() const { return restored_orders_; }

 private:
  InventoryStorage(std::unique_ptr<DurableJournal> journal, int store_shards);

  std::unique_ptr<DurableJournal> journal_;  // before store_: destroyed after it
  InventoryStore store_;
  Origin origin_ = Origin::kMemory;
  std::size_t restored_orders_ = 0;
};

}  // namespace storage

#endif  // STORAGE_INVENTORY_STORAGE_H_
