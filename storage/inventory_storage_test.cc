// InventoryStorage::Open against real RocksDB directories in a temp dir:
// memory, seeding an empty directory, restoring an initialized one (and not
// seeding it again), and the directories it must refuse.
#include "storage/inventory_storage.h"

#include <rocksdb/db.h>
#include <sys/stat.h>

#include <catch2/catch.hpp>
#include <memory>
#include <string>
#include <vector>

#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "journal_records.pb.h"
#include "test/temp_dir.h"

namespace storage {
namespace {

using Catch::Matchers::Contains;
using domain::inventory::CatalogEntry;
using Origin = InventoryStorage::Origin;
using testing_util::TempDir;

const std::vector<CatalogEntry> kCatalog = {{"apple", 10}, {"pear", 5}};

InventoryStorageOptions DurableIn(const std::string& data_dir) {
  InventoryStorageOptions options;
  options.data_dir = data_dir;
  options.journal.sync = true;
  options.store_shards = 4;
  return options;
}

std::unique_ptr<InventoryStorage> OpenOrDie(InventoryStorageOptions options,
                                            const std::vector<CatalogEntry>& catalog) {
  absl::StatusOr<std::unique_ptr<InventoryStorage>> storage =
      InventoryStorage::Open(std::move(options), catalog);
  INFO("status: " << storage.status());
  REQUIRE(storage.ok());
  return std::move(storage).value();
}

// What the directory holds, read by a journal of its own.
StoredState ReadBack(const std::string& data_dir) {
  absl::StatusOr<std::unique_ptr<DurableJournal>> journal = DurableJournal::Open(data_dir, {});
  REQUIRE(journal.ok());
  absl::StatusOr<StoredState> state = (*journal)->Read();
  REQUIRE(state.ok());
  return std::move(state).value();
}

// The error Open gives for `data_dir` (REQUIREs that it fails).
absl::Status OpenError(const std::string& data_dir) {
  absl::StatusOr<std::unique_ptr<InventoryStorage>> storage =
      InventoryStorage::Open(DurableIn(data_dir), kCatalog);
  REQUIRE_FALSE(storage.ok());
  return storage.status();
}

// Writes raw records into a new RocksDB directory, bypassing the journal.
void WriteRaw(const std::string& data_dir,
              const std::vector<std::pair<std::string, std::string>>& records) {
  rocksdb::Options options;
  options.create_if_missing = true;
  rocksdb::DB* raw = nullptr;
  REQUIRE(rocksdb::DB::Open(options, data_dir, &raw).ok());
  std::unique_ptr<rocksdb::DB> db(raw);
  for (const auto& [key, value] : records) {
    REQUIRE(db->Put(rocksdb::WriteOptions(), key, value).ok());
  }
  REQUIRE(db->Close().ok());
}

}  // namespace

TEST_CASE("storage: without a data directory the catalog is served from memory", "[storage]") {
  std::unique_ptr<InventoryStorage> storage = OpenOrDie({}, kCatalog);
  CHECK(storage->origin() == Origin::kMemory);
  CHECK(storage->journal() == nullptr);
  CHECK(storage->store().size() == 2);
  CHECK(storage->store().Get("apple").quantity == 10);
  CHECK(storage->restored_orders() == 0);
}

TEST_CASE("storage: an empty data directory is seeded from the catalog", "[storage]") {
  TempDir dir("inventory_storage_test");
  std::string data_dir;
  SECTION("a directory that does not exist yet") { data_dir = dir.Path("db"); }
  SECTION("an existing, empty directory") {
    data_dir = dir.Path("empty");
    REQUIRE(mkdir(data_dir.c_str(), 0700) == 0);
  }
  {
    std::unique_ptr<InventoryStorage> storage = OpenOrDie(DurableIn(data_dir), kCatalog);
    CHECK(storage->origin() == Origin::kSeeded);
    REQUIRE(storage->journal() != nullptr);
    CHECK(storage->journal()->directory() == data_dir);
    CHECK(storage->store().size() == 2);
    CHECK(storage->store().Get("apple").quantity == 10);
    CHECK(storage->store().Get("pear").quantity == 5);
    CHECK(storage->restored_orders() == 0);
  }
  const StoredState stored = ReadBack(data_dir);
  CHECK(stored.initialized);
  REQUIRE(stored.stock.size() == 2);
  CHECK(stored.orders.empty());
}

TEST_CASE("storage: an initialized directory is restored and never seeded again", "[storage]") {
  TempDir dir("inventory_storage_test");
  const std::string data_dir = dir.Path("db");
  {
    std::unique_ptr<InventoryStorage> storage = OpenOrDie(DurableIn(data_dir), kCatalog);
    REQUIRE(storage->origin() == Origin::kSeeded);
    REQUIRE(storage->store().Reserve("order-1", {{"apple", 3}}).ok());
    REQUIRE(storage->store().Reserve("order-2", {{"pear", 1}}).ok());
    REQUIRE(storage->store().Release("order-2").ok());
    REQUIRE(storage->store().Set("plum", 6).ok());
    // Destroying the storage closes the journal, which writes what is pending.
  }
  // Another catalog: it must not replace or add to what is stored.
  const std::vector<CatalogEntry> other = {{"apple", 999}, {"kiwi", 1}};
  for (int restart = 0; restart < 2; ++restart) {
    INFO("restart " << restart);
    std::unique_ptr<InventoryStorage> storage = OpenOrDie(DurableIn(data_dir), other);
    CHECK(storage->origin() == Origin::kRestored);
    REQUIRE(storage->journal() != nullptr);
    CHECK(storage->restored_orders() == 2);
    domain::inventory::InventoryStore& store = storage->store();
    CHECK(store.size() == 3);
    CHECK(store.Get("apple").quantity == 7);
    CHECK(store.Get("pear").quantity == 5);
    CHECK(store.Get("plum").quantity == 6);
    CHECK_FALSE(store.Get("kiwi").is_available);
    // The orders came back into the store: retrying order-1 takes nothing
    // more. (What each restored record means is durable_journal_test's.)
    REQUIRE(store.Reserve("order-1", {{"apple", 3}}).ok());
    CHECK(store.Get("apple").quantity == 7);
  }
  CHECK(ReadBack(data_dir).stock.size() == 3);
}

TEST_CASE("storage: forgotten orders leave the directory; the rest keep their release time",
          "[storage][retention]") {
  TempDir dir("inventory_storage_test");
  const std::string data_dir = dir.Path("db");
  absl::Time released_at;
  {
    std::unique_ptr<InventoryStorage> storage = OpenOrDie(DurableIn(data_dir), kCatalog);
    domain::inventory::InventoryStore& store = storage->store();
    REQUIRE(store.Reserve("held", {{"apple", 3}}).ok());
    REQUIRE(store.Reserve("old", {{"apple", 2}, {"pear", 1}}).ok());
    REQUIRE(store.Release("old").ok());
    REQUIRE(store.ForgetReleasedBefore(absl::InfiniteFuture()) == 1);
    REQUIRE(store.Reserve("recent", {{"pear", 2}}).ok());
    REQUIRE(store.Release("recent").ok());
    released_at = absl::Now();
  }
  const StoredState stored = ReadBack(data_dir);
  REQUIRE(stored.orders.size() == 2);
  for (const domain::inventory::OrderState& order : stored.orders) {
    INFO(order.order_id);
    CHECK(order.order_id != "old");
    if (order.order_id == "recent") {
      CHECK(order.released);
      CHECK(order.released_at <= released_at);
      CHECK(order.released_at > released_at - absl::Minutes(1));
    }
  }
  // After a restart: stock exact, the forgotten id unused, the released one
  // still answered from its record until its own window passes.
  std::unique_ptr<InventoryStorage> storage = OpenOrDie(DurableIn(data_dir), kCatalog);
  domain::inventory::InventoryStore& store = storage->store();
  CHECK(storage->restored_orders() == 2);
  CHECK(store.Get("apple").quantity == 7);
  CHECK(store.Get("pear").quantity == 5);
  CHECK(store.Release("old").status().code() == absl::StatusCode::kNotFound);
  CHECK(store.ForgetReleasedBefore(released_at - absl::Minutes(1)) == 0);
  REQUIRE(store.Reserve("recent", {{"pear", 2}}).ok());
  CHECK(store.Get("pear").quantity == 5);
  CHECK(store.ForgetReleasedBefore(absl::InfiniteFuture()) == 1);
  REQUIRE(store.Release("held").ok());
  CHECK(store.Get("apple").quantity == 10);
}

TEST_CASE("storage: an order's owner survives a restart, and still guards its release",
          "[storage]") {
  TempDir dir("inventory_storage_test");
  const std::string data_dir = dir.Path("db");
  {
    std::unique_ptr<InventoryStorage> storage = OpenOrDie(DurableIn(data_dir), kCatalog);
    domain::inventory::InventoryStore& store = storage->store();
    REQUIRE(store.Reserve("mine", {{"apple", 3}}, "shop-a").ok());
    REQUIRE(store.Reserve("anyone's", {{"pear", 1}}).ok());
  }
  const StoredState stored = ReadBack(data_dir);
  REQUIRE(stored.orders.size() == 2);
  for (const domain::inventory::OrderState& order : stored.orders) {
    CHECK(order.owner == (order.order_id == "mine" ? "shop-a" : ""));
  }
  std::unique_ptr<InventoryStorage> storage = OpenOrDie(DurableIn(data_dir), kCatalog);
  domain::inventory::InventoryStore& store = storage->store();
  CHECK(store.Release("mine", "shop-b").status().code() == absl::StatusCode::kPermissionDenied);
  CHECK(store.Get("apple").quantity == 7);
  REQUIRE(store.Release("mine", "shop-a").ok());
  CHECK(store.Get("apple").quantity == 10);
  REQUIRE(store.Release("anyone's", "shop-b").ok());
  CHECK(store.Get("pear").quantity == 5);
}

TEST_CASE("storage: a released order stored without a release time is kept a whole window",
          "[storage][retention]") {
  TempDir dir("inventory_storage_test");
  const std::string data_dir = dir.Path("db");
  { std::unique_ptr<InventoryStorage> storage = OpenOrDie(DurableIn(data_dir), kCatalog); }
  // A record as the server wrote it before the release time was stored.
  records::StoredOrder legacy;
  legacy.set_released(true);
  records::StoredReservationLine* line = legacy.add_lines();
  line->set_product_id("apple");
  line->set_quantity(1);
  line->set_remaining(9);
  {
    rocksdb::DB* raw = nullptr;
    REQUIRE(rocksdb::DB::Open(rocksdb::Options(), data_dir, &raw).ok());
    std::unique_ptr<rocksdb::DB> db(raw);
    REQUIRE(db->Put(rocksdb::WriteOptions(), "o/legacy", legacy.SerializeAsString()).ok());
    REQUIRE(db->Close().ok());
  }
  const absl::Time before_open = absl::Now();
  std::unique_ptr<InventoryStorage> storage = OpenOrDie(DurableIn(data_dir), kCatalog);
  CHECK(storage->store().ForgetReleasedBefore(before_open) == 0);
  CHECK(storage->store().ForgetReleasedBefore(absl::InfiniteFuture()) == 1);
}

TEST_CASE("storage: a bad catalog is refused and leaves an empty directory empty", "[storage]") {
  TempDir dir("inventory_storage_test");
  const std::string data_dir = dir.Path("db");
  const std::vector<CatalogEntry> bad = {{"apple", 10}, {"tab\there", 1}};
  absl::StatusOr<std::unique_ptr<InventoryStorage>> refused =
      InventoryStorage::Open(DurableIn(data_dir), bad);
  REQUIRE_FALSE(refused.ok());
  CHECK(refused.status().code() == absl::StatusCode::kInvalidArgument);
  CHECK_FALSE(ReadBack(data_dir).initialized);
  // So the next start with a good catalog seeds it.
  CHECK(OpenOrDie(DurableIn(data_dir), kCatalog)->origin() == Origin::kSeeded);

  SECTION("in memory too") {
    CHECK(InventoryStorage::Open({}, bad).status().code() == absl::StatusCode::kInvalidArgument);
  }
}

TEST_CASE("storage: a directory it cannot open or trust is an error naming it", "[storage]") {
  TempDir dir("inventory_storage_test");
  SECTION("a regular file in the way") {
    const std::string path = dir.WriteFile("not-a-directory", "x");
    const absl::Status error = OpenError(path);
    CHECK(error.code() == absl::StatusCode::kUnavailable);
    CHECK_THAT(std::string(error.message()), Contains(path));
  }
  SECTION("another server holds it") {
    std::unique_ptr<InventoryStorage> first = OpenOrDie(DurableIn(dir.Path("db")), kCatalog);
    const absl::Status error = OpenError(dir.Path("db"));
    CHECK(error.code() == absl::StatusCode::kUnavailable);
    CHECK_THAT(std::string(error.message()), Contains(dir.Path("db")));
  }
  SECTION("damaged RocksDB files") {
    OpenOrDie(DurableIn(dir.Path("db")), kCatalog);  // seeded, then closed
    dir.WriteFile("db/CURRENT", "not a manifest name");
    const absl::Status error = OpenError(dir.Path("db"));
    CHECK(error.code() == absl::StatusCode::kUnavailable);
    CHECK_THAT(std::string(error.message()), Contains(dir.Path("db")));
  }
  SECTION("a record that does not parse") {
    WriteRaw(dir.Path("db"), {{"m/format", "1"}, {"s/apple", "many"}});
    const absl::Status error = OpenError(dir.Path("db"));
    CHECK(error.code() == absl::StatusCode::kDataLoss);
    CHECK_THAT(std::string(error.message()), Contains(dir.Path("db")));
  }
  SECTION("stored stock the store refuses") {
    WriteRaw(dir.Path("db"), {{"m/format", "1"}, {"s/tab\there", "3"}});
    const absl::Status error = OpenError(dir.Path("db"));
    CHECK(error.code() == absl::StatusCode::kDataLoss);
    CHECK_THAT(std::string(error.message()), Contains(dir.Path("db")));
    CHECK_THAT(std::string(error.message()), Contains("stored stock"));
  }
  SECTION("a directory of another format") {
    WriteRaw(dir.Path("db"), {{"m/format", "2"}});
    CHECK(OpenError(dir.Path("db")).code() == absl::StatusCode::kFailedPrecondition);
  }
}

}  // namespace storage
