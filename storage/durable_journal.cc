#include "storage/durable_journal.h"

#include <rocksdb/db.h>
#include <rocksdb/iterator.h>
#include <rocksdb/memtablerep.h>
#include <rocksdb/options.h>
#include <rocksdb/write_batch.h>

#include <utility>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "journal_records.pb.h"

namespace storage {

// The types this file translates between, from other layers.
using domain::inventory::ReservationLine;
using domain::inventory::StockLevel;
using records::StoredOrder;
using records::StoredReservationLine;
namespace {

constexpr absl::string_view kStockPrefix = "s/";
constexpr absl::string_view kOrderPrefix = "o/";
constexpr absl::string_view kFormatKey = "m/format";
constexpr absl::string_view kFormatVersion = "1";

rocksdb::Slice ToSlice(absl::string_view view) { return {view.data(), view.size()}; }
absl::string_view ToView(const rocksdb::Slice& slice) { return {slice.data(), slice.size()}; }

std::string StockKey(absl::string_view product_id) {
  return absl::StrCat(kStockPrefix, product_id);
}
std::string OrderKey(absl::string_view order_id) { return absl::StrCat(kOrderPrefix, order_id); }

std::string EncodeOrder(const OrderState& order) {
  StoredOrder stored;
  stored.set_released(order.released);
  if (order.released) stored.set_released_at_unix_micros(absl::ToUnixMicros(order.released_at));
  if (!order.owner.empty()) stored.set_owner(order.owner);
  for (const ReservationLine& line : order.lines) {
    StoredReservationLine* out = stored.add_lines();
    out->set_product_id(line.product_id);
    out->set_quantity(line.quantity);
    out->set_remaining(line.remaining);
  }
  return stored.SerializeAsString();
}

absl::Status FromRocks(const rocksdb::Status& status, absl::string_view what,
                       absl::string_view directory) {
  if (status.ok()) return absl::OkStatus();
  return absl::UnavailableError(absl::StrCat(what, " '", directory, "': ", status.ToString()));
}

}  // namespace

absl::StatusOr<std::unique_ptr<DurableJournal>> DurableJournal::Open(
    const std::string& directory, DurableJournalOptions options) {
  if (directory.empty()) return absl::InvalidArgumentError("the data directory name is empty");
  rocksdb::Options db_options;
  db_options.create_if_missing = true;
  // Small values written at a high rate from one writer: keep compaction in
  // the background and the info logs few.
  db_options.max_background_jobs = 2;
  db_options.keep_log_file_num = 3;
  // The journal only writes while serving and reads once, at start-up, by
  // a full scan: an append-only vector memtable (sorted when flushed) saves
  // the skiplist insert that dominated the writer thread's profile. It
  // requires writes from one thread at a time, which is all the journal does.
  db_options.memtable_factory = std::make_shared<rocksdb::VectorRepFactory>();
  db_options.allow_concurrent_memtable_write = false;
  if (options.env != nullptr) db_options.env = options.env;
  rocksdb::DB* db = nullptr;
  rocksdb::Status opened = rocksdb::DB::Open(db_options, directory, &db);
  if (!opened.ok()) {
    return absl::UnavailableError(absl::StrCat("cannot open the data directory '", directory,
                                               "': ", opened.ToString(),
                                               " (is another server using it?)"));
  }
  return std::unique_ptr<DurableJournal>(new DurableJournal(directory, options, db));
}

DurableJournal::DurableJournal(std::string directory, DurableJournalOptions options,
                               rocksdb::DB* db)
    : directory_(std::move(directory)), options_(options), db_(db) {
  writer_ = std::thread([this] { WriterLoop(); });
}

DurableJournal::~DurableJournal() {
  Close();
  if (db_ != nullptr) db_->Close().PermitUncheckedError();
}

absl::StatusOr<StoredState> DurableJournal::Read() const {
  StoredState state;
  std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(rocksdb::ReadOptions()));
  for (it->SeekToFirst(); it->Valid(); it->Next()) {
    absl::string_view key = ToView(it->key());
    absl::string_view value = ToView(it->value());
    if (absl::ConsumePrefix(&key, kStockPrefix)) {
      std::int32_t quantity = 0;
      if (!absl::SimpleAtoi(value, &quantity) || quantity < 0) {
        return absl::DataLossError(absl::StrCat("data directory '", directory_, "': bad quantity '",
                                                value, "' for product '", key, "'"));
      }
      state.stock.push_back({std::string(key), quantity});
    } else if (absl::ConsumePrefix(&key, kOrderPrefix)) {
      StoredOrder stored;
      if (!stored.ParseFromArray(value.data(), static_cast<int>(value.size()))) {
        return absl::DataLossError(absl::StrCat("data directory '", directory_,
                                                "': unreadable record of order '", key, "'"));
      }
      OrderState order{std::string(key), {}, stored.released()};
      order.owner = stored.owner();
      if (order.released) {
        order.released_at = stored.released_at_unix_micros() != 0
                                ? absl::FromUnixMicros(stored.released_at_unix_micros())
                                : absl::Now();
      }
      order.lines.reserve(stored.lines_size());
      for (const StoredReservationLine& line : stored.lines()) {
        order.lines.push_back({line.product_id(), line.quantity(), line.remaining()});
      }
      state.orders.push_back(std::move(order));
    } else if (key == kFormatKey) {
      if (value != kFormatVersion) {
        return absl::FailedPreconditionError(absl::StrCat("data directory '", directory_,
                                                          "' has format ", value,
                                                          "; this server reads ", kFormatVersion));
      }
      state.initialized = true;
    } else {
      return absl::DataLossError(
          absl::StrCat("data directory '", directory_, "': unexpected key '", key, "'"));
    }
  }
  if (!it->status().ok())
    return FromRocks(it->status(), "cannot read the data directory", directory_);
  return state;
}

absl::Status DurableJournal::Initialize(const std::vector<CatalogEntry>& stock) {
  rocksdb::WriteBatch batch;
  for (const CatalogEntry& entry : stock) {
    batch.Put(StockKey(entry.product_id), absl::StrCat(entry.quantity));
  }
  // Last, in the same atomic batch: a crash leaves the directory empty or
  // fully initialized.
  batch.Put(ToSlice(kFormatKey), ToSlice(kFormatVersion));
  rocksdb::WriteOptions write_options;
  write_options.sync = true;
  return FromRocks(db_->Write(write_options, &batch), "cannot initialize the data directory",
                   directory_);
}

void DurableJournal::Append(StockMutation mutation) {
  absl::MutexLock lock(&mu_);
  if (!failure_.ok()) return;  // nobody will be told it is durable
  pending_.push_back(std::move(mutation));
  ++appended_sequence_;
  if (pending_.size() == 1) work_available_.Signal();
}

absl::Status DurableJournal::Accepting() const {
  if (!failed_.load(std::memory_order_acquire)) return absl::OkStatus();
  absl::MutexLock lock(&mu_);
  return failure_;
}

void DurableJournal::WhenDurable(absl::AnyInvocable<void(absl::Status) &&> done) {
  absl::Status now;
  {
    absl::MutexLock lock(&mu_);
    if (failure_.ok() && durable_sequence_ < appended_sequence_) {
      waiters_.push_back({appended_sequence_, std::move(done)});
      return;
    }
    now = failure_;
  }
  std::move(done)(now);
}

void DurableJournal::WriterLoop() {
  std::vector<StockMutation> batch;
  for (;;) {
    std::uint64_t batch_end;
    {
      absl::MutexLock lock(&mu_);
      // A CondVar rather than Await(Condition): abseil evaluates a Condition
      // inside the library, where the TSan build's mutex shim cannot see it.
      while (pending_.empty() && !closing_) work_available_.Wait(&mu_);
      if (pending_.empty()) return;  // closing, and everything is written
      batch.swap(pending_);
      batch_end = appended_sequence_;
    }
    absl::Status written = WriteBatch(batch);
    std::deque<Waiter> covered;
    {
      absl::MutexLock lock(&mu_);
      if (written.ok()) {
        durable_sequence_ = batch_end;
        stats_.mutations_written += static_cast<std::int64_t>(batch.size());
        ++stats_.batches_written;
        stats_.largest_batch =
            std::max(stats_.largest_batch, static_cast<std::int64_t>(batch.size()));
        while (!waiters_.empty() && waiters_.front().sequence <= batch_end) {
          covered.push_back(std::move(waiters_.front()));
          waiters_.pop_front();
        }
      } else {
        // Nothing later can be made durable in order any more: fail it all.
        failure_ = written;
        failed_.store(true, std::memory_order_release);
        pending_.clear();
        covered.swap(waiters_);
      }
    }
    batch.clear();
    for (Waiter& waiter : covered) std::move(waiter.done)(written);
    if (!written.ok() && options_.on_write_failure) options_.on_write_failure(written);
  }
}

absl::Status DurableJournal::WriteBatch(const std::vector<StockMutation>& batch) {
  rocksdb::WriteBatch write_batch;
  for (const StockMutation& mutation : batch) {
    for (const StockLevel& level : mutation.levels) {
      write_batch.Put(StockKey(level.product_id), absl::StrCat(level.quantity));
    }
    if (mutation.order.has_value()) {
      write_batch.Put(OrderKey(mutation.order->order_id), EncodeOrder(*mutation.order));
    }
    for (const std::string& order_id : mutation.forgotten_orders) {
      write_batch.Delete(OrderKey(order_id));
    }
  }
  rocksdb::WriteOptions write_options;
  write_options.sync = options_.sync;
  return FromRocks(db_->Write(write_options, &write_batch), "write to the data directory",
                   directory_);
}

void DurableJournal::Close() {
  {
    absl::MutexLock lock(&mu_);
    if (closing_) return;
    closing_ = true;
    work_available_.Signal();
  }
  writer_.join();
  std::deque<Waiter> late;
  {
    absl::MutexLock lock(&mu_);
    if (failure_.ok()) {
      failure_ = absl::UnavailableError(
          absl::StrCat("the journal of '", directory_, "' is closed (the server is stopping)"));
      failed_.store(true, std::memory_order_release);
    }
    late.swap(waiters_);  // empty unless a write failed; kept for safety
  }
  for (Waiter& waiter : late) std::move(waiter.done)(absl::UnavailableError("journal closed"));
}

DurableJournalStats DurableJournal::Stats() const {
  absl::MutexLock lock(&mu_);
  return stats_;
}

}  // namespace storage
