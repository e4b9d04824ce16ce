// The store's two observers: the journal (every change, in order, once) and
// watchers (current value first, then each change).
#include <catch2/catch.hpp>
#include <string>
#include <utility>
#include <vector>

#include "absl/synchronization/mutex.h"
#include "domain/inventory/inventory_store.h"
#include "domain/inventory/recording_journal_testing.h"

namespace domain::inventory {
namespace {

using testing::RecordingJournal;

class RecordingWatcher final : public StockWatcher {
 public:
  void OnStockChanged(absl::string_view product_id, Availability availability) override {
    absl::MutexLock lock(&mu_);
    seen_.push_back({std::string(product_id), availability.quantity});
  }
  std::vector<std::pair<std::string, int>> seen() {
    absl::MutexLock lock(&mu_);
    return seen_;
  }

 private:
  absl::Mutex mu_;
  std::vector<std::pair<std::string, int>> seen_ ABSL_GUARDED_BY(mu_);
};

using Seen = std::vector<std::pair<std::string, int>>;

TEST_CASE("a journal that stops accepting: every change is refused and nothing changes") {
  RecordingJournal journal;
  InventoryStore store(4, &journal);
  REQUIRE(store.Load({{"apple", 10}, {"pear", 5}}).ok());
  REQUIRE(store.Reserve("before", {{"apple", 2}}).ok());
  journal.StopAccepting(absl::UnavailableError("disk gone"));

  const absl::StatusOr<std::vector<ProductStock>> reserved = store.Reserve("after", {{"pear", 1}});
  CHECK(reserved.status().code() == absl::StatusCode::kUnavailable);
  CHECK(reserved.status().message() == "disk gone");
  CHECK(store.Release("before").status().code() == absl::StatusCode::kUnavailable);
  CHECK(store.Set("apple", 100).code() == absl::StatusCode::kUnavailable);
  // Bad input is still named as such.
  CHECK(store.Set("apple", -1).code() == absl::StatusCode::kInvalidArgument);

  CHECK(store.Get("apple").quantity == 8);
  CHECK(store.Get("pear").quantity == 5);
  CHECK(journal.mutations().size() == 1);  // only the change made before
  // "after" was never recorded: a retry once the journal accepts again is new.
  journal.StopAccepting(absl::OkStatus());
  REQUIRE(store.Reserve("after", {{"pear", 1}}).ok());
  CHECK(store.Get("pear").quantity == 4);
}

TEST_CASE("the journal receives each change once, with the order's state") {
  RecordingJournal journal;
  InventoryStore store(4, &journal);
  REQUIRE(store.Load({{"apple", 10}, {"pear", 5}}).ok());
  CHECK(journal.mutations().empty());  // Load restores, it does not journal

  REQUIRE(store.Reserve("o1", {{"apple", 3}, {"pear", 5}}).ok());
  REQUIRE(store.Reserve("o1", {{"apple", 3}, {"pear", 5}}).ok());  // replay
  CHECK_FALSE(store.Reserve("o2", {{"apple", 8}}).ok());           // short
  CHECK_FALSE(store.Reserve("o1", {{"apple", 1}}).ok());           // ALREADY_EXISTS
  REQUIRE(store.Release("o1").ok());
  REQUIRE(store.Release("o1").ok());  // repeat
  REQUIRE(store.Set("plum", 2).ok());
  CHECK_FALSE(store.Set("plum", -1).ok());

  std::vector<StockMutation> mutations = journal.mutations();
  REQUIRE(mutations.size() == 3);
  const StockMutation& reserve = mutations[0];
  REQUIRE(reserve.levels.size() == 2);
  CHECK(reserve.levels[0].product_id == "apple");
  CHECK(reserve.levels[0].quantity == 7);
  CHECK(reserve.levels[1].quantity == 0);
  REQUIRE(reserve.order.has_value());
  CHECK(reserve.order->order_id == "o1");
  CHECK_FALSE(reserve.order->released);
  CHECK(reserve.order->lines[1].remaining == 0);

  const StockMutation& release = mutations[1];
  REQUIRE(release.order.has_value());
  CHECK(release.order->released);
  CHECK(release.levels[0].quantity == 10);
  CHECK(release.levels[1].quantity == 5);

  const StockMutation& set = mutations[2];
  CHECK_FALSE(set.order.has_value());
  REQUIRE(set.levels.size() == 1);
  CHECK(set.levels[0].product_id == "plum");
  CHECK(set.levels[0].quantity == 2);
}

TEST_CASE("a watcher gets the current value, then every change, until it unwatches") {
  InventoryStore store(4);
  REQUIRE(store.Load({{"apple", 10}, {"pear", 5}}).ok());
  RecordingWatcher watcher;
  store.Watch({"apple", "ghost"}, &watcher);
  CHECK(watcher.seen() == Seen{{"apple", 10}, {"ghost", 0}});

  REQUIRE(store.Reserve("o1", {{"apple", 4}, {"pear", 1}}).ok());
  REQUIRE(store.Set("ghost", 3).ok());  // created while watched
  REQUIRE(store.Set("pear", 9).ok());   // not watched
  REQUIRE(store.Release("o1").ok());
  REQUIRE(store.Release("o1").ok());  // a repeat changes nothing
  CHECK(watcher.seen() ==
        Seen{{"apple", 10}, {"ghost", 0}, {"apple", 6}, {"ghost", 3}, {"apple", 10}});

  store.Unwatch({"apple", "ghost"}, &watcher);
  REQUIRE(store.Set("apple", 1).ok());
  CHECK(watcher.seen().size() == 5);
}

TEST_CASE("two watchers of one product both see its changes; unwatching one keeps the other") {
  InventoryStore store(1);
  REQUIRE(store.Load({{"apple", 1}}).ok());
  RecordingWatcher first;
  RecordingWatcher second;
  store.Watch({"apple"}, &first);
  store.Watch({"apple"}, &second);
  REQUIRE(store.Set("apple", 2).ok());
  store.Unwatch({"apple"}, &first);
  REQUIRE(store.Set("apple", 3).ok());
  CHECK(first.seen() == Seen{{"apple", 1}, {"apple", 2}});
  CHECK(second.seen() == Seen{{"apple", 1}, {"apple", 2}, {"apple", 3}});
}

TEST_CASE("RestoreOrders brings back idempotency records and rejects bad ones") {
  InventoryStore store(4);
  REQUIRE(store.Load({{"apple", 7}}).ok());
  REQUIRE(store.RestoreOrders({{"o1", {{"apple", 3, 7}}, false}}).ok());
  auto replay = store.Reserve("o1", {{"apple", 3}});
  REQUIRE(replay.ok());
  CHECK((*replay)[0].availability.quantity == 7);
  CHECK(store.Get("apple").quantity == 7);  // nothing reserved again
  REQUIRE(store.Release("o1").ok());
  CHECK(store.Get("apple").quantity == 10);

  CHECK(store.RestoreOrders({{"", {{"apple", 1, 0}}, false}}).code() ==
        absl::StatusCode::kInvalidArgument);
  CHECK(store.RestoreOrders({{"o2", {}, false}}).code() == absl::StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace domain::inventory
