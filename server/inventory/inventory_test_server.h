// A real InventoryService on an ephemeral loopback port for tests, as
// inventory_server runs it (limits, health), over a store with the given
// catalog and optionally a journal.
#ifndef SERVER_INVENTORY_INVENTORY_TEST_SERVER_H_
#define SERVER_INVENTORY_INVENTORY_TEST_SERVER_H_

#include <catch2/catch.hpp>
#include <memory>
#include <string>
#include <vector>

#include "domain/inventory/inventory_store.h"
#include "inventory.grpc.pb.h"
#include "server/host/server_host.h"
#include "server/inventory/inventory_service.h"
#include "test/test_util.h"

namespace testing_util {

class InventoryTestServer {
 public:
  explicit InventoryTestServer(std::vector<domain::inventory::CatalogEntry> catalog,
                               server::host::ServerHostOptions options = DefaultOptions(),
                               server::inventory::InventoryServiceOptions service_options = {},
                               const std::string& listen = "127.0.0.1:0")
      : store_(domain::inventory::InventoryStore::kDefaultShards, service_options.journal),
        service_(store_, service_options),
        host_(options) {
    REQUIRE(store_.Load(catalog).ok());
    service_.Register(host_.engine());
    absl::StatusOr<int> port =
        host_.Start(listen, {server::inventory::InventoryGrpcService::kServiceName});
    REQUIRE(port.ok());
    port_ = *port;
    stub_ = inventory::InventoryService::NewStub(LoopbackChannel(port_));
  }

  static server::host::ServerHostOptions DefaultOptions() {
    server::host::ServerHostOptions options;
    options.engine.completion_queues = 2;
    options.engine.requests_per_method = 64;
    return options;
  }

  inventory::InventoryService::Stub& stub() { return *stub_; }
  server::host::ServerHost& host() { return host_; }
  domain::inventory::InventoryStore& store() { return store_; }
  int port() const { return port_; }

  grpc::Status Get(const std::string& id, inventory::GetProductAvailabilityResponse* response) {
    grpc::ClientContext context;
    context.set_deadline(DeadlineIn(absl::Seconds(30)));
    inventory::GetProductAvailabilityRequest request;
    request.set_product_id(id);
    return stub_->GetProductAvailability(&context, request, response);
  }

  grpc::Status Batch(const std::vector<std::string>& ids,
                     inventory::BatchGetProductAvailabilityResponse* response) {
    grpc::ClientContext context;
    context.set_deadline(DeadlineIn(absl::Seconds(30)));
    inventory::BatchGetProductAvailabilityRequest request;
    for (const std::string& id : ids) request.add_product_ids(id);
    return stub_->BatchGetProductAvailability(&context, request, response);
  }

 private:
  // Declaration order is destruction order reversed: the service must
  // outlive the host, whose destructor shuts the server down.
  domain::inventory::InventoryStore store_;
  server::inventory::InventoryGrpcService service_;
  server::host::ServerHost host_;
  int port_ = 0;
  std::unique_ptr<inventory::InventoryService::Stub> stub_;
};

}  // namespace testing_util

#endif  // SERVER_INVENTORY_INVENTORY_TEST_SERVER_H_
