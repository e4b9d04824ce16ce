// The stock-changing RPCs as clients see them: ReserveStock, ReleaseReservation,
// SetStock and WatchProductAvailability, in memory and with the durable
// journal. Real server, real clients, loopback.
#include <algorithm>
#include <atomic>
#include <catch2/catch.hpp>
#include <map>
#include <random>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "domain/inventory/limits.h"
#include "storage/durable_journal.h"
#include "storage/inventory_storage.h"
#include "test/inventory_clients.h"
#include "test/inventory_test_server.h"
#include "test/loopback.h"
#include "test/temp_dir.h"
#include "test/test_util.h"

namespace {

using inventory::InventoryService;
using inventory::ProductAvailability;
using inventory::ReleaseReservationRequest;
using inventory::ReleaseReservationResponse;
using inventory::ReserveStockRequest;
using inventory::ReserveStockResponse;
using inventory::SetStockRequest;
using inventory::SetStockResponse;
using inventory::WatchProductAvailabilityRequest;
using testing_util::DeadlineIn;
using testing_util::InventoryTestServer;
using testing_util::WaitUntil;

using Lines = testing_util::StockLines;
using testing_util::Release;
using testing_util::Reserve;
using testing_util::SetStock;
using testing_util::WatchReader;

// ReserveStock as a client that must learn every order's outcome, for the
// concurrency tests: they are about stock, not connections. It waits for a
// connection (wait for ready) and retries UNAVAILABLE under the same order
// id, which the service answers from its idempotency record if an earlier
// try reached it, so each order still counts exactly once. (CI twice saw a
// connection fail under load, in-memory: every call on it UNAVAILABLE with
// "failed to connect to all addresses ... No such file or directory".)
grpc::Status ReserveUntilAnswered(InventoryService::Stub& stub, const std::string& order_id,
                                  const Lines& lines, ReserveStockResponse* response,
                                  std::atomic<int>& retries) {
  grpc::Status status = Reserve(stub, order_id, lines, response, /*wait_for_ready=*/true);
  for (int retry = 0; retry < 20 && status.error_code() == grpc::StatusCode::UNAVAILABLE; ++retry) {
    ++retries;
    status = Reserve(stub, order_id, lines, response, /*wait_for_ready=*/true);
  }
  return status;
}

// A temporary data directory with an open journal, for the durable variants.
class DurableDir {
 public:
  DurableDir() {
    auto journal = storage::DurableJournal::Open(dir_.Path("db"), {.sync = true});
    REQUIRE(journal.ok());
    journal_ = std::move(journal).value();
  }
  storage::DurableJournal* journal() { return journal_.get(); }

 private:
  testing_util::TempDir dir_{"stock_service_test"};
  std::unique_ptr<storage::DurableJournal> journal_;  // closed before dir_ is removed
};

// Runs each case once in memory and once on the durable journal.
struct Variant {
  std::unique_ptr<DurableDir> dir;
  server::inventory::InventoryServiceOptions options;
};
Variant MakeVariant(bool durable) {
  Variant variant;
  if (durable) {
    variant.dir = std::make_unique<DurableDir>();
    variant.options.journal = variant.dir->journal();
  }
  return variant;
}

}  // namespace

TEST_CASE("64 clients racing for 1000 units never oversell", "[stock]") {
  const bool durable = GENERATE(false, true);
  CAPTURE(durable);
  Variant variant = MakeVariant(durable);
  InventoryTestServer server({{"hot", 1000}}, InventoryTestServer::DefaultOptions(),
                             variant.options);
  constexpr int kClients = 64;
  constexpr int kAttempts = 5000;
  std::atomic<int> next_attempt{0};
  std::atomic<int> succeeded{0};
  std::atomic<int> short_of_stock{0};
  std::atomic<int> other_errors{0};
  std::atomic<int> unavailable_retries{0};
  absl::Mutex first_error_mu;
  std::string first_error;  // guarded by first_error_mu
  std::vector<std::thread> clients;
  for (int c = 0; c < kClients; ++c) {
    clients.emplace_back([&, c] {
      // Eight connections shared by the 64 clients.
      auto stub = InventoryService::NewStub(testing_util::LoopbackChannel(server.port(), c % 8));
      for (int attempt = next_attempt++; attempt < kAttempts; attempt = next_attempt++) {
        grpc::Status status = ReserveUntilAnswered(*stub, absl::StrCat("order-", attempt),
                                                   {{"hot", 1}}, nullptr, unavailable_retries);
        if (status.ok()) {
          ++succeeded;
        } else if (status.error_code() == grpc::StatusCode::FAILED_PRECONDITION) {
          ++short_of_stock;
        } else {
          if (other_errors++ == 0) {
            absl::MutexLock lock(&first_error_mu);
            first_error = absl::StrCat(status.error_code(), ": ", status.error_message());
          }
        }
      }
    });
  }
  for (std::thread& client : clients) client.join();
  INFO("first unexpected status: " << first_error);
  INFO("attempts retried after UNAVAILABLE: " << unavailable_retries.load());
  CHECK(succeeded.load() == 1000);
  CHECK(short_of_stock.load() == kAttempts - 1000);
  CHECK(other_errors.load() == 0);
  CHECK(server.Quantity("hot") == 0);
}

TEST_CASE("orders overlapping in opposite orders neither deadlock nor reserve in part", "[stock]") {
  const bool durable = GENERATE(false, true);
  CAPTURE(durable);
  Variant variant = MakeVariant(durable);
  // B runs out first: every order needs one of each, so exactly 300 succeed
  // and a failed order must not have taken its unit of A.
  InventoryTestServer server({{"a", 500}, {"b", 300}}, InventoryTestServer::DefaultOptions(),
                             variant.options);
  constexpr int kThreads = 16;
  constexpr int kOrdersPerThread = 40;
  std::atomic<int> succeeded{0};
  std::atomic<int> bad_remaining{0};
  std::atomic<int> other_errors{0};
  std::atomic<int> unavailable_retries{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      auto stub = InventoryService::NewStub(testing_util::LoopbackChannel(server.port(), t % 4));
      for (int i = 0; i < kOrdersPerThread; ++i) {
        // Half the threads name a first, the other half b first.
        const Lines lines = t % 2 == 0 ? Lines{{"a", 1}, {"b", 1}} : Lines{{"b", 1}, {"a", 1}};
        ReserveStockResponse response;
        grpc::Status status = ReserveUntilAnswered(*stub, absl::StrCat("t", t, "-", i), lines,
                                                   &response, unavailable_retries);
        if (status.ok()) {
          ++succeeded;
          // Both units were taken at one instant: what is left of a and b
          // right after it always differs by the initial 200.
          std::map<std::string, int> left;
          for (const ProductAvailability& item : response.remaining()) {
            left[item.product_id()] = item.quantity();
          }
          if (left["a"] - left["b"] != 200) ++bad_remaining;
        } else if (status.error_code() != grpc::StatusCode::FAILED_PRECONDITION) {
          ++other_errors;
        }
      }
    });
  }
  for (std::thread& thread : threads) thread.join();
  INFO("attempts retried after UNAVAILABLE: " << unavailable_retries.load());
  CHECK(succeeded.load() == 300);
  CHECK(bad_remaining.load() == 0);
  CHECK(other_errors.load() == 0);
  CHECK(server.Quantity("a") == 200);
  CHECK(server.Quantity("b") == 0);
}

TEST_CASE("ReserveStock is idempotent per order id", "[stock]") {
  const bool durable = GENERATE(false, true);
  CAPTURE(durable);
  Variant variant = MakeVariant(durable);
  InventoryTestServer server({{"apple", 10}, {"pear", 5}}, InventoryTestServer::DefaultOptions(),
                             variant.options);
  ReserveStockResponse first;
  REQUIRE(Reserve(server.stub(), "order-1", {{"apple", 3}, {"pear", 2}}, &first).ok());
  REQUIRE(first.remaining_size() == 2);
  CHECK(first.remaining(0).product_id() == "apple");
  CHECK(first.remaining(0).quantity() == 7);
  CHECK(first.remaining(1).quantity() == 3);

  SECTION("a retry returns the original result and reserves nothing more") {
    REQUIRE(Reserve(server.stub(), "order-2", {{"apple", 1}}).ok());  // stock moves on
    ReserveStockResponse retry;
    REQUIRE(Reserve(server.stub(), "order-1", {{"apple", 3}, {"pear", 2}}, &retry).ok());
    CHECK(retry.SerializeAsString() == first.SerializeAsString());
    CHECK(server.Quantity("apple") == 6);
    CHECK(server.Quantity("pear") == 3);
  }
  SECTION("concurrent retries all get the original result") {
    std::atomic<int> same{0};
    std::vector<std::thread> threads;
    for (int t = 0; t < 16; ++t) {
      threads.emplace_back([&] {
        ReserveStockResponse retry;
        if (Reserve(server.stub(), "order-1", {{"pear", 2}, {"apple", 3}}, &retry).ok() &&
            retry.remaining(1).quantity() == 7 && retry.remaining(0).quantity() == 3) {
          ++same;
        }
      });
    }
    for (std::thread& thread : threads) thread.join();
    CHECK(same.load() == 16);
    CHECK(server.Quantity("apple") == 7);
  }
  SECTION("the same id with other lines is ALREADY_EXISTS") {
    grpc::Status status = Reserve(server.stub(), "order-1", {{"apple", 4}, {"pear", 2}});
    CHECK(status.error_code() == grpc::StatusCode::ALREADY_EXISTS);
    CHECK_THAT(status.error_message(), Catch::Contains("order-1"));
    CHECK(server.Quantity("apple") == 7);
  }
}

TEST_CASE("ReserveStock rejects bad input with INVALID_ARGUMENT and changes nothing", "[stock]") {
  InventoryTestServer server({{"apple", 10}, {"pear", 5}});
  Lines too_many;
  for (int i = 0; i < 101; ++i) too_many.push_back({absl::StrCat("p", i), 1});
  const std::vector<std::tuple<std::string, std::string, Lines, std::string>> cases = {
      {"empty order id", "", {{"apple", 1}}, "order_id"},
      {"no lines", "o", {}, "no lines"},
      {"zero quantity", "o", {{"apple", 0}}, "lines[0]"},
      {"negative quantity", "o", {{"apple", 1}, {"pear", -2}}, "lines[1]"},
      {"the same product twice", "o", {{"apple", 1}, {"apple", 1}}, "more than once"},
      {"an unknown product", "o", {{"apple", 1}, {"ghost", 1}}, "unknown product 'ghost'"},
      {"an invalid product id", "o", {{"", 1}}, "lines[0]"},
      {"more than 100 lines", "o", too_many, "limit is 100"},
  };
  for (const auto& [name, order_id, lines, message] : cases) {
    CAPTURE(name);
    grpc::Status status = Reserve(server.stub(), order_id, lines);
    CHECK(status.error_code() == grpc::StatusCode::INVALID_ARGUMENT);
    CHECK_THAT(status.error_message(), Catch::Contains(message));
  }
  CHECK(server.Quantity("apple") == 10);
  CHECK(server.Quantity("pear") == 5);
  // A rejected id stays unused.
  CHECK(Reserve(server.stub(), "o", {{"apple", 1}}).ok());
}

TEST_CASE("insufficient stock is FAILED_PRECONDITION naming the first short product", "[stock]") {
  InventoryTestServer server({{"apple", 10}, {"pear", 1}, {"plum", 0}});
  grpc::Status status = Reserve(server.stub(), "order-1", {{"apple", 2}, {"pear", 2}, {"plum", 1}});
  CHECK(status.error_code() == grpc::StatusCode::FAILED_PRECONDITION);
  CHECK_THAT(status.error_message(), Catch::Contains("'pear'"));
  CHECK_THAT(status.error_message(), Catch::Contains("requested 2, available 1"));
  CHECK(server.Quantity("apple") == 10);
  // The failure recorded nothing: the id can be used once stock is there.
  REQUIRE(SetStock(server.stub(), "pear", 5).ok());
  REQUIRE(SetStock(server.stub(), "plum", 5).ok());
  CHECK(Reserve(server.stub(), "order-1", {{"apple", 2}, {"pear", 2}, {"plum", 1}}).ok());
}

TEST_CASE("ReleaseReservation returns the stock once; unknown orders are NOT_FOUND", "[stock]") {
  const bool durable = GENERATE(false, true);
  CAPTURE(durable);
  Variant variant = MakeVariant(durable);
  InventoryTestServer server({{"apple", 10}, {"pear", 5}}, InventoryTestServer::DefaultOptions(),
                             variant.options);
  REQUIRE(Reserve(server.stub(), "order-1", {{"pear", 5}, {"apple", 4}}).ok());
  CHECK(server.Quantity("pear") == 0);

  ReleaseReservationResponse released;
  REQUIRE(Release(server.stub(), "order-1", &released).ok());
  REQUIRE(released.remaining_size() == 2);
  CHECK(released.remaining(0).product_id() == "pear");
  CHECK(released.remaining(0).quantity() == 5);
  CHECK(released.remaining(0).is_available());
  CHECK(released.remaining(1).quantity() == 10);

  ReleaseReservationResponse again;
  REQUIRE(Release(server.stub(), "order-1", &again).ok());
  CHECK(again.remaining(1).quantity() == 10);
  CHECK(server.Quantity("apple") == 10);

  grpc::Status unknown = Release(server.stub(), "order-404");
  CHECK(unknown.error_code() == grpc::StatusCode::NOT_FOUND);
  CHECK_THAT(unknown.error_message(), Catch::Contains("order-404"));
  CHECK(Release(server.stub(), "").error_code() == grpc::StatusCode::INVALID_ARGUMENT);
  // A released order id names that reservation forever.
  CHECK(Reserve(server.stub(), "order-1", {{"apple", 1}}).error_code() ==
        grpc::StatusCode::ALREADY_EXISTS);
}

TEST_CASE("SetStock sets absolute quantities, creates products, and has an admin hook", "[stock]") {
  SECTION("allowed") {
    InventoryTestServer server({{"apple", 10}});
    SetStockResponse response;
    REQUIRE(SetStock(server.stub(), "apple", 3, &response).ok());
    CHECK(response.availability().product_id() == "apple");
    CHECK(response.availability().quantity() == 3);
    CHECK(response.availability().is_available());
    REQUIRE(SetStock(server.stub(), "new-product", 0, &response).ok());
    CHECK_FALSE(response.availability().is_available());
    CHECK(server.Quantity("apple") == 3);
    CHECK(server.store().size() == 2);
    // New products can be reserved at once.
    REQUIRE(SetStock(server.stub(), "new-product", 2).ok());
    CHECK(Reserve(server.stub(), "o", {{"new-product", 2}}).ok());

    grpc::Status negative = SetStock(server.stub(), "apple", -1);
    CHECK(negative.error_code() == grpc::StatusCode::INVALID_ARGUMENT);
    CHECK_THAT(negative.error_message(), Catch::Contains("negative"));
    CHECK(SetStock(server.stub(), "", 1).error_code() == grpc::StatusCode::INVALID_ARGUMENT);
    CHECK(server.Quantity("apple") == 3);
  }
}

namespace {

std::vector<std::pair<std::string, int>> Pairs(const std::vector<ProductAvailability>& messages) {
  std::vector<std::pair<std::string, int>> pairs;
  for (const ProductAvailability& m : messages) pairs.push_back({m.product_id(), m.quantity()});
  return pairs;
}

}  // namespace

TEST_CASE("Watch sends current values first, then each change in order", "[watch]") {
  InventoryTestServer server({{"apple", 10}, {"pear", 5}});
  WatchReader watch(server.stub(), {"pear", "apple", "ghost", "pear"});
  REQUIRE(watch.ReadCount(3));
  using P = std::vector<std::pair<std::string, int>>;
  CHECK(Pairs(watch.received()) == P{{"pear", 5}, {"apple", 10}, {"ghost", 0}});
  CHECK_FALSE(watch.received()[2].is_available());

  // One change at a time, each read before the next, so none coalesce.
  REQUIRE(Reserve(server.stub(), "o1", {{"apple", 4}}).ok());
  REQUIRE(watch.ReadCount(4));
  REQUIRE(SetStock(server.stub(), "ghost", 2).ok());
  REQUIRE(watch.ReadCount(5));
  REQUIRE(Release(server.stub(), "o1").ok());
  REQUIRE(watch.ReadCount(6));
  REQUIRE(SetStock(server.stub(), "plum", 1).ok());  // not watched
  REQUIRE(SetStock(server.stub(), "pear", 0).ok());
  REQUIRE(watch.ReadCount(7));
  CHECK(Pairs(watch.received()) == P{{"pear", 5},
                                     {"apple", 10},
                                     {"ghost", 0},
                                     {"apple", 6},
                                     {"ghost", 2},
                                     {"apple", 10},
                                     {"pear", 0}});
  watch.Cancel();
  CHECK(watch.Finish().error_code() == grpc::StatusCode::CANCELLED);
}

TEST_CASE("a slow Watch reader gets the latest value, not a backlog", "[watch]") {
  InventoryTestServer server({{"apple", 0}, {"pear", 0}});
  // A client whose HTTP/2 window stays small while it does not read (no BDP
  // growth), so the transport buffers a few hundred messages at most and the
  // outcome does not depend on how fast the changes are made.
  grpc::ChannelArguments args;
  args.SetInt(GRPC_ARG_HTTP2_BDP_PROBE, 0);
  args.SetInt(GRPC_ARG_HTTP2_STREAM_LOOKAHEAD_BYTES, 16 * 1024);
  auto stub = InventoryService::NewStub(grpc::CreateCustomChannel(
      absl::StrCat("127.0.0.1:", server.port()), grpc::InsecureChannelCredentials(), args));
  WatchReader watch(*stub, {"apple", "pear"});
  REQUIRE(watch.ReadCount(2));
  // 200,000 changes while the reader reads nothing. Made in process, so
  // they come far faster than any stream could carry them.
  constexpr int kChanges = 200000;
  for (int i = 1; i <= kChanges; ++i) {
    REQUIRE(server.store().Set(i % 2 == 0 ? "apple" : "pear", i).ok());
  }
  bool apple_final = false;
  bool pear_final = false;
  REQUIRE(watch.ReadUntil([&](const std::vector<ProductAvailability>& received) {
    const ProductAvailability& last = received.back();  // two or more already read
    if (last.product_id() == "apple" && last.quantity() == kChanges) apple_final = true;
    if (last.product_id() == "pear" && last.quantity() == kChanges - 1) pear_final = true;
    return apple_final && pear_final;
  }));
  // Only what the 16 KiB window let through plus one pending value per
  // product: far fewer than the changes made.
  CHECK(watch.received().size() < kChanges / 10);
  // Per product, values only ever go forward.
  std::map<std::string, int> last;
  for (const ProductAvailability& m : watch.received()) {
    CHECK(m.quantity() >= last[m.product_id()]);
    last[m.product_id()] = m.quantity();
  }
  watch.Cancel();
  watch.Finish();
}

TEST_CASE("Watch cancelled mid-stream stops watching; the server keeps serving", "[watch]") {
  InventoryTestServer server({{"apple", 10}});
  const std::string method = "inventory.InventoryService/WatchProductAvailability";
  {
    WatchReader watch(server.stub(), {"apple"});
    REQUIRE(watch.ReadCount(1));
    watch.Cancel();
    CHECK(watch.Finish().error_code() == grpc::StatusCode::CANCELLED);
  }
  REQUIRE(WaitUntil([&] { return server.host().engine().MethodStats(method).cancelled == 1; }));
  // Changes after the cancel reach no one and break nothing.
  for (int i = 0; i < 100; ++i) REQUIRE(SetStock(server.stub(), "apple", i).ok());
  WatchReader again(server.stub(), {"apple"});
  REQUIRE(again.ReadCount(1));
  CHECK(again.received()[0].quantity() == 99);
  again.Cancel();
  again.Finish();
}

TEST_CASE("Watch rejects bad requests with INVALID_ARGUMENT", "[watch]") {
  InventoryTestServer server({{"apple", 10}});
  std::vector<std::string> too_many;
  for (int i = 0; i < domain::inventory::kMaxWatchIds + 1; ++i)
    too_many.push_back(absl::StrCat("p", i));
  const std::vector<std::pair<std::vector<std::string>, std::string>> cases = {
      {{}, "empty"}, {{"apple", ""}, "product_ids[1]"}, {too_many, "at most 1000"}};
  for (const auto& [ids, message] : cases) {
    WatchReader watch(server.stub(), ids);
    grpc::Status status = watch.Finish();
    CHECK(status.error_code() == grpc::StatusCode::INVALID_ARGUMENT);
    CHECK_THAT(status.error_message(), Catch::Contains(message));
    CHECK(watch.received().empty());
  }
}

TEST_CASE("shutdown ends open Watch streams cleanly with UNAVAILABLE", "[watch]") {
  InventoryTestServer server({{"apple", 10}, {"pear", 1}});
  std::vector<std::unique_ptr<WatchReader>> watches;
  for (int i = 0; i < 8; ++i) {
    watches.push_back(
        std::make_unique<WatchReader>(server.stub(), std::vector<std::string>{"apple", "pear"}));
    REQUIRE(watches.back()->ReadCount(2));
  }
  std::thread stopper([&] { server.host().Shutdown(); });
  for (auto& watch : watches) {
    grpc::Status status = watch->Finish();
    CHECK(status.error_code() == grpc::StatusCode::UNAVAILABLE);
  }
  stopper.join();
  // The store outlives the server: a change now must reach no stale watcher.
  CHECK(server.store().Set("apple", 1).ok());
}

TEST_CASE("durable mutations are acknowledged only once written, and survive a restart",
          "[stock]") {
  const testing_util::TempDir temp("stock_service_restart");
  // Opened as inventory_server opens its --data_dir.
  storage::InventoryStorageOptions storage_options;
  storage_options.data_dir = temp.Path("db");
  storage_options.journal.sync = true;
  ReserveStockResponse original;
  {
    auto storage = storage::InventoryStorage::Open(storage_options, {{"apple", 10}, {"pear", 5}});
    REQUIRE(storage.ok());
    REQUIRE((*storage)->origin() == storage::InventoryStorage::Origin::kSeeded);
    InventoryTestServer server(**storage);
    REQUIRE(Reserve(server.stub(), "order-1", {{"apple", 3}, {"pear", 1}}, &original).ok());
    REQUIRE(Reserve(server.stub(), "order-2", {{"pear", 4}}).ok());
    REQUIRE(Release(server.stub(), "order-2").ok());
    REQUIRE(SetStock(server.stub(), "plum", 7).ok());
    CHECK((*storage)->journal()->Stats().mutations_written == 4);
    // Written when acknowledged, not later when the journal closes.
  }
  auto storage = storage::InventoryStorage::Open(storage_options, {});
  REQUIRE(storage.ok());
  REQUIRE((*storage)->origin() == storage::InventoryStorage::Origin::kRestored);
  InventoryTestServer server(**storage);
  CHECK(server.Quantity("apple") == 7);
  CHECK(server.Quantity("pear") == 4);
  CHECK(server.Quantity("plum") == 7);
  ReserveStockResponse replay;
  REQUIRE(Reserve(server.stub(), "order-1", {{"apple", 3}, {"pear", 1}}, &replay).ok());
  CHECK(replay.SerializeAsString() == original.SerializeAsString());
  CHECK(server.Quantity("apple") == 7);
}
