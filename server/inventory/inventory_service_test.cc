// The InventoryService as clients see it: the seed contract, batch look-ups,
// bad input, transport limits, health, reflection, and shutdown with more
// than ten thousand calls in flight. Real server, real clients, loopback.
#include "server/inventory/inventory_service.h"

#include <grpcpp/generic/generic_stub.h>

#include <atomic>
#include <catch2/catch.hpp>
#include <future>
#include <map>
#include <thread>
#include <vector>

#include "absl/strings/str_format.h"
#include "absl/synchronization/notification.h"
#include "domain/inventory/catalog.h"
#include "engine/version.h"
#include "grpc/health/v1/health.grpc.pb.h"
#include "reflection_subset.pb.h"
#include "server/host/server_host.h"
#include "test/inventory_test_server.h"
#include "test/loopback.h"
#include "test/test_util.h"

namespace {

using grpc::health::v1::Health;
using grpc::health::v1::HealthCheckRequest;
using grpc::health::v1::HealthCheckResponse;
using inventory::BatchGetProductAvailabilityRequest;
using inventory::BatchGetProductAvailabilityResponse;
using inventory::GetProductAvailabilityRequest;
using inventory::GetProductAvailabilityResponse;
using inventory::InventoryService;
using testing_util::DeadlineIn;
using InventoryServer = testing_util::InventoryTestServer;
using testing_util::WaitUntil;

}  // namespace

TEST_CASE("the seed scenario answers exactly as the original example", "[inventory]") {
  InventoryServer server(domain::inventory::DefaultCatalog());
  GetProductAvailabilityResponse response;
  REQUIRE(server.Get("product123", &response).ok());
  CHECK(response.is_available());
  CHECK(response.quantity() == 10);

  // Unknown products are not an error: {false, 0} with OK, as in the seed.
  response.Clear();
  REQUIRE(server.Get("product999", &response).ok());
  CHECK_FALSE(response.is_available());
  CHECK(response.quantity() == 0);
}

TEST_CASE("is_available means quantity > 0", "[inventory]") {
  InventoryServer server({{"empty", 0}, {"one", 1}});
  GetProductAvailabilityResponse response;
  REQUIRE(server.Get("empty", &response).ok());
  CHECK_FALSE(response.is_available());
  REQUIRE(server.Get("one", &response).ok());
  CHECK(response.is_available());
  CHECK(response.quantity() == 1);
  REQUIRE(server.store().Set("empty", 7).ok());  // the store is live, not a snapshot
  REQUIRE(server.Get("empty", &response).ok());
  CHECK(response.quantity() == 7);
}

TEST_CASE("bad product ids get INVALID_ARGUMENT naming the problem", "[inventory][bad-input]") {
  InventoryServer server(domain::inventory::DefaultCatalog());
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"", "empty"},
      {std::string(129, 'a'), "129 bytes"},
      {"tab\there", "control character"},
      {std::string("nul\0byte", 8), "control character"},
  };
  for (const auto& [id, problem] : cases) {
    GetProductAvailabilityResponse response;
    grpc::Status status = server.Get(id, &response);
    INFO("id of " << id.size() << " bytes");
    CHECK(status.error_code() == grpc::StatusCode::INVALID_ARGUMENT);
    CHECK_THAT(status.error_message(), Catch::Contains(problem));
  }
  // Invalid UTF-8 never reaches the handler: the request does not parse as
  // proto3, and the engine answers INVALID_ARGUMENT rather than INTERNAL.
  GetProductAvailabilityResponse response;
  grpc::Status status = server.Get("\xc3\x28", &response);
  CHECK(status.error_code() == grpc::StatusCode::INVALID_ARGUMENT);
  CHECK_THAT(status.error_message(), Catch::Contains("UTF-8"));
  // An id of exactly 128 bytes is fine.
  REQUIRE(server.Get(std::string(128, 'a'), &response).ok());
}

TEST_CASE("a batch answers one item per id, in request order", "[inventory][batch]") {
  InventoryServer server({{"a", 1}, {"b", 0}, {"c", 3}});
  BatchGetProductAvailabilityResponse response;
  REQUIRE(server.Batch({"c", "unknown", "a", "c", "b"}, &response).ok());
  REQUIRE(response.items_size() == 5);
  const std::vector<std::tuple<std::string, bool, int>> expected = {
      {"c", true, 3}, {"unknown", false, 0}, {"a", true, 1}, {"c", true, 3}, {"b", false, 0}};
  for (int i = 0; i < 5; ++i) {
    CHECK(response.items(i).product_id() == std::get<0>(expected[i]));
    CHECK(response.items(i).is_available() == std::get<1>(expected[i]));
    CHECK(response.items(i).quantity() == std::get<2>(expected[i]));
  }
  REQUIRE(server.Batch({}, &response).ok());
  CHECK(response.items_size() == 0);
}

TEST_CASE("batch limits: 1000 ids pass, 1001 and bad ids are rejected",
          "[inventory][batch][bad-input]") {
  InventoryServer server(domain::inventory::SyntheticCatalog(1000));
  std::vector<std::string> ids;
  for (const auto& entry : domain::inventory::SyntheticCatalog(1000))
    ids.push_back(entry.product_id);
  BatchGetProductAvailabilityResponse response;
  REQUIRE(server.Batch(ids, &response).ok());
  CHECK(response.items_size() == 1000);

  ids.push_back("one-too-many");
  grpc::Status status = server.Batch(ids, &response);
  CHECK(status.error_code() == grpc::StatusCode::INVALID_ARGUMENT);
  CHECK_THAT(status.error_message(), Catch::Contains("at most 1000"));

  status = server.Batch({"fine", "", "also fine"}, &response);
  CHECK(status.error_code() == grpc::StatusCode::INVALID_ARGUMENT);
  CHECK_THAT(status.error_message(), Catch::Contains("product_ids[1]"));
}

TEST_CASE("transport limits: oversized messages and metadata are refused, the server lives on",
          "[inventory][limits]") {
  server::host::ServerHostOptions options = InventoryServer::DefaultOptions();
  options.limits.max_receive_message_bytes = 4096;
  options.limits.max_metadata_bytes = 2048;
  InventoryServer server(domain::inventory::DefaultCatalog(), options);

  BatchGetProductAvailabilityResponse batch;
  std::vector<std::string> big(100, std::string(100, 'x'));  // ~10 KiB > 4 KiB
  grpc::Status status = server.Batch(big, &batch);
  INFO("oversized message: " << status.error_code() << " " << status.error_message());
  CHECK(status.error_code() == grpc::StatusCode::RESOURCE_EXHAUSTED);

  {
    grpc::ClientContext context;
    context.set_deadline(DeadlineIn(absl::Seconds(30)));
    context.AddMetadata("x-padding", std::string(8192, 'p'));
    GetProductAvailabilityRequest request;
    GetProductAvailabilityResponse response;
    request.set_product_id("product123");
    status = server.stub().GetProductAvailability(&context, request, &response);
    INFO("oversized metadata: " << status.error_code() << " " << status.error_message());
    // That call gets RESOURCE_EXHAUSTED (SECURITY.md said UNAVAILABLE).
    CHECK(status.error_code() == grpc::StatusCode::RESOURCE_EXHAUSTED);
  }
  // gRPC may also close the whole connection over oversized headers, failing
  // a call sent on it just after with UNAVAILABLE "Socket closed" (seen under
  // load); the server must still serve a new connection.
  auto fresh = InventoryService::NewStub(testing_util::LoopbackChannel(server.port(), 1));
  grpc::ClientContext context;
  context.set_wait_for_ready(true);
  context.set_deadline(DeadlineIn(absl::Seconds(30)));
  GetProductAvailabilityRequest request;
  GetProductAvailabilityResponse response;
  request.set_product_id("product123");
  status = fresh->GetProductAvailability(&context, request, &response);
  INFO("after the limits: " << status.error_code() << " " << status.error_message());
  REQUIRE(status.ok());
  CHECK(response.quantity() == 10);
}

TEST_CASE("health: Check reports SERVING and NOT_FOUND for unknown services", "[health]") {
  InventoryServer server(domain::inventory::DefaultCatalog());
  auto health = Health::NewStub(testing_util::LoopbackChannel(server.port()));
  for (const std::string service : {"", "inventory.InventoryService"}) {
    grpc::ClientContext context;
    HealthCheckRequest request;
    HealthCheckResponse response;
    request.set_service(service);
    REQUIRE(health->Check(&context, request, &response).ok());
    CHECK(response.status() == HealthCheckResponse::SERVING);
  }
  grpc::ClientContext context;
  HealthCheckRequest request;
  HealthCheckResponse response;
  request.set_service("no.such.Service");
  CHECK(health->Check(&context, request, &response).error_code() == grpc::StatusCode::NOT_FOUND);
}

TEST_CASE("health: Watch follows status changes and sees NOT_SERVING at shutdown",
          "[health][shutdown]") {
  InventoryServer server(domain::inventory::DefaultCatalog());
  auto health = Health::NewStub(testing_util::LoopbackChannel(server.port()));

  grpc::ClientContext unknown_context;
  HealthCheckRequest unknown_request;
  unknown_request.set_service("late.Service");
  auto unknown = health->Watch(&unknown_context, unknown_request);
  HealthCheckResponse message;
  REQUIRE(unknown->Read(&message));
  CHECK(message.status() == HealthCheckResponse::SERVICE_UNKNOWN);
  server.host().health().SetStatus("late.Service", HealthCheckResponse::SERVING);
  REQUIRE(unknown->Read(&message));
  CHECK(message.status() == HealthCheckResponse::SERVING);

  grpc::ClientContext context;
  HealthCheckRequest request;
  auto watch = health->Watch(&context, request);
  REQUIRE(watch->Read(&message));
  CHECK(message.status() == HealthCheckResponse::SERVING);

  std::thread stopper([&] { server.host().Shutdown(); });
  REQUIRE(watch->Read(&message));
  CHECK(message.status() == HealthCheckResponse::NOT_SERVING);
  while (watch->Read(&message)) {
  }
  grpc::Status status = watch->Finish();
  CHECK(status.error_code() == grpc::StatusCode::UNAVAILABLE);
  while (unknown->Read(&message)) {
  }
  CHECK(message.status() == HealthCheckResponse::NOT_SERVING);
  unknown->Finish();
  stopper.join();
}

namespace {

// Lists services through the real reflection method path.
class ListServicesReactor
    : public grpc::ClientBidiReactor<reflectiontest::ServerReflectionRequest,
                                     reflectiontest::ServerReflectionResponse> {
 public:
  void Start() {
    request_.set_list_services("*");
    StartWrite(&request_);
    StartRead(&response_);
    StartCall();
  }
  void OnWriteDone(bool ok) override {
    if (ok) StartWritesDone();
  }
  void OnReadDone(bool ok) override {
    if (!ok) return;
    for (const auto& service : response_.list_services_response().service()) {
      names_.push_back(service.name());
    }
  }
  void OnDone(const grpc::Status& status) override { done_.set_value(status); }
  std::future<grpc::Status> Done() { return done_.get_future(); }
  const std::vector<std::string>& names() const { return names_; }

 private:
  reflectiontest::ServerReflectionRequest request_;
  reflectiontest::ServerReflectionResponse response_;
  std::vector<std::string> names_;
  std::promise<grpc::Status> done_;
};

grpc::Status ListServices(int port, std::vector<std::string>* names) {
  grpc::TemplatedGenericStub<reflectiontest::ServerReflectionRequest,
                             reflectiontest::ServerReflectionResponse>
      stub(testing_util::LoopbackChannel(port));
  grpc::ClientContext context;
  context.set_deadline(DeadlineIn(absl::Seconds(30)));
  ListServicesReactor reactor;
  auto done = reactor.Done();
  stub.PrepareBidiStreamingCall(&context,
                                "/grpc.reflection.v1alpha.ServerReflection/ServerReflectionInfo",
                                grpc::StubOptions(), &reactor);
  reactor.Start();
  grpc::Status status = done.get();
  *names = reactor.names();
  return status;
}

}  // namespace

TEST_CASE("reflection is served only when enabled", "[inventory][reflection]") {
  std::vector<std::string> names;
  {
    InventoryServer server(domain::inventory::DefaultCatalog());
    CHECK(ListServices(server.port(), &names).error_code() == grpc::StatusCode::UNIMPLEMENTED);
  }
  server::host::ServerHostOptions options = InventoryServer::DefaultOptions();
  options.reflection = true;
  InventoryServer server(domain::inventory::DefaultCatalog(), options);
  REQUIRE(ListServices(server.port(), &names).ok());
  CHECK_THAT(names, Catch::VectorContains(std::string("inventory.InventoryService")));
  CHECK_THAT(names, Catch::VectorContains(std::string("grpc.health.v1.Health")));
  GetProductAvailabilityResponse response;
  REQUIRE(server.Get("product123", &response).ok());  // async methods still served
}

TEST_CASE("reflection calls are counted like the engine's own methods",
          "[inventory][reflection][metrics]") {
  server::host::ServerHostOptions options = InventoryServer::DefaultOptions();
  options.reflection = true;
  options.metrics_listen = "127.0.0.1:0";
  InventoryServer server(domain::inventory::DefaultCatalog(), options);
  std::vector<std::string> names;
  REQUIRE(ListServices(server.port(), &names).ok());
  REQUIRE(ListServices(server.port(), &names).ok());
  GetProductAvailabilityResponse response;
  REQUIRE(server.Get("product123", &response).ok());

  const std::string labels =
      "grpc_method=\"ServerReflectionInfo\",grpc_service=\"grpc.reflection.v1alpha."
      "ServerReflection\",grpc_type=\"bidi_stream\"";
  std::string text;
  CHECK(testing_util::ScrapeMetricsUntil(
      server.host().metrics_port(),
      {"grpc_server_handled_total{grpc_code=\"OK\"," + labels + "} 2"}, &text));
  CHECK_THAT(text, Catch::Contains("grpc_server_started_total{" + labels + "} 2"));
  // One list request and one answer per call.
  CHECK_THAT(text, Catch::Contains("grpc_server_msg_received_total{" + labels + "} 2"));
  CHECK_THAT(text, Catch::Contains("grpc_server_msg_sent_total{" + labels + "} 2"));
  CHECK_THAT(text, Catch::Contains("grpc_server_handling_seconds_count{" + labels + "} 2"));
  // The engine's methods are counted once each, interceptor or not.
  CHECK_THAT(text,
             Catch::Contains("grpc_server_started_total{grpc_method=\"GetProductAvailability\","
                             "grpc_service=\"inventory.InventoryService\",grpc_type=\"unary\"} 1"));
}

TEST_CASE("shutdown with more than ten thousand calls in flight loses none of them",
          "[inventory][shutdown]") {
  constexpr int kCalls = 12000;
  constexpr int kChannels = 16;
  InventoryServer server(domain::inventory::SyntheticCatalog(10000));
  std::vector<std::unique_ptr<InventoryService::Stub>> stubs;
  for (int c = 0; c < kChannels; ++c) {
    stubs.push_back(InventoryService::NewStub(testing_util::LoopbackChannel(server.port(), c)));
  }
  struct Call {
    grpc::ClientContext context;
    GetProductAvailabilityRequest request;
    GetProductAvailabilityResponse response;
  };
  std::vector<std::unique_ptr<Call>> calls(kCalls);
  absl::Mutex mu;
  std::map<grpc::StatusCode, int> codes;
  std::atomic<int> completed{0};
  std::atomic<int> wrong_answers{0};
  for (int i = 0; i < kCalls; ++i) {
    calls[i] = std::make_unique<Call>();
    Call& call = *calls[i];
    call.context.set_deadline(DeadlineIn(absl::Seconds(60)));
    call.request.set_product_id(absl::StrFormat("sku-%08d", i % 10000));
    stubs[i % kChannels]->async()->GetProductAvailability(
        &call.context, &call.request, &call.response, [&, i](grpc::Status status) {
          if (status.ok()) {
            domain::inventory::Availability expected =
                server.store().Get(calls[i]->request.product_id());
            if (calls[i]->response.quantity() != expected.quantity) ++wrong_answers;
          }
          absl::MutexLock lock(&mu);
          ++codes[status.error_code()];
          ++completed;
        });
  }
  // Shut down while most calls are still queued or on the wire.
  REQUIRE(WaitUntil([&] { return completed >= 500; }));
  server.host().Shutdown();
  REQUIRE(WaitUntil([&] { return completed == kCalls; }, absl::Seconds(120)));

  absl::MutexLock lock(&mu);
  int total = 0;
  for (const auto& [code, count] : codes) {
    INFO("status code " << code << " x " << count);
    CHECK((code == grpc::StatusCode::OK || code == grpc::StatusCode::CANCELLED ||
           code == grpc::StatusCode::UNAVAILABLE));
    total += count;
  }
  CHECK(total == kCalls);
  CHECK(codes[grpc::StatusCode::OK] >= 500);
  CHECK(wrong_answers == 0);
  const engine::EngineStats stats = server.host().engine().Stats();
  CHECK(stats.slots_retired == stats.slots);
  CHECK(stats.handlers_running == 0);
  CHECK(stats.requests_posted == 0);
}

TEST_CASE("metrics count calls by method and code, in go-grpc-prometheus form", "[metrics]") {
  server::host::ServerHostOptions options = InventoryServer::DefaultOptions();
  options.metrics_listen = "127.0.0.1:0";
  InventoryServer server(domain::inventory::DefaultCatalog(), options);
  REQUIRE(server.host().metrics_port() > 0);
  GetProductAvailabilityResponse response;
  for (int i = 0; i < 3; ++i) REQUIRE(server.Get("product123", &response).ok());
  CHECK(server.Get("", &response).error_code() == grpc::StatusCode::INVALID_ARGUMENT);

  const std::string labels =
      "grpc_method=\"GetProductAvailability\",grpc_service=\"inventory.InventoryService\","
      "grpc_type=\"unary\"";
  // The handled counter is bumped as the status is sent, so a scrape right
  // after the client's answer may just miss it: poll.
  std::string text;
  CHECK(testing_util::ScrapeMetricsUntil(
      server.host().metrics_port(),
      {"grpc_server_handled_total{grpc_code=\"InvalidArgument\"," + labels + "} 1"}, &text));
  CHECK_THAT(text, Catch::Contains("grpc_server_started_total{" + labels + "} 4"));
  CHECK_THAT(text, Catch::Contains("grpc_server_handled_total{grpc_code=\"OK\"," + labels + "} 3"));
  CHECK_THAT(text, Catch::Contains("grpc_server_handling_seconds_count{" + labels + "} 4"));
  // Health is served by the same engine, so it is measured too.
  CHECK_THAT(text, Catch::Contains("grpc_service=\"grpc.health.v1.Health\""));
  // Every server says which build it is.
  CHECK_THAT(text, Catch::Contains("build_info{grpc_version=\"" + std::string(grpc::Version()) +
                                   "\",protobuf_version=\""));
  CHECK_THAT(text, Catch::Contains(",version=\"" + std::string(engine::kVersion) + "\"} 1"));
  // And the process metrics of the Prometheus client libraries.
  CHECK_THAT(text, Catch::Contains("# TYPE process_cpu_seconds_total counter"));
  CHECK_THAT(text, Catch::Contains("process_resident_memory_bytes "));
  CHECK_THAT(text, Catch::Contains("process_open_fds "));
}

TEST_CASE("metrics count messages received and sent, unary and server stream", "[metrics]") {
  server::host::ServerHostOptions options = InventoryServer::DefaultOptions();
  options.metrics_listen = "127.0.0.1:0";
  InventoryServer server(domain::inventory::DefaultCatalog(), options);
  REQUIRE(server.host().metrics_port() > 0);
  GetProductAvailabilityResponse response;
  for (int i = 0; i < 3; ++i) REQUIRE(server.Get("product123", &response).ok());
  // A failed call received its request but sent no response message.
  CHECK(server.Get("", &response).error_code() == grpc::StatusCode::INVALID_ARGUMENT);

  // A stream: one request, then two messages (SERVICE_UNKNOWN, SERVING).
  auto health = Health::NewStub(testing_util::LoopbackChannel(server.port()));
  grpc::ClientContext context;
  HealthCheckRequest request;
  request.set_service("late.Service");
  auto watch = health->Watch(&context, request);
  HealthCheckResponse message;
  REQUIRE(watch->Read(&message));
  server.host().health().SetStatus("late.Service", HealthCheckResponse::SERVING);
  REQUIRE(watch->Read(&message));

  const std::string get =
      "{grpc_method=\"GetProductAvailability\",grpc_service=\"inventory.InventoryService\","
      "grpc_type=\"unary\"}";
  const std::string stream =
      "{grpc_method=\"Watch\",grpc_service=\"grpc.health.v1.Health\",grpc_type=\"server_"
      "stream\"}";
  std::string text;
  // Counted as the status or write completes, which may be just after the
  // client saw it: poll.
  CHECK(testing_util::ScrapeMetricsUntil(
      server.host().metrics_port(),
      {"grpc_server_msg_sent_total" + get + " 3", "grpc_server_msg_sent_total" + stream + " 2"},
      &text));
  CHECK_THAT(text, Catch::Contains("grpc_server_msg_received_total" + get + " 4"));
  CHECK_THAT(text, Catch::Contains("grpc_server_msg_sent_total" + get + " 3"));
  CHECK_THAT(text, Catch::Contains("grpc_server_msg_received_total" + stream + " 1"));
  CHECK_THAT(text, Catch::Contains("grpc_server_msg_sent_total" + stream + " 2"));
  CHECK_THAT(text, Catch::Contains("# TYPE grpc_server_msg_received_total counter"));
  context.TryCancel();
  while (watch->Read(&message)) {
  }
  watch->Finish();
}

TEST_CASE("a metrics address that cannot be bound fails the start with a clear error",
          "[metrics]") {
  server::host::ServerHostOptions options = InventoryServer::DefaultOptions();
  options.metrics_listen = "256.0.0.1:0";
  domain::inventory::InventoryStore store;
  server::inventory::InventoryGrpcService service(store);
  server::host::ServerHost host(options);
  service.Register(host.engine());
  absl::StatusOr<int> port = host.Start("127.0.0.1:0", {});
  REQUIRE_FALSE(port.ok());
  CHECK_THAT(std::string(port.status().message()), Catch::Contains("256.0.0.1:0"));
}
