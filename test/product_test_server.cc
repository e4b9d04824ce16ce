#include "test/product_test_server.h"

#include <catch2/catch.hpp>

#include "test/inventory_clients.h"
#include "test/loopback.h"
#include "test/test_util.h"

namespace testing_util {
namespace {

client::BatchingInventoryClientOptions LookupOptions(const std::string& target, bool batching,
                                                     client::BatchListener* listener) {
  client::BatchingInventoryClientOptions options;
  options.target = target;
  options.batching = batching;
  options.listener = listener;
  return options;
}

server::host::ServerHostOptions HostOptions(bool with_metrics) {
  server::host::ServerHostOptions options;
  options.engine.completion_queues = 2;
  if (with_metrics) options.metrics_listen = "127.0.0.1:0";
  return options;
}

}  // namespace

const std::vector<domain::product::ProductInfo>& TestProductCatalog() {
  static const auto* const products = new std::vector<domain::product::ProductInfo>{
      {"product123", "Seed example product", 1999},
      {"apple", "Apple", 150},
      {"pear", "Pear", 99},
      {"not-stocked", "Known to the catalog only", 5}};
  return *products;
}

ProductTestServer::ProductTestServer(const std::string& inventory_target, bool batching,
                                     absl::Duration inventory_deadline, bool with_metrics,
                                     int lookup_threads, int max_calls_in_flight)
    : client_metrics_(registry_, metrics::GrpcPrometheus::Side::kClient),
      batch_metrics_(client_metrics_),
      catalog_(*domain::product::ProductCatalog::Create(TestProductCatalog())),
      host_(HostOptions(with_metrics)),
      lookups_(*server::product::CreateLookupClient(
          LookupOptions(inventory_target, batching, &batch_metrics_), lookup_threads,
          host_.engine())),
      reserver_(
          {.target = inventory_target, .retry_max_attempts = 3, .observer = &client_metrics_}),
      service_(
          catalog_, *lookups_, reserver_,
          {.inventory_deadline = inventory_deadline, .max_calls_in_flight = max_calls_in_flight}) {
  service_.Register(host_.engine());
  host_.AddMetricsCollectable(std::shared_ptr<prometheus::Collectable>(&registry_, [](auto*) {}));
  host_.AddMetricsCollectable(
      std::make_shared<server::product::BatchingClientCollector>(*lookups_));
  absl::StatusOr<int> port =
      host_.Start("127.0.0.1:0", {server::product::ProductGrpcService::kServiceName});
  REQUIRE(port.ok());
  port_ = *port;
  stub_ = product::ProductService::NewStub(LoopbackChannel(*port));
}

ProductTestServer::~ProductTestServer() {
  host_.Shutdown();
  lookups_->Shutdown();
}

grpc::Status ProductTestServer::Get(const std::string& id, product::GetProductResponse* response,
                                    absl::Duration deadline) {
  grpc::ClientContext context;
  context.set_deadline(DeadlineIn(deadline));
  product::GetProductRequest request;
  request.set_product_id(id);
  return stub_->GetProduct(&context, request, response);
}

grpc::Status ProductTestServer::Order(const std::string& order_id, const StockLines& lines,
                                      product::PlaceOrderResponse* response) {
  product::PlaceOrderRequest request;
  request.set_order_id(order_id);
  AddLines(lines, request);
  return CallWithDeadline(
      [&](grpc::ClientContext* context, product::PlaceOrderResponse* out) {
        return stub_->PlaceOrder(context, request, out);
      },
      response);
}

}  // namespace testing_util
