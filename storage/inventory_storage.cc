#include "storage/inventory_storage.h"

#include <utility>

#include "absl/strings/str_cat.h"

namespace storage {
namespace {

// A stored state the store refuses is damaged data, not a bad argument.
absl::Status StoredStateRejected(const std::string& directory, absl::string_view what,
                                 const absl::Status& status) {
  return absl::DataLossError(
      absl::StrCat("data directory '", directory, "': stored ", what, ": ", status.message()));
}

}  // namespace

InventoryStorage::InventoryStorage(std::unique_ptr<DurableJournal> journal, int store_shards)
    : journal_(std::move(journal)), store_(store_shards, journal_.get()) {}

absl::StatusOr<std::unique_ptr<InventoryStorage>> InventoryStorage::Open(
    InventoryStorageOptions options, const std::vector<CatalogEntry>& catalog) {
  std::unique_ptr<DurableJournal> journal;
  if (!options.data_dir.empty()) {
    absl::StatusOr<std::unique_ptr<DurableJournal>> opened =
        DurableJournal::Open(options.data_dir, std::move(options.journal));
    if (!opened.ok()) return opened.status();
    journal = std::move(opened).value();
  }
  std::unique_ptr<InventoryStorage> storage(
      new InventoryStorage(std::move(journal), options.store_shards));
  DurableJournal* const durable = storage->journal();
  if (durable == nullptr) {
    if (absl::Status loaded = storage->store_.Load(catalog); !loaded.ok()) return loaded;
    storage->origin_ = Origin::kMemory;
    return storage;
  }
  absl::StatusOr<StoredState> stored = durable->Read();
  if (!stored.ok()) return stored.status();
  if (!stored->initialized) {
    // Into the store first: it validates the whole catalog before applying
    // any of it, so a bad catalog never reaches the directory.
    if (absl::Status loaded = storage->store_.Load(catalog); !loaded.ok()) return loaded;
    if (absl::Status seeded = durable->Initialize(catalog); !seeded.ok()) return seeded;
    storage->origin_ = Origin::kSeeded;
    return storage;
  }
  if (absl::Status loaded = storage->store_.Load(stored->stock); !loaded.ok()) {
    return StoredStateRejected(options.data_dir, "stock", loaded);
  }
  const std::size_t orders = stored->orders.size();
  if (absl::Status restored = storage->store_.RestoreOrders(std::move(stored->orders));
      !restored.ok()) {
    return StoredStateRejected(options.data_dir, "orders", restored);
  }
  storage->origin_ = Origin::kRestored;
  storage->restored_orders_ = orders;
  return storage;
}

}  // namespace storage
