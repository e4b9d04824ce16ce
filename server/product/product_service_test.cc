// The ProductService end to end: a real InventoryService, the real batching
// client and reserver, the ProductService on the engine, real clients, all
// on loopback.
#include "server/product/product_service.h"

#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <catch2/catch.hpp>
#include <memory>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "metrics/grpc_prometheus.h"
#include "server/host/server_host.h"
#include "server/product/batching_client_metrics.h"
#include "server/product/inventory_readiness.h"
#include "test/inventory_test_server.h"
#include "test/loopback.h"
#include "test/product_test_server.h"
#include "test/scripted_inventory.h"
#include "test/test_util.h"

namespace {

using product::GetProductRequest;
using product::GetProductResponse;
using product::PlaceOrderRequest;
using product::PlaceOrderResponse;
using product::ProductService;
using testing_util::DeadlineIn;
using testing_util::InventoryTestServer;
using testing_util::LoopbackTarget;
using testing_util::ProductTestServer;
using testing_util::ScriptedInventory;
using testing_util::WaitUntil;

constexpr char kGetProduct[] = "product.ProductService/GetProduct";

// GetProduct calls made at once over `connections` HTTP/2 connections and
// collected on one completion queue.
class ConcurrentGets {
 public:
  ConcurrentGets(int port, int calls, int connections, absl::Duration deadline) : calls_(calls) {
    for (int c = 0; c < connections; ++c) {
      stubs_.push_back(
          product::ProductService::NewStub(testing_util::LoopbackChannel(port, c + 1)));
    }
    for (int i = 0; i < calls; ++i) {
      auto call = std::make_unique<Call>();
      call->context.set_deadline(DeadlineIn(deadline));
      call->request.set_product_id("product123");
      call->reader = stubs_[i % connections]->AsyncGetProduct(&call->context, call->request, &cq_);
      call->reader->Finish(&call->response, &call->status, call.get());
      calls_in_flight_.push_back(std::move(call));
    }
  }
  ~ConcurrentGets() { cq_.Shutdown(); }

  // Waits for every call's answer; the codes, in completion order.
  std::vector<grpc::StatusCode> Codes() {
    std::vector<grpc::StatusCode> codes;
    void* tag;
    bool ok;
    while (static_cast<int>(codes.size()) < calls_ && cq_.Next(&tag, &ok)) {
      codes.push_back(static_cast<Call*>(tag)->status.error_code());
    }
    return codes;
  }

 private:
  struct Call {
    grpc::ClientContext context;
    GetProductRequest request;
    GetProductResponse response;
    grpc::Status status;
    std::unique_ptr<grpc::ClientAsyncResponseReader<GetProductResponse>> reader;
  };
  const int calls_;
  grpc::CompletionQueue cq_;
  std::vector<std::unique_ptr<product::ProductService::Stub>> stubs_;
  std::vector<std::unique_ptr<Call>> calls_in_flight_;
};

using grpc::health::v1::HealthCheckResponse;

// The product server's health status of `service`, asked over gRPC.
HealthCheckResponse::ServingStatus Health(int port, const std::string& service) {
  auto stub = grpc::health::v1::Health::NewStub(testing_util::LoopbackChannel(port));
  grpc::ClientContext context;
  context.set_deadline(DeadlineIn(absl::Seconds(10)));
  grpc::health::v1::HealthCheckRequest request;
  request.set_service(service);
  HealthCheckResponse response;
  const grpc::Status status = stub->Check(&context, request, &response);
  return status.ok() ? response.status() : HealthCheckResponse::UNKNOWN;
}

// A port that takes TCP connections and never says anything: a hung
// dependency (the kernel completes the handshake, no HTTP/2 follows).
class SilentListener {
 public:
  SilentListener() : fd_(socket(AF_INET, SOCK_STREAM, 0)) {
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t length = sizeof(address);
    REQUIRE(bind(fd_, reinterpret_cast<sockaddr*>(&address), length) == 0);
    REQUIRE(listen(fd_, 16) == 0);
    REQUIRE(getsockname(fd_, reinterpret_cast<sockaddr*>(&address), &length) == 0);
    port_ = ntohs(address.sin_port);
  }
  ~SilentListener() { close(fd_); }
  int port() const { return port_; }

 private:
  int fd_;
  int port_ = 0;
};

int Count(const std::vector<grpc::StatusCode>& codes, grpc::StatusCode code) {
  return static_cast<int>(std::count(codes.begin(), codes.end(), code));
}

}  // namespace

TEST_CASE("GetProduct joins the catalog with live stock", "[product]") {
  const bool batching = GENERATE(true, false);
  const int lookup_threads = GENERATE(0, 1);  // on the server's queues, or its own thread
  CAPTURE(batching, lookup_threads);
  InventoryTestServer inventory({{"product123", 10}, {"apple", 0}});
  ProductTestServer products(LoopbackTarget(inventory.port()), batching, absl::Milliseconds(500),
                             /*with_metrics=*/false, lookup_threads);

  GetProductResponse response;
  REQUIRE(products.Get("product123", &response).ok());
  CHECK(response.product_id() == "product123");
  CHECK(response.name() == "Seed example product");
  CHECK(response.price_cents() == 1999);
  CHECK(response.is_available());
  CHECK(response.quantity() == 10);

  REQUIRE(products.Get("apple", &response).ok());
  CHECK_FALSE(response.is_available());

  grpc::Status unknown = products.Get("banana", &response);
  CHECK(unknown.error_code() == grpc::StatusCode::NOT_FOUND);
  CHECK_THAT(unknown.error_message(), Catch::Contains("banana"));
  CHECK(products.Get("", &response).error_code() == grpc::StatusCode::INVALID_ARGUMENT);
}

TEST_CASE("PlaceOrder reserves, refuses short stock, and is idempotent", "[product]") {
  InventoryTestServer inventory({{"product123", 10}, {"apple", 5}, {"pear", 1}});
  ProductTestServer products(LoopbackTarget(inventory.port()));

  SECTION("success: priced, reserved, echoed") {
    PlaceOrderResponse response;
    REQUIRE(products.Order("order-1", {{"apple", 2}, {"pear", 1}}, &response).ok());
    CHECK(response.order_id() == "order-1");
    CHECK(response.total_cents() == 2 * 150 + 99);
    REQUIRE(response.lines_size() == 2);
    CHECK(response.lines(0).product_id() == "apple");
    CHECK(inventory.Quantity("apple") == 3);
    CHECK(inventory.Quantity("pear") == 0);
  }
  SECTION("short stock is FAILED_PRECONDITION naming the product; nothing reserved") {
    grpc::Status status = products.Order("order-2", {{"apple", 1}, {"pear", 2}});
    CHECK(status.error_code() == grpc::StatusCode::FAILED_PRECONDITION);
    CHECK_THAT(status.error_message(), Catch::Contains("'pear'"));
    CHECK(inventory.Quantity("apple") == 5);
  }
  SECTION("a retry, even one that took the last units, reserves once and succeeds") {
    PlaceOrderResponse first;
    REQUIRE(products.Order("order-3", {{"apple", 5}}, &first).ok());
    CHECK(inventory.Quantity("apple") == 0);
    PlaceOrderResponse retry;
    REQUIRE(products.Order("order-3", {{"apple", 5}}, &retry).ok());
    CHECK(retry.SerializeAsString() == first.SerializeAsString());
    CHECK(inventory.Quantity("apple") == 0);
    // The same id with other lines is another order: ALREADY_EXISTS.
    CHECK(products.Order("order-3", {{"pear", 1}}).error_code() ==
          grpc::StatusCode::ALREADY_EXISTS);
  }
  SECTION("unknown products, bad input, and products the inventory does not stock") {
    grpc::Status unknown = products.Order("order-4", {{"apple", 1}, {"banana", 1}});
    CHECK(unknown.error_code() == grpc::StatusCode::NOT_FOUND);
    CHECK_THAT(unknown.error_message(), Catch::Contains("'banana'"));
    CHECK(products.Order("", {{"apple", 1}}).error_code() == grpc::StatusCode::INVALID_ARGUMENT);
    CHECK(products.Order("o", {}).error_code() == grpc::StatusCode::INVALID_ARGUMENT);
    CHECK(products.Order("o", {{"apple", 0}}).error_code() == grpc::StatusCode::INVALID_ARGUMENT);
    CHECK(products.Order("o", {{"apple", 1}, {"apple", 1}}).error_code() ==
          grpc::StatusCode::INVALID_ARGUMENT);
    grpc::Status not_stocked = products.Order("order-5", {{"not-stocked", 1}});
    CHECK(not_stocked.error_code() == grpc::StatusCode::FAILED_PRECONDITION);
    CHECK_THAT(not_stocked.error_message(), Catch::Contains("not-stocked"));
    CHECK(inventory.Quantity("apple") == 5);
  }
}

TEST_CASE("with the inventory down calls are UNAVAILABLE in time, then recover by themselves",
          "[product]") {
  auto inventory = std::make_unique<InventoryTestServer>(
      std::vector<domain::inventory::CatalogEntry>{{"product123", 10}});
  const int inventory_port = inventory->port();
  ProductTestServer products(LoopbackTarget(inventory->port()), /*batching=*/true,
                             /*inventory_deadline=*/absl::Milliseconds(300));
  GetProductResponse response;
  REQUIRE(products.Get("product123", &response).ok());

  inventory.reset();  // the inventory goes away
  const absl::Time asked = absl::Now();
  grpc::Status down = products.Get("product123", &response, absl::Seconds(20));
  CHECK(down.error_code() == grpc::StatusCode::UNAVAILABLE);
  // Bounded by --inventory_deadline, not by the caller's 20 s: a hang guard,
  // with a bound far above the deadline, not a speed check.
  CHECK(absl::Now() - asked < absl::Seconds(10));
  CHECK(products.Order("order-1", {{"product123", 1}}).error_code() ==
        grpc::StatusCode::UNAVAILABLE);

  // The inventory comes back on the same port; nobody restarts the product
  // service or its client.
  inventory = std::make_unique<InventoryTestServer>(
      std::vector<domain::inventory::CatalogEntry>{{"product123", 7}},
      InventoryTestServer::DefaultOptions(), server::inventory::InventoryServiceOptions{},
      absl::StrCat("127.0.0.1:", inventory_port));
  CHECK(WaitUntil([&] { return products.Get("product123", &response).ok(); }));
  CHECK(response.quantity() == 7);
  CHECK(products.Order("order-1", {{"product123", 1}}).ok());
  // Nothing is stuck in the client.
  CHECK(WaitUntil([&] { return products.lookups().Stats().queue_depth == 0; }));
}

TEST_CASE("with the inventory hung, every call is admitted and counted up to its bound, then shed",
          "[product][admission]") {
  // 600 calls: more than the 512 the engine's fixed slots (256 per queue x
  // 2) admitted before the slot pool; the rest waited inside gRPC, uncounted.
  constexpr int kCalls = 600;
  ScriptedInventory inventory;
  inventory.SetQuantity("product123", 10);
  inventory.Park(true);  // the inventory accepts calls and never answers
  ProductTestServer products(LoopbackTarget(inventory.port()), /*batching=*/true,
                             /*inventory_deadline=*/absl::Seconds(60), /*with_metrics=*/false,
                             /*lookup_threads=*/0, /*max_calls_in_flight=*/kCalls);
  ConcurrentGets held(products.port(), kCalls, /*connections=*/4, absl::Seconds(60));

  // Every call reached its handler and waits on the look-up client, where it
  // is counted: none waits inside gRPC.
  auto& engine = products.host().engine();
  REQUIRE(WaitUntil([&] { return engine.MethodStats(kGetProduct).handlers_running == kCalls; }));
  // A handler is counted running just before it asks the look-up client.
  REQUIRE(WaitUntil([&] { return products.lookups().Stats().lookups_requested == kCalls; }));
  REQUIRE(inventory.WaitParked(1));

  // One more is over the bound: RESOURCE_EXHAUSTED at once, naming it, and
  // the look-up client never sees it.
  const auto queued_before = products.lookups().Stats();
  GetProductResponse response;
  grpc::Status shed = products.Get("product123", &response, absl::Seconds(10));
  CHECK(shed.error_code() == grpc::StatusCode::RESOURCE_EXHAUSTED);
  CHECK_THAT(shed.error_message(), Catch::Contains("600"));
  CHECK(engine.MethodStats(kGetProduct).shed == 1);
  CHECK(products.lookups().Stats().lookups_requested == queued_before.lookups_requested);

  // The inventory answers: every held call succeeds.
  inventory.Release();
  const std::vector<grpc::StatusCode> codes = held.Codes();
  CHECK(Count(codes, grpc::StatusCode::OK) == kCalls);
  // The bound frees as calls end: the next call is served.
  CHECK(WaitUntil([&] { return engine.MethodStats(kGetProduct).handlers_running == 0; }));
  CHECK(products.Get("product123", &response).ok());
}

TEST_CASE("with the inventory hung, concurrent calls are UNAVAILABLE by the inventory deadline",
          "[product][admission]") {
  ScriptedInventory inventory;
  inventory.Park(true);
  ProductTestServer products(LoopbackTarget(inventory.port()), /*batching=*/true,
                             /*inventory_deadline=*/absl::Milliseconds(300));
  const absl::Time asked = absl::Now();
  ConcurrentGets calls(products.port(), /*calls=*/600, /*connections=*/4, absl::Seconds(60));
  const std::vector<grpc::StatusCode> codes = calls.Codes();
  CHECK(Count(codes, grpc::StatusCode::UNAVAILABLE) == 600);
  // Each call waits out its own 300 ms look-up deadline, not the others': a
  // hang guard far above that (the callers allow 60 s), not a speed check.
  CHECK(absl::Now() - asked < absl::Seconds(20));
  CHECK(products.host().engine().MethodStats(kGetProduct).shed == 0);
}

TEST_CASE("readiness follows the inventory, liveness does not", "[product][health]") {
  auto inventory = std::make_unique<InventoryTestServer>(
      std::vector<domain::inventory::CatalogEntry>{{"product123", 10}});
  const int inventory_port = inventory->port();
  ProductTestServer products(LoopbackTarget(inventory_port));
  server::product::InventoryReadiness readiness({.target = LoopbackTarget(inventory_port),
                                                 .interval = absl::Milliseconds(50),
                                                 .timeout = absl::Milliseconds(300)},
                                                products.host().health(),
                                                server::product::ProductGrpcService::kServiceName);
  const std::string kReadiness = server::product::ProductGrpcService::kServiceName;
  REQUIRE(WaitUntil([&] { return readiness.checks() >= 2; }));
  CHECK(Health(products.port(), kReadiness) == HealthCheckResponse::SERVING);

  inventory.reset();  // the inventory goes away
  CHECK(WaitUntil(
      [&] { return Health(products.port(), kReadiness) == HealthCheckResponse::NOT_SERVING; }));
  CHECK(Health(products.port(), "") == HealthCheckResponse::SERVING);  // alive all along

  // Back on the same port: ready again, nobody restarts product_server.
  inventory = std::make_unique<InventoryTestServer>(
      std::vector<domain::inventory::CatalogEntry>{{"product123", 7}},
      InventoryTestServer::DefaultOptions(), server::inventory::InventoryServiceOptions{},
      absl::StrCat("127.0.0.1:", inventory_port));
  CHECK(WaitUntil(
      [&] { return Health(products.port(), kReadiness) == HealthCheckResponse::SERVING; }));
  CHECK(readiness.ready());

  // Shutdown wins over a check still running: NOT_SERVING stays.
  products.host().health().SetAllNotServing();
  const int checks = readiness.checks();
  CHECK(WaitUntil([&] { return readiness.checks() >= checks + 2; }));
  CHECK(Health(products.port(), kReadiness) == HealthCheckResponse::NOT_SERVING);
  CHECK(Health(products.port(), "") == HealthCheckResponse::NOT_SERVING);
}

TEST_CASE("readiness turns NOT_SERVING for an inventory that hangs", "[product][health]") {
  SilentListener hung;  // accepts connections, never answers
  InventoryTestServer unused({{"product123", 1}});
  ProductTestServer products(LoopbackTarget(unused.port()));
  server::product::InventoryReadiness readiness({.target = LoopbackTarget(hung.port()),
                                                 .interval = absl::Milliseconds(50),
                                                 .timeout = absl::Milliseconds(200)},
                                                products.host().health(),
                                                server::product::ProductGrpcService::kServiceName);
  // The first check alone does not flip it; the second failure does.
  CHECK(WaitUntil([&] { return !readiness.ready(); }));
  CHECK(readiness.checks() >= server::product::InventoryReadiness::kFailuresToUnready);
  CHECK(Health(products.port(), server::product::ProductGrpcService::kServiceName) ==
        HealthCheckResponse::NOT_SERVING);
  CHECK(Health(products.port(), "") == HealthCheckResponse::SERVING);
}

TEST_CASE("concurrent GetProducts are merged into few batch RPCs", "[product]") {
  InventoryTestServer inventory({{"product123", 10}, {"apple", 3}, {"pear", 4}});
  ProductTestServer products(LoopbackTarget(inventory.port()));
  std::atomic<int> ok{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 32; ++t) {
    threads.emplace_back([&, t] {
      const std::string id = t % 3 == 0 ? "product123" : t % 3 == 1 ? "apple" : "pear";
      const int expected = t % 3 == 0 ? 10 : t % 3 == 1 ? 3 : 4;
      for (int i = 0; i < 50; ++i) {
        GetProductResponse response;
        if (products.Get(id, &response).ok() && response.quantity() == expected) ++ok;
      }
    });
  }
  for (std::thread& thread : threads) thread.join();
  CHECK(ok.load() == 32 * 50);
  const auto stats = products.lookups().Stats();
  CHECK(stats.lookups_succeeded == 32 * 50);
  // Each RPC carried one look-up or more; the server saw no unary look-ups.
  CHECK(inventory.host()
            .engine()
            .MethodStats("inventory.InventoryService/BatchGetProductAvailability")
            .calls_started == stats.batches_sent);
  CHECK(inventory.host()
            .engine()
            .MethodStats("inventory.InventoryService/GetProductAvailability")
            .calls_started == 0);
}

TEST_CASE("product_server metrics: its own calls, its inventory calls, its batching",
          "[product][metrics]") {
  InventoryTestServer inventory({{"product123", 10}});
  ProductTestServer products(LoopbackTarget(inventory.port()), true, absl::Milliseconds(500),
                             /*with_metrics=*/true);
  GetProductResponse response;
  REQUIRE(products.Get("product123", &response).ok());
  REQUIRE(products.Order("order-1", {{"product123", 1}}).ok());
  std::string text;
  CHECK(testing_util::ScrapeMetricsUntil(
      products.host().metrics_port(),
      {"grpc_client_handled_total{grpc_code=\"OK\",grpc_method=\"ReserveStock\""}, &text));
  CHECK_THAT(text, Catch::Contains("grpc_server_handled_total{grpc_code=\"OK\",grpc_method="
                                   "\"GetProduct\",grpc_service=\"product.ProductService\","
                                   "grpc_type=\"unary\"} 1"));
  CHECK_THAT(text, Catch::Contains("grpc_client_started_total{grpc_method="
                                   "\"BatchGetProductAvailability\""));
  // The client's message counters, as go-grpc-prometheus's: one request
  // sent and one response received per OK unary call.
  const std::string reserve_labels =
      "{grpc_method=\"ReserveStock\",grpc_service=\"inventory.InventoryService\","
      "grpc_type=\"unary\"}";
  CHECK_THAT(text, Catch::Contains("grpc_client_msg_sent_total" + reserve_labels + " 1"));
  CHECK_THAT(text, Catch::Contains("grpc_client_msg_received_total" + reserve_labels + " 1"));
  const std::string batch_labels =
      "{grpc_method=\"BatchGetProductAvailability\",grpc_service=\"inventory.InventoryService\","
      "grpc_type=\"unary\"}";
  CHECK_THAT(text, Catch::Contains("grpc_client_msg_sent_total" + batch_labels + " 2"));
  CHECK_THAT(text, Catch::Contains("grpc_client_msg_received_total" + batch_labels + " 2"));
  CHECK_THAT(text, Catch::Contains("inventory_lookup_batch_size_count 2"));
  CHECK_THAT(text, Catch::Contains("inventory_lookup_queue_depth 0"));
  CHECK_THAT(text,
             Catch::Contains("inventory_lookups_failed_total{cause=\"resource_exhausted\"} 0"));
}

TEST_CASE("with batching off the unary look-ups are counted as grpc_client_ calls",
          "[product][metrics]") {
  InventoryTestServer inventory({{"product123", 10}});
  ProductTestServer products(LoopbackTarget(inventory.port()), /*batching=*/false,
                             absl::Milliseconds(500),
                             /*with_metrics=*/true);
  GetProductResponse response;
  for (int i = 0; i < 3; ++i) REQUIRE(products.Get("product123", &response).ok());
  std::string text;
  CHECK(testing_util::ScrapeMetricsUntil(products.host().metrics_port(),
                                         {"grpc_client_handled_total{grpc_code=\"OK\",grpc_method="
                                          "\"GetProductAvailability\",grpc_service=\"inventory."
                                          "InventoryService\",grpc_type=\"unary\"} 3"},
                                         &text));
  CHECK_THAT(text, Catch::Contains("inventory_lookup_batch_size_count 0"));
}

TEST_CASE("inventory failures map to the status a caller can act on", "[product]") {
  using server::product::InventoryFailure;
  const absl::Time later = absl::Now() + absl::Hours(1);
  const absl::Time passed = absl::Now() - absl::Milliseconds(1);
  const absl::Status timeout = absl::DeadlineExceededError("Deadline Exceeded");
  // The caller's own deadline passed: that is not the inventory being down.
  CHECK(InventoryFailure(timeout, passed).code() == absl::StatusCode::kDeadlineExceeded);
  // The inventory's shorter deadline passed while the caller still had time.
  CHECK(InventoryFailure(timeout, later).code() == absl::StatusCode::kUnavailable);
  CHECK(InventoryFailure(absl::UnavailableError("down"), later).code() ==
        absl::StatusCode::kUnavailable);
  CHECK(InventoryFailure(absl::ResourceExhaustedError("full"), later).code() ==
        absl::StatusCode::kResourceExhausted);
  // Callers never cancel the inventory call (their cancellation is not
  // watched): a cancelled one means the inventory or the look-up client is
  // going down, so "retry".
  CHECK(InventoryFailure(absl::CancelledError("gone"), later).code() ==
        absl::StatusCode::kUnavailable);
  absl::Status internal = InventoryFailure(absl::InvalidArgumentError("bad id"), later);
  CHECK(internal.code() == absl::StatusCode::kInternal);
  CHECK_THAT(std::string(internal.message()), Catch::Contains("INVALID_ARGUMENT: bad id"));
}
