// The ProductService end to end: a real InventoryService, the real batching
// client and reserver, the ProductService on the engine, real clients, all
// on loopback.
#include "server/product/product_service.h"

#include <atomic>
#include <catch2/catch.hpp>
#include <memory>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "metrics/grpc_prometheus.h"
#include "server/host/server_host.h"
#include "server/inventory/inventory_test_server.h"
#include "server/product/batching_client_metrics.h"
#include "test/test_util.h"

namespace {

using product::GetProductRequest;
using product::GetProductResponse;
using product::PlaceOrderRequest;
using product::PlaceOrderResponse;
using product::ProductService;
using testing_util::DeadlineIn;
using testing_util::InventoryTestServer;
using testing_util::WaitUntil;

const std::vector<domain::product::ProductInfo> kProducts = {
    {"product123", "Seed example product", 1999},
    {"apple", "Apple", 150},
    {"pear", "Pear", 99},
    {"not-stocked", "Known to the catalog only", 5}};

// The ProductService wired as product_server wires it, against `inventory`:
// by default the look-up client runs on the server's queues (lookup_threads
// 0); with lookup_threads > 0 it has threads of its own.
class ProductTestServer {
 public:
  explicit ProductTestServer(const std::string& inventory_target, bool batching = true,
                             absl::Duration inventory_deadline = absl::Milliseconds(500),
                             bool with_metrics = false, int lookup_threads = 0)
      : client_metrics_(registry_, metrics::GrpcPrometheus::Side::kClient),
        batch_metrics_(client_metrics_),
        catalog_(*domain::product::ProductCatalog::Create(kProducts)),
        host_(HostOptions(with_metrics)),
        lookups_(*server::product::CreateLookupClient(
            LookupOptions(inventory_target, batching, &batch_metrics_), lookup_threads,
            host_.engine())),
        reserver_(
            {.target = inventory_target, .retry_max_attempts = 3, .observer = &client_metrics_}),
        service_(catalog_, *lookups_, reserver_, {.inventory_deadline = inventory_deadline}) {
    service_.Register(host_.engine());
    host_.AddMetricsCollectable(std::shared_ptr<prometheus::Collectable>(&registry_, [](auto*) {}));
    host_.AddMetricsCollectable(
        std::make_shared<server::product::BatchingClientCollector>(*lookups_));
    absl::StatusOr<int> port =
        host_.Start("127.0.0.1:0", {server::product::ProductGrpcService::kServiceName});
    REQUIRE(port.ok());
    stub_ = ProductService::NewStub(testing_util::LoopbackChannel(*port));
  }

  ~ProductTestServer() {
    host_.Shutdown();
    lookups_->Shutdown();
  }

  grpc::Status Get(const std::string& id, GetProductResponse* response,
                   absl::Duration deadline = absl::Seconds(30)) {
    grpc::ClientContext context;
    context.set_deadline(DeadlineIn(deadline));
    GetProductRequest request;
    request.set_product_id(id);
    return stub_->GetProduct(&context, request, response);
  }

  grpc::Status Order(const std::string& order_id,
                     const std::vector<std::pair<std::string, int>>& lines,
                     PlaceOrderResponse* response = nullptr) {
    PlaceOrderResponse ignored;
    grpc::ClientContext context;
    context.set_deadline(DeadlineIn(absl::Seconds(30)));
    PlaceOrderRequest request;
    request.set_order_id(order_id);
    for (const auto& [product, quantity] : lines) {
      auto* line = request.add_lines();
      line->set_product_id(product);
      line->set_quantity(quantity);
    }
    return stub_->PlaceOrder(&context, request, response != nullptr ? response : &ignored);
  }

  server::host::ServerHost& host() { return host_; }
  client::BatchingInventoryClient& lookups() { return *lookups_; }

 private:
  static client::BatchingInventoryClientOptions LookupOptions(const std::string& target,
                                                              bool batching,
                                                              client::BatchListener* listener) {
    client::BatchingInventoryClientOptions options;
    options.target = target;
    options.batching = batching;
    options.listener = listener;
    return options;
  }
  static server::host::ServerHostOptions HostOptions(bool with_metrics) {
    server::host::ServerHostOptions options;
    options.engine.completion_queues = 2;
    if (with_metrics) options.metrics_listen = "127.0.0.1:0";
    return options;
  }

  prometheus::Registry registry_;
  metrics::GrpcPrometheus client_metrics_;
  server::product::BatchRpcMetrics batch_metrics_;
  domain::product::ProductCatalog catalog_;
  // Before the client, which may run on its queues; shut down explicitly
  // before the members its handlers use are destroyed.
  server::host::ServerHost host_;
  std::unique_ptr<client::BatchingInventoryClient> lookups_;
  server::product::InventoryReserver reserver_;
  server::product::ProductGrpcService service_;
  std::unique_ptr<ProductService::Stub> stub_;
};

std::string Target(const InventoryTestServer& inventory) {
  return absl::StrCat("127.0.0.1:", inventory.port());
}

int StockOf(InventoryTestServer& inventory, const std::string& id) {
  inventory::GetProductAvailabilityResponse response;
  REQUIRE(inventory.Get(id, &response).ok());
  return response.quantity();
}

}  // namespace

TEST_CASE("GetProduct joins the catalog with live stock", "[product]") {
  const bool batching = GENERATE(true, false);
  const int lookup_threads = GENERATE(0, 1);  // on the server's queues, or its own thread
  CAPTURE(batching, lookup_threads);
  InventoryTestServer inventory({{"product123", 10}, {"apple", 0}});
  ProductTestServer products(Target(inventory), batching, absl::Milliseconds(500),
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
  ProductTestServer products(Target(inventory));

  SECTION("success: priced, reserved, echoed") {
    PlaceOrderResponse response;
    REQUIRE(products.Order("order-1", {{"apple", 2}, {"pear", 1}}, &response).ok());
    CHECK(response.order_id() == "order-1");
    CHECK(response.total_cents() == 2 * 150 + 99);
    REQUIRE(response.lines_size() == 2);
    CHECK(response.lines(0).product_id() == "apple");
    CHECK(StockOf(inventory, "apple") == 3);
    CHECK(StockOf(inventory, "pear") == 0);
  }
  SECTION("short stock is FAILED_PRECONDITION naming the product; nothing reserved") {
    grpc::Status status = products.Order("order-2", {{"apple", 1}, {"pear", 2}});
    CHECK(status.error_code() == grpc::StatusCode::FAILED_PRECONDITION);
    CHECK_THAT(status.error_message(), Catch::Contains("'pear'"));
    CHECK(StockOf(inventory, "apple") == 5);
  }
  SECTION("a retry, even one that took the last units, reserves once and succeeds") {
    PlaceOrderResponse first;
    REQUIRE(products.Order("order-3", {{"apple", 5}}, &first).ok());
    CHECK(StockOf(inventory, "apple") == 0);
    PlaceOrderResponse retry;
    REQUIRE(products.Order("order-3", {{"apple", 5}}, &retry).ok());
    CHECK(retry.SerializeAsString() == first.SerializeAsString());
    CHECK(StockOf(inventory, "apple") == 0);
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
    CHECK(StockOf(inventory, "apple") == 5);
  }
}

TEST_CASE("with the inventory down calls are UNAVAILABLE in time, then recover by themselves",
          "[product]") {
  auto inventory = std::make_unique<InventoryTestServer>(
      std::vector<domain::inventory::CatalogEntry>{{"product123", 10}});
  const int inventory_port = inventory->port();
  ProductTestServer products(Target(*inventory), /*batching=*/true,
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

TEST_CASE("concurrent GetProducts are merged into few batch RPCs", "[product]") {
  InventoryTestServer inventory({{"product123", 10}, {"apple", 3}, {"pear", 4}});
  ProductTestServer products(Target(inventory));
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
  ProductTestServer products(Target(inventory), true, absl::Milliseconds(500),
                             /*with_metrics=*/true);
  GetProductResponse response;
  REQUIRE(products.Get("product123", &response).ok());
  REQUIRE(products.Order("order-1", {{"product123", 1}}).ok());
  std::string text;
  CHECK(WaitUntil([&] {
    text = testing_util::HttpGet(products.host().metrics_port(), "/metrics");
    return text.find("grpc_client_handled_total{grpc_code=\"OK\",grpc_method=\"ReserveStock\"") !=
           std::string::npos;
  }));
  CHECK_THAT(text, Catch::Contains("grpc_server_handled_total{grpc_code=\"OK\",grpc_method="
                                   "\"GetProduct\",grpc_service=\"product.ProductService\","
                                   "grpc_type=\"unary\"} 1"));
  CHECK_THAT(text, Catch::Contains("grpc_client_started_total{grpc_method="
                                   "\"BatchGetProductAvailability\""));
  CHECK_THAT(text, Catch::Contains("inventory_lookup_batch_size_count 2"));
  CHECK_THAT(text, Catch::Contains("inventory_lookup_queue_depth 0"));
  CHECK_THAT(text,
             Catch::Contains("inventory_lookups_failed_total{cause=\"resource_exhausted\"} 0"));
}

TEST_CASE("with batching off the unary look-ups are counted as grpc_client_ calls",
          "[product][metrics]") {
  InventoryTestServer inventory({{"product123", 10}});
  ProductTestServer products(Target(inventory), /*batching=*/false, absl::Milliseconds(500),
                             /*with_metrics=*/true);
  GetProductResponse response;
  for (int i = 0; i < 3; ++i) REQUIRE(products.Get("product123", &response).ok());
  std::string text;
  CHECK(WaitUntil([&] {
    text = testing_util::HttpGet(products.host().metrics_port(), "/metrics");
    return text.find(
               "grpc_client_handled_total{grpc_code=\"OK\",grpc_method="
               "\"GetProductAvailability\",grpc_service=\"inventory.InventoryService\","
               "grpc_type=\"unary\"} 3") != std::string::npos;
  }));
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
  CHECK(InventoryFailure(absl::CancelledError("gone"), later).code() ==
        absl::StatusCode::kCancelled);
  absl::Status internal = InventoryFailure(absl::InvalidArgumentError("bad id"), later);
  CHECK(internal.code() == absl::StatusCode::kInternal);
  CHECK_THAT(std::string(internal.message()), Catch::Contains("INVALID_ARGUMENT: bad id"));
}
