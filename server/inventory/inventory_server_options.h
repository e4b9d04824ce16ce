// Everything inventory_server is configured with, in one struct. The binary's
// flags (inventory_server_main.cc, one per field, same name; the host's in
// server/host/server_flags.cc) take their defaults from a default-constructed
// InventoryServerOptions, so these defaults are the binary's: there is no
// second place that states them. docs/configuration.md lists every flag.
#ifndef SERVER_INVENTORY_INVENTORY_SERVER_OPTIONS_H_
#define SERVER_INVENTORY_INVENTORY_SERVER_OPTIONS_H_

#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "domain/inventory/catalog.h"
#include "domain/inventory/inventory_store.h"
#include "domain/inventory/order_retention.h"
#include "server/host/server_host.h"
#include "server/inventory/inventory_service.h"
#include "storage/durable_journal.h"
#include "storage/postgres/postgres_stock_mutations.h"

namespace server::inventory {

struct InventoryServerOptions {
  // The engine, limits, health, reflection and metrics endpoint.
  server::host::ServerHostOptions host;
  // host:port to serve on; port 0 picks a free port.
  std::string listen = "127.0.0.1:50051";
  // CSV of product_id,quantity to start with (with data_dir: only to seed an
  // empty data directory). Empty, and no synthetic_products: the built-in
  // catalog, product123 with 10.
  std::string catalog;
  // > 0: this many generated products sku-00000000... instead of a catalog.
  int synthetic_products = 0;
  // Directory of the durable store (RocksDB). Empty: in memory.
  std::string data_dir;
  // libpq URI of the PostgreSQL database that decides every mutation (the
  // system of record; replicas share it). Empty: not used. Excludes data_dir.
  std::string postgres;
  // With postgres: connection threads, and transactions allowed to wait for
  // one (past it: RESOURCE_EXHAUSTED at once).
  int postgres_pool_size = storage::postgres::PostgresOptions{}.pool_size;
  int postgres_queue_limit = storage::postgres::PostgresOptions{}.queue_limit;
  // With data_dir: fsync each group commit before acknowledging it.
  bool sync = storage::DurableJournalOptions{}.sync;
  // Serve SetStock. false: it answers PERMISSION_DENIED.
  bool admin_set_stock = true;
  int watch_streams_per_queue = InventoryServiceOptions{}.watch_streams_per_queue;
  int max_watch_streams = InventoryServiceOptions{}.max_watch_streams;
  // Lock shards of the in-memory store.
  int store_shards = domain::inventory::InventoryStore::kDefaultShards;
  // How long a released order's record is kept (a retried ReserveStock is
  // answered from it meanwhile); then it is forgotten, in memory and in
  // data_dir. Orders never released are kept. Zero: keep every record
  // forever.
  absl::Duration order_retention = domain::inventory::OrderRetention::kDefaultRetention;
};

// INVALID_ARGUMENT naming the flag of the first option out of range (the
// host's are checked where they are read: server::host::ServerHostOptionsFromFlags).
absl::Status ValidateInventoryServerOptions(const InventoryServerOptions& options);

// The products to start with: synthetic_products, else the catalog file,
// else the built-in catalog. Errors from reading the file name it.
absl::StatusOr<std::vector<domain::inventory::CatalogEntry>> InitialCatalog(
    const InventoryServerOptions& options);

}  // namespace server::inventory

#endif  // SERVER_INVENTORY_INVENTORY_SERVER_OPTIONS_H_
