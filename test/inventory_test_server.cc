#include "test/inventory_test_server.h"

#include <catch2/catch.hpp>
#include <utility>

#include "absl/strings/str_cat.h"
#include "test/loopback.h"
#include "test/test_util.h"

namespace testing_util {
namespace {

server::inventory::InventoryServiceOptions JournaledBy(storage::DurableJournal* journal) {
  server::inventory::InventoryServiceOptions options;
  options.journal = journal;
  return options;
}

}  // namespace

InventoryTestServer::InventoryTestServer(server::host::ServerHostOptions options,
                                         server::inventory::InventoryServiceOptions service_options)
    : options_(std::move(options)), service_options_(std::move(service_options)) {}

InventoryTestServer::InventoryTestServer(std::vector<domain::inventory::CatalogEntry> catalog,
                                         server::host::ServerHostOptions options,
                                         server::inventory::InventoryServiceOptions service_options,
                                         const std::string& listen)
    : InventoryTestServer(std::move(options), std::move(service_options)) {
  owned_store_ = std::make_unique<domain::inventory::InventoryStore>(
      domain::inventory::InventoryStore::kDefaultShards, service_options_.journal);
  store_ = owned_store_.get();
  REQUIRE(store_->Load(catalog).ok());
  Start(listen);
}

InventoryTestServer::InventoryTestServer(storage::InventoryStorage& storage,
                                         server::host::ServerHostOptions options)
    : InventoryTestServer(std::move(options), JournaledBy(storage.journal())) {
  store_ = &storage.store();
  Start("127.0.0.1:0");
}

InventoryTestServer::InventoryTestServer(domain::inventory::InventoryStore& store,
                                         server::inventory::InventoryServiceOptions service_options,
                                         server::host::ServerHostOptions options)
    : InventoryTestServer(std::move(options), std::move(service_options)) {
  store_ = &store;
  Start("127.0.0.1:0");
}

server::host::ServerHostOptions InventoryTestServer::DefaultOptions() {
  server::host::ServerHostOptions options;
  options.engine.completion_queues = 2;
  options.engine.requests_per_method = 64;
  return options;
}

void InventoryTestServer::Start(const std::string& listen) {
  service_.emplace(*store_, service_options_);
  host_.emplace(options_);
  service_->Register(host_->engine());
  absl::StatusOr<int> port =
      host_->Start(listen, {server::inventory::InventoryGrpcService::kServiceName});
  REQUIRE(port.ok());
  port_ = *port;
  stub_ = inventory::InventoryService::NewStub(LoopbackChannel(port_));
}

void InventoryTestServer::Stop() {
  if (host_.has_value()) host_->Shutdown();
  host_.reset();  // before the service it serves
  service_.reset();
}

void InventoryTestServer::Restart() {
  Stop();
  const int port = port_;
  Start(absl::StrCat("127.0.0.1:", port));
  REQUIRE(port_ == port);
}

std::int64_t InventoryTestServer::CallsStarted(const std::string& method) {
  return host_->engine().MethodStats(method).calls_started;
}

grpc::Status InventoryTestServer::Get(const std::string& id,
                                      inventory::GetProductAvailabilityResponse* response) {
  inventory::GetProductAvailabilityRequest request;
  request.set_product_id(id);
  return CallWithDeadline(
      [&](grpc::ClientContext* context, inventory::GetProductAvailabilityResponse* out) {
        return stub_->GetProductAvailability(context, request, out);
      },
      response);
}

grpc::Status InventoryTestServer::Batch(const std::vector<std::string>& ids,
                                        inventory::BatchGetProductAvailabilityResponse* response) {
  inventory::BatchGetProductAvailabilityRequest request;
  for (const std::string& id : ids) request.add_product_ids(id);
  return CallWithDeadline(
      [&](grpc::ClientContext* context, inventory::BatchGetProductAvailabilityResponse* out) {
        return stub_->BatchGetProductAvailability(context, request, out);
      },
      response);
}

int InventoryTestServer::Quantity(const std::string& id) {
  inventory::GetProductAvailabilityResponse response;
  REQUIRE(Get(id, &response).ok());
  return response.quantity();
}

}  // namespace testing_util
