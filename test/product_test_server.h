// The ProductService on an ephemeral loopback port, wired as product_server
// wires it, against an InventoryService at `inventory_target`: by default
// the look-up client runs on the server's queues (lookup_threads 0); with
// lookup_threads > 0 it has threads of its own. It serves
// TestProductCatalog().
#ifndef TEST_PRODUCT_TEST_SERVER_H_
#define TEST_PRODUCT_TEST_SERVER_H_

#include <prometheus/registry.h>

#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/time/time.h"
#include "client/batching_inventory_client.h"
#include "domain/product/product_catalog.h"
#include "metrics/grpc_prometheus.h"
#include "product.grpc.pb.h"
#include "server/host/server_host.h"
#include "server/product/batching_client_metrics.h"
#include "server/product/inventory_reserver.h"
#include "server/product/product_service.h"
#include "test/inventory_clients.h"

namespace testing_util {

// product123 (1999 cents), apple (150), pear (99), and not-stocked (5),
// which the catalog knows and an inventory normally does not.
const std::vector<domain::product::ProductInfo>& TestProductCatalog();

class ProductTestServer {
 public:
  explicit ProductTestServer(
      const std::string& inventory_target, bool batching = true,
      absl::Duration inventory_deadline = absl::Milliseconds(500), bool with_metrics = false,
      int lookup_threads = 0,
      int max_calls_in_flight = server::product::ProductServiceOptions{}.max_calls_in_flight);
  ~ProductTestServer();
  ProductTestServer(const ProductTestServer&) = delete;
  ProductTestServer& operator=(const ProductTestServer&) = delete;

  // Typed calls, each with a deadline (30 s unless given: a hang guard).
  grpc::Status Get(const std::string& id, product::GetProductResponse* response,
                   absl::Duration deadline = absl::Seconds(30));
  // PlaceOrder of (product_id, quantity) lines; `response` may be null.
  grpc::Status Order(const std::string& order_id, const StockLines& lines,
                     product::PlaceOrderResponse* response = nullptr);

  server::host::ServerHost& host() { return host_; }
  int port() const { return port_; }
  client::BatchingInventoryClient& lookups() { return *lookups_; }

 private:
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
  int port_ = 0;
  std::unique_ptr<product::ProductService::Stub> stub_;
};

}  // namespace testing_util

#endif  // TEST_PRODUCT_TEST_SERVER_H_
