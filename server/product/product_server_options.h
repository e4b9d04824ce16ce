// Everything product_server is configured with, in one struct. The binary's
// flags (product_server_main.cc, one per field, same name; the host's in
// server/host/server_flags.cc) take their defaults from a default-constructed
// ProductServerOptions, whose defaults in turn are the libraries' own
// (ProductServiceOptions, client::BatchingInventoryClientOptions), so no
// default is stated twice. docs/configuration.md lists every flag.
#ifndef SERVER_PRODUCT_PRODUCT_SERVER_OPTIONS_H_
#define SERVER_PRODUCT_PRODUCT_SERVER_OPTIONS_H_

#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "client/batching_inventory_client.h"
#include "domain/product/product_catalog.h"
#include "server/host/server_host.h"
#include "server/product/inventory_readiness.h"
#include "server/product/product_service.h"

namespace server::product {

struct ProductServerOptions {
  // The engine, limits, health, reflection and metrics endpoint.
  server::host::ServerHostOptions host;
  // host:port to serve on; port 0 picks a free port.
  std::string listen = "127.0.0.1:50052";
  // The InventoryService: host:port, or dns:///host:port (round_robin over
  // every address).
  std::string inventory = "localhost:50051";
  absl::Duration inventory_deadline = ProductServiceOptions{}.inventory_deadline;
  // How often readiness (the health of product.ProductService) checks the
  // inventory's health, each check bounded by inventory_deadline
  // (inventory_readiness.h). Zero: readiness does not follow the inventory.
  absl::Duration inventory_health_interval = InventoryReadinessOptions{}.interval;
  // CSV of product_id,name,price_cents. Empty, and no synthetic_products:
  // the built-in catalog (product123).
  std::string products;
  // > 0: this many generated products sku-00000000..., matching
  // inventory_server's synthetic_products.
  int synthetic_products = 0;
  // The look-up client (client/batching_inventory_client.h).
  bool batching = client::BatchingInventoryClientOptions{}.batching;
  int max_batch_size = client::BatchingInventoryClientOptions{}.max_batch_size;
  absl::Duration max_linger = client::BatchingInventoryClientOptions{}.max_linger;
  int max_in_flight_batches = client::BatchingInventoryClientOptions{}.max_in_flight_batches;
  int max_queued_lookups = client::BatchingInventoryClientOptions{}.max_queued_lookups;
  int inventory_channels = client::BatchingInventoryClientOptions{}.channels;
  int calls_per_queue = ProductServiceOptions{}.calls_per_queue;
  int max_calls_in_flight = ProductServiceOptions{}.max_calls_in_flight;
  // 0: the look-up client runs on the server's completion queues
  // (CreateLookupClient); N > 0: on N threads of its own.
  int lookup_threads = 0;
  // TLS to the inventory, for all three of its channels (look-ups,
  // reservations, readiness): on when any of its files or server_name is
  // set. The credentials are made once (InventoryCredentials) and shared.
  server::host::ChannelTlsOptions inventory_tls = [] {
    server::host::ChannelTlsOptions tls;
    tls.ca_flag = "inventory_tls_ca";
    tls.cert_flag = "inventory_tls_cert";
    tls.key_flag = "inventory_tls_key";
    tls.server_name_flag = "inventory_tls_server_name";
    return tls;
  }();
};

// INVALID_ARGUMENT naming the flag of the first option out of range that
// the libraries would not name themselves (the look-up client checks its
// own options when it is created).
absl::Status ValidateProductServerOptions(const ProductServerOptions& options);

// The products to serve: synthetic_products, else the products file, else
// the built-in catalog.
absl::StatusOr<std::vector<domain::product::ProductInfo>> ProductCatalogEntries(
    const ProductServerOptions& options);

// The pieces of `options` each library takes.
client::BatchingInventoryClientOptions LookupClientOptions(const ProductServerOptions& options);
ProductServiceOptions ServiceOptions(const ProductServerOptions& options);

// The inventory channels' credentials: TLS per options.inventory_tls, or
// plaintext. INVALID_ARGUMENT naming the flag and file if one is unusable.
absl::StatusOr<std::shared_ptr<grpc::ChannelCredentials>> InventoryCredentials(
    const ProductServerOptions& options);

}  // namespace server::product

#endif  // SERVER_PRODUCT_PRODUCT_SERVER_OPTIONS_H_
