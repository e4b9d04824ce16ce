#include "server/inventory/inventory_server_options.h"

#include "absl/strings/str_cat.h"

namespace server::inventory {

absl::Status ValidateInventoryServerOptions(const InventoryServerOptions& options) {
  if (options.store_shards < 1) return absl::InvalidArgumentError("--store_shards must be >= 1");
  if (options.watch_streams_per_queue < 1) {
    return absl::InvalidArgumentError("--watch_streams_per_queue must be >= 1");
  }
  if (options.max_watch_streams < 1) {
    return absl::InvalidArgumentError("--max_watch_streams must be >= 1");
  }
  if (options.synthetic_products < 0) {
    return absl::InvalidArgumentError("--synthetic_products must be >= 0");
  }
  if (options.order_retention < absl::ZeroDuration()) {
    return absl::InvalidArgumentError(
        absl::StrCat("--order_retention must be >= 0 (0 keeps every order record), got ",
                     absl::FormatDuration(options.order_retention)));
  }
  if (!options.postgres.empty() && !options.data_dir.empty()) {
    return absl::InvalidArgumentError("--postgres and --data_dir exclude each other");
  }
  if (options.postgres_pool_size < 1) {
    return absl::InvalidArgumentError("--postgres_pool_size must be >= 1");
  }
  if (options.postgres_queue_limit < 1) {
    return absl::InvalidArgumentError("--postgres_queue_limit must be >= 1");
  }
  if (!options.catalog.empty() && options.synthetic_products > 0) {
    return absl::InvalidArgumentError("--catalog and --synthetic_products exclude each other");
  }
  return absl::OkStatus();
}

absl::StatusOr<std::vector<domain::inventory::CatalogEntry>> InitialCatalog(
    const InventoryServerOptions& options) {
  if (absl::Status valid = ValidateInventoryServerOptions(options); !valid.ok()) return valid;
  if (options.synthetic_products > 0) {
    return domain::inventory::SyntheticCatalog(options.synthetic_products);
  }
  if (!options.catalog.empty()) return domain::inventory::LoadCatalogFile(options.catalog);
  return domain::inventory::DefaultCatalog();
}

}  // namespace server::inventory
