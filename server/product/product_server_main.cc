// product_server: the ProductService binary.
#include <spdlog/spdlog.h>

#include <cstdio>
#include <memory>
#include <optional>

#include "absl/flags/flag.h"
#include "absl/strings/str_cat.h"
#include "client/batching_inventory_client.h"
#include "domain/product/product_catalog.h"
#include "metrics/grpc_prometheus.h"
#include "server/host/server_flags.h"
#include "server/host/server_host.h"
#include "server/host/shutdown_signal.h"
#include "server/host/tls_credentials.h"
#include "server/product/batching_client_metrics.h"
#include "server/product/inventory_readiness.h"
#include "server/product/inventory_reserver.h"
#include "server/product/product_server_options.h"
#include "server/product/product_service.h"

// One flag per field of ProductServerOptions, with its default.
ABSL_FLAG(std::string, listen, server::product::ProductServerOptions{}.listen,
          "host:port to serve on; port 0 picks a free port (printed at start-up).");
ABSL_FLAG(std::string, inventory, server::product::ProductServerOptions{}.inventory,
          "The InventoryService: host:port, or dns:///host:port to balance over every address "
          "the name resolves to (round_robin).");
ABSL_FLAG(absl::Duration, inventory_deadline,
          server::product::ProductServerOptions{}.inventory_deadline,
          "Longest any call to the inventory may take (also bounded by the caller's deadline); "
          "past it the ProductService answers UNAVAILABLE.");
ABSL_FLAG(absl::Duration, inventory_health_interval,
          server::product::ProductServerOptions{}.inventory_health_interval,
          "How often readiness (the health status of product.ProductService) checks the "
          "inventory's health; 2 failed checks in a row (slower than --inventory_deadline, "
          "or not SERVING) make it NOT_SERVING, one success SERVING again. Liveness (\"\") "
          "stays SERVING. 0 = readiness does not follow the inventory.");
ABSL_FLAG(std::string, products, server::product::ProductServerOptions{}.products,
          "CSV of product_id,name,price_cents. Empty: the built-in catalog (product123).");
ABSL_FLAG(int, synthetic_products, server::product::ProductServerOptions{}.synthetic_products,
          "If > 0, serve this many generated products sku-00000000... (matching "
          "inventory_server --synthetic_products) instead of a catalog.");
ABSL_FLAG(bool, batching, server::product::ProductServerOptions{}.batching,
          "Merge concurrent look-ups into BatchGetProductAvailability RPCs. false: one "
          "GetProductAvailability RPC per look-up (to measure what batching gains).");
ABSL_FLAG(int, max_batch_size, server::product::ProductServerOptions{}.max_batch_size,
          "Most look-ups per batch (1..1000).");
ABSL_FLAG(absl::Duration, max_linger, server::product::ProductServerOptions{}.max_linger,
          "Longest a look-up waits for others to join its batch while earlier batches are in "
          "flight. A look-up on an idle client is sent at once.");
ABSL_FLAG(int, max_in_flight_batches, server::product::ProductServerOptions{}.max_in_flight_batches,
          "Most batch RPCs in flight at once.");
ABSL_FLAG(int, max_queued_lookups, server::product::ProductServerOptions{}.max_queued_lookups,
          "Most look-ups waiting to be sent; beyond it calls fail fast with RESOURCE_EXHAUSTED.");
ABSL_FLAG(int, inventory_channels, server::product::ProductServerOptions{}.inventory_channels,
          "Channels (HTTP/2 connections per inventory address) the look-ups use in turn.");
ABSL_FLAG(int, max_calls_in_flight, server::product::ProductServerOptions{}.max_calls_in_flight,
          "The most GetProduct calls, and the most PlaceOrder calls, in flight at once (waiting "
          "for the inventory included); more get RESOURCE_EXHAUSTED at once. 0 = no limit.");
ABSL_FLAG(int, calls_per_queue, server::product::ProductServerOptions{}.calls_per_queue,
          "GetProduct and PlaceOrder requests posted ahead per completion queue (1..100000). "
          "Each matched one is replaced at once, so this is not a limit on calls in flight "
          "(--max_call_slots and --max_calls_per_peer are).");
ABSL_FLAG(int, lookup_threads, server::product::ProductServerOptions{}.lookup_threads,
          "Threads of the inventory look-up client. 0: none of its own; its replies are handled "
          "on the server's completion-queue threads, which answer each call on the thread that "
          "got its reply (fewer thread hops; see docs/performance.md).");
ABSL_FLAG(std::string, inventory_tls_ca,
          server::product::ProductServerOptions{}.inventory_tls.ca_file,
          "PEM CA certificates to verify the inventory's certificate with (re-read every 1m). "
          "Setting this or any other --inventory_tls_* flag makes every call to the inventory "
          "use TLS; with none of them, plaintext.");
ABSL_FLAG(std::string, inventory_tls_cert,
          server::product::ProductServerOptions{}.inventory_tls.cert_file,
          "PEM client certificate chain to present to the inventory (mTLS); needs "
          "--inventory_tls_key.");
ABSL_FLAG(std::string, inventory_tls_key,
          server::product::ProductServerOptions{}.inventory_tls.key_file,
          "PEM private key (unencrypted) of --inventory_tls_cert.");
ABSL_FLAG(std::string, inventory_tls_server_name,
          server::product::ProductServerOptions{}.inventory_tls.server_name,
          "The name the inventory's certificate must carry. Empty: the host of --inventory.");

namespace {

int Fail(const absl::Status& status) {
  std::fprintf(stderr, "product_server: %s\n", std::string(status.message()).c_str());
  return 1;
}

absl::StatusOr<server::product::ProductServerOptions> OptionsFromFlags() {
  absl::StatusOr<server::host::ServerHostOptions> host = server::host::ServerHostOptionsFromFlags();
  if (!host.ok()) return host.status();
  server::product::ProductServerOptions options;
  options.host = *std::move(host);
  options.listen = absl::GetFlag(FLAGS_listen);
  options.inventory = absl::GetFlag(FLAGS_inventory);
  options.inventory_deadline = absl::GetFlag(FLAGS_inventory_deadline);
  options.products = absl::GetFlag(FLAGS_products);
  options.synthetic_products = absl::GetFlag(FLAGS_synthetic_products);
  options.batching = absl::GetFlag(FLAGS_batching);
  options.max_batch_size = absl::GetFlag(FLAGS_max_batch_size);
  options.max_linger = absl::GetFlag(FLAGS_max_linger);
  options.max_in_flight_batches = absl::GetFlag(FLAGS_max_in_flight_batches);
  options.max_queued_lookups = absl::GetFlag(FLAGS_max_queued_lookups);
  options.inventory_channels = absl::GetFlag(FLAGS_inventory_channels);
  options.calls_per_queue = absl::GetFlag(FLAGS_calls_per_queue);
  options.max_calls_in_flight = absl::GetFlag(FLAGS_max_calls_in_flight);
  options.inventory_health_interval = absl::GetFlag(FLAGS_inventory_health_interval);
  options.lookup_threads = absl::GetFlag(FLAGS_lookup_threads);
  server::host::ChannelTlsOptions& tls = options.inventory_tls;
  tls.ca_file = absl::GetFlag(FLAGS_inventory_tls_ca);
  tls.cert_file = absl::GetFlag(FLAGS_inventory_tls_cert);
  tls.key_file = absl::GetFlag(FLAGS_inventory_tls_key);
  tls.server_name = absl::GetFlag(FLAGS_inventory_tls_server_name);
  tls.enabled = !tls.ca_file.empty() || !tls.cert_file.empty() || !tls.key_file.empty() ||
                !tls.server_name.empty();
  if (absl::Status valid = server::product::ValidateProductServerOptions(options); !valid.ok()) {
    return valid;
  }
  return options;
}

}  // namespace

int main(int argc, char** argv) {
  server::host::KeepOpenSslThroughExit();  // before any thread: see its comment
  server::host::BlockShutdownSignals();
  server::host::ParseServerFlags(
      argc, argv, "product_server",
      "Serves product.ProductService over gRPC, asking the InventoryService "
      "for stock.\nUsage: product_server [--flag=value]...");
  absl::StatusOr<server::product::ProductServerOptions> options = OptionsFromFlags();
  if (!options.ok()) return Fail(options.status());
  absl::StatusOr<std::vector<domain::product::ProductInfo>> products =
      server::product::ProductCatalogEntries(*options);
  if (!products.ok()) return Fail(products.status());
  absl::StatusOr<domain::product::ProductCatalog> catalog =
      domain::product::ProductCatalog::Create(*products);
  if (!catalog.ok()) return Fail(catalog.status());
  absl::StatusOr<std::shared_ptr<grpc::ChannelCredentials>> inventory_credentials =
      server::product::InventoryCredentials(*options);
  if (!inventory_credentials.ok()) return Fail(inventory_credentials.status());
  const std::string& inventory_name = options->inventory_tls.server_name;

  // The metrics outlive everything that reports to them. The host is made
  // before the look-up client, which may run on its queues; once started it
  // is shut down explicitly, before anything its handlers use is destroyed.
  auto registry_owner = std::make_shared<prometheus::Registry>();
  metrics::GrpcPrometheus client_metrics(*registry_owner, metrics::GrpcPrometheus::Side::kClient);
  server::product::BatchRpcMetrics batch_metrics(client_metrics);

  client::BatchingInventoryClientOptions lookup_options =
      server::product::LookupClientOptions(*options);
  lookup_options.listener = &batch_metrics;
  lookup_options.credentials = *inventory_credentials;
  server::host::ServerHost host(options->host);
  auto lookups =
      server::product::CreateLookupClient(lookup_options, options->lookup_threads, host.engine());
  if (!lookups.ok()) return Fail(lookups.status());
  server::product::InventoryReserver reserver({.target = options->inventory,
                                               .credentials = *inventory_credentials,
                                               .ssl_target_name_override = inventory_name,
                                               .observer = &client_metrics});

  server::product::ProductGrpcService service(*catalog, **lookups, reserver,
                                              server::product::ServiceOptions(*options));
  host.AddMetricsCollectable(registry_owner);
  host.AddMetricsCollectable(std::make_shared<server::product::BatchingClientCollector>(**lookups));
  service.Register(host.engine());
  absl::StatusOr<int> port =
      host.Start(options->listen, {server::product::ProductGrpcService::kServiceName});
  if (!port.ok()) return Fail(port.status());
  std::optional<server::product::InventoryReadiness> readiness;
  if (options->inventory_health_interval > absl::ZeroDuration()) {
    readiness.emplace(
        server::product::InventoryReadinessOptions{.target = options->inventory,
                                                   .interval = options->inventory_health_interval,
                                                   .timeout = options->inventory_deadline,
                                                   .credentials = *inventory_credentials,
                                                   .ssl_target_name_override = inventory_name},
        host.health(), server::product::ProductGrpcService::kServiceName);
  }

  const std::string& listen = options->listen;
  spdlog::info(
      "product_server listening on {}:{} ({} products, inventory {} over {}, batching {}, {} "
      "completion queues{})",
      listen.substr(0, listen.rfind(':')), *port, catalog->size(), lookup_options.target,
      !options->inventory_tls.enabled            ? "plaintext"
      : options->inventory_tls.cert_file.empty() ? "TLS"
                                                 : "mTLS",
      lookup_options.batching ? "on" : "off", host.engine().completion_queue_count(),
      host.metrics_port() > 0 ? absl::StrCat(", metrics on port ", host.metrics_port()) : "");

  int signal_number = server::host::WaitForShutdownSignal();
  spdlog::info("signal {} received; draining for up to {}", signal_number,
               absl::FormatDuration(host.engine().options().drain_deadline));
  if (readiness) readiness->Stop();
  host.Shutdown();
  (*lookups)->Shutdown();
  spdlog::info("product_server stopped cleanly");
  return 0;
}
