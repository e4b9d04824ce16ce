// A concurrent in-memory stock table. No gRPC types: the service layer maps
// its answers onto the wire.
//
// Sharded by product id hash; each shard has its own reader/writer lock, so
// a read locks one shard in shared mode and never takes a store-wide lock.
#ifndef DOMAIN_INVENTORY_INVENTORY_STORE_H_
#define DOMAIN_INVENTORY_INVENTORY_STORE_H_

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"

namespace inventory {

struct Availability {
  bool is_available = false;  // quantity > 0
  std::int32_t quantity = 0;
};

struct CatalogEntry {
  std::string product_id;
  std::int32_t quantity = 0;
};

class InventoryStore {
 public:
  static constexpr int kDefaultShards = 64;

  // `shards` is rounded up to a power of two (at least 1).
  explicit InventoryStore(int shards = kDefaultShards);
  InventoryStore(const InventoryStore&) = delete;
  InventoryStore& operator=(const InventoryStore&) = delete;

  // Stock of one product. An unknown product is {false, 0}, not an error:
  // that is the contract of the original service. Thread-safe.
  Availability Get(absl::string_view product_id) const;

  // Sets the absolute quantity, creating the product if unknown. Rejects a
  // negative quantity or an invalid id with INVALID_ARGUMENT. Thread-safe.
  absl::Status Set(absl::string_view product_id, std::int32_t quantity);

  // Loads entries; all are validated before any is applied.
  absl::Status Load(const std::vector<CatalogEntry>& entries);

  std::size_t size() const;

 private:
  struct alignas(64) Shard {
    mutable absl::Mutex mu;
    absl::flat_hash_map<std::string, std::int32_t> quantity ABSL_GUARDED_BY(mu);
  };
  Shard& ShardFor(absl::string_view product_id) const;

  std::size_t shard_mask_;
  std::unique_ptr<Shard[]> shards_;
};

}  // namespace inventory

#endif  // DOMAIN_INVENTORY_INVENTORY_STORE_H_
