// The order retention window: InventoryStore::ForgetReleasedBefore and the
// OrderRetention thread that calls it.
//
// Catch2 assertions are not thread-safe, so worker threads count anomalies
// into atomics and the test checks them after join.
#include "domain/inventory/order_retention.h"

#include <atomic>
#include <catch2/catch.hpp>
#include <cstdint>
#include <string>
#include <thread>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "domain/inventory/inventory_store.h"
#include "domain/inventory/recording_journal_testing.h"
#include "domain/inventory/stock_journal.h"

namespace domain::inventory {
namespace {

using testing::RecordingJournal;

std::int32_t Quantity(const InventoryStore& store, const std::string& id) {
  return store.Get(id).quantity;
}

}  // namespace

TEST_CASE("retention: only orders released before the cutoff are forgotten", "[retention]") {
  InventoryStore store(4);
  REQUIRE(store.Load({{"apple", 10}, {"pear", 10}}).ok());
  REQUIRE(store.Reserve("kept-reserved", {{"apple", 2}}).ok());
  REQUIRE(store.Reserve("released", {{"apple", 3}, {"pear", 1}}).ok());
  const absl::Time before_release = absl::Now();
  REQUIRE(store.Release("released").ok());
  REQUIRE(store.order_count() == 2);

  SECTION("a cutoff before the release forgets nothing") {
    CHECK(store.ForgetReleasedBefore(before_release - absl::Seconds(1)) == 0);
    CHECK(store.order_count() == 2);
    // Still answered from its record: the original result, nothing taken.
    absl::StatusOr<std::vector<ProductStock>> replay =
        store.Reserve("released", {{"pear", 1}, {"apple", 3}});
    REQUIRE(replay.ok());
    CHECK(Quantity(store, "apple") == 8);
  }

  SECTION("a cutoff after it forgets the released order, never the reserved one") {
    CHECK(store.ForgetReleasedBefore(absl::InfiniteFuture()) == 1);
    CHECK(store.order_count() == 1);
    CHECK(store.ForgetReleasedBefore(absl::InfiniteFuture()) == 0);
    // Stock levels are untouched by forgetting.
    CHECK(Quantity(store, "apple") == 8);
    CHECK(Quantity(store, "pear") == 10);
    // The id is unused now: releasing it is NOT_FOUND (no stock returned
    // twice), and reserving it is a new order that takes stock again.
    absl::StatusOr<std::vector<ProductStock>> release = store.Release("released");
    CHECK(release.status().code() == absl::StatusCode::kNotFound);
    CHECK(Quantity(store, "apple") == 8);
    absl::StatusOr<std::vector<ProductStock>> again = store.Reserve("released", {{"apple", 5}});
    REQUIRE(again.ok());
    CHECK(Quantity(store, "apple") == 3);
    // The order that still holds stock is there and releasable.
    REQUIRE(store.Release("kept-reserved").ok());
    CHECK(Quantity(store, "apple") == 5);
  }
}

TEST_CASE("retention: forgotten orders reach the journal after their release, before a reuse",
          "[retention]") {
  RecordingJournal journal;
  InventoryStore store(4, &journal);
  REQUIRE(store.Load({{"apple", 10}}).ok());
  REQUIRE(store.Reserve("o1", {{"apple", 1}}).ok());
  REQUIRE(store.Release("o1").ok());
  REQUIRE(store.ForgetReleasedBefore(absl::InfiniteFuture()) == 1);
  REQUIRE(store.Reserve("o1", {{"apple", 4}}).ok());

  const std::vector<StockMutation> mutations = journal.mutations();
  REQUIRE(mutations.size() == 4);
  REQUIRE(mutations[1].order.has_value());
  CHECK(mutations[1].order->released);
  CHECK(mutations[1].order->released_at > absl::Now() - absl::Minutes(1));
  CHECK(mutations[1].order->released_at <= absl::Now());
  CHECK(mutations[2].forgotten_orders == std::vector<std::string>{"o1"});
  CHECK(mutations[2].levels.empty());
  CHECK_FALSE(mutations[2].order.has_value());
  REQUIRE(mutations[3].order.has_value());
  CHECK(mutations[3].order->order_id == "o1");
  CHECK_FALSE(mutations[3].order->released);

  SECTION("a journal that no longer accepts: nothing is forgotten") {
    REQUIRE(store.Release("o1").ok());
    journal.StopAccepting(absl::UnavailableError("journal closed"));
    CHECK(store.ForgetReleasedBefore(absl::InfiniteFuture()) == 0);
    CHECK(store.order_count() == 1);
  }
}

TEST_CASE("retention: a restored release time is kept", "[retention]") {
  InventoryStore store(4);
  REQUIRE(store.Load({{"apple", 10}}).ok());
  const absl::Time released_at = absl::Now() - absl::Hours(2);
  REQUIRE(store
              .RestoreOrders({{"old", {{"apple", 1, 9}}, true, released_at},
                              {"new", {{"apple", 1, 8}}, true, absl::Now()}})
              .ok());
  CHECK(store.ForgetReleasedBefore(absl::Now() - absl::Hours(1)) == 1);
  CHECK(store.Release("old").status().code() == absl::StatusCode::kNotFound);
  CHECK(store.Release("new").ok());
}

TEST_CASE("retention: sweeps racing reservations and releases keep stock exact",
          "[retention][concurrency]") {
  constexpr int kThreads = 4;
  constexpr int kOrdersPerThread = 3000;
  constexpr std::int32_t kStock = 1'000'000;
  InventoryStore store(8);
  REQUIRE(store.Load({{"apple", kStock}, {"pear", kStock}}).ok());
  std::atomic<bool> done{false};
  std::atomic<int> anomalies{0};
  std::atomic<std::size_t> forgotten{0};
  // Sweeps as fast as it can, with a zero window: every released order is
  // eligible the moment it is released.
  std::thread sweeper([&] {
    while (!done) forgotten += store.ForgetReleasedBefore(absl::InfiniteFuture());
  });
  std::vector<std::thread> workers;
  std::atomic<std::int64_t> held_apple{0};
  std::atomic<std::int64_t> held_pear{0};
  for (int t = 0; t < kThreads; ++t) {
    workers.emplace_back([&, t] {
      for (int i = 0; i < kOrdersPerThread; ++i) {
        const std::string id = absl::StrCat("t", t, "-", i);
        if (!store.Reserve(id, {{"apple", 2}, {"pear", 1}}).ok()) ++anomalies;
        // Every third order stays reserved; the rest are released, some twice
        // (a retry: OK while the record exists, NOT_FOUND once forgotten).
        if (i % 3 == 0) {
          held_apple += 2;
          held_pear += 1;
          continue;
        }
        if (!store.Release(id).ok()) ++anomalies;
        absl::StatusOr<std::vector<ProductStock>> retry = store.Release(id);
        if (!retry.ok() && retry.status().code() != absl::StatusCode::kNotFound) ++anomalies;
      }
    });
  }
  for (std::thread& worker : workers) worker.join();
  done = true;
  sweeper.join();
  forgotten += store.ForgetReleasedBefore(absl::InfiniteFuture());

  CHECK(anomalies == 0);
  const std::size_t total = kThreads * kOrdersPerThread;
  const std::size_t reserved = kThreads * ((kOrdersPerThread + 2) / 3);
  CHECK(forgotten == total - reserved);
  CHECK(store.order_count() == reserved);
  CHECK(Quantity(store, "apple") == kStock - held_apple);
  CHECK(Quantity(store, "pear") == kStock - held_pear);
}

TEST_CASE("retention: the thread forgets released orders after the window", "[retention]") {
  InventoryStore store(4);
  REQUIRE(store.Load({{"apple", 10}}).ok());
  CHECK(OrderRetention::SweepInterval(absl::Hours(24)) == absl::Minutes(1));
  CHECK(OrderRetention::SweepInterval(absl::Seconds(10)) == absl::Seconds(1));
  CHECK(OrderRetention::SweepInterval(absl::Milliseconds(10)) == absl::Milliseconds(100));

  std::atomic<std::size_t> observed_forgotten{0};
  std::atomic<std::size_t> observed_held{99};
  OrderRetention retention(store, absl::Milliseconds(300),
                           [&](std::size_t forgotten, std::size_t held) {
                             observed_forgotten += forgotten;
                             observed_held = held;
                           });
  REQUIRE(store.Reserve("held", {{"apple", 1}}).ok());
  REQUIRE(store.Reserve("done", {{"apple", 1}}).ok());
  const absl::Time released = absl::Now();
  REQUIRE(store.Release("done").ok());
  // Within the window it is still answered from its record.
  if (absl::Now() - released < absl::Milliseconds(200)) {
    CHECK(store.Reserve("done", {{"apple", 1}}).ok());
    CHECK(Quantity(store, "apple") == 9);
  }
  // Forgotten by the thread within the window plus a few sweeps (bounded).
  const absl::Time give_up = absl::Now() + absl::Seconds(10);
  while (store.order_count() > 1 && absl::Now() < give_up) absl::SleepFor(absl::Milliseconds(20));
  CHECK(store.order_count() == 1);
  CHECK(absl::Now() - released >= absl::Milliseconds(300));
  CHECK(store.Release("done").status().code() == absl::StatusCode::kNotFound);
  while (observed_forgotten == 0 && absl::Now() < give_up) absl::SleepFor(absl::Milliseconds(20));
  CHECK(observed_forgotten == 1);
  CHECK(observed_held == 1);
  CHECK(Quantity(store, "apple") == 9);
}

}  // namespace domain::inventory
