#include "server/product/product_server_options.h"

namespace server::product {

absl::Status ValidateProductServerOptions(const ProductServerOptions& options) {
  if (options.inventory_deadline <= absl::ZeroDuration()) {
    return absl::InvalidArgumentError("--inventory_deadline must be positive");
  }
  if (options.inventory_health_interval < absl::ZeroDuration()) {
    return absl::InvalidArgumentError("--inventory_health_interval must not be negative");
  }
  if (options.calls_per_queue < 1 || options.calls_per_queue > 100000) {
    return absl::InvalidArgumentError("--calls_per_queue must be in 1..100000");
  }
  if (options.max_calls_in_flight < 0 || options.max_calls_in_flight > 1000000) {
    return absl::InvalidArgumentError("--max_calls_in_flight must be in 0..1000000");
  }
  if (options.synthetic_products < 0) {
    return absl::InvalidArgumentError("--synthetic_products must be >= 0");
  }
  if (!options.products.empty() && options.synthetic_products > 0) {
    return absl::InvalidArgumentError("--products and --synthetic_products exclude each other");
  }
  return server::host::ValidateChannelTlsOptions(options.inventory_tls);
}

absl::StatusOr<std::vector<domain::product::ProductInfo>> ProductCatalogEntries(
    const ProductServerOptions& options) {
  if (absl::Status valid = ValidateProductServerOptions(options); !valid.ok()) return valid;
  if (options.synthetic_products > 0) {
    return domain::product::SyntheticProductCatalog(options.synthetic_products);
  }
  if (!options.products.empty()) return domain::product::LoadProductCatalogFile(options.products);
  return domain::product::DefaultProductCatalog();
}

client::BatchingInventoryClientOptions LookupClientOptions(const ProductServerOptions& options) {
  client::BatchingInventoryClientOptions lookup;
  lookup.target = options.inventory;
  lookup.batching = options.batching;
  lookup.max_batch_size = options.max_batch_size;
  lookup.max_linger = options.max_linger;
  lookup.max_in_flight_batches = options.max_in_flight_batches;
  lookup.max_queued_lookups = options.max_queued_lookups;
  lookup.channels = options.inventory_channels;
  if (options.inventory_tls.enabled) {
    lookup.ssl_target_name_override = options.inventory_tls.server_name;
  }
  return lookup;
}

absl::StatusOr<std::shared_ptr<grpc::ChannelCredentials>> InventoryCredentials(
    const ProductServerOptions& options) {
  return server::host::MakeChannelCredentials(options.inventory_tls);
}

ProductServiceOptions ServiceOptions(const ProductServerOptions& options) {
  return {.inventory_deadline = options.inventory_deadline,
          .calls_per_queue = options.calls_per_queue,
          .max_calls_in_flight = options.max_calls_in_flight};
}

}  // namespace server::product
