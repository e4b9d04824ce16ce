#include "domain/inventory/inventory_store.h"

#include <algorithm>
#include <cstdint>
#include <limits>
#include <numeric>
#include <utility>

#include "absl/hash/hash.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "domain/inventory/order_checks.h"
#include "domain/inventory/product_id.h"

namespace domain::inventory {
namespace {

Availability AvailabilityOf(std::int32_t quantity) { return {quantity > 0, quantity}; }

// Holds several mutexes at once. The caller passes them already in the global
// lock order (ascending stock shard index, no repeats); they are released in
// reverse order.
class OrderedLocks {
 public:
  enum class Mode { kReader, kWriter };

  OrderedLocks(std::vector<absl::Mutex*> ascending, Mode mode) ABSL_NO_THREAD_SAFETY_ANALYSIS
      : mutexes_(std::move(ascending)),
        mode_(mode) {
    for (absl::Mutex* mu : mutexes_) {
      if (mode_ == Mode::kWriter) {
        mu->Lock();
      } else {
        mu->ReaderLock();
      }
    }
  }
  OrderedLocks(const OrderedLocks&) = delete;
  OrderedLocks& operator=(const OrderedLocks&) = delete;

  ~OrderedLocks() ABSL_NO_THREAD_SAFETY_ANALYSIS {
    for (auto it = mutexes_.rbegin(); it != mutexes_.rend(); ++it) {
      if (mode_ == Mode::kWriter) {
        (*it)->Unlock();
      } else {
        (*it)->ReaderUnlock();
      }
    }
  }

 private:
  const std::vector<absl::Mutex*> mutexes_;
  const Mode mode_;
};

}  // namespace

InventoryStore::InventoryStore(int shards, StockJournal* journal) : journal_(journal) {
  std::size_t count = 1;
  while (count < static_cast<std::size_t>(shards > 0 ? shards : 1)) count <<= 1;
  shard_mask_ = count - 1;
  shards_ = std::make_unique<Shard[]>(count);
  order_shards_ = std::make_unique<OrderShard[]>(count);
}

std::size_t InventoryStore::ShardIndex(absl::string_view key) const {
  // The high bits pick the shard; flat_hash_map uses the low bits inside it.
  std::size_t hash = absl::Hash<absl::string_view>{}(key);
  return (hash >> 32 ^ hash) & shard_mask_;
}

InventoryStore::Shard& InventoryStore::ShardFor(absl::string_view product_id) const {
  return shards_[ShardIndex(product_id)];
}

Availability InventoryStore::Get(absl::string_view product_id) const {
  Shard& shard = ShardFor(product_id);
  absl::ReaderMutexLock lock(&shard.mu);
  return GetLocked(shard, product_id);
}

absl::Status InventoryStore::JournalAccepting() const {
  return journal_ != nullptr ? journal_->Accepting() : absl::OkStatus();
}

absl::Status InventoryStore::Set(absl::string_view product_id, std::int32_t quantity) {
  if (absl::Status valid = ValidateStockLevel(product_id, quantity); !valid.ok()) return valid;
  if (absl::Status accepting = JournalAccepting(); !accepting.ok()) return accepting;
  std::string id(product_id);
  Shard& shard = ShardFor(id);
  absl::MutexLock lock(&shard.mu);
  SetLocked(shard, id, quantity);
  AppendToJournal(
      {.levels = {{std::move(id), quantity}}, .order = std::nullopt, .forgotten_orders = {}});
  return absl::OkStatus();
}

std::vector<Availability> InventoryStore::GetMany(
    const std::vector<std::string>& product_ids) const {
  std::vector<std::size_t> shard_indices;
  shard_indices.reserve(product_ids.size());
  for (const std::string& id : product_ids) shard_indices.push_back(ShardIndex(id));
  std::vector<Availability> result(product_ids.size());
  OrderedLocks locks(StockMutexes(shard_indices), OrderedLocks::Mode::kReader);
  for (std::size_t i = 0; i < product_ids.size(); ++i) {
    result[i] = GetLocked(shards_[shard_indices[i]], product_ids[i]);
  }
  return result;
}

Availability InventoryStore::GetLocked(const Shard& shard, absl::string_view product_id) {
  auto it = shard.quantity.find(product_id);
  if (it == shard.quantity.end()) return {};
  return {it->second > 0, it->second};
}

absl::Status InventoryStore::SetLevels(const std::vector<CatalogEntry>& levels) {
  for (const CatalogEntry& level : levels) {
    if (absl::Status valid = ValidateStockLevel(level.product_id, level.quantity); !valid.ok()) {
      return valid;
    }
  }
  if (levels.empty()) return absl::OkStatus();
  if (absl::Status accepting = JournalAccepting(); !accepting.ok()) return accepting;
  std::vector<std::size_t> shard_indices;
  shard_indices.reserve(levels.size());
  for (const CatalogEntry& level : levels) shard_indices.push_back(ShardIndex(level.product_id));
  StockMutation mutation{.levels = {}, .order = std::nullopt, .forgotten_orders = {}};
  {
    OrderedLocks locks(StockMutexes(shard_indices), OrderedLocks::Mode::kWriter);
    for (std::size_t i = 0; i < levels.size(); ++i) {
      SetLocked(shards_[shard_indices[i]], levels[i].product_id, levels[i].quantity);
      mutation.levels.push_back({levels[i].product_id, levels[i].quantity});
    }
    AppendToJournal(std::move(mutation));
  }
  return absl::OkStatus();
}

void InventoryStore::SetLocked(Shard& shard, const std::string& product_id, std::int32_t quantity) {
  shard.quantity.insert_or_assign(product_id, quantity);
  NotifyLocked(shard, product_id, quantity);
}

void InventoryStore::NotifyLocked(const Shard& shard, const std::string& product_id,
                                  std::int32_t quantity) {
  if (shard.watchers.empty()) return;
  auto it = shard.watchers.find(product_id);
  if (it == shard.watchers.end()) return;
  for (StockWatcher* watcher : it->second) {
    watcher->OnStockChanged(product_id, AvailabilityOf(quantity));
  }
}

void InventoryStore::Watch(const std::vector<std::string>& product_ids, StockWatcher* watcher) {
  for (const std::string& id : product_ids) {
    Shard& shard = ShardFor(id);
    absl::MutexLock lock(&shard.mu);
    shard.watchers[id].push_back(watcher);
    auto it = shard.quantity.find(id);
    watcher->OnStockChanged(id, AvailabilityOf(it == shard.quantity.end() ? 0 : it->second));
  }
}

void InventoryStore::Unwatch(const std::vector<std::string>& product_ids, StockWatcher* watcher) {
  for (const std::string& id : product_ids) {
    Shard& shard = ShardFor(id);
    absl::MutexLock lock(&shard.mu);
    auto it = shard.watchers.find(id);
    if (it == shard.watchers.end()) continue;
    std::vector<StockWatcher*>& list = it->second;
    list.erase(std::remove(list.begin(), list.end(), watcher), list.end());
    if (list.empty()) shard.watchers.erase(it);
  }
}

OrderState InventoryStore::StateOf(absl::string_view order_id, const OrderRecord& record) {
  OrderState state{std::string(order_id), {}, record.released, record.released_at, record.owner};
  state.lines.reserve(record.lines.size());
  for (const ReservedLine& line : record.lines) {
    state.lines.push_back({line.product_id, line.quantity, line.remaining});
  }
  return state;
}

absl::Status InventoryStore::RestoreOrders(std::vector<OrderState> orders) {
  for (const OrderState& order : orders) {
    if (absl::Status valid = ValidateOrderId(order.order_id); !valid.ok()) return valid;
    if (order.lines.empty()) {
      return absl::InvalidArgumentError(absl::StrCat("order '", order.order_id, "' has no lines"));
    }
    for (const ReservationLine& line : order.lines) {
      if (absl::Status valid = ValidateProductId(line.product_id); !valid.ok()) return valid;
    }
  }
  for (OrderState& order : orders) {
    OrderRecord record;
    record.released = order.released;
    record.released_at = order.released_at;
    record.owner = std::move(order.owner);
    record.lines.reserve(order.lines.size());
    for (ReservationLine& line : order.lines) {
      const std::size_t shard = ShardIndex(line.product_id);
      record.lines.push_back({std::move(line.product_id), line.quantity, line.remaining, shard});
    }
    OrderShard& order_shard = order_shards_[ShardIndex(order.order_id)];
    absl::MutexLock lock(&order_shard.mu);
    order_shard.orders.insert_or_assign(std::move(order.order_id), std::move(record));
  }
  return absl::OkStatus();
}

absl::Status InventoryStore::Load(const std::vector<CatalogEntry>& entries) {
  for (const CatalogEntry& entry : entries) {
    if (absl::Status valid = ValidateStockLevel(entry.product_id, entry.quantity); !valid.ok()) {
      return valid;
    }
  }
  for (const CatalogEntry& entry : entries) {
    Shard& shard = ShardFor(entry.product_id);
    absl::MutexLock lock(&shard.mu);
    SetLocked(shard, entry.product_id, entry.quantity);
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

std::vector<absl::Mutex*> InventoryStore::StockMutexes(
    std::vector<std::size_t> shard_indices) const {
  std::sort(shard_indices.begin(), shard_indices.end());
  shard_indices.erase(std::unique(shard_indices.begin(), shard_indices.end()), shard_indices.end());
  std::vector<absl::Mutex*> mutexes;
  mutexes.reserve(shard_indices.size());
  for (std::size_t index : shard_indices) mutexes.push_back(&shards_[index].mu);
  return mutexes;
}

absl::StatusOr<std::vector<ProductStock>> InventoryStore::Reserve(
    absl::string_view order_id, const std::vector<OrderLine>& lines, absl::string_view owner) {
  // 1. Checks that need no lock.
  if (absl::Status valid = ValidateReservation(order_id, lines); !valid.ok()) return valid;

  if (absl::Status accepting = JournalAccepting(); !accepting.ok()) return accepting;

  // 2. The order record, under its order shard lock for the rest of the call.
  OrderShard& order_shard = order_shards_[ShardIndex(order_id)];
  absl::MutexLock order_lock(&order_shard.mu);
  if (auto existing = order_shard.orders.find(order_id); existing != order_shard.orders.end()) {
    if (OwnedByAnother(existing->second, owner)) return NotYourOrder(order_id);
    return Replay(order_id, existing->second, lines);
  }

  // 3. A new order: take every stock shard involved, in ascending index.
  std::vector<std::size_t> line_shards(lines.size());
  for (std::size_t i = 0; i < lines.size(); ++i) line_shards[i] = ShardIndex(lines[i].product_id);
  OrderedLocks stock_locks(StockMutexes(line_shards), OrderedLocks::Mode::kWriter);
  return ReserveLocked(order_id, lines, line_shards, owner, order_shard);
}

absl::StatusOr<std::vector<ProductStock>> InventoryStore::ReserveLocked(
    absl::string_view order_id, const std::vector<OrderLine>& lines,
    const std::vector<std::size_t>& line_shards, absl::string_view owner, OrderShard& order_shard) {
  // Every product must be known before any stock is looked at.
  std::vector<std::int32_t*> stock(lines.size());
  for (std::size_t i = 0; i < lines.size(); ++i) {
    auto& quantities = shards_[line_shards[i]].quantity;
    auto it = quantities.find(lines[i].product_id);
    if (it == quantities.end()) {
      return UnknownProduct(i, lines[i].product_id);
    }
    stock[i] = &it->second;  // stable: nothing is inserted while we hold the lock
  }
  for (std::size_t i = 0; i < lines.size(); ++i) {
    if (*stock[i] < lines[i].quantity) {
      return InsufficientStock(i, lines[i].product_id, lines[i].quantity, *stock[i]);
    }
  }

  // Everything that allocates happens before the first change, so the order
  // is all or nothing even if an allocation throws.
  OrderRecord record;
  record.owner = std::string(owner);
  record.lines.reserve(lines.size());
  std::vector<ProductStock> result;
  result.reserve(lines.size());
  for (std::size_t i = 0; i < lines.size(); ++i) {
    const std::int32_t remaining = *stock[i] - lines[i].quantity;
    record.lines.push_back({lines[i].product_id, lines[i].quantity, remaining, line_shards[i]});
    result.push_back({lines[i].product_id, AvailabilityOf(remaining)});
  }
  StockMutation mutation;
  if (journal_ != nullptr) {
    mutation.levels.reserve(lines.size());
    for (const ReservedLine& line : record.lines) {
      mutation.levels.push_back({line.product_id, line.remaining});
    }
    mutation.order = StateOf(order_id, record);
  }
  order_shard.orders.emplace(std::string(order_id), std::move(record));
  for (std::size_t i = 0; i < lines.size(); ++i) {
    *stock[i] -= lines[i].quantity;
    NotifyLocked(shards_[line_shards[i]], lines[i].product_id, *stock[i]);
  }
  AppendToJournal(std::move(mutation));
  return result;
}

absl::StatusOr<std::vector<ProductStock>> InventoryStore::Replay(
    absl::string_view order_id, const OrderRecord& record, const std::vector<OrderLine>& lines) {
  // Line order is not significant: compare both sides sorted by product id
  // (ids are unique within each side).
  const auto different = [&] {
    return absl::AlreadyExistsError(
        absl::StrCat("order '", order_id, "' was already reserved with different lines (",
                     record.lines.size(), " line", record.lines.size() == 1 ? "" : "s",
                     record.released ? ", since released" : "", ")"));
  };
  if (record.lines.size() != lines.size()) return different();
  std::vector<std::size_t> requested(lines.size());
  std::vector<std::size_t> recorded(lines.size());
  std::iota(requested.begin(), requested.end(), std::size_t{0});
  std::iota(recorded.begin(), recorded.end(), std::size_t{0});
  std::sort(requested.begin(), requested.end(), [&](std::size_t a, std::size_t b) {
    return lines[a].product_id < lines[b].product_id;
  });
  std::sort(recorded.begin(), recorded.end(), [&](std::size_t a, std::size_t b) {
    return record.lines[a].product_id < record.lines[b].product_id;
  });
  std::vector<ProductStock> result(lines.size());
  for (std::size_t k = 0; k < lines.size(); ++k) {
    const OrderLine& now = lines[requested[k]];
    const ReservedLine& then = record.lines[recorded[k]];
    if (now.product_id != then.product_id || now.quantity != then.quantity) return different();
    result[requested[k]] = {then.product_id, AvailabilityOf(then.remaining)};
  }
  return result;
}

bool InventoryStore::OwnedByAnother(const OrderRecord& record, absl::string_view caller) {
  return domain::inventory::OwnedByAnother(record.owner, caller);
}

absl::Status InventoryStore::NotYourOrder(absl::string_view order_id) {
  return domain::inventory::NotYourOrder(order_id);
}

absl::StatusOr<std::vector<ProductStock>> InventoryStore::Release(absl::string_view order_id,
                                                                  absl::string_view caller) {
  if (absl::Status valid = ValidateOrderId(order_id); !valid.ok()) return valid;
  if (absl::Status accepting = JournalAccepting(); !accepting.ok()) return accepting;

  OrderShard& order_shard = order_shards_[ShardIndex(order_id)];
  absl::MutexLock order_lock(&order_shard.mu);
  auto found = order_shard.orders.find(order_id);
  if (found == order_shard.orders.end()) {
    return OrderNotFound(order_id);
  }
  OrderRecord& record = found->second;
  if (OwnedByAnother(record, caller)) return NotYourOrder(order_id);

  std::vector<std::size_t> line_shards;
  line_shards.reserve(record.lines.size());
  for (const ReservedLine& line : record.lines) line_shards.push_back(line.shard);
  OrderedLocks stock_locks(StockMutexes(std::move(line_shards)), record.released
                                                                     ? OrderedLocks::Mode::kReader
                                                                     : OrderedLocks::Mode::kWriter);
  return ReleaseLocked(order_id, record);
}

absl::StatusOr<std::vector<ProductStock>> InventoryStore::ReleaseLocked(absl::string_view order_id,
                                                                        OrderRecord& record) {
  // Products are never removed, so each is still there; check anyway before
  // changing anything, and allocate the result before the first change.
  std::vector<std::int32_t*> stock(record.lines.size());
  std::vector<ProductStock> result;
  result.reserve(record.lines.size());
  for (std::size_t i = 0; i < record.lines.size(); ++i) {
    const ReservedLine& line = record.lines[i];
    auto& quantities = shards_[line.shard].quantity;
    auto it = quantities.find(line.product_id);
    if (it == quantities.end()) {
      return absl::InternalError(absl::StrCat("order '", order_id, "': product '", line.product_id,
                                              "' is no longer in the store"));
    }
    stock[i] = &it->second;
    result.push_back({line.product_id, {}});
  }
  const bool first_release = !record.released;
  for (std::size_t i = 0; i < record.lines.size(); ++i) {
    if (first_release) {
      const std::int64_t sum = std::int64_t{*stock[i]} + record.lines[i].quantity;
      *stock[i] = static_cast<std::int32_t>(
          std::min<std::int64_t>(sum, std::numeric_limits<std::int32_t>::max()));
      NotifyLocked(shards_[record.lines[i].shard], record.lines[i].product_id, *stock[i]);
    }
    result[i].availability = AvailabilityOf(*stock[i]);
  }
  if (first_release) {
    record.released = true;
    record.released_at = absl::Now();
  }
  if (first_release && journal_ != nullptr) {
    StockMutation mutation;
    mutation.levels.reserve(result.size());
    for (const ProductStock& level : result) {
      mutation.levels.push_back({level.product_id, level.availability.quantity});
    }
    mutation.order = StateOf(order_id, record);
    journal_->Append(std::move(mutation));
  }
  return result;
}

std::size_t InventoryStore::ForgetReleasedBefore(absl::Time cutoff) {
  if (!JournalAccepting().ok()) return 0;
  std::size_t forgotten = 0;
  for (std::size_t i = 0; i <= shard_mask_; ++i) {
    OrderShard& order_shard = order_shards_[i];
    absl::MutexLock lock(&order_shard.mu);
    std::vector<std::string> ids;
    for (auto it = order_shard.orders.begin(); it != order_shard.orders.end();) {
      const OrderRecord& record = it->second;
      if (record.released && record.released_at < cutoff) {
        if (journal_ != nullptr) ids.push_back(it->first);
        ++forgotten;
        order_shard.orders.erase(it++);
      } else {
        ++it;
      }
    }
    if (!ids.empty()) {
      AppendToJournal({.levels = {}, .order = std::nullopt, .forgotten_orders = std::move(ids)});
    }
  }
  return forgotten;
}

std::size_t InventoryStore::order_count() const {
  std::size_t total = 0;
  for (std::size_t i = 0; i <= shard_mask_; ++i) {
    absl::MutexLock lock(&order_shards_[i].mu);
    total += order_shards_[i].orders.size();
  }
  return total;
}

}  // namespace domain::inventory
