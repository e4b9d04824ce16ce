// inventory_server: the InventoryService binary.
#include <prometheus/counter.h>
#include <prometheus/gauge.h>
#include <spdlog/spdlog.h>

#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <memory>

#include "absl/flags/flag.h"
#include "absl/strings/str_cat.h"
#include "domain/inventory/catalog.h"
#include "domain/inventory/inventory_store.h"
#include "domain/inventory/order_retention.h"
#include "server/host/server_flags.h"
#include "server/host/server_host.h"
#include "server/host/shutdown_signal.h"
#include "server/host/tls_credentials.h"
#include "server/inventory/inventory_server_options.h"
#include "server/inventory/inventory_service.h"
#include "storage/inventory_storage.h"

// One flag per field of InventoryServerOptions, with its default.
ABSL_FLAG(std::string, listen, server::inventory::InventoryServerOptions{}.listen,
          "host:port to serve on; port 0 picks a free port (printed at start-up).");
ABSL_FLAG(std::string, catalog, server::inventory::InventoryServerOptions{}.catalog,
          "CSV file of product_id,quantity to load at start (with --data_dir: only into an "
          "empty data directory). Empty: the built-in catalog (product123 with quantity 10, as "
          "in the original example).");
ABSL_FLAG(std::string, data_dir, server::inventory::InventoryServerOptions{}.data_dir,
          "Directory of the durable store (RocksDB; created if missing). Every change is "
          "written there before it is acknowledged, and state is loaded from it at start. "
          "Empty: run in memory, and lose every change at exit.");
ABSL_FLAG(std::string, postgres, server::inventory::InventoryServerOptions{}.postgres,
          "libpq connection URI of a PostgreSQL database that decides every reservation, "
          "release and SetStock (the system of record, shared by replicas); reads are served "
          "from this replica's copy, kept current through LISTEN/NOTIFY. Migrated at start; "
          "seeded from the catalog only when empty. Excludes --data_dir. Empty: not used.");
ABSL_FLAG(int, postgres_pool_size, server::inventory::InventoryServerOptions{}.postgres_pool_size,
          "With --postgres: connections (each on its own thread) that run transactions.");
ABSL_FLAG(int, postgres_queue_limit,
          server::inventory::InventoryServerOptions{}.postgres_queue_limit,
          "With --postgres: transactions that may wait for a connection; one more is answered "
          "RESOURCE_EXHAUSTED at once.");
ABSL_FLAG(bool, sync, server::inventory::InventoryServerOptions{}.sync,
          "With --data_dir: fsync each group commit before acknowledging it. false survives "
          "a crash of the server process but may lose the last acknowledged changes on power "
          "loss or a kernel crash.");
ABSL_FLAG(bool, admin_set_stock, server::inventory::InventoryServerOptions{}.admin_set_stock,
          "Serve SetStock (an admin method) to admins (--admin_identities, --admin_token_file). "
          "false: SetStock answers PERMISSION_DENIED to everyone.");
ABSL_FLAG(std::vector<std::string>, admin_identities, {},
          "Comma-separated subject alternative names (DNS, URI, e-mail or IP) of client "
          "certificates that may call SetStock; needs mTLS (--tls_client_ca). A verified "
          "certificate without one of them gets PERMISSION_DENIED.");
ABSL_FLAG(std::string, admin_token_file, "",
          "File whose first line is a bearer token (16+ printable characters) that lets a call "
          "with 'authorization: Bearer TOKEN' metadata use SetStock; compared in constant time. "
          "A wrong token gets UNAUTHENTICATED.");
ABSL_FLAG(bool, allow_unauthenticated_admin, false,
          "INSECURE, for local development: every caller may use SetStock (logged as a warning "
          "at start). Without it and without --admin_identities or --admin_token_file, SetStock "
          "is refused: UNAUTHENTICATED without a credential.");
ABSL_FLAG(std::vector<std::string>, order_identities, {},
          "Comma-separated subject alternative names of client certificates that may call "
          "ReserveStock and ReleaseReservation; needs mTLS (--tls_client_ca). An order is then "
          "released only by the identity that reserved it. No certificate gets UNAUTHENTICATED, "
          "another name PERMISSION_DENIED. Empty: every caller that reaches the port may order "
          "(logged as a warning when the port is not loopback).");
ABSL_FLAG(int, max_watch_streams, server::inventory::InventoryServerOptions{}.max_watch_streams,
          "The most WatchProductAvailability streams open at once; more get RESOURCE_EXHAUSTED.");
ABSL_FLAG(int, watch_streams_per_queue,
          server::inventory::InventoryServerOptions{}.watch_streams_per_queue,
          "WatchProductAvailability requests posted ahead per completion queue (each matched one "
          "is replaced at once; --max_watch_streams bounds the streams open).");
ABSL_FLAG(int, synthetic_products, server::inventory::InventoryServerOptions{}.synthetic_products,
          "If > 0, load this many generated products (sku-00000000, ...) instead of a catalog.");
ABSL_FLAG(int, store_shards, server::inventory::InventoryServerOptions{}.store_shards,
          "Lock shards of the in-memory store (rounded up to a power of two).");
ABSL_FLAG(absl::Duration, order_retention,
          server::inventory::InventoryServerOptions{}.order_retention,
          "How long the record of a released order is kept (a retried ReserveStock is answered "
          "from it meanwhile); then it is forgotten, in memory and in --data_dir, and the same "
          "order id is a new order. Orders never released keep their records. 0: keep every "
          "record forever (memory and disk grow with every new order id).");

namespace {

absl::StatusOr<server::inventory::InventoryServerOptions> OptionsFromFlags() {
  absl::StatusOr<server::host::ServerHostOptions> host = server::host::ServerHostOptionsFromFlags();
  if (!host.ok()) return host.status();
  server::inventory::InventoryServerOptions options;
  options.host = *std::move(host);
  options.listen = absl::GetFlag(FLAGS_listen);
  options.catalog = absl::GetFlag(FLAGS_catalog);
  options.synthetic_products = absl::GetFlag(FLAGS_synthetic_products);
  options.data_dir = absl::GetFlag(FLAGS_data_dir);
  options.sync = absl::GetFlag(FLAGS_sync);
  options.postgres = absl::GetFlag(FLAGS_postgres);
  options.postgres_pool_size = absl::GetFlag(FLAGS_postgres_pool_size);
  options.postgres_queue_limit = absl::GetFlag(FLAGS_postgres_queue_limit);
  options.admin_set_stock = absl::GetFlag(FLAGS_admin_set_stock);
  server::host::AuthorizationOptions& authorization = options.host.authorization;
  authorization.admin_methods = {"inventory.InventoryService/SetStock"};
  authorization.admin_enabled = options.admin_set_stock;
  authorization.admin_identities = absl::GetFlag(FLAGS_admin_identities);
  authorization.admin_token_file = absl::GetFlag(FLAGS_admin_token_file);
  authorization.allow_unauthenticated_admin = absl::GetFlag(FLAGS_allow_unauthenticated_admin);
  authorization.order_methods = {"inventory.InventoryService/ReserveStock",
                                 "inventory.InventoryService/ReleaseReservation"};
  authorization.order_identities = absl::GetFlag(FLAGS_order_identities);
  if (absl::Status valid = server::host::ValidateAuthorizationOptions(
          authorization, !options.host.tls.client_ca_file.empty());
      !valid.ok()) {
    return valid;
  }
  options.watch_streams_per_queue = absl::GetFlag(FLAGS_watch_streams_per_queue);
  options.max_watch_streams = absl::GetFlag(FLAGS_max_watch_streams);
  options.store_shards = absl::GetFlag(FLAGS_store_shards);
  options.order_retention = absl::GetFlag(FLAGS_order_retention);
  if (absl::Status valid = server::inventory::ValidateInventoryServerOptions(options);
      !valid.ok()) {
    return valid;
  }
  return options;
}

int Fail(const absl::Status& status) {
  std::fprintf(stderr, "inventory_server: %s\n", std::string(status.message()).c_str());
  return 1;
}

}  // namespace

int main(int argc, char** argv) {
  server::host::KeepOpenSslThroughExit();  // before any thread: see its comment
  server::host::BlockShutdownSignals();
  server::host::ParseServerFlags(
      argc, argv, "inventory_server",
      "Serves inventory.InventoryService over gRPC.\nUsage: inventory_server [--flag=value]...");
  absl::StatusOr<server::inventory::InventoryServerOptions> options = OptionsFromFlags();
  if (!options.ok()) return Fail(options.status());
  absl::StatusOr<std::vector<domain::inventory::CatalogEntry>> catalog =
      server::inventory::InitialCatalog(*options);
  if (!catalog.ok()) return Fail(catalog.status());

  // Fail-stop: once a write to the data directory failed, memory may hold
  // changes nobody was told are durable, and the disk may not hold what the
  // page cache claims. Stop (exit 1) so that a restart serves exactly what
  // was acknowledged, as databases do after a failed fsync.
  std::atomic<bool> journal_failed{false};
  storage::InventoryStorageOptions storage_options;
  storage_options.data_dir = options->data_dir;
  storage_options.store_shards = options->store_shards;
  storage_options.journal.sync = options->sync;
  storage_options.journal.on_write_failure = [&journal_failed](const absl::Status& status) {
    spdlog::critical(
        "{}; refusing every change from now on and stopping, so that a restart serves what "
        "was acknowledged",
        std::string(status.message()));
    journal_failed = true;
    server::host::RequestShutdown();
  };
  // Declared before the service and the host, so destroyed after them: calls
  // waiting for durability hold the journal until the server has drained.
  // With --postgres the database decides every mutation and the store is
  // this replica's cache of it; otherwise the store decides (in memory, or
  // journaled to --data_dir).
  std::unique_ptr<storage::postgres::PostgresStockMutations> postgres;
  std::unique_ptr<storage::InventoryStorage> embedded;
  if (!options->postgres.empty()) {
    storage::postgres::PostgresOptions postgres_options;
    postgres_options.uri = options->postgres;
    postgres_options.pool_size = options->postgres_pool_size;
    postgres_options.queue_limit = options->postgres_queue_limit;
    postgres_options.order_retention = options->order_retention;
    postgres_options.retention_interval =
        domain::inventory::OrderRetention::SweepInterval(options->order_retention);
    postgres_options.cache_shards = options->store_shards;
    absl::StatusOr<std::unique_ptr<storage::postgres::PostgresStockMutations>> opened =
        storage::postgres::PostgresStockMutations::Open(std::move(postgres_options), *catalog);
    if (!opened.ok()) return Fail(opened.status());
    postgres = std::move(opened).value();
    spdlog::info("PostgreSQL decides every mutation ({} connections, {} may wait); {} {} products",
                 options->postgres_pool_size, options->postgres_queue_limit,
                 postgres->origin() == storage::postgres::PostgresStockMutations::Origin::kSeeded
                     ? "seeded the empty database with"
                     : "loaded",
                 postgres->cache().size());
  } else {
    absl::StatusOr<std::unique_ptr<storage::InventoryStorage>> opened =
        storage::InventoryStorage::Open(storage_options, *catalog);
    if (!opened.ok()) return Fail(opened.status());
    embedded = std::move(opened).value();
  }
  domain::inventory::InventoryStore& store =
      postgres != nullptr ? postgres->cache() : embedded->store();
  storage::DurableJournal* const journal = embedded != nullptr ? embedded->journal() : nullptr;
  switch (embedded != nullptr ? embedded->origin() : storage::InventoryStorage::Origin::kRestored) {
    case storage::InventoryStorage::Origin::kMemory:
      if (postgres != nullptr) break;
      spdlog::warn("running in memory (no --data_dir): stock changes are lost at exit");
      break;
    case storage::InventoryStorage::Origin::kSeeded:
      spdlog::info("data directory {} was empty: seeded it with {} products",
                   storage_options.data_dir, catalog->size());
      break;
    case storage::InventoryStorage::Origin::kRestored:
      if (postgres != nullptr) break;
      spdlog::info("loaded {} products and {} orders from {}{}", store.size(),
                   embedded->restored_orders(), storage_options.data_dir,
                   options->catalog.empty() && options->synthetic_products == 0
                       ? ""
                       : " (the catalog flag only seeds an empty data directory: ignored)");
      break;
  }
  if (journal != nullptr && !storage_options.journal.sync) {
    spdlog::warn("--sync=false: a power loss may lose the last acknowledged changes");
  }

  server::inventory::InventoryServiceOptions service_options;
  service_options.journal = journal;
  service_options.mutations = postgres.get();
  service_options.watch_streams_per_queue = options->watch_streams_per_queue;
  service_options.max_watch_streams = options->max_watch_streams;
  // Who may call SetStock is decided on the engine's call path, before the
  // handler (options->host.authorization, server/host/authorization.h).
  // The service must outlive the host (which owns the running server).
  server::inventory::InventoryGrpcService service(store, std::move(service_options));
  server::host::ServerHost host(options->host);
  service.Register(host.engine());
  // The retention sweep, with its figures on /metrics. Stopped before the
  // journal closes.
  prometheus::Gauge& order_records =
      prometheus::BuildGauge()
          .Name("inventory_order_records")
          .Help("Order records the store holds (reserved, and released within --order_retention)")
          .Register(host.metrics_registry())
          .Add({});
  prometheus::Counter& orders_forgotten =
      prometheus::BuildCounter()
          .Name("inventory_orders_forgotten_total")
          .Help("Released orders forgotten after --order_retention")
          .Register(host.metrics_registry())
          .Add({});
  order_records.Set(static_cast<double>(store.order_count()));
  std::unique_ptr<domain::inventory::OrderRetention> retention;
  if (postgres != nullptr) {
    // The database's released orders are swept by the store's listener.
  } else if (options->order_retention > absl::ZeroDuration() &&
             options->order_retention != absl::InfiniteDuration()) {
    retention = std::make_unique<domain::inventory::OrderRetention>(
        store, options->order_retention,
        [&order_records, &orders_forgotten](std::size_t forgotten, std::size_t held) {
          orders_forgotten.Increment(static_cast<double>(forgotten));
          order_records.Set(static_cast<double>(held));
        });
    spdlog::info("released orders are forgotten {} after their release (swept every {})",
                 absl::FormatDuration(retention->retention()),
                 absl::FormatDuration(retention->interval()));
  } else {
    spdlog::warn(
        "--order_retention=0: order records are kept forever; memory{} grow with every new "
        "order id",
        journal != nullptr ? " and the data directory" : "");
  }
  absl::StatusOr<int> port =
      host.Start(options->listen, {server::inventory::InventoryGrpcService::kServiceName});
  if (!port.ok()) return Fail(port.status());

  const std::string& listen = options->listen;
  const std::string host_part = listen.substr(0, listen.rfind(':'));
  spdlog::info(
      "inventory_server listening on {}:{} ({} products, {} completion queues, {} "
      "requests posted per queue and method{})",
      host_part, *port, store.size(), host.engine().completion_queue_count(),
      host.engine().options().requests_per_method,
      host.metrics_port() > 0 ? absl::StrCat(", metrics on port ", host.metrics_port()) : "");

  int signal_number = server::host::WaitForShutdownSignal();
  spdlog::info("{}; draining for up to {}",
               journal_failed ? "stopping after a failed write to the data directory"
                              : absl::StrCat("signal ", signal_number, " received"),
               absl::FormatDuration(host.engine().options().drain_deadline));
  host.Shutdown();
  retention.reset();
  if (journal != nullptr) journal->Close();
  if (journal_failed) {
    spdlog::error("inventory_server stopped: the data directory could not be written");
    return 1;
  }
  spdlog::info("inventory_server stopped cleanly");
  return 0;
}
