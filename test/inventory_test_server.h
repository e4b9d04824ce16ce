// A real InventoryService on an ephemeral loopback port for tests, as
// inventory_server runs it (limits, health), over a store of its own with
// the given catalog (optionally journaled), or over an InventoryStorage as
// inventory_server opens it. Restartable on the same port, store kept.
#ifndef TEST_INVENTORY_TEST_SERVER_H_
#define TEST_INVENTORY_TEST_SERVER_H_

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "domain/inventory/inventory_store.h"
#include "inventory.grpc.pb.h"
#include "server/host/server_host.h"
#include "server/inventory/inventory_service.h"
#include "storage/inventory_storage.h"

namespace testing_util {

class InventoryTestServer {
 public:
  // Serves a store of its own loaded with `catalog`; the store reports to
  // service_options.journal, if set (which must outlive this object).
  explicit InventoryTestServer(std::vector<domain::inventory::CatalogEntry> catalog,
                               server::host::ServerHostOptions options = DefaultOptions(),
                               server::inventory::InventoryServiceOptions service_options = {},
                               const std::string& listen = "127.0.0.1:0");
  // Serves `storage`'s store and journal, as inventory_server does; `storage`
  // must outlive this object.
  explicit InventoryTestServer(storage::InventoryStorage& storage,
                               server::host::ServerHostOptions options = DefaultOptions());
  // Serves `store` (e.g. the cache of a PostgreSQL store, with
  // service_options.mutations set); both must outlive this object.
  InventoryTestServer(domain::inventory::InventoryStore& store,
                      server::inventory::InventoryServiceOptions service_options,
                      server::host::ServerHostOptions options = DefaultOptions());
  ~InventoryTestServer() { Stop(); }
  InventoryTestServer(const InventoryTestServer&) = delete;
  InventoryTestServer& operator=(const InventoryTestServer&) = delete;

  // Two completion queues, 64 requests posted per queue and method.
  static server::host::ServerHostOptions DefaultOptions();

  // Shuts the server down (calls in flight end as the engine ends them); the
  // store stays. Idempotent.
  void Stop();
  // Serves the same store again on the same port (REQUIREs that it binds).
  void Restart();

  inventory::InventoryService::Stub& stub() { return *stub_; }
  server::host::ServerHost& host() { return *host_; }
  domain::inventory::InventoryStore& store() { return *store_; }
  int port() const { return port_; }
  // The server's own count of calls started for `method`
  // (inventory_methods.h).
  std::int64_t CallsStarted(const std::string& method);

  // Typed calls on stub(), each with a 30 s deadline (a hang guard).
  grpc::Status Get(const std::string& id, inventory::GetProductAvailabilityResponse* response);
  grpc::Status Batch(const std::vector<std::string>& ids,
                     inventory::BatchGetProductAvailabilityResponse* response);
  // The quantity GetProductAvailability reports for `id` (REQUIREs OK).
  int Quantity(const std::string& id);

 private:
  InventoryTestServer(server::host::ServerHostOptions options,
                      server::inventory::InventoryServiceOptions service_options);
  void Start(const std::string& listen);

  const server::host::ServerHostOptions options_;
  const server::inventory::InventoryServiceOptions service_options_;
  // Declaration order is destruction order reversed: the service must
  // outlive the host, whose destructor shuts the server down.
  std::unique_ptr<domain::inventory::InventoryStore> owned_store_;  // null over a storage
  domain::inventory::InventoryStore* store_ = nullptr;
  std::optional<server::inventory::InventoryGrpcService> service_;
  std::optional<server::host::ServerHost> host_;
  int port_ = 0;
  std::unique_ptr<inventory::InventoryService::Stub> stub_;
};

}  // namespace testing_util

#endif  // TEST_INVENTORY_TEST_SERVER_H_
