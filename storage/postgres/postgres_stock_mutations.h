// PostgreSQL as the system of record of an inventory replica
// (inventory_server --postgres=URI). PostgreSQL decides every mutation; the
// replica's InventoryStore is only the cache reads and Watch streams are
// served from, fed by the database.
//
//   storage::postgres::PostgresOptions options;
//   options.uri = "postgresql://inventory@db/inventory";
//   absl::StatusOr<std::unique_ptr<PostgresStockMutations>> pg =
//       PostgresStockMutations::Open(options, catalog);
//   InventoryGrpcService service((*pg)->cache(), {.mutations = pg->get()});
//
// Writes. Every ReserveStock and ReleaseReservation is one transaction, run
// by one of `pool_size` connection threads; the calling (completion-queue)
// thread only queues it. A full queue (`queue_limit` waiting) is
// RESOURCE_EXHAUSTED at once. A ReserveStock is one round trip: the prepared
// call of the inventory_reserve function (migration 3), which locks the
// order's stock rows in product-id order (SELECT ... ORDER BY ... FOR
// UPDATE), checks them, decrements them by a conditional update that cannot
// go below zero (and a CHECK constraint), and inserts the order's
// idempotency record (id, owner, lines with the quantities left), all in the
// statement's own transaction. A connection thread sends the reservations
// queued behind the one it takes (up to kMaxReservePipeline) at once, in
// libpq's pipeline mode, each in its own BEGIN ... COMMIT; one that fails
// is answered alone, and those the server then skipped run again one by
// one. A call is answered only after its COMMIT returned, with
// synchronous_commit on. SetStocks queued together (for
// distinct products, up to kMaxSetBatch) are committed by one statement in
// one transaction, each answered after that COMMIT: group commit, as the
// embedded store does, so that one notification and one WAL flush carry
// them all.
// Serialization failures, deadlocks and a concurrent first reservation of
// the same order id (unique violation) are retried, `max_attempts` in all,
// then ABORTED. A lost connection, or a server that cannot be reached, is
// UNAVAILABLE (an interrupted COMMIT's outcome is unknown: a retry with the
// same order id learns it); the next call reconnects. No call waits past
// its deadline, nor a call without one past statement_timeout + 1 s: the
// connect and every answer are awaited by poll, then the connection is
// dropped (DEADLINE_EXCEEDED, or UNAVAILABLE for a server taken for hung).
//
// Reads. Every row of inventory_stock carries a version, raised by each
// update. Statement-level triggers NOTIFY, on channel inventory_stock at
// commit, one "version,quantity,product_id" line per row each statement
// changed (chunks headed "#group,k,n" past NOTIFY's 8000 bytes); a listener
// thread with its own connection applies each statement's rows to the cache
// together (InventoryStore::SetLevels, so a BatchGet never sees part of an
// order), each only when newer than the version the cache holds (so a late
// or repeated notification never overwrites a newer value),
// and on every (re)connect it LISTENs first and then reloads every row
// (whatever it may have missed). A connection thread also applies what its
// own commit returned, as one SetLevels, so a replica reads its own writes
// at once.
//
// Schema. Open applies the versioned migrations under a session advisory
// lock (one replica at a time) and seeds inventory_stock from the catalog
// only into a database never seeded before whose stock table is empty.
#ifndef STORAGE_POSTGRES_POSTGRES_STOCK_MUTATIONS_H_
#define STORAGE_POSTGRES_POSTGRES_STOCK_MUTATIONS_H_

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <memory>
#include <string>
#include <thread>
#include <variant>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/functional/any_invocable.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "domain/inventory/inventory_store.h"
#include "domain/inventory/stock_mutations.h"

namespace storage::postgres {

struct PostgresOptions {
  // libpq connection string or URI (https://www.postgresql.org/docs/15/
  // libpq-connect.html). Its own "options", "connect_timeout" and
  // "application_name" are overridden by the store.
  std::string uri;
  // Connection threads (and connections) that run transactions.
  int pool_size = 4;
  // Transactions waiting for a connection thread; one more is
  // RESOURCE_EXHAUSTED.
  int queue_limit = 256;
  // Attempts of one transaction on serialization failures and deadlocks
  // before ABORTED.
  int max_attempts = 5;
  // Bound of one connection attempt (libpq's connect_timeout, at least 2 s)
  // and, with statement_timeout, of each statement.
  absl::Duration connect_timeout = absl::Seconds(2);
  absl::Duration statement_timeout = absl::Seconds(10);
  // Released orders older than this are deleted by the listener thread,
  // checked every retention_interval; zero or infinite: kept forever.
  absl::Duration order_retention = absl::ZeroDuration();
  absl::Duration retention_interval = absl::Minutes(1);
  // Lock shards of the cache.
  int cache_shards = domain::inventory::InventoryStore::kDefaultShards;
};

class PostgresStockMutations final : public domain::inventory::StockMutations {
 public:
  // How the database was found at Open.
  enum class Origin { kSeeded, kExisting };

  // Connects, migrates and seeds (as described above), loads every row into
  // the cache, then starts the listener and the connection threads.
  // INVALID_ARGUMENT: bad options or catalog (nothing written);
  // UNAVAILABLE: PostgreSQL cannot be reached; INTERNAL: a migration failed.
  static absl::StatusOr<std::unique_ptr<PostgresStockMutations>> Open(
      PostgresOptions options, const std::vector<domain::inventory::CatalogEntry>& catalog);

  // Stops every thread; transactions still queued are answered UNAVAILABLE.
  ~PostgresStockMutations() override;
  PostgresStockMutations(const PostgresStockMutations&) = delete;
  PostgresStockMutations& operator=(const PostgresStockMutations&) = delete;

  // StockMutations: queued for a connection thread; `done` runs there (or
  // at once, on the caller's thread, for INVALID_ARGUMENT and
  // RESOURCE_EXHAUSTED). A call whose deadline passed while queued is
  // DEADLINE_EXCEEDED without touching the database.
  void Reserve(std::string order_id, std::vector<domain::inventory::OrderLine> lines,
               std::string owner, absl::Time deadline, domain::inventory::StockDone done) override;
  void Release(std::string order_id, std::string caller, absl::Time deadline,
               domain::inventory::StockDone done) override;
  void Set(std::string product_id, std::int32_t quantity, absl::Time deadline,
           domain::inventory::SetDone done) override;

  // The replica's copy of inventory_stock, for reads and Watch.
  domain::inventory::InventoryStore& cache() { return cache_; }
  Origin origin() const { return origin_; }
  // Full reloads of the cache the listener has done (one per connect).
  std::int64_t reloads() const { return reloads_.load(); }
  // Reservations sent in pipelines of several (RunPipelined) so far.
  std::int64_t pipelined() const { return pipelined_.load(); }
  // Whether the listener is connected and listening right now.
  bool listening() const { return listening_.load(); }

  // The row-version-checked cache update: applies `quantity` to the cache
  // if `version` is newer than the one it holds for `product_id`.
  void ApplyToCache(const std::string& product_id, std::int32_t quantity, std::int64_t version);

  // One committed level of a product, as a statement returned it.
  struct NewLevel {
    std::string product_id;
    std::int32_t quantity = 0;
    std::int64_t version = 0;
  };
  // ApplyToCache of several levels as one cache change (InventoryStore::
  // SetLevels): a BatchGet sees all of them or none.
  void ApplyToCache(const std::vector<NewLevel>& levels);

  class Session;  // one connection thread's connection (in the .cc)

 private:
  using Job = absl::AnyInvocable<void(Session*) &&>;  // null: shutting down
  // A SetStock waiting. Unlike a Job it is data, so that a connection thread
  // commits the SetStocks queued together in one statement (RunSets).
  struct SetRequest {
    std::string product_id;
    std::int32_t quantity = 0;
    absl::Time deadline;
    domain::inventory::SetDone done;
  };
  // A ReserveStock waiting; the ones queued together are pipelined
  // (RunReserves).
  struct ReserveRequest {
    std::string order_id;
    std::vector<domain::inventory::OrderLine> lines;
    std::string owner;
    absl::Time deadline;
    domain::inventory::StockDone done;
  };
  using Work = std::variant<Job, SetRequest, ReserveRequest>;
  // The most SetStocks one statement commits.
  static constexpr std::size_t kMaxSetBatch = 256;
  // The most reservations one connection sends before reading answers.
  static constexpr std::size_t kMaxReservePipeline = 16;

  explicit PostgresStockMutations(PostgresOptions options);
  // False (and `work` left as it was) when the queue is full.
  bool Enqueue(Work& work);
  void WorkerLoop();
  // Commits `sets` (distinct products) as one statement and answers each.
  void RunSets(Session& session, std::vector<SetRequest>& sets);
  // Answers each of `reserves`: pipelined when there are several, then one
  // by one (with retries) for those the pipeline did not settle.
  void RunReserves(Session& session, std::vector<ReserveRequest>& reserves);
  // One reservation, its own transaction, retried on conflicts.
  void RunReserve(Session& session, ReserveRequest& request);
  // Sends every one of `live` on one connection in pipeline mode, each its
  // own transaction, and answers those that committed or failed for good;
  // returns the ones to run again (never run, or a retryable conflict).
  std::vector<ReserveRequest*> RunPipelined(Session& session,
                                            const std::vector<ReserveRequest*>& live);
  void ListenerLoop();
  // Chunks received so far of one split notification.
  struct PartialGroup {
    std::int64_t received = 0;
    std::vector<NewLevel> levels;
  };
  // Applies one notification's levels, or keeps them until the rest of its
  // group arrived.
  void HandleNotification(absl::string_view payload,
                          absl::flat_hash_map<std::string, PartialGroup>& partial);

  const PostgresOptions options_;
  domain::inventory::InventoryStore cache_;
  Origin origin_ = Origin::kExisting;

  absl::Mutex versions_mu_;
  absl::flat_hash_map<std::string, std::int64_t> versions_ ABSL_GUARDED_BY(versions_mu_);

  absl::Mutex queue_mu_;
  // Signalled on every push and on stopping. A CondVar rather than
  // Mutex::Await: an Await condition is evaluated by whichever thread
  // unlocks the mutex, which ThreadSanitizer (through the test shim) cannot
  // see as holding it.
  absl::CondVar queue_cv_;
  std::deque<Work> queue_ ABSL_GUARDED_BY(queue_mu_);
  bool stopping_ ABSL_GUARDED_BY(queue_mu_) = false;

  std::atomic<bool> stop_listener_{false};
  std::atomic<bool> listening_{false};
  std::atomic<std::int64_t> reloads_{0};
  std::atomic<std::int64_t> pipelined_{0};
  std::vector<std::thread> workers_;
  std::thread listener_;
};

}  // namespace storage::postgres

#endif  // STORAGE_POSTGRES_POSTGRES_STOCK_MUTATIONS_H_
