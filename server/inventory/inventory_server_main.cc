// inventory_server: the InventoryService binary.
#include <spdlog/spdlog.h>

#include <cstdio>
#include <cstdlib>

#include "absl/flags/flag.h"
#include "absl/strings/str_cat.h"
#include "domain/inventory/catalog.h"
#include "domain/inventory/inventory_store.h"
#include "server/common/server_flags.h"
#include "server/common/server_host.h"
#include "server/common/shutdown_signal.h"
#include "server/inventory/inventory_service.h"

ABSL_FLAG(std::string, listen, "0.0.0.0:50051",
          "host:port to serve on; port 0 picks a free port (printed at start-up).");
ABSL_FLAG(std::string, catalog, "",
          "CSV file of product_id,quantity to load at start. Empty: the built-in catalog "
          "(product123 with quantity 10, as in the original example).");
ABSL_FLAG(int, synthetic_products, 0,
          "If > 0, load this many generated products (sku-00000000, ...) instead of a catalog.");
ABSL_FLAG(int, store_shards, inventory::InventoryStore::kDefaultShards,
          "Lock shards of the in-memory store (rounded up to a power of two).");

namespace {

absl::StatusOr<std::vector<inventory::CatalogEntry>> InitialCatalog() {
  const std::string catalog = absl::GetFlag(FLAGS_catalog);
  const int synthetic = absl::GetFlag(FLAGS_synthetic_products);
  if (!catalog.empty() && synthetic > 0) {
    return absl::InvalidArgumentError("--catalog and --synthetic_products exclude each other");
  }
  if (synthetic < 0) return absl::InvalidArgumentError("--synthetic_products must be >= 0");
  if (synthetic > 0) return inventory::SyntheticCatalog(synthetic);
  if (!catalog.empty()) return inventory::LoadCatalogFile(catalog);
  return inventory::DefaultCatalog();
}

int Fail(const absl::Status& status) {
  std::fprintf(stderr, "inventory_server: %s\n", std::string(status.message()).c_str());
  return 1;
}

}  // namespace

int main(int argc, char** argv) {
  server::BlockShutdownSignals();
  server::ParseServerFlags(
      argc, argv,
      "Serves inventory.InventoryService over gRPC.\nUsage: inventory_server [--flag=value]...");
  absl::StatusOr<server::ServerHostOptions> options = server::ServerHostOptionsFromFlags();
  if (!options.ok()) return Fail(options.status());
  if (absl::GetFlag(FLAGS_store_shards) < 1) {
    return Fail(absl::InvalidArgumentError("--store_shards must be >= 1"));
  }
  absl::StatusOr<std::vector<inventory::CatalogEntry>> catalog = InitialCatalog();
  if (!catalog.ok()) return Fail(catalog.status());

  inventory::InventoryStore store(absl::GetFlag(FLAGS_store_shards));
  if (absl::Status loaded = store.Load(*catalog); !loaded.ok()) return Fail(loaded);
  spdlog::warn("running in memory: stock changes are not kept across restarts");

  // The service must outlive the host (which owns the running server).
  inventory::InventoryGrpcService service(store);
  server::ServerHost host(*options);
  service.Register(host.engine());
  absl::StatusOr<int> port =
      host.Start(absl::GetFlag(FLAGS_listen), {inventory::InventoryGrpcService::kServiceName});
  if (!port.ok()) return Fail(port.status());

  const std::string listen = absl::GetFlag(FLAGS_listen);
  const std::string host_part = listen.substr(0, listen.rfind(':'));
  spdlog::info(
      "inventory_server listening on {}:{} ({} products, {} completion queues, {} "
      "requests posted per queue and method)",
      host_part, *port, store.size(), host.engine().completion_queue_count(),
      host.engine().options().requests_per_method);

  int signal_number = server::WaitForShutdownSignal();
  spdlog::info("signal {} received; draining for up to {}", signal_number,
               absl::FormatDuration(host.engine().options().drain_deadline));
  host.Shutdown();
  spdlog::info("inventory_server stopped cleanly");
  return 0;
}
