// Stock reservations: InventoryStore::Reserve and InventoryStore::Release.
//
// Catch2 assertions are not thread-safe, so worker threads count anomalies
// into atomics (or per-thread vectors) and the test checks them after join.
#include <algorithm>
#include <atomic>
#include <catch2/catch.hpp>
#include <climits>
#include <cstdint>
#include <limits>
#include <mutex>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "domain/inventory/inventory_store.h"

namespace domain::inventory {
namespace {

using Catch::Matchers::Contains;

constexpr std::int32_t kInt32Max = std::numeric_limits<std::int32_t>::max();

std::vector<std::int32_t> Quantities(const std::vector<ProductStock>& stock) {
  std::vector<std::int32_t> out;
  for (const ProductStock& s : stock) out.push_back(s.availability.quantity);
  return out;
}

std::vector<std::string> Ids(const std::vector<ProductStock>& stock) {
  std::vector<std::string> out;
  for (const ProductStock& s : stock) out.push_back(s.product_id);
  return out;
}

// Every entry's is_available agrees with its quantity.
bool AvailabilityConsistent(const std::vector<ProductStock>& stock) {
  return std::all_of(stock.begin(), stock.end(), [](const ProductStock& s) {
    return s.availability.is_available == (s.availability.quantity > 0);
  });
}

// Asserts `status` has `code` and a message containing every needle.
void ExpectError(const absl::Status& status, absl::StatusCode code,
                 std::initializer_list<std::string> needles) {
  INFO("status: " << status);
  REQUIRE(status.code() == code);
  const std::string message(status.message());
  for (const std::string& needle : needles) CHECK_THAT(message, Contains(needle));
}

template <class T>
void ExpectError(const absl::StatusOr<T>& result, absl::StatusCode code,
                 std::initializer_list<std::string> needles) {
  ExpectError(result.status(), code, needles);
}

// Result of a Reserve/Release that must succeed.
std::vector<ProductStock> Ok(absl::StatusOr<std::vector<ProductStock>> result) {
  INFO("status: " << result.status());
  REQUIRE(result.ok());
  CHECK(AvailabilityConsistent(*result));
  return *std::move(result);
}

// ---------------------------------------------------------------------------
// Basics

TEST_CASE("Reserve takes stock and returns what is left, in request order", "[reservation]") {
  const int shards = GENERATE(1, 64);
  InventoryStore store(shards);
  REQUIRE(store.Load({{"a", 10}, {"b", 5}, {"c", 7}}).ok());

  std::vector<ProductStock> left = Ok(store.Reserve("order-1", {{"c", 2}, {"a", 3}, {"b", 5}}));
  CHECK(Ids(left) == std::vector<std::string>{"c", "a", "b"});
  CHECK(Quantities(left) == std::vector<std::int32_t>{5, 7, 0});
  CHECK_FALSE(left[2].availability.is_available);  // exactly all of b

  CHECK(store.Get("a").quantity == 7);
  CHECK(store.Get("b").quantity == 0);
  CHECK_FALSE(store.Get("b").is_available);
  CHECK(store.Get("c").quantity == 5);
  CHECK(store.size() == 3);  // reservations add no products
}

TEST_CASE("Reserve accepts kMaxOrderLines lines spread over many shards", "[reservation]") {
  REQUIRE(kMaxOrderLines == 100);
  const int shards = GENERATE(1, 8, 64);
  InventoryStore store(shards);
  std::vector<OrderLine> lines;
  for (int i = 0; i < 100; ++i) {
    REQUIRE(store.Set(absl::StrCat("item-", i), 10 + i).ok());
    lines.push_back({absl::StrCat("item-", i), i + 1});
  }
  std::vector<ProductStock> left = Ok(store.Reserve("big-order", lines));
  REQUIRE(left.size() == 100);
  for (int i = 0; i < 100; ++i) {
    CHECK(left[i].product_id == absl::StrCat("item-", i));
    CHECK(left[i].availability.quantity == 9);
    CHECK(store.Get(absl::StrCat("item-", i)).quantity == 9);
  }
  std::vector<ProductStock> back = Ok(store.Release("big-order"));
  for (int i = 0; i < 100; ++i) {
    CHECK(back[i].availability.quantity == 10 + i);
    CHECK(store.Get(absl::StrCat("item-", i)).quantity == 10 + i);
  }
}

// ---------------------------------------------------------------------------
// 5. INVALID_ARGUMENT and FAILED_PRECONDITION

TEST_CASE("Reserve rejects invalid order ids", "[reservation][validation]") {
  InventoryStore store;
  REQUIRE(store.Set("p", 10).ok());
  const std::vector<OrderLine> lines = {{"p", 1}};

  ExpectError(store.Reserve("", lines), absl::StatusCode::kInvalidArgument, {"order_id is empty"});
  ExpectError(store.Reserve(std::string(129, 'o'), lines), absl::StatusCode::kInvalidArgument,
              {"order_id is 129 bytes long", "128"});
  ExpectError(store.Reserve("order\xFF", lines), absl::StatusCode::kInvalidArgument,
              {"order_id is not valid UTF-8", "offset 5"});
  ExpectError(store.Reserve("caf\xC3", lines), absl::StatusCode::kInvalidArgument,
              {"order_id is not valid UTF-8"});
  ExpectError(store.Reserve("\xED\xA0\x80", lines), absl::StatusCode::kInvalidArgument,
              {"order_id is not valid UTF-8"});  // a surrogate
  ExpectError(store.Reserve("ord\ner", lines), absl::StatusCode::kInvalidArgument,
              {"order_id contains a non-printable control character", "U+000a"});
  ExpectError(store.Reserve("x\x7F", lines), absl::StatusCode::kInvalidArgument,
              {"order_id contains", "U+007f"});
  // The message never calls an order id a product id.
  absl::Status status = store.Reserve("", lines).status();
  CHECK_THAT(std::string(status.message()), !Contains("product_id"));
  CHECK(store.Get("p").quantity == 10);

  // The limits are inclusive; multi-byte UTF-8 is fine.
  Ok(store.Reserve(std::string(128, 'o'), lines));
  Ok(store.Reserve("commande-\xC3\xA9t\xC3\xA9-\xF0\x9F\x93\xA6", lines));
  CHECK(store.Get("p").quantity == 8);

  // Release checks the id the same way.
  ExpectError(store.Release(""), absl::StatusCode::kInvalidArgument, {"order_id is empty"});
  ExpectError(store.Release("bad\x01"), absl::StatusCode::kInvalidArgument,
              {"order_id contains a non-printable control character"});
  ExpectError(store.Release(std::string(129, 'o')), absl::StatusCode::kInvalidArgument,
              {"order_id is 129 bytes long"});
}

TEST_CASE("Reserve rejects a missing or oversized list of lines", "[reservation][validation]") {
  InventoryStore store;
  ExpectError(store.Reserve("o", {}), absl::StatusCode::kInvalidArgument, {"no lines"});

  std::vector<OrderLine> lines;
  for (int i = 0; i < 101; ++i) {
    REQUIRE(store.Set(absl::StrCat("p", i), 5).ok());
    lines.push_back({absl::StrCat("p", i), 1});
  }
  ExpectError(store.Reserve("o", lines), absl::StatusCode::kInvalidArgument,
              {"101 lines", "limit is 100"});
  for (int i = 0; i < 101; ++i) CHECK(store.Get(absl::StrCat("p", i)).quantity == 5);

  // The id was not recorded: the same id with 100 lines is a new order.
  lines.pop_back();
  Ok(store.Reserve("o", lines));
  CHECK(store.Get("p0").quantity == 4);
  CHECK(store.Get("p100").quantity == 5);
}

TEST_CASE("Reserve rejects bad lines by index and changes nothing", "[reservation][validation]") {
  const int shards = GENERATE(1, 64);
  InventoryStore store(shards);
  REQUIRE(store.Load({{"a", 10}, {"b", 10}, {"c", 10}, {"d", 10}}).ok());

  SECTION("quantity zero") {
    ExpectError(store.Reserve("o", {{"a", 1}, {"b", 1}, {"c", 0}}),
                absl::StatusCode::kInvalidArgument,
                {"lines[2]", "quantity for 'c' must be positive, got 0"});
  }
  SECTION("negative quantity") {
    ExpectError(store.Reserve("o", {{"a", 1}, {"b", -5}}), absl::StatusCode::kInvalidArgument,
                {"lines[1]", "'b'", "got -5"});
    ExpectError(store.Reserve("o", {{"a", std::numeric_limits<std::int32_t>::min()}}),
                absl::StatusCode::kInvalidArgument, {"lines[0]", "must be positive"});
  }
  SECTION("the same product twice") {
    ExpectError(store.Reserve("o", {{"a", 1}, {"b", 1}, {"c", 1}, {"b", 2}}),
                absl::StatusCode::kInvalidArgument,
                {"lines[3]", "product 'b' appears more than once", "also at lines[1]"});
  }
  SECTION("an unknown product") {
    ExpectError(store.Reserve("o", {{"a", 1}, {"b", 1}, {"ghost", 1}, {"d", 1}}),
                absl::StatusCode::kInvalidArgument, {"lines[2]", "unknown product 'ghost'"});
  }
  SECTION("an unknown product is reported even when an earlier line is short") {
    // Unknown products are checked for every line before any stock check.
    ExpectError(store.Reserve("o", {{"a", 1000}, {"ghost", 1}}), absl::StatusCode::kInvalidArgument,
                {"lines[1]", "unknown product 'ghost'"});
  }
  SECTION("an empty product id") {
    ExpectError(store.Reserve("o", {{"a", 1}, {"", 1}}), absl::StatusCode::kInvalidArgument,
                {"lines[1]: product_id is empty"});
  }
  SECTION("a product id with a control character") {
    ExpectError(store.Reserve("o", {{"a", 1}, {"b", 1}, {"bad\x01", 1}}),
                absl::StatusCode::kInvalidArgument,
                {"lines[2]: product_id contains a non-printable control character", "U+0001"});
  }
  SECTION("a product id that is not UTF-8 or too long") {
    ExpectError(store.Reserve("o", {{"bad\xFF", 1}}), absl::StatusCode::kInvalidArgument,
                {"lines[0]: product_id is not valid UTF-8"});
    ExpectError(store.Reserve("o", {{"a", 1}, {std::string(129, 'x'), 1}}),
                absl::StatusCode::kInvalidArgument, {"lines[1]: product_id is 129 bytes long"});
  }
  SECTION("the first bad line wins") {
    ExpectError(store.Reserve("o", {{"a", 1}, {"b", 0}, {"", 1}, {"a", 1}}),
                absl::StatusCode::kInvalidArgument, {"lines[1]", "'b'"});
    ExpectError(store.Reserve("o", {{"a", 1}, {"", 0}}), absl::StatusCode::kInvalidArgument,
                {"lines[1]: product_id is empty"});
  }
  SECTION("the order id is checked before the lines") {
    ExpectError(store.Reserve("", {}), absl::StatusCode::kInvalidArgument, {"order_id is empty"});
  }

  for (const char* id : {"a", "b", "c", "d"}) CHECK(store.Get(id).quantity == 10);
  CHECK(store.size() == 4);  // an unknown product is not created
  // The failed call did not record "o": a different order under it succeeds.
  Ok(store.Reserve("o", {{"d", 4}}));
  CHECK(store.Get("d").quantity == 6);
  ExpectError(store.Release("never-reserved"), absl::StatusCode::kNotFound, {"never-reserved"});
}

TEST_CASE("Reserve reports the first short product in request order and changes nothing",
          "[reservation]") {
  const int shards = GENERATE(1, 4, 64);
  InventoryStore store(shards);
  REQUIRE(store.Load({{"alpha", 1}, {"beta", 2}, {"mid", 100}, {"zeta", 3}}).ok());

  // beta (lines[2]) and alpha (lines[3]) are both short; beta comes first.
  absl::StatusOr<std::vector<ProductStock>> result =
      store.Reserve("o", {{"zeta", 3}, {"mid", 1}, {"beta", 5}, {"alpha", 9}});
  ExpectError(result, absl::StatusCode::kFailedPrecondition,
              {"'beta'", "lines[2]", "requested 5", "available 2"});
  CHECK_THAT(std::string(result.status().message()), !Contains("alpha"));

  // In the other order alpha comes first.
  ExpectError(store.Reserve("o", {{"alpha", 9}, {"beta", 5}}),
              absl::StatusCode::kFailedPrecondition,
              {"'alpha'", "lines[0]", "requested 9", "available 1"});

  // Short by one unit on the last line: the earlier lines are not taken.
  ExpectError(store.Reserve("o", {{"zeta", 3}, {"mid", 100}, {"beta", 3}}),
              absl::StatusCode::kFailedPrecondition,
              {"'beta'", "lines[2]", "requested 3", "available 2"});

  CHECK(store.Get("alpha").quantity == 1);
  CHECK(store.Get("beta").quantity == 2);
  CHECK(store.Get("mid").quantity == 100);
  CHECK(store.Get("zeta").quantity == 3);
  ExpectError(store.Release("o"), absl::StatusCode::kNotFound, {"order 'o' not found"});

  // A failed order id is not recorded: once restocked, the same id and lines
  // are a new reservation.
  REQUIRE(store.Set("beta", 5).ok());
  REQUIRE(store.Set("alpha", 9).ok());
  std::vector<ProductStock> left =
      Ok(store.Reserve("o", {{"zeta", 3}, {"mid", 1}, {"beta", 5}, {"alpha", 9}}));
  CHECK(Quantities(left) == std::vector<std::int32_t>{0, 99, 0, 0});
}

// ---------------------------------------------------------------------------
// 3. Idempotency

TEST_CASE("A repeated Reserve returns the original result and reserves nothing more",
          "[reservation][idempotency]") {
  const int shards = GENERATE(1, 64);
  InventoryStore store(shards);
  REQUIRE(store.Load({{"a", 10}, {"b", 20}, {"c", 5}}).ok());

  const std::vector<ProductStock> original = Ok(store.Reserve("order-1", {{"a", 3}, {"b", 4}}));
  REQUIRE(Ids(original) == std::vector<std::string>{"a", "b"});
  REQUIRE(Quantities(original) == std::vector<std::int32_t>{7, 16});

  // Stock moves in between: by Set and by another order.
  REQUIRE(store.Set("a", 100).ok());
  Ok(store.Reserve("order-2", {{"b", 6}}));
  REQUIRE(store.Get("b").quantity == 10);

  const auto expect_stock_unchanged = [&] {
    CHECK(store.Get("a").quantity == 100);
    CHECK(store.Get("b").quantity == 10);
    CHECK(store.Get("c").quantity == 5);
  };

  SECTION("the same lines") {
    for (int retry = 0; retry < 3; ++retry) {
      std::vector<ProductStock> again = Ok(store.Reserve("order-1", {{"a", 3}, {"b", 4}}));
      CHECK(Ids(again) == Ids(original));
      CHECK(Quantities(again) == Quantities(original));
      expect_stock_unchanged();
    }
  }
  SECTION("the same lines in another order: line order is not significant") {
    std::vector<ProductStock> again = Ok(store.Reserve("order-1", {{"b", 4}, {"a", 3}}));
    // The original quantities, listed in this call's order.
    CHECK(Ids(again) == std::vector<std::string>{"b", "a"});
    CHECK(Quantities(again) == std::vector<std::int32_t>{16, 7});
    expect_stock_unchanged();
  }
  SECTION("the same lines even when the stock is gone") {
    REQUIRE(store.Set("a", 0).ok());
    std::vector<ProductStock> again = Ok(store.Reserve("order-1", {{"a", 3}, {"b", 4}}));
    CHECK(Quantities(again) == Quantities(original));
    CHECK(store.Get("a").quantity == 0);
    CHECK(store.Get("b").quantity == 10);
  }
  SECTION("different lines: ALREADY_EXISTS") {
    const std::vector<std::vector<OrderLine>> different = {
        {{"a", 3}, {"b", 5}},            // another quantity
        {{"a", 3}},                      // a subset
        {{"a", 3}, {"b", 4}, {"c", 1}},  // a superset
        {{"a", 3}, {"c", 4}},            // another product
        {{"b", 3}, {"a", 4}},            // quantities swapped between products
    };
    for (const std::vector<OrderLine>& lines : different) {
      ExpectError(store.Reserve("order-1", lines), absl::StatusCode::kAlreadyExists,
                  {"order 'order-1'", "different lines"});
      expect_stock_unchanged();
    }
    // The original still replays after the rejected attempts.
    CHECK(Quantities(Ok(store.Reserve("order-1", {{"a", 3}, {"b", 4}}))) == Quantities(original));
  }
  SECTION("a retry with an invalid line is INVALID_ARGUMENT, not a replay") {
    ExpectError(store.Reserve("order-1", {{"a", 3}, {"b", 0}}), absl::StatusCode::kInvalidArgument,
                {"lines[1]"});
    ExpectError(store.Reserve("order-1", {{"a", 3}, {"a", 3}}), absl::StatusCode::kInvalidArgument,
                {"lines[1]", "more than once"});
    expect_stock_unchanged();
  }
}

TEST_CASE("Concurrent retries of one order reserve exactly once", "[reservation][idempotency]") {
  constexpr int kThreads = 32;
  InventoryStore store(8);
  REQUIRE(store.Load({{"x", 100}, {"y", 100}, {"z", 100}}).ok());

  std::atomic<bool> go{false};
  std::vector<std::vector<std::int32_t>> results(kThreads);  // x, y, z quantities
  std::atomic<int> errors{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      // Half the threads list the lines in the opposite order.
      std::vector<OrderLine> lines = {{"x", 2}, {"y", 3}, {"z", 4}};
      if (t % 2 == 1) std::reverse(lines.begin(), lines.end());
      while (!go.load()) std::this_thread::yield();
      absl::StatusOr<std::vector<ProductStock>> result = store.Reserve("shared-order", lines);
      if (!result.ok() || result->size() != 3) {
        ++errors;
        return;
      }
      std::vector<std::int32_t> by_product(3, -1);
      for (const ProductStock& s : *result)
        by_product[s.product_id[0] - 'x'] = s.availability.quantity;
      results[t] = by_product;
    });
  }
  go.store(true);
  for (std::thread& thread : threads) thread.join();

  CHECK(errors.load() == 0);
  for (int t = 0; t < kThreads; ++t) {
    INFO("thread " << t);
    CHECK(results[t] == std::vector<std::int32_t>{98, 97, 96});
  }
  CHECK(store.Get("x").quantity == 98);
  CHECK(store.Get("y").quantity == 97);
  CHECK(store.Get("z").quantity == 96);
}

// ---------------------------------------------------------------------------
// 4. Release

TEST_CASE("Release returns the stock once; repeats are no-ops", "[reservation][release]") {
  const int shards = GENERATE(1, 64);
  InventoryStore store(shards);
  REQUIRE(store.Load({{"a", 10}, {"b", 5}, {"c", 1}}).ok());

  const std::vector<ProductStock> reserved = Ok(store.Reserve("o1", {{"b", 5}, {"a", 4}}));
  REQUIRE(Quantities(reserved) == std::vector<std::int32_t>{0, 6});
  REQUIRE_FALSE(store.Get("b").is_available);

  // The first release gives the stock back; the answer follows the lines of
  // the original Reserve.
  std::vector<ProductStock> released = Ok(store.Release("o1"));
  CHECK(Ids(released) == std::vector<std::string>{"b", "a"});
  CHECK(Quantities(released) == std::vector<std::int32_t>{5, 10});
  CHECK(released[0].availability.is_available);
  CHECK(store.Get("a").quantity == 10);
  CHECK(store.Get("b").quantity == 5);
  CHECK(store.Get("b").is_available);

  // A second release changes nothing and reports the current quantities.
  released = Ok(store.Release("o1"));
  CHECK(Quantities(released) == std::vector<std::int32_t>{5, 10});
  CHECK(store.Get("a").quantity == 10);
  REQUIRE(store.Set("a", 7).ok());
  released = Ok(store.Release("o1"));
  CHECK(Quantities(released) == std::vector<std::int32_t>{5, 7});
  CHECK(store.Get("a").quantity == 7);
  CHECK(store.Get("b").quantity == 5);

  SECTION("unknown orders are NOT_FOUND") {
    ExpectError(store.Release("nope"), absl::StatusCode::kNotFound, {"order 'nope' not found"});
    // Nor does a failed reservation leave anything to release.
    ExpectError(store.Reserve("o2", {{"c", 2}}), absl::StatusCode::kFailedPrecondition, {"'c'"});
    ExpectError(store.Release("o2"), absl::StatusCode::kNotFound, {"o2"});
    ExpectError(store.Reserve("o3", {{"ghost", 1}}), absl::StatusCode::kInvalidArgument,
                {"unknown product"});
    ExpectError(store.Release("o3"), absl::StatusCode::kNotFound, {"o3"});
    CHECK(store.Get("c").quantity == 1);
  }
  SECTION("a released id with the same lines replays the original result, reserving nothing") {
    std::vector<ProductStock> again = Ok(store.Reserve("o1", {{"a", 4}, {"b", 5}}));
    CHECK(Ids(again) == std::vector<std::string>{"a", "b"});
    CHECK(Quantities(again) == std::vector<std::int32_t>{6, 0});  // as right after the original
    CHECK(store.Get("a").quantity == 7);
    CHECK(store.Get("b").quantity == 5);
    // And it is still released: releasing again gives nothing back.
    CHECK(Quantities(Ok(store.Release("o1"))) == std::vector<std::int32_t>{5, 7});
    CHECK(store.Get("a").quantity == 7);
  }
  SECTION("a released id with different lines is ALREADY_EXISTS") {
    ExpectError(store.Reserve("o1", {{"a", 1}}), absl::StatusCode::kAlreadyExists,
                {"order 'o1'", "different lines", "since released"});
    CHECK(store.Get("a").quantity == 7);
  }
}

TEST_CASE("An order with an owner is replayed and released only by that owner",
          "[reservation][ownership]") {
  InventoryStore store;
  REQUIRE(store.Load({{"a", 10}, {"b", 5}}).ok());
  REQUIRE(Quantities(Ok(store.Reserve("o1", {{"a", 4}}, "shop-a"))) ==
          std::vector<std::int32_t>{6});

  // Another identity can neither replay nor release it, and learns nothing
  // of whose it is; nothing changes.
  ExpectError(store.Reserve("o1", {{"a", 4}}, "shop-b"), absl::StatusCode::kPermissionDenied,
              {"order 'o1'", "another identity"});
  ExpectError(store.Reserve("o1", {{"a", 1}}, "shop-b"), absl::StatusCode::kPermissionDenied,
              {"order 'o1'"});
  ExpectError(store.Release("o1", "shop-b"), absl::StatusCode::kPermissionDenied, {"order 'o1'"});
  CHECK(store.Get("a").quantity == 6);

  // The owner's retry replays; the owner's release gives the stock back, once.
  CHECK(Quantities(Ok(store.Reserve("o1", {{"a", 4}}, "shop-a"))) == std::vector<std::int32_t>{6});
  CHECK(Quantities(Ok(store.Release("o1", "shop-a"))) == std::vector<std::int32_t>{10});
  ExpectError(store.Release("o1", "shop-b"), absl::StatusCode::kPermissionDenied, {"order 'o1'"});
  CHECK(Quantities(Ok(store.Release("o1", "shop-a"))) == std::vector<std::int32_t>{10});

  // An unauthenticated caller (no name) is not checked, nor is an order
  // reserved without an owner.
  REQUIRE(store.Reserve("o2", {{"b", 2}}, "shop-a").ok());
  CHECK(Quantities(Ok(store.Release("o2"))) == std::vector<std::int32_t>{5});
  REQUIRE(store.Reserve("o3", {{"b", 1}}).ok());
  CHECK(Quantities(Ok(store.Release("o3", "shop-b"))) == std::vector<std::int32_t>{5});

  // A name that is not the owner's but shares its prefix is another owner.
  REQUIRE(store.Reserve("o4", {{"b", 1}}, "shop").ok());
  ExpectError(store.Release("o4", "shop-a"), absl::StatusCode::kPermissionDenied, {"o4"});
  CHECK(store.Get("b").quantity == 4);
}

TEST_CASE("Release adds back to whatever the quantity is now", "[reservation][release]") {
  InventoryStore store;
  REQUIRE(store.Load({{"a", 10}, {"big", 10}}).ok());

  SECTION("after Set lowered it") {
    Ok(store.Reserve("o", {{"a", 4}}));
    REQUIRE(store.Set("a", 1).ok());
    CHECK(Quantities(Ok(store.Release("o"))) == std::vector<std::int32_t>{5});
    CHECK(store.Get("a").quantity == 5);
  }
  SECTION("after another order took some") {
    Ok(store.Reserve("o", {{"a", 4}}));
    Ok(store.Reserve("p", {{"a", 6}}));
    CHECK_FALSE(store.Get("a").is_available);
    CHECK(Quantities(Ok(store.Release("o"))) == std::vector<std::int32_t>{4});
    CHECK(Quantities(Ok(store.Release("p"))) == std::vector<std::int32_t>{10});
  }
  SECTION("saturating at INT32_MAX") {
    Ok(store.Reserve("o", {{"big", 5}, {"a", 1}}));
    REQUIRE(store.Set("big", kInt32Max - 1).ok());
    CHECK(Quantities(Ok(store.Release("o"))) == std::vector<std::int32_t>{kInt32Max, 10});
    CHECK(store.Get("big").quantity == kInt32Max);
  }
}

TEST_CASE("Releases concurrent with reservations keep the totals balanced",
          "[reservation][release][concurrency]") {
  const int shards = GENERATE(2, 64);
  INFO("shards = " << shards);
  constexpr int kProducts = 8;
  constexpr std::int32_t kInitial = 400;
  constexpr int kReservers = 12;
  constexpr int kOrdersPerReserver = 300;
  constexpr int kReleasers = 3;  // each releases every listed order
  InventoryStore store(shards);
  const auto product = [](int p) { return absl::StrCat("r", p); };
  for (int p = 0; p < kProducts; ++p) REQUIRE(store.Set(product(p), kInitial).ok());

  struct Order {
    std::string id;
    std::vector<OrderLine> lines;
  };
  std::mutex to_release_mu;
  std::vector<Order> to_release;  // guarded by to_release_mu
  std::vector<std::vector<Order>> kept(kReservers);
  std::atomic<int> reservers_done{0};
  std::atomic<int> unexpected{0};
  std::atomic<int> out_of_range{0};
  std::atomic<int> successes{0};
  std::atomic<bool> go{false};

  std::vector<std::thread> threads;
  for (int t = 0; t < kReservers; ++t) {
    threads.emplace_back([&, t] {
      std::mt19937 rng(1000 + t);
      while (!go.load()) std::this_thread::yield();
      for (int i = 0; i < kOrdersPerReserver; ++i) {
        std::vector<int> picks(kProducts);
        for (int p = 0; p < kProducts; ++p) picks[p] = p;
        std::shuffle(picks.begin(), picks.end(), rng);
        picks.resize(1 + rng() % 4);
        Order order{absl::StrCat("t", t, "-", i), {}};
        for (int p : picks) {
          order.lines.push_back({product(p), static_cast<std::int32_t>(1 + rng() % 5)});
        }
        absl::StatusOr<std::vector<ProductStock>> result = store.Reserve(order.id, order.lines);
        if (result.ok()) {
          ++successes;
          for (const ProductStock& s : *result) {
            if (s.availability.quantity < 0 || s.availability.quantity > kInitial) ++out_of_range;
          }
          if (rng() % 2 == 0) {
            std::lock_guard<std::mutex> lock(to_release_mu);
            to_release.push_back(std::move(order));
          } else {
            kept[t].push_back(std::move(order));
          }
        } else if (result.status().code() != absl::StatusCode::kFailedPrecondition) {
          ++unexpected;
        }
      }
      ++reservers_done;
    });
  }
  for (int r = 0; r < kReleasers; ++r) {
    threads.emplace_back([&] {
      while (!go.load()) std::this_thread::yield();
      std::size_t next = 0;
      for (;;) {
        const bool finished = reservers_done.load() == kReservers;  // read before the list
        std::vector<std::string> batch;
        {
          std::lock_guard<std::mutex> lock(to_release_mu);
          for (; next < to_release.size(); ++next) batch.push_back(to_release[next].id);
        }
        for (const std::string& id : batch) {
          absl::StatusOr<std::vector<ProductStock>> result = store.Release(id);
          if (!result.ok()) {
            ++unexpected;
            continue;
          }
          for (const ProductStock& s : *result) {
            if (s.availability.quantity < 0 || s.availability.quantity > kInitial) ++out_of_range;
          }
        }
        if (finished && batch.empty()) break;
        if (batch.empty()) std::this_thread::yield();
      }
    });
  }
  // A reader: no product is ever below zero or above its initial stock.
  threads.emplace_back([&] {
    while (!go.load()) std::this_thread::yield();
    do {
      for (int p = 0; p < kProducts; ++p) {
        Availability a = store.Get(product(p));
        if (a.quantity < 0 || a.quantity > kInitial || a.is_available != (a.quantity > 0)) {
          ++out_of_range;
        }
      }
    } while (reservers_done.load() < kReservers);
  });
  go.store(true);
  for (std::thread& thread : threads) thread.join();

  CHECK(unexpected.load() == 0);
  CHECK(out_of_range.load() == 0);
  CHECK(successes.load() > 0);
  std::vector<std::int64_t> outstanding(kProducts, 0);
  for (const std::vector<Order>& orders : kept) {
    for (const Order& order : orders) {
      for (const OrderLine& line : order.lines) {
        outstanding[std::stoi(line.product_id.substr(1))] += line.quantity;
      }
    }
  }
  for (int p = 0; p < kProducts; ++p) {
    INFO("product " << product(p));
    CHECK(store.Get(product(p)).quantity + outstanding[p] == kInitial);
  }
  // Every released order stays released; every kept one is still held.
  for (const Order& order : to_release) {
    for (const ProductStock& s : Ok(store.Release(order.id))) {
      CHECK(s.availability.quantity == store.Get(s.product_id).quantity);
    }
  }
  for (int p = 0; p < kProducts; ++p) {
    CHECK(store.Get(product(p)).quantity + outstanding[p] == kInitial);
  }
}

// ---------------------------------------------------------------------------
// 1. Contention on one product

TEST_CASE("Contended single-unit reservations never oversell", "[reservation][concurrency]") {
  constexpr int kThreads = 64;
  constexpr int kAttempts = 5000;
  constexpr std::int32_t kStock = 1000;
  const int shards = GENERATE(1, 64);
  // A lost race only shows when the stock runs out, a short moment of each
  // run, so the whole run is repeated to give it more chances.
  const int round = GENERATE(Catch::Generators::range(0, 10));
  INFO("shards = " << shards << ", round " << round);
  InventoryStore store(shards);
  REQUIRE(store.Set("hot", kStock).ok());
  REQUIRE(store.Set("cold", 5).ok());  // a bystander in the same store

  std::atomic<bool> go{false};
  std::atomic<int> next_attempt{0};
  std::atomic<int> succeeded{0};
  std::atomic<int> short_of_stock{0};
  std::atomic<int> other{0};
  std::atomic<int> bad_message{0};
  // How many successes saw each remaining quantity: each of 0..999 exactly once.
  std::vector<std::atomic<int>> seen_remaining(kStock);
  for (std::atomic<int>& count : seen_remaining) count.store(0);
  std::atomic<int> bad_remaining{0};

  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&] {
      while (!go.load()) std::this_thread::yield();
      for (int n = next_attempt++; n < kAttempts; n = next_attempt++) {
        absl::StatusOr<std::vector<ProductStock>> result =
            store.Reserve(absl::StrCat("order-", n), {{"hot", 1}});
        if (result.ok()) {
          ++succeeded;
          const std::int32_t left = result->size() == 1 ? (*result)[0].availability.quantity : -1;
          if (left < 0 || left >= kStock || (*result)[0].product_id != "hot") {
            ++bad_remaining;
          } else {
            ++seen_remaining[left];
          }
        } else if (result.status().code() == absl::StatusCode::kFailedPrecondition) {
          ++short_of_stock;
          if (result.status().message() !=
              "insufficient stock for product 'hot' (lines[0]): requested 1, available 0") {
            ++bad_message;
          }
        } else {
          ++other;
        }
      }
    });
  }
  go.store(true);
  for (std::thread& thread : threads) thread.join();

  CHECK(succeeded.load() == kStock);
  CHECK(short_of_stock.load() == kAttempts - kStock);
  CHECK(other.load() == 0);
  CHECK(bad_message.load() == 0);
  CHECK(bad_remaining.load() == 0);
  int remaining_values_not_seen_once = 0;
  for (const std::atomic<int>& count : seen_remaining) {
    if (count.load() != 1) ++remaining_values_not_seen_once;
  }
  CHECK(remaining_values_not_seen_once == 0);
  CHECK(store.Get("hot").quantity == 0);
  CHECK_FALSE(store.Get("hot").is_available);
  CHECK(store.Get("cold").quantity == 5);
}

// ---------------------------------------------------------------------------
// 2. Multi-line orders over overlapping products, in opposite orders

TEST_CASE("Overlapping multi-line orders are all or nothing and never deadlock",
          "[reservation][concurrency]") {
  // Products come in groups. Every order takes the same quantity of EVERY
  // product of each group it touches, so if orders are all or nothing the
  // products of a group always hold equal quantities, and (with no releases)
  // a group's quantity only goes down. A reader that reads the products of a
  // group one by one, in either direction, must therefore never see a
  // quantity above the previous one it read from that group: with a partial
  // reservation visible it would (the taken product first, then the other).
  // Each successful Reserve's answer is a snapshot under the locks, so within
  // each group its quantities must be equal too.
  const int shards = GENERATE(2, 8, 64);
  INFO("shards = " << shards);
  constexpr int kGroups = 4;
  constexpr int kGroupSize = 4;
  constexpr std::int32_t kInitial = 3000;
  constexpr int kWriters = 16;
  constexpr int kOrdersPerWriter = 400;
  constexpr int kReaders = 2;
  InventoryStore store(shards);
  const auto product = [](int g, int k) { return absl::StrCat("g", g, "-p", k); };
  for (int g = 0; g < kGroups; ++g) {
    for (int k = 0; k < kGroupSize; ++k) REQUIRE(store.Set(product(g, k), kInitial).ok());
  }

  struct Taken {
    int group_mask;
    std::int32_t quantity;
  };
  std::vector<std::vector<Taken>> taken(kWriters);
  std::atomic<bool> go{false};
  std::atomic<int> writers_done{0};
  std::atomic<int> unexpected{0};
  std::atomic<int> torn_results{0};
  std::atomic<int> failures{0};
  std::atomic<int> rises_seen{0};
  std::atomic<long> reader_passes{0};

  std::vector<std::thread> threads;
  for (int w = 0; w < kWriters; ++w) {
    threads.emplace_back([&, w] {
      std::mt19937 rng(7 + w);
      while (!go.load()) std::this_thread::yield();
      for (int i = 0; i < kOrdersPerWriter; ++i) {
        // One or two groups, listed forward by even writers and backward by
        // odd ones (so A takes {p1, p2, ...} while B takes {..., p2, p1}),
        // and every fifth order shuffled.
        int mask = 1 << (rng() % kGroups);
        if (rng() % 2 == 0) mask |= 1 << (rng() % kGroups);
        const std::int32_t quantity = static_cast<std::int32_t>(1 + rng() % 3);
        std::vector<OrderLine> lines;
        for (int g = 0; g < kGroups; ++g) {
          if ((mask & (1 << g)) == 0) continue;
          for (int k = 0; k < kGroupSize; ++k) lines.push_back({product(g, k), quantity});
        }
        if (w % 2 == 1) std::reverse(lines.begin(), lines.end());
        if (i % 5 == 0) std::shuffle(lines.begin(), lines.end(), rng);

        absl::StatusOr<std::vector<ProductStock>> result =
            store.Reserve(absl::StrCat("w", w, "-", i), lines);
        if (!result.ok()) {
          if (result.status().code() == absl::StatusCode::kFailedPrecondition) {
            ++failures;
          } else {
            ++unexpected;
          }
          continue;
        }
        taken[w].push_back({mask, quantity});
        // The answer: in request order, and equal within each group.
        std::vector<std::int32_t> group_value(kGroups, -1);
        bool torn = result->size() != lines.size();
        for (std::size_t j = 0; !torn && j < lines.size(); ++j) {
          const ProductStock& s = (*result)[j];
          const int g = s.product_id[1] - '0';
          if (s.product_id != lines[j].product_id || s.availability.quantity < 0) torn = true;
          if (group_value[g] == -1) group_value[g] = s.availability.quantity;
          if (group_value[g] != s.availability.quantity) torn = true;
        }
        if (torn) ++torn_results;
      }
      ++writers_done;
    });
  }
  for (int r = 0; r < kReaders; ++r) {
    threads.emplace_back([&, r] {
      std::vector<std::int32_t> last(kGroups, kInitial);
      while (!go.load()) std::this_thread::yield();
      bool forward = r % 2 == 0;
      do {
        for (int g = 0; g < kGroups; ++g) {
          for (int j = 0; j < kGroupSize; ++j) {
            const int k = forward ? j : kGroupSize - 1 - j;
            const std::int32_t q = store.Get(product(g, k)).quantity;
            if (q > last[g] || q < 0) ++rises_seen;
            last[g] = q;
          }
        }
        forward = !forward;
        ++reader_passes;
      } while (writers_done.load() < kWriters);
    });
  }
  go.store(true);
  for (std::thread& thread : threads) thread.join();  // finishing means no deadlock

  CHECK(unexpected.load() == 0);
  CHECK(torn_results.load() == 0);
  CHECK(rises_seen.load() == 0);
  CHECK(reader_passes.load() >= kReaders);
  // The data is sized so that stock runs out: both outcomes happen.
  CHECK(failures.load() > 0);

  // Totals balance exactly: initial = remaining + reserved by the successes.
  std::vector<std::int64_t> reserved(kGroups, 0);
  std::size_t successes = 0;
  for (const std::vector<Taken>& list : taken) {
    successes += list.size();
    for (const Taken& t : list) {
      for (int g = 0; g < kGroups; ++g) {
        if (t.group_mask & (1 << g)) reserved[g] += t.quantity;
      }
    }
  }
  CHECK(successes > 0);
  CHECK(successes + failures.load() == static_cast<std::size_t>(kWriters * kOrdersPerWriter));
  for (int g = 0; g < kGroups; ++g) {
    for (int k = 0; k < kGroupSize; ++k) {
      INFO("product " << product(g, k));
      const std::int32_t q = store.Get(product(g, k)).quantity;
      CHECK(q >= 0);
      CHECK(q + reserved[g] == kInitial);
    }
  }
}

}  // namespace
}  // namespace domain::inventory
