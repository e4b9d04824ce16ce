#include "domain/inventory/inventory_store.h"

#include "absl/hash/hash.h"
#include "absl/strings/str_cat.h"
#include "domain/inventory/product_id.h"

namespace inventory {

InventoryStore::InventoryStore(int shards) {
  std::size_t count = 1;
  while (count < static_cast<std::size_t>(shards > 0 ? shards : 1)) count <<= 1;
  shard_mask_ = count - 1;
  shards_ = std::make_unique<Shard[]>(count);
}

InventoryStore::Shard& InventoryStore::ShardFor(absl::string_view product_id) const {
  // The high bits pick the shard; flat_hash_map uses the low bits inside it.
  std::size_t hash = absl::Hash<absl::string_view>{}(product_id);
  return shards_[(hash >> 32 ^ hash) & shard_mask_];
}

Availability InventoryStore::Get(absl::string_view product_id) const {
  Shard& shard = ShardFor(product_id);
  absl::ReaderMutexLock lock(&shard.mu);
  auto it = shard.quantity.find(product_id);
  if (it == shard.quantity.end()) return {};
  return {it->second > 0, it->second};
}

absl::Status InventoryStore::Set(absl::string_view product_id, std::int32_t quantity) {
  if (absl::Status valid = ValidateProductId(product_id); !valid.ok()) return valid;
  if (quantity < 0) {
    return absl::InvalidArgumentError(
        absl::StrCat("quantity for '", product_id, "' is negative: ", quantity));
  }
  Shard& shard = ShardFor(product_id);
  absl::MutexLock lock(&shard.mu);
  shard.quantity.insert_or_assign(std::string(product_id), quantity);
  return absl::OkStatus();
}

absl::Status InventoryStore::Load(const std::vector<CatalogEntry>& entries) {
  for (const CatalogEntry& entry : entries) {
    if (absl::Status valid = ValidateProductId(entry.product_id); !valid.ok()) return valid;
    if (entry.quantity < 0) {
      return absl::InvalidArgumentError(
          absl::StrCat("quantity for '", entry.product_id, "' is negative: ", entry.quantity));
    }
  }
  for (const CatalogEntry& entry : entries) {
    Shard& shard = ShardFor(entry.product_id);
    absl::MutexLock lock(&shard.mu);
    shard.quantity.insert_or_assign(entry.product_id, entry.quantity);
  }
  return absl::OkStatus();
}

std::size_t InventoryStore::size() const {
  std::size_t total = 0;
  for (std::size_t i = 0; i <= shard_mask_; ++i) {
    absl::ReaderMutexLock lock(&shards_[i].mu);
    total += shards_[i].quantity.size();
  }
  return total;
}

}  // namespace inventory
