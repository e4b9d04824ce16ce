#include "storage/durable_journal.h"

#include <rocksdb/db.h>
#include <rocksdb/env.h>
#include <rocksdb/file_system.h>

#include <atomic>
#include <catch2/catch.hpp>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "absl/synchronization/notification.h"
#include "domain/inventory/inventory_store.h"
#include "test/temp_dir.h"

namespace storage {

// The types this file translates between, from other layers.
using domain::inventory::CatalogEntry;
using domain::inventory::InventoryStore;
using domain::inventory::OrderState;
namespace {

using testing_util::TempDir;

std::unique_ptr<DurableJournal> OpenOrDie(const std::string& directory, bool sync = true) {
  auto journal = DurableJournal::Open(directory, {.sync = sync});
  REQUIRE(journal.ok());
  return std::move(journal).value();
}

// Blocks until everything appended so far is durable; returns the status.
absl::Status WaitDurable(DurableJournal& journal) {
  absl::Notification done;
  absl::Status result;
  journal.WhenDurable([&](absl::Status status) {
    result = status;
    done.Notify();
  });
  REQUIRE(done.WaitForNotificationWithTimeout(absl::Seconds(30)));
  return result;
}

std::int32_t StockOf(const StoredState& state, const std::string& product_id) {
  for (const CatalogEntry& entry : state.stock) {
    if (entry.product_id == product_id) return entry.quantity;
  }
  FAIL("no stored stock for " << product_id);
  return -1;
}

TEST_CASE("a new directory is empty until initialized, then reads back its stock") {
  TempDir dir("durable_journal_test");
  {
    auto journal = OpenOrDie(dir.Path("db"));
    auto state = journal->Read();
    REQUIRE(state.ok());
    CHECK_FALSE(state->initialized);
    CHECK(state->stock.empty());
    CHECK(state->orders.empty());
    REQUIRE(journal->Initialize({{"apple", 5}, {"pear", 0}}).ok());
  }
  auto journal = OpenOrDie(dir.Path("db"));
  auto state = journal->Read();
  REQUIRE(state.ok());
  CHECK(state->initialized);
  CHECK(state->stock.size() == 2);
  CHECK(StockOf(*state, "apple") == 5);
  CHECK(StockOf(*state, "pear") == 0);
}

TEST_CASE("appended mutations are durable when WhenDurable says so, last write wins") {
  TempDir dir("durable_journal_test");
  {
    auto journal = OpenOrDie(dir.Path("db"));
    journal->Append({.levels = {{"apple", 9}}, .order = std::nullopt});
    journal->Append({.levels = {{"apple", 7}, {"pear", 1}},
                     .order = OrderState{"order-1", {{"apple", 2, 7}, {"pear", 1, 1}}, false}});
    journal->Append({.levels = {{"apple", 9}, {"pear", 2}},
                     .order = OrderState{"order-1", {{"apple", 2, 7}, {"pear", 1, 1}}, true}});
    REQUIRE(WaitDurable(*journal).ok());
    CHECK(journal->Stats().mutations_written == 3);
  }
  auto journal = OpenOrDie(dir.Path("db"));
  auto state = journal->Read();
  REQUIRE(state.ok());
  CHECK(StockOf(*state, "apple") == 9);
  CHECK(StockOf(*state, "pear") == 2);
  REQUIRE(state->orders.size() == 1);
  const OrderState& order = state->orders[0];
  CHECK(order.order_id == "order-1");
  CHECK(order.released);
  REQUIRE(order.lines.size() == 2);
  CHECK(order.lines[0].product_id == "apple");
  CHECK(order.lines[0].quantity == 2);
  CHECK(order.lines[0].remaining == 7);
  CHECK(order.lines[1].product_id == "pear");
}

TEST_CASE("WhenDurable with nothing pending answers at once on the calling thread") {
  TempDir dir("durable_journal_test");
  auto journal = OpenOrDie(dir.Path("db"));
  bool called = false;
  journal->WhenDurable([&](absl::Status status) {
    CHECK(status.ok());
    called = true;
  });
  CHECK(called);
}

TEST_CASE("concurrent writers are all acknowledged, and each product keeps its last write") {
  TempDir dir("durable_journal_test");
  auto journal = OpenOrDie(dir.Path("db"));
  constexpr int kThreads = 8;
  constexpr int kPerThread = 500;
  std::atomic<int> acknowledged{0};
  std::atomic<int> failed{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < kPerThread; ++i) {
        journal->Append({.levels = {{absl::StrCat("p", t), i}}, .order = std::nullopt});
        absl::Notification done;
        journal->WhenDurable([&](absl::Status status) {
          (status.ok() ? acknowledged : failed).fetch_add(1);
          done.Notify();
        });
        done.WaitForNotification();
      }
    });
  }
  for (std::thread& thread : threads) thread.join();
  CHECK(acknowledged.load() == kThreads * kPerThread);
  CHECK(failed.load() == 0);
  DurableJournalStats stats = journal->Stats();
  CHECK(stats.mutations_written == kThreads * kPerThread);
  CHECK(stats.batches_written <= stats.mutations_written);
  journal.reset();
  auto reopened = OpenOrDie(dir.Path("db"));
  auto state = reopened->Read();
  REQUIRE(state.ok());
  for (int t = 0; t < kThreads; ++t) CHECK(StockOf(*state, absl::StrCat("p", t)) == kPerThread - 1);
}

TEST_CASE("Close acknowledges what was appended, then refuses") {
  TempDir dir("durable_journal_test");
  auto journal = OpenOrDie(dir.Path("db"), /*sync=*/false);
  journal->Append({.levels = {{"apple", 3}}, .order = std::nullopt});
  absl::Status before;
  bool before_called = false;
  journal->WhenDurable([&](absl::Status status) {
    before = status;
    before_called = true;
  });
  journal->Close();
  CHECK(before_called);
  CHECK(before.ok());
  journal->Append({.levels = {{"apple", 1}}, .order = std::nullopt});
  absl::Status after = WaitDurable(*journal);
  CHECK(after.code() == absl::StatusCode::kUnavailable);
  journal.reset();
  auto state = OpenOrDie(dir.Path("db"))->Read();
  REQUIRE(state.ok());
  CHECK(StockOf(*state, "apple") == 3);
}

// A file system whose writable files start failing their appends and syncs
// on demand, as a full or failing disk would.
class FailingFileSystem final : public rocksdb::FileSystemWrapper {
 public:
  FailingFileSystem() : FileSystemWrapper(rocksdb::FileSystem::Default()) {}
  const char* Name() const override { return "FailingFileSystem"; }
  void FailWrites() { failing_ = true; }

  rocksdb::IOStatus NewWritableFile(const std::string& name, const rocksdb::FileOptions& options,
                                    std::unique_ptr<rocksdb::FSWritableFile>* result,
                                    rocksdb::IODebugContext* debug) override {
    std::unique_ptr<rocksdb::FSWritableFile> file;
    rocksdb::IOStatus status = target()->NewWritableFile(name, options, &file, debug);
    if (status.ok()) *result = std::make_unique<File>(std::move(file), &failing_);
    return status;
  }

 private:
  class File final : public rocksdb::FSWritableFileOwnerWrapper {
   public:
    File(std::unique_ptr<rocksdb::FSWritableFile> file, const std::atomic<bool>* failing)
        : FSWritableFileOwnerWrapper(std::move(file)), failing_(failing) {}
    rocksdb::IOStatus Append(const rocksdb::Slice& data, const rocksdb::IOOptions& options,
                             rocksdb::IODebugContext* debug) override {
      if (*failing_) return rocksdb::IOStatus::NoSpace("injected: no space left on device");
      return FSWritableFileOwnerWrapper::Append(data, options, debug);
    }
    rocksdb::IOStatus Append(const rocksdb::Slice& data, const rocksdb::IOOptions& options,
                             const rocksdb::DataVerificationInfo& info,
                             rocksdb::IODebugContext* debug) override {
      if (*failing_) return rocksdb::IOStatus::NoSpace("injected: no space left on device");
      return FSWritableFileOwnerWrapper::Append(data, options, info, debug);
    }
    rocksdb::IOStatus Sync(const rocksdb::IOOptions& options,
                           rocksdb::IODebugContext* debug) override {
      if (*failing_) return rocksdb::IOStatus::IOError("injected: fsync failed");
      return FSWritableFileOwnerWrapper::Sync(options, debug);
    }

   private:
    const std::atomic<bool>* failing_;
  };

  std::atomic<bool> failing_{false};
};

TEST_CASE("a failed write fails its waiters, is reported once, and refuses later changes") {
  TempDir dir("durable_journal_test");
  auto file_system = std::make_shared<FailingFileSystem>();
  std::unique_ptr<rocksdb::Env> env = rocksdb::NewCompositeEnv(file_system);
  std::atomic<int> reported{0};
  // Under a mutex: the TSan build sees absl::Mutex, not absl::Notification.
  absl::Mutex reported_mu;
  absl::Status reported_status;
  absl::Notification reported_once;
  DurableJournalOptions options;
  options.env = env.get();
  options.on_write_failure = [&](const absl::Status& status) {
    if (reported.fetch_add(1) == 0) {
      absl::MutexLock lock(&reported_mu);
      reported_status = status;
      reported_once.Notify();
    }
  };
  auto opened = DurableJournal::Open(dir.Path("db"), options);
  REQUIRE(opened.ok());
  std::unique_ptr<DurableJournal> journal = std::move(opened).value();
  REQUIRE(journal->Initialize({{"apple", 10}}).ok());
  InventoryStore store(4, journal.get());
  REQUIRE(store.Load({{"apple", 10}}).ok());
  REQUIRE(store.Reserve("acknowledged", {{"apple", 1}}).ok());
  REQUIRE(WaitDurable(*journal).ok());
  CHECK(journal->Accepting().ok());

  file_system->FailWrites();
  // Taken in memory before the disk failed it: its caller is told it failed.
  REQUIRE(store.Reserve("unacknowledged", {{"apple", 1}}).ok());
  const absl::Status failed = WaitDurable(*journal);
  CHECK(failed.code() == absl::StatusCode::kUnavailable);
  CHECK_THAT(std::string(failed.message()), Catch::Contains(dir.Path("db")));
  REQUIRE(reported_once.WaitForNotificationWithTimeout(absl::Seconds(30)));
  {
    absl::MutexLock lock(&reported_mu);
    CHECK(reported_status == failed);
  }

  // From now on nothing changes, in memory or on disk, and nobody is told a
  // change is durable.
  CHECK(journal->Accepting().code() == absl::StatusCode::kUnavailable);
  CHECK(store.Reserve("later", {{"apple", 1}}).status().code() == absl::StatusCode::kUnavailable);
  CHECK(store.Set("apple", 100).code() == absl::StatusCode::kUnavailable);
  CHECK(store.Get("apple").quantity == 8);
  CHECK(WaitDurable(*journal).code() == absl::StatusCode::kUnavailable);
  CHECK(reported == 1);
  journal.reset();

  // A restart serves what was acknowledged, and only that.
  std::unique_ptr<DurableJournal> reopened = OpenOrDie(dir.Path("db"));
  absl::StatusOr<StoredState> state = reopened->Read();
  REQUIRE(state.ok());
  CHECK(StockOf(*state, "apple") == 9);
  REQUIRE(state->orders.size() == 1);
  CHECK(state->orders[0].order_id == "acknowledged");
}

TEST_CASE("a directory that cannot be opened gives an error naming it") {
  TempDir dir("durable_journal_test");
  SECTION("a regular file in the way") {
    const std::string path = dir.WriteFile("not-a-directory", "x");
    auto journal = DurableJournal::Open(path, {});
    REQUIRE_FALSE(journal.ok());
    CHECK(journal.status().code() == absl::StatusCode::kUnavailable);
    CHECK_THAT(std::string(journal.status().message()), Catch::Contains(path));
  }
  SECTION("another journal holds it") {
    auto first = OpenOrDie(dir.Path("db"));
    auto second = DurableJournal::Open(dir.Path("db"), {});
    REQUIRE_FALSE(second.ok());
    CHECK_THAT(std::string(second.status().message()), Catch::Contains("another server"));
  }
  SECTION("an empty name") {
    CHECK(DurableJournal::Open("", {}).status().code() == absl::StatusCode::kInvalidArgument);
  }
}

TEST_CASE("records that do not parse are reported as DATA_LOSS, not loaded") {
  TempDir dir("durable_journal_test");
  {
    rocksdb::Options options;
    options.create_if_missing = true;
    rocksdb::DB* raw = nullptr;
    REQUIRE(rocksdb::DB::Open(options, dir.Path("db"), &raw).ok());
    std::unique_ptr<rocksdb::DB> db(raw);
    SECTION("a quantity that is not a number") {
      REQUIRE(db->Put(rocksdb::WriteOptions(), "s/apple", "many").ok());
    }
    SECTION("an unknown key") { REQUIRE(db->Put(rocksdb::WriteOptions(), "x/what", "1").ok()); }
    SECTION("an order record that is not a StoredOrder") {
      REQUIRE(db->Put(rocksdb::WriteOptions(), "o/order-1", "\xff\xff\xff").ok());
    }
    REQUIRE(db->Close().ok());
  }
  auto state = OpenOrDie(dir.Path("db"))->Read();
  REQUIRE_FALSE(state.ok());
  CHECK(state.status().code() == absl::StatusCode::kDataLoss);
}

TEST_CASE("a store journaled to disk is rebuilt exactly after a restart") {
  TempDir dir("durable_journal_test");
  {
    auto journal = OpenOrDie(dir.Path("db"));
    REQUIRE(journal->Initialize({{"apple", 10}, {"pear", 4}}).ok());
    InventoryStore store(4, journal.get());
    REQUIRE(store.Load({{"apple", 10}, {"pear", 4}}).ok());
    REQUIRE(store.Reserve("order-1", {{"apple", 3}, {"pear", 1}}).ok());
    REQUIRE(store.Reserve("order-2", {{"pear", 2}}).ok());
    REQUIRE(store.Release("order-2").ok());
    REQUIRE(store.Set("plum", 6).ok());
    CHECK(store.Reserve("order-3", {{"apple", 100}}).status().code() ==
          absl::StatusCode::kFailedPrecondition);  // not recorded: nothing to journal
    REQUIRE(WaitDurable(*journal).ok());
  }
  auto journal = OpenOrDie(dir.Path("db"));
  auto state = journal->Read();
  REQUIRE(state.ok());
  REQUIRE(state->initialized);
  InventoryStore store(4, journal.get());
  REQUIRE(store.Load(state->stock).ok());
  REQUIRE(store.RestoreOrders(state->orders).ok());
  CHECK(store.Get("apple").quantity == 7);
  CHECK(store.Get("pear").quantity == 3);
  CHECK(store.Get("plum").quantity == 6);
  // The idempotency records survived: a retry replays, a release is a repeat.
  auto replay = store.Reserve("order-1", {{"pear", 1}, {"apple", 3}});
  REQUIRE(replay.ok());
  CHECK((*replay)[1].availability.quantity == 7);
  CHECK(store.Get("apple").quantity == 7);
  CHECK(store.Reserve("order-2", {{"pear", 1}}).status().code() ==
        absl::StatusCode::kAlreadyExists);
  REQUIRE(store.Release("order-2").ok());
  CHECK(store.Get("pear").quantity == 3);  // released before the restart: not twice
  CHECK(store.Release("order-3").status().code() == absl::StatusCode::kNotFound);
}

}  // namespace
}  // namespace storage
