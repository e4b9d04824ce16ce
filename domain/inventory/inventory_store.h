// A concurrent in-memory stock table with all-or-nothing stock reservations.
// No gRPC types: the service layer maps its answers onto the wire.
//
// Sharded by product id hash; each shard has its own reader/writer lock, so
// a read locks one shard in shared mode and never takes a store-wide lock.
//
// Reservations are remembered per order id in a second sharded table (by
// order id hash), each shard with its own lock. Lock order, followed by every
// method and never taken the other way round:
//
//   1. at most one order shard (Reserve and Release only), then
//   2. stock shards in ascending shard index, each at most once.
//
// Get, Set, Load, Watch and size hold one stock shard lock at a time and no
// order shard lock, so they cannot take part in a cycle either.
//
// Every change is reported, under the locks that ordered it, to the optional
// StockJournal (durability) and to the StockWatchers of the changed products
// (live streams). Neither may call back into the store.
#ifndef DOMAIN_INVENTORY_INVENTORY_STORE_H_
#define DOMAIN_INVENTORY_INVENTORY_STORE_H_

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "domain/inventory/limits.h"
#include "domain/inventory/stock_journal.h"
#include "domain/inventory/stock_watcher.h"

namespace domain::inventory {

struct CatalogEntry {
  std::string product_id;
  std::int32_t quantity = 0;
};

// One line of an order: `quantity` units of `product_id`.
struct OrderLine {
  std::string product_id;
  std::int32_t quantity = 0;
};

// The stock of one product at a point in time.
struct ProductStock {
  std::string product_id;
  Availability availability;
};

class InventoryStore {
 public:
  static constexpr int kDefaultShards = 64;

  // `shards` is rounded up to a power of two (at least 1). `journal`, if not
  // null, receives every change made by Set, Reserve and Release (not Load or
  // RestoreOrders: those restore state that is already stored) and must
  // outlive the store.
  explicit InventoryStore(int shards = kDefaultShards, StockJournal* journal = nullptr);
  InventoryStore(const InventoryStore&) = delete;
  InventoryStore& operator=(const InventoryStore&) = delete;

  // Stock of one product. An unknown product is {false, 0}, not an error:
  // that is the contract of the original service. Thread-safe.
  Availability Get(absl::string_view product_id) const;

  // Sets the absolute quantity, creating the product if unknown. Rejects a
  // negative quantity or an invalid id with INVALID_ARGUMENT. Thread-safe.
  //
  // Set, Reserve and Release change nothing, and return the journal's error
  // (UNAVAILABLE), once the journal no longer accepts mutations
  // (StockJournal::Accepting). Changes applied just before a journal failure
  // (those of the failing batch) stay in memory but are never acknowledged.
  absl::Status Set(absl::string_view product_id, std::int32_t quantity);

  // The stock of each of `product_ids` (in that order) as of one instant:
  // the stock shards they live in are locked together (reader, ascending),
  // so a multi-line Reserve, Release or SetLevels is seen whole or not at
  // all. Thread-safe.
  std::vector<Availability> GetMany(const std::vector<std::string>& product_ids) const;

  // Sets several absolute quantities as one change: all are validated
  // before any is applied (INVALID_ARGUMENT, nothing changed), then the
  // stock shards they live in are locked together (writer, ascending) while
  // all are written, so GetMany never sees some of them applied and others
  // not. One journal mutation. Ids must be unique. Thread-safe.
  absl::Status SetLevels(const std::vector<CatalogEntry>& levels);

  // Loads entries; all are validated before any is applied. Not journaled:
  // for start-up, from a catalog or from storage. Watchers are notified.
  absl::Status Load(const std::vector<CatalogEntry>& entries);

  // Recreates order records read back from storage, as Reserve and Release
  // left them; stock levels are restored by Load. Not journaled. Orders
  // already known are replaced. INVALID_ARGUMENT (nothing restored) if an
  // order or product id is invalid or an order has no lines.
  absl::Status RestoreOrders(std::vector<OrderState> orders);

  // Registers `watcher` for each of `product_ids` (unique, valid ids; unknown
  // products are watched too and report {false, 0} until created) and
  // reports each one's current value to it before returning. Until Unwatch
  // with the same ids returns, every change of those products is reported.
  void Watch(const std::vector<std::string>& product_ids, StockWatcher* watcher);
  // After this returns `watcher` receives no further call for these ids.
  void Unwatch(const std::vector<std::string>& product_ids, StockWatcher* watcher);

  std::size_t size() const;

  // Reserves every line of order `order_id` or none of them, and returns the
  // quantities left right after the reservation: one entry per line, in the
  // order of `lines`. Thread-safe; never oversells under any concurrency.
  //
  // Checks, in this order (the first failure is returned, nothing changes):
  //   * INVALID_ARGUMENT if `order_id` breaks the product id rules
  //     (ValidateProductId: 1..128 bytes of printable UTF-8); the message
  //     starts with "order_id".
  //   * INVALID_ARGUMENT if `lines` is empty or has more than kMaxOrderLines
  //     entries.
  //   * INVALID_ARGUMENT for the first line, by index, with an invalid
  //     product id, a quantity <= 0, or a product already named by an earlier
  //     line; the message starts with "lines[i]: ".
  //   * If `order_id` was reserved before (whether or not it was released
  //     since): with the same lines, the ORIGINAL result (the quantities left
  //     right after the original reservation), reserving nothing more and
  //     without looking at current stock; with different lines,
  //     ALREADY_EXISTS. Lines are the same if they name the same products
  //     with the same quantities; line ORDER IS NOT SIGNIFICANT, and the
  //     original result is returned in the order of this call's `lines`.
  //   * INVALID_ARGUMENT "lines[i]: unknown product" for the first line whose
  //     product the store does not know (before any stock check).
  //   * FAILED_PRECONDITION naming the first line, in request order, whose
  //     product has less stock than requested, with the requested and
  //     available amounts.
  // Only a successful reservation records `order_id`; after any error the id
  // is as unused as before (a retry is evaluated afresh).
  //
  // Locks: the order shard of `order_id` (writer) for the whole call; for a
  // new order also the stock shards of its products (writer), in ascending
  // shard index, each once, held together while stock is checked and taken.
  // Complexity: O(n log n) for n lines, plus the lock acquisitions (at most
  // min(n, shard count) stock shards). Order records take about the size of
  // the lines plus a small overhead each; a reserved order's record is kept
  // as long as it holds stock, a released one until ForgetReleasedBefore
  // passes its release time (after that the id is unused: a Reserve with it
  // is a new order).
  //
  // Ownership: `owner` (empty: none) names who reserves; it is recorded with
  // a new order. A repeat of an order recorded with an owner, by another
  // non-empty owner, is PERMISSION_DENIED (checked right after the id is
  // found, before the lines are compared), and so is its Release (below).
  // An empty owner on either side is not checked: a server that does not
  // authenticate its callers passes none.
  absl::StatusOr<std::vector<ProductStock>> Reserve(absl::string_view order_id,
                                                    const std::vector<OrderLine>& lines,
                                                    absl::string_view owner = {});

  // Returns the stock held by order `order_id` to its products, and returns
  // their quantities right after that, one entry per line of the original
  // Reserve call, in that call's line order. Thread-safe.
  //
  // Idempotent: releasing an already released order changes nothing and
  // returns OK with the current quantities of the order's products. The
  // order stays recorded as released: a later Reserve with the same id and
  // the same lines returns the original result and reserves nothing; with
  // different lines it is ALREADY_EXISTS (an order id names one reservation
  // forever).
  //
  // Released units are added to the product's current quantity, whatever Set
  // or Load made it in the meantime (Set is an absolute override that knows
  // nothing of reservations); a sum above INT32_MAX saturates at INT32_MAX.
  //
  // The first release stamps the record with the current time
  // (OrderState::released_at), which the retention window runs from.
  //
  // Errors: INVALID_ARGUMENT if `order_id` breaks the id rules (as in
  // Reserve); NOT_FOUND if no successful Reserve recorded it, or if its
  // record was forgotten (ForgetReleasedBefore); PERMISSION_DENIED if the
  // order was reserved with an owner and `caller` is another non-empty one
  // (nothing changes; the message does not name the owner).
  //
  // Locks: the order shard of `order_id` (writer) for the whole call, then the
  // stock shards of the order's products in ascending shard index, each once:
  // writer on the first release, reader on a repeat.
  // Complexity: O(n log n) for the order's n lines, plus the lock acquisitions.
  absl::StatusOr<std::vector<ProductStock>> Release(absl::string_view order_id,
                                                    absl::string_view caller = {});

  // The retention sweep: forgets the record of every order released before
  // `cutoff`, and returns how many it forgot. Orders never released keep
  // their records (their stock is still held), so forgetting never changes
  // a stock level, and a forgotten order can be neither replayed nor
  // released again: its id is as unused as one never seen. The journal gets
  // one mutation per order shard that forgot any (forgotten_orders), under
  // that shard's lock, so a Reserve of the same id afterwards is journaled
  // after the deletion. Does nothing (returns 0) once the journal no longer
  // accepts mutations. Thread-safe; holds one order shard lock at a time,
  // for a scan of that shard.
  std::size_t ForgetReleasedBefore(absl::Time cutoff);

  // Order records held (reserved and released). Thread-safe; locks each
  // order shard in turn.
  std::size_t order_count() const;

 private:
  struct alignas(64) Shard {
    mutable absl::Mutex mu;
    absl::flat_hash_map<std::string, std::int32_t> quantity ABSL_GUARDED_BY(mu);
    absl::flat_hash_map<std::string, std::vector<StockWatcher*>> watchers ABSL_GUARDED_BY(mu);
  };

  // One line of a successful reservation.
  struct ReservedLine {
    std::string product_id;
    std::int32_t quantity = 0;   // units taken
    std::int32_t remaining = 0;  // product quantity right after the reservation
    std::size_t shard = 0;       // stock shard index of product_id
  };
  struct OrderRecord {
    std::vector<ReservedLine> lines;  // in the original request order
    bool released = false;
    absl::Time released_at = absl::InfinitePast();  // set by the first release
    std::string owner;                              // who reserved it; empty: nobody named
  };
  struct alignas(64) OrderShard {
    mutable absl::Mutex mu;
    absl::flat_hash_map<std::string, OrderRecord> orders ABSL_GUARDED_BY(mu);
  };

  // Index into shards_ (product ids) or order_shards_ (order ids).
  std::size_t ShardIndex(absl::string_view key) const;
  Shard& ShardFor(absl::string_view product_id) const;
  // Tells the product's watchers its new quantity. The caller holds the
  // shard's lock (writer).
  static void NotifyLocked(const Shard& shard, const std::string& product_id,
                           std::int32_t quantity) ABSL_NO_THREAD_SAFETY_ANALYSIS;
  // Reads and writes of one product; the caller holds the shard's lock
  // (reader for GetLocked, writer for SetLocked, which also notifies).
  static Availability GetLocked(const Shard& shard,
                                absl::string_view product_id) ABSL_NO_THREAD_SAFETY_ANALYSIS;
  static void SetLocked(Shard& shard, const std::string& product_id,
                        std::int32_t quantity) ABSL_NO_THREAD_SAFETY_ANALYSIS;
  // OK without a journal.
  absl::Status JournalAccepting() const;
  void AppendToJournal(StockMutation mutation) {
    if (journal_ != nullptr) journal_->Append(std::move(mutation));
  }
  static OrderState StateOf(absl::string_view order_id, const OrderRecord& record);
  // Whether `caller` is not the owner of `record` (both named, and differ).
  static bool OwnedByAnother(const OrderRecord& record, absl::string_view caller);
  static absl::Status NotYourOrder(absl::string_view order_id);

  // The mutexes of the given stock shards in lock order: ascending, no repeats.
  std::vector<absl::Mutex*> StockMutexes(std::vector<std::size_t> shard_indices) const;

  // The same-lines-or-ALREADY_EXISTS answer for an order already recorded.
  static absl::StatusOr<std::vector<ProductStock>> Replay(absl::string_view order_id,
                                                          const OrderRecord& record,
                                                          const std::vector<OrderLine>& lines);
  // The stock part of Reserve and Release. The caller holds the order shard
  // lock and every stock shard lock the order needs (writer for Reserve and a
  // first Release, at least reader for a repeated Release): dynamic sets of
  // locks the static analysis cannot follow.
  absl::StatusOr<std::vector<ProductStock>> ReserveLocked(
      absl::string_view order_id, const std::vector<OrderLine>& lines,
      const std::vector<std::size_t>& line_shards, absl::string_view owner,
      OrderShard& order_shard) ABSL_NO_THREAD_SAFETY_ANALYSIS;
  absl::StatusOr<std::vector<ProductStock>> ReleaseLocked(
      absl::string_view order_id, OrderRecord& record) ABSL_NO_THREAD_SAFETY_ANALYSIS;

  StockJournal* const journal_;
  std::size_t shard_mask_;
  std::unique_ptr<Shard[]> shards_;
  std::unique_ptr<OrderShard[]> order_shards_;  // same count as shards_
};

}  // namespace domain::inventory

#endif  // DOMAIN_INVENTORY_INVENTORY_STORE_H_
