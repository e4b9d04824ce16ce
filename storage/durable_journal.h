// The durable StockJournal: every store mutation is written to RocksDB (from
// Debian's librocksdb-dev) in a directory of its own, and a caller learns
// through WhenDurable when its change is on disk.
//
// Group commit: Append only queues the mutation (the store calls it under
// its locks; it never touches the disk). One writer thread takes everything
// queued, writes it as a single RocksDB WriteBatch with one fsync (sync on)
// and then runs the WhenDurable callbacks it covered. While one batch is
// being synced the next one gathers, so the cost of an fsync is shared by
// all writers that arrived during the previous one, and completion-queue
// threads never wait for the disk.
//
// Layout (keys): "s/<product_id>" -> decimal quantity; "o/<order_id>" ->
// StoredOrder (journal_records.proto), deleted when the store forgets the
// order (StockMutation::forgotten_orders); "m/format" -> "1", written once the
// initial stock is stored, so a directory is either initialized or empty.
#ifndef STORAGE_DURABLE_JOURNAL_H_
#define STORAGE_DURABLE_JOURNAL_H_

#include <atomic>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "domain/inventory/inventory_store.h"
#include "domain/inventory/stock_journal.h"

namespace rocksdb {
class DB;
class Env;
}  // namespace rocksdb

namespace storage {

// The types this file translates between, from other layers.
using domain::inventory::CatalogEntry;
using domain::inventory::OrderState;
using domain::inventory::StockJournal;
using domain::inventory::StockMutation;

struct DurableJournalOptions {
  // fsync every batch before acknowledging it. Off, a write survives a
  // crash of the process (it is in the OS page cache) but the last writes
  // may be lost on power loss or a kernel crash.
  bool sync = true;
  // Called once, on the writer thread, with the error when a write fails.
  // From then on the journal accepts nothing (Accepting() returns the error,
  // every WhenDurable fails): the server should stop, so that a restart
  // serves what was acknowledged and nothing else. Must not block.
  std::function<void(const absl::Status&)> on_write_failure;
  // The RocksDB environment; null for the default. Tests pass one that fails
  // writes on demand.
  rocksdb::Env* env = nullptr;
};

// What a directory holds, as read at start-up.
struct StoredState {
  bool initialized = false;  // false: a new, empty directory
  std::vector<CatalogEntry> stock;
  std::vector<OrderState> orders;
};

struct DurableJournalStats {
  std::int64_t mutations_written = 0;
  std::int64_t batches_written = 0;  // one fsync each when sync is on
  std::int64_t largest_batch = 0;    // mutations
};

class DurableJournal final : public StockJournal {
 public:
  // Opens (creating if needed) the RocksDB database in `directory` and starts
  // the writer thread. Fails with a message naming the directory if it cannot
  // be created or opened, e.g. because another process holds it.
  static absl::StatusOr<std::unique_ptr<DurableJournal>> Open(const std::string& directory,
                                                              DurableJournalOptions options);
  DurableJournal(const DurableJournal&) = delete;
  DurableJournal& operator=(const DurableJournal&) = delete;
  // Close()s, then closes the database.
  ~DurableJournal() override;

  // Everything stored. Call before serving; DATA_LOSS if a record does not
  // parse.
  absl::StatusOr<StoredState> Read() const;

  // Stores the initial stock of a new directory and marks it initialized,
  // synchronously and durably (whatever `sync` says).
  absl::Status Initialize(const std::vector<CatalogEntry>& stock);

  // StockJournal. After a write error or Close() every WhenDurable fails
  // with UNAVAILABLE and appended mutations are dropped: the server must be
  // restarted, and then serves what was acknowledged.
  void Append(StockMutation mutation) override;
  void WhenDurable(absl::AnyInvocable<void(absl::Status) &&> done) override;
  absl::Status Accepting() const override;

  // Writes and acknowledges everything appended so far, then stops the
  // writer thread. Idempotent. Call after the server has drained.
  void Close();

  DurableJournalStats Stats() const;
  const std::string& directory() const { return directory_; }

 private:
  struct Waiter {
    std::uint64_t sequence;  // durable once durable_sequence_ reaches it
    absl::AnyInvocable<void(absl::Status) &&> done;
  };

  DurableJournal(std::string directory, DurableJournalOptions options, rocksdb::DB* db);
  void WriterLoop();
  // Writes `batch` as one WriteBatch; OK or the error to fail everything with.
  absl::Status WriteBatch(const std::vector<StockMutation>& batch);

  const std::string directory_;
  const DurableJournalOptions options_;
  std::unique_ptr<rocksdb::DB> db_;

  mutable absl::Mutex mu_;
  std::vector<StockMutation> pending_ ABSL_GUARDED_BY(mu_);
  std::deque<Waiter> waiters_ ABSL_GUARDED_BY(mu_);  // ascending sequence
  std::uint64_t appended_sequence_ ABSL_GUARDED_BY(mu_) = 0;
  std::uint64_t durable_sequence_ ABSL_GUARDED_BY(mu_) = 0;
  absl::Status failure_ ABSL_GUARDED_BY(mu_);  // sticky: write error or closed
  std::atomic<bool> failed_{false};            // !failure_.ok(), read without mu_
  bool closing_ ABSL_GUARDED_BY(mu_) = false;
  absl::CondVar work_available_;  // pending_ became non-empty, or closing_
  DurableJournalStats stats_ ABSL_GUARDED_BY(mu_);
  std::thread writer_;
};

}  // namespace storage

#endif  // STORAGE_DURABLE_JOURNAL_H_
