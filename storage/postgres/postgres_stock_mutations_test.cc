// PostgresStockMutations against a real PostgreSQL 15 (PostgresTestServer)
// and real gRPC servers on loopback: the service's semantics on this store,
// two replicas on one database, and an outage of the database.
#include "storage/postgres/postgres_stock_mutations.h"

#include <libpq-fe.h>

#include <algorithm>
#include <atomic>
#include <catch2/catch.hpp>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/synchronization/notification.h"
#include "test/inventory_clients.h"
#include "test/inventory_test_server.h"
#include "test/postgres_test_server.h"
#include "test/test_util.h"

namespace {

using domain::inventory::OrderLine;
using domain::inventory::ProductStock;
using domain::inventory::StockResult;
using storage::postgres::PostgresOptions;
using storage::postgres::PostgresStockMutations;
using testing_util::InventoryTestServer;
using testing_util::PostgresTestServer;
using testing_util::Release;
using testing_util::Reserve;
using testing_util::SetStock;
using testing_util::WaitUntil;
using testing_util::WatchReader;

std::unique_ptr<PostgresStockMutations> OpenStore(
    const PostgresTestServer& pg, const std::vector<domain::inventory::CatalogEntry>& catalog,
    PostgresOptions options = {}) {
  options.uri = pg.uri();
  auto store = PostgresStockMutations::Open(options, catalog);
  INFO(store.status().ToString());
  REQUIRE(store.ok());
  return std::move(store).value();
}

// A replica: the PostgreSQL store and the gRPC service over its cache.
struct Replica {
  Replica(const PostgresTestServer& pg, const std::vector<domain::inventory::CatalogEntry>& catalog,
          PostgresOptions options = {})
      : store(OpenStore(pg, catalog, options)),
        server(store->cache(), {.mutations = store.get()}) {}
  std::unique_ptr<PostgresStockMutations> store;
  InventoryTestServer server;
};

// The store's answer to a Reserve, waited for.
StockResult ReserveNow(PostgresStockMutations& store, const std::string& order_id,
                       std::vector<OrderLine> lines, const std::string& owner = "") {
  absl::Notification done;
  StockResult result = absl::UnknownError("unanswered");
  store.Reserve(order_id, std::move(lines), owner, absl::Now() + absl::Seconds(30),
                [&](StockResult r) {
                  result = std::move(r);
                  done.Notify();
                });
  REQUIRE(done.WaitForNotificationWithTimeout(absl::Seconds(60)));
  return result;
}
StockResult ReleaseNow(PostgresStockMutations& store, const std::string& order_id,
                       const std::string& caller = "") {
  absl::Notification done;
  StockResult result = absl::UnknownError("unanswered");
  store.Release(order_id, caller, absl::Now() + absl::Seconds(30), [&](StockResult r) {
    result = std::move(r);
    done.Notify();
  });
  REQUIRE(done.WaitForNotificationWithTimeout(absl::Seconds(60)));
  return result;
}

int DbQuantity(const PostgresTestServer& pg, const std::string& id) {
  return std::stoi(
      pg.Query(absl::StrCat("SELECT quantity FROM inventory_stock WHERE product_id = '", id, "'")));
}

}  // namespace

TEST_CASE("migrations and seeding: seeded once, from the catalog, into an empty database",
          "[postgres]") {
  PostgresTestServer pg;
  {
    auto first = OpenStore(pg, {{"apple", 5}, {"pear", 0}});
    CHECK(first->origin() == PostgresStockMutations::Origin::kSeeded);
    CHECK(first->cache().Get("apple").quantity == 5);
    CHECK(first->cache().size() == 2);
  }
  CHECK(pg.Query("SELECT max(version) FROM inventory_schema_migrations") == "3");
  // A second start (another catalog) finds the database seeded: its
  // catalog is ignored and the stored stock is served.
  pg.Query(
      "UPDATE inventory_stock SET quantity = 7, version = version + 1 WHERE product_id = "
      "'apple'");
  auto second = OpenStore(pg, {{"apple", 100}, {"plum", 1}});
  CHECK(second->origin() == PostgresStockMutations::Origin::kExisting);
  CHECK(second->cache().Get("apple").quantity == 7);
  CHECK_FALSE(second->cache().Get("plum").is_available);
  CHECK(pg.Query("SELECT count(*) FROM inventory_stock") == "2");
  // A bad catalog is refused before anything is written.
  auto bad = PostgresStockMutations::Open({.uri = pg.uri()}, {{"", 1}});
  CHECK(bad.status().code() == absl::StatusCode::kInvalidArgument);
  // Nothing listens there: UNAVAILABLE, not a hang.
  auto down = PostgresStockMutations::Open({.uri = "host=/nonexistent port=1 user=postgres"}, {});
  CHECK(down.status().code() == absl::StatusCode::kUnavailable);
}

TEST_CASE("ReserveStock, ReleaseReservation and SetStock keep their statuses on PostgreSQL",
          "[postgres]") {
  PostgresTestServer pg;
  Replica replica(pg, {{"apple", 10}, {"pear", 3}});
  auto& stub = replica.server.stub();

  inventory::ReserveStockResponse reserved;
  REQUIRE(Reserve(stub, "order-1", {{"apple", 4}, {"pear", 1}}, &reserved).ok());
  REQUIRE(reserved.remaining_size() == 2);
  CHECK(reserved.remaining(0).quantity() == 6);
  CHECK(reserved.remaining(1).quantity() == 2);
  CHECK(DbQuantity(pg, "apple") == 6);
  CHECK(replica.server.Quantity("apple") == 6);  // the replica reads its own write
  CHECK(pg.Query("SELECT owner FROM inventory_orders WHERE order_id = 'order-1'").empty());

  // A retry, lines in another order: the original result, nothing more taken.
  inventory::ReserveStockResponse replayed;
  REQUIRE(Reserve(stub, "order-1", {{"pear", 1}, {"apple", 4}}, &replayed).ok());
  CHECK(replayed.remaining(0).product_id() == "pear");
  CHECK(replayed.remaining(0).quantity() == 2);
  CHECK(replayed.remaining(1).quantity() == 6);
  CHECK(DbQuantity(pg, "apple") == 6);
  CHECK(Reserve(stub, "order-1", {{"apple", 5}}).error_code() == grpc::StatusCode::ALREADY_EXISTS);

  // Short on the second line: nothing of the first is taken.
  grpc::Status short_stock = Reserve(stub, "order-2", {{"apple", 1}, {"pear", 3}});
  CHECK(short_stock.error_code() == grpc::StatusCode::FAILED_PRECONDITION);
  CHECK(short_stock.error_message() ==
        "insufficient stock for product 'pear' (lines[1]): requested 3, available 2");
  CHECK(DbQuantity(pg, "apple") == 6);
  // ... and the id stays unused.
  CHECK(Reserve(stub, "order-2", {{"apple", 1}}).ok());

  grpc::Status unknown = Reserve(stub, "order-3", {{"apple", 1}, {"kiwi", 1}});
  CHECK(unknown.error_code() == grpc::StatusCode::INVALID_ARGUMENT);
  CHECK(unknown.error_message() == "lines[1]: unknown product 'kiwi'");
  CHECK(Reserve(stub, "order-4", {{"apple", 1}, {"apple", 1}}).error_code() ==
        grpc::StatusCode::INVALID_ARGUMENT);
  CHECK(Reserve(stub, "order-5", {{"apple", 0}}).error_code() ==
        grpc::StatusCode::INVALID_ARGUMENT);
  CHECK(Reserve(stub, "", {{"apple", 1}}).error_code() == grpc::StatusCode::INVALID_ARGUMENT);
  CHECK(Reserve(stub, "order-6", {}).error_code() == grpc::StatusCode::INVALID_ARGUMENT);
  // A quote in an id is data, not SQL.
  CHECK(Reserve(stub, "o'; DROP TABLE inventory_stock; --", {{"apple", 1}}).ok());
  CHECK(DbQuantity(pg, "apple") == 4);

  inventory::ReleaseReservationResponse released;
  REQUIRE(Release(stub, "order-1", &released).ok());
  REQUIRE(released.remaining_size() == 2);
  CHECK(released.remaining(0).quantity() == 8);  // 4 + 4 back
  CHECK(released.remaining(1).quantity() == 3);
  // Idempotent: the current quantities, nothing returned twice.
  REQUIRE(Release(stub, "order-1", &released).ok());
  CHECK(released.remaining(0).quantity() == 8);
  CHECK(DbQuantity(pg, "apple") == 8);
  CHECK(Release(stub, "nope").error_code() == grpc::StatusCode::NOT_FOUND);
  CHECK(Release(stub, "").error_code() == grpc::StatusCode::INVALID_ARGUMENT);
  // A released order id names that reservation forever.
  inventory::ReserveStockResponse again;
  REQUIRE(Reserve(stub, "order-1", {{"apple", 4}, {"pear", 1}}, &again).ok());
  CHECK(again.remaining(0).quantity() == 6);  // the original result
  CHECK(DbQuantity(pg, "apple") == 8);

  inventory::SetStockResponse set;
  REQUIRE(SetStock(stub, "apple", 3, &set).ok());
  CHECK(set.availability().quantity() == 3);
  REQUIRE(SetStock(stub, "new-product", 2).ok());
  CHECK(Reserve(stub, "o-new", {{"new-product", 2}}).ok());
  CHECK(DbQuantity(pg, "new-product") == 0);
  CHECK(SetStock(stub, "apple", -1).error_code() == grpc::StatusCode::INVALID_ARGUMENT);
  CHECK(DbQuantity(pg, "apple") == 3);
  CHECK(replica.server.Quantity("apple") == 3);
}

TEST_CASE("owners: another identity's order is PERMISSION_DENIED on PostgreSQL", "[postgres]") {
  PostgresTestServer pg;
  auto store = OpenStore(pg, {{"apple", 10}});
  REQUIRE(ReserveNow(*store, "o1", {{"apple", 2}}, "alice").ok());
  CHECK(pg.Query("SELECT owner FROM inventory_orders WHERE order_id = 'o1'") == "alice");
  CHECK(ReserveNow(*store, "o1", {{"apple", 2}}, "bob").status().code() ==
        absl::StatusCode::kPermissionDenied);
  CHECK(ReleaseNow(*store, "o1", "bob").status().code() == absl::StatusCode::kPermissionDenied);
  CHECK(DbQuantity(pg, "apple") == 8);
  // No identity on either side is not checked.
  CHECK(ReserveNow(*store, "o1", {{"apple", 2}}).ok());
  REQUIRE(ReleaseNow(*store, "o1", "alice").ok());
  CHECK(DbQuantity(pg, "apple") == 10);
}

TEST_CASE("a full queue is RESOURCE_EXHAUSTED at once, and the queued work still completes",
          "[postgres]") {
  PostgresTestServer pg;
  auto store = OpenStore(pg, {{"apple", 10}}, {.pool_size = 1, .queue_limit = 1});
  // Hold the row in another session so the only connection thread waits.
  PGconn* blocker = PQconnectdb(pg.uri().c_str());
  REQUIRE(PQstatus(blocker) == CONNECTION_OK);
  PQclear(PQexec(blocker, "BEGIN; SELECT * FROM inventory_stock FOR UPDATE"));
  std::atomic<int> answered{0};
  std::vector<absl::StatusCode> codes(3, absl::StatusCode::kUnknown);
  for (int i = 0; i < 3; ++i) {
    store->Reserve(absl::StrCat("q", i), {{"apple", 1}}, "", absl::Now() + absl::Seconds(30),
                   [&, i](StockResult r) {
                     codes[i] = r.status().code();
                     ++answered;
                   });
    // Let the first one reach the connection thread before queuing more.
    if (i == 0) {
      REQUIRE(WaitUntil([&] {
        return pg.Query("SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock'") ==
               "1";
      }));
    }
  }
  CHECK(answered == 1);  // the third, refused on the caller's thread
  CHECK(codes[2] == absl::StatusCode::kResourceExhausted);
  PQclear(PQexec(blocker, "COMMIT"));
  PQfinish(blocker);
  REQUIRE(WaitUntil([&] { return answered == 3; }));
  CHECK(codes[0] == absl::StatusCode::kOk);
  CHECK(codes[1] == absl::StatusCode::kOk);
  CHECK(DbQuantity(pg, "apple") == 8);
}

TEST_CASE("SetStocks queued together commit as one statement, split at a repeated product",
          "[postgres]") {
  PostgresTestServer pg;
  auto store = OpenStore(pg, {{"apple", 10}}, {.pool_size = 1});
  PGconn* blocker = PQconnectdb(pg.uri().c_str());
  REQUIRE(PQstatus(blocker) == CONNECTION_OK);
  PQclear(PQexec(blocker, "BEGIN; SELECT * FROM inventory_stock FOR UPDATE"));
  std::atomic<int> answered{0};
  std::vector<absl::StatusCode> codes(6, absl::StatusCode::kUnknown);
  const auto set = [&](int i, const std::string& id, int quantity, absl::Duration timeout) {
    store->Set(id, quantity, absl::Now() + timeout, [&, i](absl::Status status) {
      codes[i] = status.code();
      ++answered;
    });
  };
  set(0, "apple", 1, absl::Seconds(30));  // the only connection thread waits on the lock
  REQUIRE(WaitUntil([&] {
    return pg.Query("SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock'") == "1";
  }));
  set(1, "b", 1, absl::Seconds(30));
  set(2, "c", 2, absl::Seconds(30));
  set(3, "e", 5, absl::Milliseconds(50));  // expires while queued
  set(4, "b", 3, absl::Seconds(30));       // b again: starts the next statement
  set(5, "d", 4, absl::Seconds(30));
  absl::SleepFor(absl::Milliseconds(200));
  CHECK(answered == 0);
  PQclear(PQexec(blocker, "COMMIT"));
  PQfinish(blocker);
  REQUIRE(WaitUntil([&] { return answered == 6; }));
  CHECK(codes == std::vector<absl::StatusCode>{absl::StatusCode::kOk, absl::StatusCode::kOk,
                                               absl::StatusCode::kOk,
                                               absl::StatusCode::kDeadlineExceeded,
                                               absl::StatusCode::kOk, absl::StatusCode::kOk});
  CHECK(DbQuantity(pg, "apple") == 1);
  CHECK(DbQuantity(pg, "b") == 3);  // in queue order
  CHECK(DbQuantity(pg, "c") == 2);
  CHECK(DbQuantity(pg, "d") == 4);
  CHECK(pg.Query("SELECT count(*) FROM inventory_stock WHERE product_id = 'e'") == "0");
  // One transaction per statement: b's last write and d's share theirs,
  // c's is the first statement's.
  const auto xmin = [&](const std::string& id) {
    return pg.Query(absl::StrCat("SELECT xmin FROM inventory_stock WHERE product_id = '", id, "'"));
  };
  CHECK(xmin("b") == xmin("d"));
  CHECK(xmin("c") != xmin("d"));
  CHECK(store->cache().Get("b").quantity == 3);
  CHECK(store->cache().Get("d").quantity == 4);
}

TEST_CASE("reservations queued together are pipelined; an order failing mid-pipeline is alone",
          "[postgres]") {
  PostgresTestServer pg;
  auto store = OpenStore(pg, {{"apple", 10}, {"pear", 3}},
                         {.pool_size = 1, .statement_timeout = absl::Seconds(2)});
  const auto lock_row = [&](const std::string& id) {
    PGconn* conn = PQconnectdb(pg.uri().c_str());
    REQUIRE(PQstatus(conn) == CONNECTION_OK);
    PQclear(PQexec(conn, absl::StrCat("BEGIN; SELECT * FROM inventory_stock WHERE product_id = '",
                                      id, "' FOR UPDATE")
                             .c_str()));
    return conn;
  };
  PGconn* apple_lock = lock_row("apple");
  PGconn* pear_lock = lock_row("pear");  // held past q2's statement_timeout
  std::atomic<int> answered{0};
  std::vector<StockResult> results(6, absl::UnknownError("unanswered"));
  const auto reserve = [&](int i, const std::string& order, std::vector<OrderLine> lines) {
    store->Reserve(order, std::move(lines), "", absl::Now() + absl::Seconds(30),
                   [&, i](StockResult r) {
                     results[i] = std::move(r);
                     ++answered;
                   });
  };
  reserve(0, "q0", {{"apple", 1}});  // the only connection thread waits on apple
  REQUIRE(WaitUntil([&] {
    return pg.Query("SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock'") == "1";
  }));
  reserve(1, "q1", {{"apple", 1}});
  reserve(2, "q2", {{"pear", 1}});   // waits on pear, then times out: the rest is aborted
  reserve(3, "q1", {{"apple", 1}});  // q1 again: replayed
  reserve(4, "q4", {{"kiwi", 1}});
  reserve(5, "q5", {{"apple", 100}});
  PQclear(PQexec(apple_lock, "COMMIT"));
  PQfinish(apple_lock);
  REQUIRE(WaitUntil([&] { return answered == 6; }, absl::Seconds(30)));
  PQclear(PQexec(pear_lock, "COMMIT"));
  PQfinish(pear_lock);
  CHECK(store->pipelined() == 5);
  CHECK(results[0].ok());
  REQUIRE(results[1].ok());
  CHECK((*results[1])[0].availability.quantity == 8);
  CHECK(results[2].status().code() == absl::StatusCode::kDeadlineExceeded);
  INFO(results[3].status().ToString());
  REQUIRE(results[3].ok());
  CHECK((*results[3])[0].availability.quantity == 8);  // q1's own answer
  CHECK(results[4].status().code() == absl::StatusCode::kInvalidArgument);
  CHECK(results[5].status().code() == absl::StatusCode::kFailedPrecondition);
  CHECK(DbQuantity(pg, "apple") == 8);
  CHECK(DbQuantity(pg, "pear") == 3);
  CHECK(pg.Query("SELECT count(*) FROM inventory_orders") == "2");
  CHECK(store->cache().Get("apple").quantity == 8);
  // Afterwards the connection is back out of pipeline mode and serves alone.
  CHECK(ReserveNow(*store, "q6", {{"pear", 3}}).ok());
  CHECK(DbQuantity(pg, "pear") == 0);
}

TEST_CASE("two replicas, 64 clients, 5000 attempts on 1000 units: exactly 1000 succeed",
          "[postgres]") {
  PostgresTestServer pg;
  Replica a(pg, {{"hot", 1000}});
  Replica b(pg, {{"hot", 1000}});
  constexpr int kClients = 64;
  constexpr int kAttempts = 5000;
  std::atomic<int> next{0};
  std::atomic<int> ok{0};
  std::atomic<int> sold_out{0};
  std::atomic<int> other{0};
  std::vector<std::thread> clients;
  for (int c = 0; c < kClients; ++c) {
    clients.emplace_back([&, c] {
      auto& stub = (c % 2 == 0 ? a : b).server.stub();
      for (int i = next++; i < kAttempts; i = next++) {
        grpc::Status status = Reserve(stub, absl::StrCat("order-", i), {{"hot", 1}});
        if (status.ok()) {
          ++ok;
        } else if (status.error_code() == grpc::StatusCode::FAILED_PRECONDITION) {
          ++sold_out;
        } else {
          ++other;
        }
      }
    });
  }
  for (std::thread& t : clients) t.join();
  CHECK(ok == 1000);
  CHECK(sold_out == kAttempts - 1000);
  CHECK(other == 0);
  CHECK(DbQuantity(pg, "hot") == 0);
  CHECK(pg.Query("SELECT count(*) FROM inventory_orders") == "1000");
  // Both caches converge on 0, whichever replica sold the last unit.
  CHECK(WaitUntil([&] { return a.server.Quantity("hot") == 0 && b.server.Quantity("hot") == 0; },
                  absl::Seconds(5)));
}

TEST_CASE("multi-line orders in opposite line orders on two replicas: no deadlock, never partial",
          "[postgres]") {
  PostgresTestServer pg;
  const std::vector<std::string> products = {"a", "b", "c", "d"};
  constexpr int kClients = 16;
  constexpr int kOrdersPerClient = 60;
  constexpr int kStock = 5000;
  Replica a(pg, {{"a", kStock}, {"b", kStock}, {"c", kStock}, {"d", kStock}});
  Replica b(pg, {});
  REQUIRE(WaitUntil([&] { return a.store->listening() && b.store->listening(); }));

  // Every order takes one unit of each product, so in any one BatchGet
  // answer all four quantities must be equal: otherwise part of an order
  // was visible without the rest.
  std::atomic<bool> writing{true};
  std::atomic<int> reads{0};
  std::atomic<int> partial{0};
  std::atomic<int> read_errors{0};
  std::vector<std::thread> readers;
  for (Replica* replica : {&a, &b}) {
    readers.emplace_back([&, replica] {
      while (writing) {
        inventory::BatchGetProductAvailabilityResponse batch;
        if (!replica->server.Batch(products, &batch).ok() || batch.items_size() != 4) {
          ++read_errors;
          continue;
        }
        ++reads;
        for (int i = 1; i < 4; ++i) {
          if (batch.items(i).quantity() != batch.items(0).quantity()) {
            ++partial;
            break;
          }
        }
      }
    });
  }
  std::atomic<int> ok{0};
  std::atomic<int> failed{0};
  std::vector<std::string> failures(kClients);
  std::vector<std::thread> clients;
  for (int c = 0; c < kClients; ++c) {
    clients.emplace_back([&, c] {
      const bool forward = c % 2 == 0;
      auto& stub = (forward ? a : b).server.stub();
      testing_util::StockLines lines;
      for (const std::string& id : products) lines.emplace_back(id, 1);
      if (!forward) std::reverse(lines.begin(), lines.end());
      for (int i = 0; i < kOrdersPerClient; ++i) {
        grpc::Status status = Reserve(stub, absl::StrCat("opp-", c, "-", i), lines);
        if (status.ok()) {
          ++ok;
        } else {
          ++failed;
          failures[c] = absl::StrCat(status.error_code(), ": ", status.error_message());
        }
      }
    });
  }
  for (std::thread& t : clients) t.join();
  // Let the readers also watch the notifications of the last commits land.
  absl::SleepFor(absl::Milliseconds(300));
  writing = false;
  for (std::thread& t : readers) t.join();
  for (const std::string& failure : failures) CHECK(failure.empty());
  CHECK(ok == kClients * kOrdersPerClient);
  CHECK(failed == 0);
  CHECK(read_errors == 0);
  CHECK(reads > 100);
  CHECK(partial == 0);
  const int left = kStock - kClients * kOrdersPerClient;
  for (const std::string& id : products) CHECK(DbQuantity(pg, id) == left);
  CHECK(pg.Query("SELECT count(*) FROM inventory_orders") ==
        absl::StrCat(kClients * kOrdersPerClient));
  CHECK(WaitUntil(
      [&] {
        for (const std::string& id : products) {
          if (a.server.Quantity(id) != left || b.server.Quantity(id) != left) return false;
        }
        return true;
      },
      absl::Seconds(5)));

  // One statement's rows beyond NOTIFY's 8000-byte payload (100 rows with
  // 120-byte ids) arrive split into chunks, and are still applied together.
  std::vector<std::string> many;
  for (int i = 0; i < 100; ++i) many.push_back(absl::StrCat(std::string(116, 'x'), 1000 + i));
  std::vector<std::string> values;
  for (const std::string& id : many) values.push_back(absl::StrCat("('", id, "', 7, 1)"));
  pg.Query(absl::StrCat("INSERT INTO inventory_stock(product_id, quantity, version) VALUES ",
                        absl::StrJoin(values, ", ")));
  CHECK(WaitUntil(
      [&] {
        inventory::BatchGetProductAvailabilityResponse batch;
        if (!b.server.Batch(many, &batch).ok()) return false;
        for (const auto& item : batch.items()) {
          if (item.quantity() != 7) return false;
        }
        return true;
      },
      absl::Seconds(5)));
}

TEST_CASE("replicas share orders and changes: retries, Watch, late notifications", "[postgres]") {
  PostgresTestServer pg;
  Replica a(pg, {{"apple", 10}});
  Replica b(pg, {});

  // An idempotent retry sent to the other replica gets the original result.
  inventory::ReserveStockResponse first;
  REQUIRE(Reserve(a.server.stub(), "order-x", {{"apple", 3}}, &first).ok());
  REQUIRE(SetStock(a.server.stub(), "apple", 50).ok());
  inventory::ReserveStockResponse retried;
  REQUIRE(Reserve(b.server.stub(), "order-x", {{"apple", 3}}, &retried).ok());
  CHECK(retried.remaining(0).quantity() == 7);
  CHECK(DbQuantity(pg, "apple") == 50);

  // The same new order sent to both replicas at once: one transaction wins,
  // the other hits the unique order id, retries and replays the winner's
  // result; stock is taken once per order.
  for (int round = 0; round < 20; ++round) {
    const std::string id = absl::StrCat("race-", round);
    inventory::ReserveStockResponse from_a;
    inventory::ReserveStockResponse from_b;
    grpc::Status status_a;
    std::thread other([&] { status_a = Reserve(a.server.stub(), id, {{"apple", 1}}, &from_a); });
    grpc::Status status_b = Reserve(b.server.stub(), id, {{"apple", 1}}, &from_b);
    other.join();
    REQUIRE(status_a.ok());
    REQUIRE(status_b.ok());
    CHECK(from_a.remaining(0).quantity() == from_b.remaining(0).quantity());
  }
  CHECK(DbQuantity(pg, "apple") == 30);
  REQUIRE(SetStock(a.server.stub(), "apple", 50).ok());

  // A Watch on one replica sees a change committed through the other.
  WatchReader watch(b.server.stub(), {"apple"});
  REQUIRE(
      watch.ReadUntil([](const auto& got) { return !got.empty() && got.back().quantity() == 50; }));
  REQUIRE(Reserve(a.server.stub(), "order-y", {{"apple", 5}}).ok());
  CHECK(watch.ReadUntil([](const auto& got) { return got.back().quantity() == 45; }));
  // A change made in the database by anyone reaches both.
  pg.Query(
      "UPDATE inventory_stock SET quantity = 44, version = version + 1 WHERE product_id = "
      "'apple'");
  CHECK(watch.ReadUntil([](const auto& got) { return got.back().quantity() == 44; }));
  CHECK(WaitUntil([&] { return a.server.Quantity("apple") == 44; }, absl::Seconds(5)));
  watch.Cancel();
  (void)watch.Finish();

  // A late or repeated notification never overwrites a newer value.
  const std::int64_t version =
      std::stoll(pg.Query("SELECT version FROM inventory_stock WHERE product_id = 'apple'"));
  a.store->ApplyToCache("apple", 1, version - 1);
  a.store->ApplyToCache("apple", 2, version);
  CHECK(a.server.Quantity("apple") == 44);
  pg.Query(absl::StrCat("SELECT pg_notify('inventory_stock', '", version - 2, ",3,apple')"));
  pg.Query(absl::StrCat("SELECT pg_notify('inventory_stock', '", version + 1, ",9,apple')"));
  CHECK(WaitUntil([&] { return b.server.Quantity("apple") == 9; }, absl::Seconds(5)));
}

TEST_CASE("PostgreSQL restarted: UNAVAILABLE meanwhile, then recovery and caches converge",
          "[postgres]") {
  PostgresTestServer pg;
  Replica a(pg, {{"apple", 10}});
  Replica b(pg, {});
  REQUIRE(WaitUntil([&] { return a.store->listening() && b.store->listening(); }));
  REQUIRE(Reserve(a.server.stub(), "before", {{"apple", 1}}).ok());
  REQUIRE(WaitUntil([&] { return b.server.Quantity("apple") == 9; }, absl::Seconds(5)));
  // A change the listeners cannot hear about (the trigger off): only the
  // full reload on reconnect can bring it.
  pg.Query(
      "ALTER TABLE inventory_stock DISABLE TRIGGER inventory_stock_changed; "
      "UPDATE inventory_stock SET quantity = 20, version = version + 1 WHERE product_id = "
      "'apple'; ALTER TABLE inventory_stock ENABLE TRIGGER inventory_stock_changed");
  absl::SleepFor(absl::Milliseconds(300));
  CHECK(b.server.Quantity("apple") == 9);
  const std::int64_t reloads_before = b.store->reloads();

  pg.Stop();
  grpc::ClientContext context;
  context.set_deadline(testing_util::DeadlineIn(absl::Seconds(5)));
  inventory::ReserveStockRequest request =
      testing_util::ReserveStockRequestFor("during", {{"apple", 1}});
  inventory::ReserveStockResponse response;
  const absl::Time start = absl::Now();
  grpc::Status down = a.server.stub().ReserveStock(&context, request, &response);
  CHECK(down.error_code() == grpc::StatusCode::UNAVAILABLE);
  CHECK(absl::Now() - start < absl::Seconds(5));
  CHECK(SetStock(b.server.stub(), "apple", 1).error_code() == grpc::StatusCode::UNAVAILABLE);
  // Reads keep being served from the cache meanwhile.
  CHECK(b.server.Quantity("apple") == 9);

  pg.Start();
  CHECK(WaitUntil([&] { return b.store->reloads() > reloads_before; }));
  CHECK(WaitUntil(
      [&] { return a.server.Quantity("apple") == 20 && b.server.Quantity("apple") == 20; },
      absl::Seconds(10)));
  // Writes recover without a restart of the replicas.
  CHECK(WaitUntil(
      [&] {
        return Reserve(a.server.stub(), "after", {{"apple", 2}}).ok();
      },
      absl::Seconds(10)));
  CHECK(WaitUntil([&] { return b.server.Quantity("apple") == 18; }, absl::Seconds(5)));
  CHECK(DbQuantity(pg, "apple") == 18);
}

TEST_CASE("PostgreSQL hung: calls answered by their deadline, then recovery", "[postgres]") {
  PostgresTestServer pg;
  Replica replica(pg, {{"apple", 10}}, {.statement_timeout = absl::Seconds(2)});
  REQUIRE(WaitUntil([&] { return replica.store->listening(); }));
  REQUIRE(Reserve(replica.server.stub(), "before", {{"apple", 1}}).ok());
  pg.Freeze(true);
  // Connections stay open and nothing answers: a reservation and a
  // SetStock with a 500 ms deadline, several reservations at once (the
  // pipeline), and one without a deadline, bounded by statement_timeout.
  std::atomic<int> answered{0};
  std::vector<absl::StatusCode> codes(8, absl::StatusCode::kUnknown);
  std::vector<absl::Duration> took(8);
  const absl::Time start = absl::Now();
  const auto note = [&](int i, absl::StatusCode code) {
    codes[i] = code;
    took[i] = absl::Now() - start;
    ++answered;
  };
  for (int i = 0; i < 6; ++i) {
    replica.store->Reserve(absl::StrCat("hung-", i), {{"apple", 1}}, "",
                           start + absl::Milliseconds(500),
                           [&, i](StockResult r) { note(i, r.status().code()); });
  }
  replica.store->Set("apple", 3, start + absl::Milliseconds(500),
                     [&](absl::Status status) { note(6, status.code()); });
  replica.store->Reserve("hung-forever", {{"apple", 1}}, "", absl::InfiniteFuture(),
                         [&](StockResult r) { note(7, r.status().code()); });
  REQUIRE(WaitUntil([&] { return answered == 8; }, absl::Seconds(20)));
  for (int i = 0; i < 7; ++i) {
    INFO(i);
    CHECK((codes[i] == absl::StatusCode::kDeadlineExceeded ||
           codes[i] == absl::StatusCode::kUnavailable));
    CHECK(took[i] < absl::Milliseconds(1500));  // by the deadline, not by statement_timeout
  }
  CHECK(codes[7] == absl::StatusCode::kUnavailable);
  CHECK(took[7] < absl::Seconds(10));
  // Reads are served from the cache meanwhile.
  CHECK(replica.server.Quantity("apple") == 9);
  pg.Freeze(false);
  // Writes recover on new connections, without a restart; of the calls the
  // hang cut off, some may have committed (their outcome was unknown).
  CHECK(WaitUntil(
      [&] {
        return Reserve(replica.server.stub(), "after", {{"apple", 1}}).ok();
      },
      absl::Seconds(10)));
  const int left = DbQuantity(pg, "apple");
  CHECK(WaitUntil([&] { return replica.server.Quantity("apple") == left; }, absl::Seconds(5)));
}

TEST_CASE("order retention on PostgreSQL: released orders' records expire, held ones stay",
          "[postgres]") {
  PostgresTestServer pg;
  auto store = OpenStore(
      pg, {{"apple", 10}},
      {.order_retention = absl::Milliseconds(300), .retention_interval = absl::Milliseconds(100)});
  REQUIRE(ReserveNow(*store, "held", {{"apple", 2}}).ok());
  REQUIRE(ReserveNow(*store, "done", {{"apple", 3}}).ok());
  REQUIRE(ReleaseNow(*store, "done").ok());
  CHECK(pg.Query("SELECT count(*) FROM inventory_orders") == "2");
  CHECK(WaitUntil([&] { return pg.Query("SELECT count(*) FROM inventory_orders") == "1"; },
                  absl::Seconds(10)));
  CHECK(pg.Query("SELECT order_id FROM inventory_orders") == "held");
  CHECK(pg.Query("SELECT count(*) FROM inventory_order_lines") == "1");
  // Forgotten: its release is NOT_FOUND, nothing returned twice.
  CHECK(ReleaseNow(*store, "done").status().code() == absl::StatusCode::kNotFound);
  CHECK(DbQuantity(pg, "apple") == 8);
  // The held order is still answered from its record.
  CHECK(ReleaseNow(*store, "held").ok());
  CHECK(DbQuantity(pg, "apple") == 10);
}
