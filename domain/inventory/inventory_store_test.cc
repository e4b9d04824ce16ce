#include "domain/inventory/inventory_store.h"

#include <atomic>
#include <catch2/catch.hpp>
#include <cstdint>
#include <limits>
#include <string>
#include <thread>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"

namespace domain::inventory {
namespace {

using Catch::Matchers::Contains;

TEST_CASE("InventoryStore reports an unknown product as unavailable with zero stock",
          "[inventory_store]") {
  InventoryStore store;
  Availability a = store.Get("no-such-product");
  CHECK_FALSE(a.is_available);
  CHECK(a.quantity == 0);
  CHECK(store.size() == 0);

  // An invalid id is simply unknown to Get; it is not an error there.
  Availability empty = store.Get("");
  CHECK_FALSE(empty.is_available);
  CHECK(empty.quantity == 0);
}

TEST_CASE("InventoryStore Set then Get returns the stored quantity", "[inventory_store]") {
  InventoryStore store;
  REQUIRE(store.Set("product123", 10).ok());

  Availability a = store.Get("product123");
  CHECK(a.is_available);
  CHECK(a.quantity == 10);
  CHECK(store.size() == 1);

  SECTION("Set replaces, it does not add") {
    REQUIRE(store.Set("product123", 3).ok());
    CHECK(store.Get("product123").quantity == 3);
    CHECK(store.size() == 1);
  }

  SECTION("other ids are unaffected") {
    REQUIRE(store.Set("other", 7).ok());
    CHECK(store.Get("product123").quantity == 10);
    CHECK(store.Get("other").quantity == 7);
    CHECK(store.size() == 2);
  }

  SECTION("ids are case sensitive and compared byte for byte") {
    CHECK(store.Get("Product123").quantity == 0);
    CHECK(store.Get("product123 ").quantity == 0);
  }

  SECTION("multi-byte UTF-8 ids work") {
    REQUIRE(store.Set("caf\xC3\xA9", 4).ok());
    CHECK(store.Get("caf\xC3\xA9").quantity == 4);
    CHECK(store.Get("cafe").quantity == 0);
  }

  SECTION("INT32_MAX is accepted") {
    constexpr std::int32_t kMax = std::numeric_limits<std::int32_t>::max();
    REQUIRE(store.Set("big", kMax).ok());
    CHECK(store.Get("big").quantity == kMax);
    CHECK(store.Get("big").is_available);
  }
}

TEST_CASE("InventoryStore quantity 0 is known but not available", "[inventory_store]") {
  InventoryStore store;
  REQUIRE(store.Set("sold-out", 0).ok());
  Availability a = store.Get("sold-out");
  CHECK_FALSE(a.is_available);
  CHECK(a.quantity == 0);
  CHECK(store.size() == 1);  // it is stored, unlike an unknown id

  REQUIRE(store.Set("sold-out", 1).ok());
  CHECK(store.Get("sold-out").is_available);
  REQUIRE(store.Set("sold-out", 0).ok());
  CHECK_FALSE(store.Get("sold-out").is_available);
}

TEST_CASE("InventoryStore rejects a negative quantity without applying it", "[inventory_store]") {
  InventoryStore store;
  REQUIRE(store.Set("p", 5).ok());

  absl::Status status = store.Set("p", -1);
  INFO("status: " << status);
  CHECK(status.code() == absl::StatusCode::kInvalidArgument);
  CHECK_THAT(std::string(status.message()), Contains("negative"));
  CHECK(store.Get("p").quantity == 5);
  CHECK(store.Get("p").is_available);

  absl::Status min_status = store.Set("new", std::numeric_limits<std::int32_t>::min());
  CHECK(min_status.code() == absl::StatusCode::kInvalidArgument);
  CHECK(store.Get("new").quantity == 0);
  CHECK(store.size() == 1);
}

TEST_CASE("InventoryStore rejects invalid product ids", "[inventory_store]") {
  InventoryStore store;
  const std::vector<std::string> bad_ids = {
      "", std::string(129, 'a'), "bad\x01", "caf\xC3", "\xED\xA0\x80", "x\x7F",
  };
  for (const std::string& id : bad_ids) {
    INFO("id bytes: " << id.size());
    absl::Status status = store.Set(id, 1);
    CHECK(status.code() == absl::StatusCode::kInvalidArgument);
    CHECK(store.Get(id).quantity == 0);
  }
  CHECK(store.size() == 0);

  // The id check wins over the quantity check, but either way it is rejected.
  CHECK(store.Set("", -1).code() == absl::StatusCode::kInvalidArgument);
  CHECK(store.size() == 0);
}

TEST_CASE("InventoryStore Load applies all entries", "[inventory_store]") {
  InventoryStore store;
  REQUIRE(store.Set("existing", 1).ok());
  REQUIRE(store.Load({{"a", 1}, {"b", 0}, {"existing", 9}}).ok());
  CHECK(store.size() == 3);
  CHECK(store.Get("a").quantity == 1);
  CHECK(store.Get("a").is_available);
  CHECK(store.Get("b").quantity == 0);
  CHECK_FALSE(store.Get("b").is_available);
  CHECK(store.Get("existing").quantity == 9);

  SECTION("an empty load is a no-op") {
    REQUIRE(store.Load({}).ok());
    CHECK(store.size() == 3);
  }
}

TEST_CASE("InventoryStore Load validates every entry before applying any", "[inventory_store]") {
  InventoryStore store;
  REQUIRE(store.Set("existing", 7).ok());

  std::vector<CatalogEntry> entries;
  SECTION("invalid id in the middle") { entries = {{"first", 1}, {"", 2}, {"last", 3}}; }
  SECTION("negative quantity in the middle") {
    entries = {{"first", 1}, {"middle", -2}, {"last", 3}};
  }
  SECTION("invalid UTF-8 id in the middle") {
    entries = {{"first", 1}, {"bad\xFF", 2}, {"last", 3}};
  }
  SECTION("bad entry last, after an overwrite of an existing id") {
    entries = {{"first", 1}, {"existing", 100}, {"last", -3}};
  }

  absl::Status status = store.Load(entries);
  INFO("status: " << status);
  CHECK(status.code() == absl::StatusCode::kInvalidArgument);
  CHECK(store.size() == 1);
  Availability first = store.Get("first");
  CHECK_FALSE(first.is_available);
  CHECK(first.quantity == 0);
  CHECK(store.Get("last").quantity == 0);
  CHECK(store.Get("existing").quantity == 7);
}

TEST_CASE("InventoryStore size counts distinct products", "[inventory_store]") {
  InventoryStore store;
  CHECK(store.size() == 0);
  for (int i = 0; i < 500; ++i) {
    REQUIRE(store.Set(absl::StrCat("id-", i), i).ok());
  }
  CHECK(store.size() == 500);
  for (int i = 0; i < 500; i += 2) {
    REQUIRE(store.Set(absl::StrCat("id-", i), 0).ok());  // overwrite, not add
  }
  CHECK(store.size() == 500);
}

TEST_CASE("InventoryStore works with any shard count", "[inventory_store]") {
  // Non-powers of two are rounded up; zero and negative mean one shard.
  const int shards = GENERATE(1, 2, 3, 5, 64, 100, 0, -4);
  INFO("shards = " << shards);
  InventoryStore store(shards);
  constexpr int kProducts = 300;
  for (int i = 0; i < kProducts; ++i) {
    REQUIRE(store.Set(absl::StrCat("sku-", i), i * 3).ok());
  }
  CHECK(store.size() == kProducts);
  for (int i = 0; i < kProducts; ++i) {
    Availability a = store.Get(absl::StrCat("sku-", i));
    CHECK(a.quantity == i * 3);
    CHECK(a.is_available == (i > 0));
  }
  CHECK(store.Get("sku-missing").quantity == 0);
}

TEST_CASE("InventoryStore concurrent readers and writers", "[inventory_store][concurrency]") {
  // Catch2 assertions are not thread-safe, so threads count anomalies into
  // atomics and the test checks them after joining.
  constexpr int kWriters = 4;
  constexpr int kReaders = 4;
  constexpr int kKeysPerWriter = 250;
  constexpr int kRounds = 8;  // each writer sets each of its keys kRounds times
  constexpr int kStableKeys = 64;
  constexpr int kReaderPasses = 200;

  InventoryStore store(8);
  // Keys no writer touches: readers must always see exactly these values.
  for (int k = 0; k < kStableKeys; ++k) {
    REQUIRE(store.Set(absl::StrCat("stable-", k), k + 1).ok());
  }

  const auto key = [](int w, int k) { return absl::StrCat("w", w, "-k", k); };
  // Value written for (w, k) in round r (1-based): strictly increasing in r.
  const auto value = [](int w, int k, int r) { return (w * 1000 + k) * 100 + r; };

  std::atomic<bool> go{false};
  std::atomic<int> write_errors{0};
  std::atomic<int> stable_mismatches{0};
  std::atomic<int> bad_observations{0};
  std::atomic<long> reads{0};

  std::vector<std::thread> threads;
  for (int w = 0; w < kWriters; ++w) {
    threads.emplace_back([&, w] {
      while (!go.load()) std::this_thread::yield();
      for (int r = 1; r <= kRounds; ++r) {
        for (int k = 0; k < kKeysPerWriter; ++k) {
          if (!store.Set(key(w, k), value(w, k, r)).ok()) ++write_errors;
        }
      }
    });
  }
  for (int t = 0; t < kReaders; ++t) {
    threads.emplace_back([&, t] {
      while (!go.load()) std::this_thread::yield();
      for (int pass = 0; pass < kReaderPasses; ++pass) {
        const int k = (pass * 7 + t) % kStableKeys;
        Availability s = store.Get(absl::StrCat("stable-", k));
        if (s.quantity != k + 1 || !s.is_available) ++stable_mismatches;
        for (int w = 0; w < kWriters; ++w) {
          const int wk = (pass * 13 + t * 31) % kKeysPerWriter;
          Availability a = store.Get(key(w, wk));
          ++reads;
          // Either not yet written, or a value some round wrote for this key.
          if (a.quantity == 0) {
            if (a.is_available) ++bad_observations;
          } else {
            const int round = a.quantity - value(w, wk, 0);
            if (round < 1 || round > kRounds || !a.is_available) ++bad_observations;
          }
        }
      }
    });
  }
  go.store(true);
  for (std::thread& thread : threads) thread.join();

  CHECK(write_errors.load() == 0);
  CHECK(stable_mismatches.load() == 0);
  CHECK(bad_observations.load() == 0);
  CHECK(reads.load() == static_cast<long>(kReaders) * kReaderPasses * kWriters);

  // After all writers finish, every key holds its final-round value.
  CHECK(store.size() == static_cast<std::size_t>(kStableKeys + kWriters * kKeysPerWriter));
  int wrong_final = 0;
  for (int w = 0; w < kWriters; ++w) {
    for (int k = 0; k < kKeysPerWriter; ++k) {
      Availability a = store.Get(key(w, k));
      if (a.quantity != value(w, k, kRounds) || !a.is_available) ++wrong_final;
    }
  }
  CHECK(wrong_final == 0);
  for (int k = 0; k < kStableKeys; ++k) {
    CHECK(store.Get(absl::StrCat("stable-", k)).quantity == k + 1);
  }
}

}  // namespace
}  // namespace domain::inventory

namespace domain::inventory {

TEST_CASE("InventoryStore SetLevels is all or nothing and GetMany never sees it half applied",
          "[inventory_store]") {
  InventoryStore store(/*shards=*/8);
  // A bad entry anywhere: nothing is applied.
  CHECK(store.SetLevels({{"a", 1}, {"b", -1}}).code() == absl::StatusCode::kInvalidArgument);
  CHECK_FALSE(store.Get("a").is_available);
  REQUIRE(store.SetLevels({{"a", 0}, {"b", 0}, {"c", 0}, {"d", 0}}).ok());
  const std::vector<std::string> ids = {"d", "a", "kiwi", "c", "b"};
  std::vector<Availability> got = store.GetMany(ids);
  REQUIRE(got.size() == 5);
  CHECK_FALSE(got[2].is_available);  // unknown: {false, 0}

  std::atomic<bool> writing{true};
  std::thread writer([&] {
    for (std::int32_t level = 1; level <= 20000; ++level) {
      (void)store.SetLevels({{"a", level}, {"b", level}, {"c", level}, {"d", level}});
    }
    writing = false;
  });
  int torn = 0;
  while (writing) {
    got = store.GetMany(ids);
    if (got[0].quantity != got[1].quantity || got[1].quantity != got[3].quantity ||
        got[3].quantity != got[4].quantity) {
      ++torn;
    }
  }
  writer.join();
  CHECK(torn == 0);
  CHECK(store.Get("d").quantity == 20000);
}

}  // namespace domain::inventory
